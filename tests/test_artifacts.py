"""Tests of the artifact layout, manifests and atomic outputs."""

import json
import pathlib

import pytest

from tfgnn_gfm import artifacts


def test_atomic_directory_keeps_the_old_output_on_a_crash(tmp_path):
  final = tmp_path / "stage"
  with artifacts.atomic_directory(final) as tmp:
    (tmp / "a.txt").write_text("good")
  with pytest.raises(RuntimeError):
    with artifacts.atomic_directory(final) as tmp:
      (tmp / "a.txt").write_text("half")
      raise RuntimeError("crash mid-run")
  assert (final / "a.txt").read_text() == "good"
  assert [p.name for p in tmp_path.iterdir()] == ["stage"]  # no temp left


def test_atomic_directory_replaces_on_success(tmp_path):
  final = tmp_path / "stage"
  for text in ("one", "two"):
    with artifacts.atomic_directory(final) as tmp:
      (tmp / "a.txt").write_text(text)
  assert (final / "a.txt").read_text() == "two"
  assert len(list(tmp_path.iterdir())) == 1


def test_manifest_records_config_fingerprints_and_counts(tmp_path):
  (tmp_path / "in.csv").write_text("x\n1\n")
  path = artifacts.write_manifest(
      tmp_path, stage="s", config={"k": 1}, inputs={"in": tmp_path / "in.csv"},
      counts={"rows": 1}, metrics={"hr": 0.5})
  manifest = json.loads(path.read_text())
  assert manifest["stage"] == "s" and manifest["config"] == {"k": 1}
  assert manifest["inputs"]["in"]["bytes"] == 4
  assert manifest["counts"] == {"rows": 1}
  assert manifest["metrics"] == {"hr": 0.5}
  # Same content, same fingerprint; different content, different one.
  first = artifacts.fingerprint(tmp_path / "in.csv")["blake2b"]
  (tmp_path / "in.csv").write_text("x\n2\n")
  assert artifacts.fingerprint(tmp_path / "in.csv")["blake2b"] != first


def test_dataset_dir_finds_tables_by_extension(tmp_path):
  layout = artifacts.DatasetDir(tmp_path)
  (tmp_path / "items.parquet").write_bytes(b"")
  assert layout.table_path("items").name == "items.parquet"
  assert layout.table_path("users", required=False) is None
  with pytest.raises(artifacts.ArtifactError, match="no interactions table"):
    layout.table_path("interactions")
  (tmp_path / "items.csv").write_text("")
  with pytest.raises(artifacts.ArtifactError, match="several files"):
    layout.table_path("items")


def test_missing_manifest_is_a_clear_error(tmp_path):
  with pytest.raises(artifacts.ArtifactError, match="not the output of a"):
    artifacts.StageDir(tmp_path).read_manifest()


def test_cache_dir_honours_the_environment(tmp_path, monkeypatch):
  monkeypatch.setenv("TFGNN_GFM_CACHE", str(tmp_path))
  assert artifacts.text_encoder_dir().root.parent.parent == tmp_path


def test_output_exists_at_every_moment_of_a_replacement(tmp_path):
  import threading
  final = tmp_path / "stage"
  with artifacts.atomic_directory(final) as tmp:
    (tmp / "a.txt").write_text("0")
  stop = threading.Event()
  seen = {"checks": 0, "missing": 0}

  def watch():
    while not stop.is_set():
      seen["checks"] += 1
      if not (final / "a.txt").exists():
        seen["missing"] += 1

  watcher = threading.Thread(target=watch)
  watcher.start()
  try:
    for i in range(1, 201):
      with artifacts.atomic_directory(final) as tmp:
        (tmp / "a.txt").write_text(str(i))
  finally:
    stop.set()
    watcher.join()
  assert seen["checks"] > 200
  assert seen["missing"] == 0
  assert (final / "a.txt").read_text() == "200"
  assert [p.name for p in tmp_path.iterdir()] == ["stage"]


def test_leftovers_of_a_killed_run_are_removed_by_the_next_run(tmp_path):
  import signal
  import subprocess
  import sys
  final = tmp_path / "stage"
  with artifacts.atomic_directory(final) as tmp:
    (tmp / "a.txt").write_text("good")
  # A run killed (SIGKILL) while it writes its temporary directory.
  code = ("import sys, time\n"
          "from tfgnn_gfm import artifacts\n"
          "with artifacts.atomic_directory(sys.argv[1]) as tmp:\n"
          "  (tmp / 'half.txt').write_text('half')\n"
          "  print(tmp, flush=True)\n"
          "  time.sleep(60)\n")
  killed = subprocess.Popen([sys.executable, "-c", code, str(final)],
                            stdout=subprocess.PIPE, text=True)
  left = killed.stdout.readline().strip()
  killed.send_signal(signal.SIGKILL)
  killed.wait()
  killed.stdout.close()
  assert left.startswith(str(tmp_path / ".stage.tmp-"))
  old_style = tmp_path / ".stage.old-1a2b3c4d"  # an older run's name
  old_style.mkdir()
  # A run that is still alive keeps its temporary directory.
  alive = subprocess.Popen([sys.executable, "-c", "import time; "
                            "time.sleep(60)"])
  try:
    running = tmp_path / f".stage.tmp-{alive.pid}-0123abcd"
    running.mkdir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["stage", pathlib.Path(left).name, old_style.name, running.name])
    with artifacts.atomic_directory(final) as tmp:
      (tmp / "a.txt").write_text("next")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["stage", running.name])
    assert (final / "a.txt").read_text() == "next"
    assert not (final / "half.txt").exists()
  finally:
    alive.kill()
    alive.wait()


