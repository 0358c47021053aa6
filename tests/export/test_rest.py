"""The real export served by ``gfm serve`` over HTTP on loopback: every
signature through the REST client, TF Serving's error shapes for bad
requests, and a new export swapped in while requests run."""

import shutil
import threading
import time

import pytest

from tfgnn_gfm.artifacts import ExportDir
from tfgnn_gfm.cli import main
from tfgnn_gfm.export import config as cfg
from tfgnn_gfm.serving import (
  BackgroundServer,
  ModelServer,
  ServingClient,
  ServingError,
  load_model_server_config,
)


@pytest.fixture(scope="module")
def served(exported, tmp_path_factory):
  """A copy of the export (the swap test adds a version) and a server."""
  root, _ = exported
  base = tmp_path_factory.mktemp("served") / "exports"
  shutil.copytree(root / "exports", base)
  from tfgnn_gfm.export.stage import models_config_text
  (base / "models.config").write_text(models_config_text(ExportDir(base)))
  running = BackgroundServer(ModelServer(
      load_model_server_config(base / "models.config"), host="127.0.0.1",
      port=0, poll_wait_seconds=0.5)).start()
  running.store.wait_until_served(cfg.MODEL_NAMES, timeout=300)
  yield root, base, running
  running.stop()


def _user(recent):
  return {"user_country": "SE", "user_age_bucket": "25-34",
          "interest_vector": [0.0] * 16, "recent_item_ids": recent}


def test_every_signature_over_rest(served):
  _, base, running = served
  manifest = ExportDir(base).read_manifest()
  for name in ("gfm_retrieval", "gfm_retrieval_bf"):
    client = ServingClient(running.url, name)
    assert client.served_versions() == [1]
    # TF Serving also lists "__saved_model_init_op" (the table initialiser).
    assert set(client.signatures()) >= {"serving_default", "similar_items",
                                        "search", "embed_items"}
    for key in ("serving_default", "similar_items", "search", "embed_items"):
      request = manifest["examples"][key]
      out = client.predict(instances=request["instances"],
                           signature_name=request["signature_name"])
      assert len(out) == 1
      if key == "embed_items":
        # The 16-d MLP part, then the 16-d text match (the default
        # text-match weight is on; the fixture's text vectors have 16 values).
        assert len(out[0]["embeddings"]) == 32
      else:
        assert len(out[0]["item_ids"]) == 10 and all(out[0]["item_ids"])
  user = ServingClient(running.url, "gfm_user_tower").predict(
      instances=manifest["examples"]["user_tower"]["instances"])
  # The index's layout: the 16-d user vector and its 16-d text match, then
  # the 1 that meets each item's popularity prior (the export fixture trains
  # with one).
  assert len(user[0]["query_embedding"]) == 33
  assert user[0]["query_embedding"][-1] == 1.0


def test_a_long_history_costs_time_and_memory_linear_in_its_size(served):
  """100,000 copies of one known id in recent_item_ids (1.3 MB): answered
  in bounded time, and the server's peak memory barely moves (the pairwise
  dedupe of old needed a [1, 100000, 100000] tensor, 10 GB)."""
  import resource
  _, base, running = served
  example = ExportDir(base).read_manifest()["examples"]["serving_default"][
      "instances"][0]
  known = example["recent_item_ids"][0]
  client = ServingClient(running.url, "gfm_retrieval_bf")
  client.predict(instances=[{**example, "recent_item_ids": [known] * 10}])
  before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  start = time.perf_counter()
  out = client.predict(instances=[{**example,
                                   "recent_item_ids": [known] * 100_000}])
  seconds = time.perf_counter() - start
  grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss -
              before) / 1024
  assert len(out) == 1 and out[0]["item_ids"]
  assert seconds < 10.0
  assert grown_mb < 300


def test_a_search_query_over_the_limit_is_a_400_naming_it(served):
  _, base, running = served
  example = ExportDir(base).read_manifest()["examples"]["search"]
  instance = example["instances"][0]
  client = ServingClient(running.url, "gfm_retrieval_bf")
  longest = "é" * cfg.MAX_QUERY_CHARS  # Characters, not bytes.
  out = client.predict(instances=[{**instance, "query": longest}] * 3,
                       signature_name="search")
  assert len(out) == 3 and out[0]["item_ids"]
  with pytest.raises(ServingError) as error:
    client.predict(instances=[{**instance, "query": "x"},
                              {**instance, "query": longest + "x"}],
                   signature_name="search")
  assert error.value.status == 400
  assert f"at most {cfg.MAX_QUERY_CHARS} characters" in str(error.value)
  assert str(cfg.MAX_QUERY_CHARS + 1) in str(error.value)
  # The total: 65 queries of 128 characters (one more than fits).
  many = cfg.MAX_REQUEST_QUERY_CHARS // cfg.MAX_QUERY_CHARS + 1
  with pytest.raises(ServingError) as error:
    client.predict(instances=[{**instance, "query": longest}] * many,
                   signature_name="search")
  assert error.value.status == 400
  assert f"{cfg.MAX_REQUEST_QUERY_CHARS} characters in all" in str(
      error.value)


