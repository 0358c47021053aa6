"""New versions under load: zero failed requests; bad versions never served."""

import shutil
import threading
import time

from tests.serving import models
from tfgnn_gfm.serving import (
  BackgroundServer,
  ModelServer,
  ServingClient,
  load_servable,
  single_model_config,
)


def _wait(condition, timeout=90.0, what="condition"):
  deadline = time.monotonic() + timeout
  while time.monotonic() < deadline:
    if condition():
      return
    time.sleep(0.05)
  raise AssertionError(f"timed out waiting for {what}")


def _states(client):
  return {int(s["version"]): s for s in
          client.status()["model_version_status"]}


def test_versions_swap_under_load_and_bad_versions_are_skipped(tmp_path):
  base = tmp_path / "half_plus"
  models.save_half_plus(base / "1", offset=2.0)
  loads = []

  def loader(name, version, path):
    loads.append(version)
    return load_servable(name, version, path)

  server = BackgroundServer(ModelServer(
      single_model_config("half_plus", base), host="127.0.0.1", port=0,
      poll_wait_seconds=0.2, import_ops=False, loader=loader)).start()
  client = ServingClient(server.url, "half_plus", timeout=60)
  results, failures = [], []
  stop = threading.Event()

  def send_requests():
    while not stop.is_set():
      try:
        results.append(client.predict(instances=[1.0])[0])
      except Exception as e:
        failures.append(e)

  sender = threading.Thread(target=send_requests)
  sender.start()
  try:
    _wait(lambda: len(results) >= 5, what="first answers")
    # Version 2 is written in place, file by file, while requests run.
    models.save_half_plus(base / "2", offset=3.0)
    _wait(lambda: client.served_versions() == [2], what="version 2")
    count = len(results)
    _wait(lambda: len(results) >= count + 5, what="answers from version 2")

    # A garbage saved_model.pb, and a version without its variables.
    (base / "3").mkdir()
    (base / "3" / "saved_model.pb").write_bytes(b"\x00garbage, not a proto")
    models.save_half_plus(tmp_path / "staging", offset=9.0)
    shutil.rmtree(tmp_path / "staging" / "variables")
    (tmp_path / "staging").rename(base / "4")
    _wait(lambda: {3, 4} <= {v for v, s in _states(client).items()
                             if s["state"] == "END"}, what="failed loads")
    states = _states(client)
    assert states[3]["status"]["error_code"] == "DATA_LOSS"
    assert "Can't parse" in states[3]["status"]["error_message"]
    assert states[4]["status"]["error_code"] == "NOT_FOUND"
    assert "variables" in states[4]["status"]["error_message"]
    assert states[2]["state"] == "AVAILABLE"
    assert states[1] == {"version": "1", "state": "END",
                         "status": {"error_code": "OK", "error_message": ""}}
    assert client.served_versions() == [2]
    assert client.metadata()["model_spec"]["version"] == "2"
    tried = list(loads)
    time.sleep(1.0)  # About five polls: unchanged bad versions are not retried.
    assert loads == tried
  finally:
    stop.set()
    sender.join()
  assert failures == []
  assert results[0] == 2.5 and results[-1] == 3.5
  assert results == sorted(results)  # Never back to version 1 once swapped.

  # Rewriting version 3 changes its files: it is retried and served.
  shutil.rmtree(base / "3")
  models.save_half_plus(base / "3", offset=4.0)
  _wait(lambda: client.served_versions() == [3], what="fixed version 3")
  assert client.predict(instances=[1.0]) == [4.5]
  server.stop()
