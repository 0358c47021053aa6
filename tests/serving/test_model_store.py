"""Version discovery, policies and load-then-swap, with a fake loader."""

import os
import pathlib

import pytest

from tfgnn_gfm.serving import status
from tfgnn_gfm.serving.model_config import (
  ModelConfig,
  ModelServerConfig,
  VersionPolicy,
)
from tfgnn_gfm.serving.model_store import ModelStore, list_versions
from tfgnn_gfm.serving.status import StatusError


class FakeLoader:
  """Loads ``model.txt`` of a version; "bad" fails to load."""

  def __init__(self):
    self.calls = []

  def __call__(self, name, version, path):
    self.calls.append(version)
    text = (pathlib.Path(path) / "model.txt").read_text()
    if text == "bad":
      raise StatusError(status.DATA_LOSS, f"cannot parse {path}")
    return (name, version, text)


def _write(base, version, text="ok"):
  folder = base / str(version)
  folder.mkdir(parents=True, exist_ok=True)
  (folder / "model.txt").write_text(text)
  # Distinct modification times even on coarse file systems.
  stamp = os.stat(folder / "model.txt").st_mtime_ns + len(text) * 1000
  os.utime(folder / "model.txt", ns=(stamp, stamp))


def _store(base, policy=None, labels=None):
  policy = VersionPolicy() if policy is None else policy
  loader = FakeLoader()
  config = ModelServerConfig((ModelConfig(
      "m", str(base), version_policy=policy,
      version_labels=labels or {}),))
  return ModelStore(config, loader=loader), loader


def _states(store):
  return {s.version: (s.state, s.error_code) for s in store.version_states("m")}


def test_list_versions_only_integer_folders(tmp_path):
  _write(tmp_path, 3)
  _write(tmp_path, "007")
  (tmp_path / "tmp-4").mkdir()
  (tmp_path / "5").write_text("a file")
  assert set(list_versions(str(tmp_path))) == {3, 7}
  assert list_versions(str(tmp_path / "missing")) == {}


def test_latest_version_is_served_and_swapped_after_load(tmp_path):
  _write(tmp_path, 1)
  _write(tmp_path, 2)
  store, loader = _store(tmp_path)
  store.poll(initial=True)
  assert store.served_versions("m") == [2] and loader.calls == [2]
  _write(tmp_path, 3)
  store.poll()  # Seen once: waits for its files to settle.
  assert store.served_versions("m") == [2]
  assert _states(store)[3] == ("START", "OK")
  store.poll()
  assert store.served_versions("m") == [3]
  assert _states(store) == {3: ("AVAILABLE", "OK"), 2: ("END", "OK")}
  assert store.get("m") == ("m", 3, "ok")


def test_failed_version_keeps_previous_and_retries_on_change(tmp_path):
  _write(tmp_path, 1)
  store, loader = _store(tmp_path)
  store.poll(initial=True)
  _write(tmp_path, 2, "bad")
  store.poll()
  store.poll()
  assert store.served_versions("m") == [1]
  assert _states(store)[2] == ("END", "DATA_LOSS")
  assert store.status("m", 2)["model_version_status"][0]["status"][
      "error_message"].startswith("cannot parse")
  calls = len(loader.calls)
  for _ in range(3):
    store.poll()
  assert len(loader.calls) == calls  # Not retried while unchanged.
  _write(tmp_path, 2, "fixed")
  store.poll()
  store.poll()
  assert store.served_versions("m") == [2]
  assert store.get("m") == ("m", 2, "fixed")


def test_corrupt_latest_at_startup_falls_back(tmp_path):
  _write(tmp_path, 1)
  _write(tmp_path, 2, "bad")
  store, _ = _store(tmp_path)
  store.poll(initial=True)
  assert store.served_versions("m") == [1]


def test_policies_labels_and_errors(tmp_path):
  for version in (1, 2, 3):
    _write(tmp_path, version)
  store, _ = _store(tmp_path, VersionPolicy("specific", versions=(1, 3)),
                    {"canary": 3, "stable": 1, "gone": 9})
  store.poll(initial=True)
  assert store.served_versions("m") == [3, 1]
  assert store.get("m", label="stable")[1] == 1
  assert store.get("m")[1] == 3
  with pytest.raises(StatusError, match=r"Specific\(m, 9\)"):
    store.get("m", label="gone")
  with pytest.raises(StatusError, match="Unrecognized servable version label"):
    store.get("m", label="nope")
  with pytest.raises(StatusError, match=r"Latest\(x\)") as e:
    store.get("x")
  assert e.value.http_status == 404
  with pytest.raises(StatusError, match="cannot be supplied"):
    store.get("m", version=1, label="stable")


def test_removed_versions_are_unloaded(tmp_path):
  _write(tmp_path, 1)
  _write(tmp_path, 2)
  store, _ = _store(tmp_path, VersionPolicy("latest", num_versions=2))
  store.poll(initial=True)
  assert store.served_versions("m") == [2, 1]
  (tmp_path / "1" / "model.txt").unlink()
  (tmp_path / "1").rmdir()
  store.poll()
  assert store.served_versions("m") == [2]
  store.stop()
  assert store.served_versions("m") == []
  assert _states(store) == {2: ("END", "OK"), 1: ("END", "OK")}


def test_empty_base_path_serves_nothing_until_a_version_appears(tmp_path):
  store, _ = _store(tmp_path / "later")
  store.poll(initial=True)
  with pytest.raises(StatusError, match="Could not find any versions"):
    store.status("m")
  _write(tmp_path / "later", 5)
  store.poll()
  store.poll()
  assert store.served_versions("m") == [5]