def _chain(tmp_path):
  """graph -> hgnn -> embeddings -> two-tower manifests, each by its writer."""
  (tmp_path / "items.csv").write_text("item_id\np1\n")
  encoder = tmp_path / "encoder"
  encoder.mkdir()
  graph = artifacts.GraphDir(tmp_path / "graph")
  graph.root.mkdir()
  graph.write_manifest(
      config={"text_encoder": "builtin:x", "train_days": 90}, cut=86_400 * 3,
      text_encoder_path=encoder,
      input_files={"items": [str(tmp_path / "items.csv")],
                   "interactions": ["i.csv"]},
      inputs={"items": tmp_path / "items.csv"}, counts={"nodes": {}})
  hgnn = artifacts.HGNNDir(tmp_path / "hgnn")
  hgnn.root.mkdir()
  hgnn.write_manifest(config={"fanouts": [5, 3]}, inputs={"graph": graph.root})
  embeddings = artifacts.EmbeddingsDir(tmp_path / "emb")
  embeddings.root.mkdir()
  embeddings.write_manifest(config={}, graph=graph.root, hgnn=hgnn.root,
                            cut=graph.cut())
  two_tower = artifacts.TwoTowerDir(tmp_path / "2t")
  two_tower.root.mkdir()
  two_tower.write_manifest(config={"rollup_episodes": False},
                           inputs={"items": tmp_path / "items.csv"},
                           embeddings=embeddings.root, cut=86_400 * 3,
                           split={"cut": 86_400 * 3, "train_days": 90})
  return graph, hgnn, embeddings, two_tower, encoder


def test_each_stage_hand_off_is_read_back_by_its_reader(tmp_path):
  graph, hgnn, embeddings, two_tower, encoder = _chain(tmp_path)
  assert graph.cut() == 86_400 * 3
  assert graph.text_encoder() == str(encoder)
  assert graph.item_files() == [str(tmp_path / "items.csv")]
  assert hgnn.fanouts() == (5, 3)
  assert hgnn.num_layers() == 2  # One per fanout when not recorded.
  hgnn.write_manifest(config={"fanouts": [5, 3], "num_layers": 2})
  assert hgnn.num_layers() == 2
  assert embeddings.cut() == 86_400 * 3
  assert embeddings.graph_dir() == graph
  assert two_tower.cut() == 86_400 * 3
  assert two_tower.split() == {"cut": 86_400 * 3, "train_days": 90}
  assert two_tower.rollup_episodes() is False
  assert two_tower.embeddings_dir() == embeddings
  assert two_tower.text_encoder() == str(encoder)
  # The built encoder gone, the graph's handle names it.
  encoder.rmdir()
  assert two_tower.text_encoder() == "builtin:x"
  # A broken link of the chain gives no encoder, not an error.
  (embeddings.manifest_path).unlink()
  assert two_tower.text_encoder() is None


def test_hand_off_readers_read_manifests_of_older_outputs(tmp_path):
  # Keys as every earlier version wrote them (by write_manifest directly).
  artifacts.write_manifest(
      tmp_path, stage="build_graph",
      config={"resolved_cut": 7, "text_encoder_path": None,
              "text_encoder": "builtin:x", "window_days": 30},
      extra={"input_files": {"items": "only.csv"}})
  graph = artifacts.GraphDir(tmp_path)
  assert (graph.cut(), graph.text_encoder(), graph.item_files()) == (
      7, "builtin:x", ["only.csv"])
  artifacts.write_manifest(tmp_path, stage="embed", extra={"cut": None})
  assert artifacts.EmbeddingsDir(tmp_path).cut() is None
  assert artifacts.EmbeddingsDir(tmp_path).graph_dir() is None
  assert artifacts.TwoTowerDir(tmp_path).rollup_episodes() is True
  with pytest.raises(artifacts.ArtifactError, match="records no fanouts"):
    artifacts.HGNNDir(tmp_path).fanouts()
  with pytest.raises(artifacts.ArtifactError, match="records no fanouts"):
    artifacts.HGNNDir(tmp_path).num_layers()