def test_row_and_columnar_formats_agree(served):
  _, _, running = served
  client = ServingClient(running.url, "gfm_retrieval_bf")
  rows = client.predict(instances=[
      {**_user(["pod_000001", "nope"]), "k": 5, "item_type": ""},
      {**_user([""] * 2), "k": 3, "item_type": "podcast"}])
  columns = client.predict(inputs={
      "user_country": ["SE", "SE"], "user_age_bucket": ["25-34", "25-34"],
      "interest_vector": [[0.0] * 16, [0.0] * 16],
      "recent_item_ids": [["pod_000001", "nope"], ["", ""]],
      "k": [5, 3], "item_type": ["", "podcast"]})
  assert [r["item_ids"] for r in rows] == columns["item_ids"]
  assert [r["unknown_recent_items"] for r in rows] == [1, 0]
  assert rows[1]["item_ids"][3:] == ["", ""]
  assert all(t == "podcast" for t in rows[1]["item_types"][:3])


def test_recommend_helper_and_cold_user(served):
  _, _, running = served
  client = ServingClient(running.url, "gfm_retrieval")
  out = client.recommend({"user_country": "", "user_age_bucket": "",
                          "interest_vector": [0.0] * 16}, [], k=7)
  assert len(out["item_ids"]) == 7 and out["unknown_recent_items"] == 0


@pytest.mark.parametrize("signature,instance,status,message", [
    ("similar_items", {"item_id": "no-such-item", "k": 5, "item_type": ""},
     400, "no-such-item"),
    ("similar_items", {"item_id": "pod_000001", "k": 500, "item_type": ""},
     400, "k must be between"),
    ("search", {"query": "x", "k": 5, "item_type": "movie"}, 400,
     "unknown item_type"),
    ("search", {"query": "x", "k": "five", "item_type": ""}, 400, "k"),
    ("embed_items", {"item": "pod_000001"}, 400,
     "does not have named input: item"),
])
def test_bad_requests_get_tf_serving_errors(served, signature, instance,
                                            status, message):
  _, _, running = served
  client = ServingClient(running.url, "gfm_retrieval")
  with pytest.raises(ServingError) as e:
    client.predict(instances=[instance], signature_name=signature)
  assert e.value.status == status
  assert message in e.value.message
  # The server keeps answering.
  assert client.similar_items("pod_000001", k=2)["item_ids"]


def test_unknown_model_and_version_are_404(served):
  _, _, running = served
  with pytest.raises(ServingError) as e:
    ServingClient(running.url, "gfm_nothing").status()
  assert e.value.status == 404
  with pytest.raises(ServingError) as e:
    ServingClient(running.url, "gfm_retrieval", version=9).predict(
        instances=[{"item_id": "pod_000001"}], signature_name="embed_items")
  assert e.value.status == 404


def test_a_new_export_is_swapped_in_without_failed_requests(served):
  root, base, running = served
  client = ServingClient(running.url, "gfm_retrieval")
  failures, answers, stop = [], [], threading.Event()

  def hammer():
    while not stop.is_set():
      try:
        answers.append(client.similar_items("pod_000001", k=5))
      except ServingError as e:  # pragma: no cover - the assertion reports it
        failures.append(e)

  thread = threading.Thread(target=hammer)
  thread.start()
  try:
    assert main(["export", str(root / "2t"), "--out", str(base),
                 "--text-encoder", str(root / "encoder"),
                 "--recall-queries", "20"]) == 0
    deadline = time.monotonic() + 120
    while client.served_versions() != [2] and time.monotonic() < deadline:
      time.sleep(0.5)
    time.sleep(1)
  finally:
    stop.set()
    thread.join()
  assert client.served_versions() == [2]
  assert not failures
  assert len(answers) > 5


def test_gfm_serve_replays_the_exports_tf_serving_warm_up_file(
    exported, tmp_path, caplog):
  """The file gfm export wrote is what gfm serve runs at load: version 1
  replays its record; version 2, whose record lacks an input, never serves
  and its status names the record."""
  import logging

  from tfgnn_gfm.serving import ModelStore, single_model_config, warmup
  root, _ = exported
  source = ExportDir(root / "exports").version_dir(cfg.USER_TOWER, 1)
  base = tmp_path / cfg.USER_TOWER
  shutil.copytree(source, base / "1")
  shutil.copytree(source, base / "2")
  (log,) = warmup.read_warmup_file(base / "2")
  del log.predict_log.request.inputs["recent_item_ids"]
  warmup.write_warmup_file(base / "2", [log])
  store = ModelStore(single_model_config(cfg.USER_TOWER, base))
  with caplog.at_level(logging.INFO, logger="tfgnn_gfm.serving.servable"):
    store.poll(initial=True)
  try:
    assert store.served_versions(cfg.USER_TOWER) == [1]
    assert (f"{cfg.USER_TOWER} version 1: ran 1 warm-up request(s)"
            in caplog.text)
    failed = store.status(cfg.USER_TOWER, version=2)[
        "model_version_status"][0]
    assert failed["state"] == "END"
    assert failed["status"]["error_code"] == "INVALID_ARGUMENT"
    assert ("warm-up request 1 of <base_path>/2/assets.extra/"
            "tf_serving_warmup_requests failed" in
            failed["status"]["error_message"])
  finally:
    store.stop()