def test_embeddings_round_trip_through_their_owner(tmp_path):
  import numpy as np
  import pandas as pd
  index = pd.DataFrame({"row": [0, 1, 2], "item_id": ["a", "007", ""],
                        "item_type": ["podcast", "book", "book"],
                        "node_set": ["podcast", "book", "book"],
                        "source": ["graph", "inductive", "parent"]})
  vectors = np.arange(6, dtype=np.float64).reshape(3, 2)
  text = np.ones((3, 4), np.float32)
  layout = artifacts.EmbeddingsDir(tmp_path)
  layout.write_embeddings(artifacts.Embeddings(index=index, vectors=vectors,
                                               text=text))
  back = layout.read()
  # Ids stay strings ("007", ""), columns come in their documented order,
  # matrices as float32.
  assert list(back.index.columns) == list(artifacts.EMBEDDINGS_INDEX_COLUMNS)
  assert list(back.index["item_id"]) == ["a", "007", ""]
  assert back.vectors.dtype == np.float32 and back.text.dtype == np.float32
  np.testing.assert_array_equal(back.vectors, vectors)
  with pytest.raises(ValueError, match="the index has 3 rows"):
    artifacts.Embeddings(index=index, vectors=vectors[:2], text=text)


def test_export_summary_reads_what_the_export_stage_writes(tmp_path):
  # The keys as tfgnn_gfm/export/stage.py writes them.
  artifacts.write_manifest(
      tmp_path, stage="export",
      metrics={"scann_recall@10": {"retrieval_scann": 0.97},
               "recall_target": 0.95},
      extra={"version": 3, "models": ["user_tower", "retrieval_scann"],
             "scann": {"retrieval_scann": {"mode": "tree_ah"}}})
  summary = artifacts.ExportDir(tmp_path).summary()
  assert summary == artifacts.ExportSummary(
      version=3, models=("user_tower", "retrieval_scann"),
      scann_recall={"retrieval_scann": 0.97}, recall_target=0.95,
      scann_modes={"retrieval_scann": "tree_ah"})
  with pytest.raises(artifacts.ArtifactError, match="no manifest.json"):
    artifacts.ExportDir(tmp_path / "none").summary()


def test_two_tower_items_and_features_round_trip_through_their_owner(
    tmp_path):
  import numpy as np
  import pandas as pd
  layout = artifacts.TwoTowerDir(tmp_path)
  table = pd.DataFrame({"score_offset": [0.5, 0.0], "row": [0, 1],
                        "item_id": ["007", "b"], "item_type": ["x", "y"],
                        "root_row": [0, 0], "candidate": [True, False],
                        "vector_known": [1, 0]})
  layout.write_items(artifacts.TwoTowerItems(
      table=table, embeddings=np.eye(2, dtype=np.float64)))
  back = layout.read_items()
  assert list(back.table.columns) == list(artifacts.TWO_TOWER_ITEM_COLUMNS)
  assert list(back.table["item_id"]) == ["007", "b"]
  assert back.embeddings.dtype == np.float32
  np.testing.assert_array_equal(back.embeddings, np.eye(2))
  # features.json: as written; rollup_episodes from the manifest when the
  # spec (of an older output) lacks it.
  artifacts.write_manifest(tmp_path, stage="train_2t",
                           config={"rollup_episodes": False})
  layout.write_features({"embedding_dim": 8})
  assert layout.read_features() == {"embedding_dim": 8,
                                    "rollup_episodes": False}
  np.save(layout.item_embeddings_path, np.zeros((3, 2), np.float32))
  with pytest.raises(artifacts.ArtifactError, match="items.csv has 2 rows"):
    layout.read_items()


def test_graph_outputs_name_the_files_graph_dir_names(tmp_path):
  layout = artifacts.GraphDir(tmp_path)
  names = set(layout.outputs())
  for path in (layout.schema_path, layout.full_graph_path,
               layout.dead_letter_path, layout.summary_path, layout.stats_path,
               layout.stats_plot_path, layout.manifest_path):
    assert path.name in names
  assert f"{layout.sharded_dir.name}/" in names


def test_every_manifest_keeps_its_cut_in_one_place(tmp_path):
  # The top-level "cut" (and "cut_utc" for people), read by StageDir.cut()
  # whatever the stage.
  graph = artifacts.GraphDir(tmp_path / "graph")
  graph.root.mkdir()
  graph.write_manifest(config={}, cut=86400, text_encoder_path=None,
                       input_files={})
  hgnn = artifacts.HGNNDir(tmp_path / "hgnn")
  hgnn.root.mkdir()
  hgnn.write_manifest(config={"fanouts": [2]}, cut=graph.cut())
  embeddings = artifacts.EmbeddingsDir(tmp_path / "emb")
  embeddings.root.mkdir()
  embeddings.write_manifest(config={}, graph=graph.root, hgnn=hgnn.root,
                            cut=hgnn.cut())
  for layout in (graph, hgnn, embeddings):
    manifest = layout.read_manifest()
    assert (manifest["cut"], manifest["cut_utc"]) == (
        86400, "1970-01-02T00:00:00Z")
    assert "resolved_cut" not in manifest.get("config", {})
    assert layout.cut() == 86400
  hgnn.write_manifest(config={"fanouts": [2]})
  assert hgnn.cut() is None
