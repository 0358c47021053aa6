"""``--distribute multi_worker``: two TensorFlow workers on loopback.

Each worker is a ``gfm`` process with its own TF_CONFIG (two free local
ports); they train under MultiWorkerMirroredStrategy. The same command without
``--distribute`` is the one-worker reference: same global batch, same seed.

Tolerance: atol 1e-5 on the vectors. Both runs see the same batches (every
worker draws the global batch and keeps its half; in-batch negatives span the
global batch), so the only difference is the order of float32 additions: the
gradient is the sum of two half-batch gradients (a collective all-reduce)
instead of one sum over the batch. Measured here: about 1e-7.
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

from tests.synthetic import write_synthetic_graph
from tfgnn_gfm.artifacts import EmbeddingsDir, HGNNDir, TwoTowerDir
from tfgnn_gfm.cli import main
from tfgnn_gfm.distribute import local_share, tf_config
from tfgnn_gfm.hgnn.link_data import batch_part

ROOT = pathlib.Path(__file__).resolve().parents[1]
ATOL = 1e-5
TIMEOUT = 600
PRETRAIN = ["--full-graph", "--epochs", "2", "--batch-size", "8",
            "--positives-per-step", "32", "--min-steps-per-epoch", "1",
            "--embedding-dim", "8", "--hidden-dim", "8"]
TWO_TOWER = ["--tower-units", "16,8", "--categorical-dim", "4", "--epochs",
             "2", "--batch-size", "32", "--max-history", "10",
             "--popularity-weights", "0", "--vector-dropout", "0"]


def _free_ports(n: int) -> list[int]:
  sockets = [socket.socket() for _ in range(n)]
  for s in sockets:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def start_workers(argv: list[str], tmp: pathlib.Path, n: int = 2):
  """Starts ``gfm argv`` as the n workers of a loopback cluster.

  Returns the processes and each worker's temporary directory (TMPDIR).
  """
  hosts = [f"127.0.0.1:{p}" for p in _free_ports(n)]
  procs, tmpdirs = [], []
  for index in range(n):
    tmpdir = tmp / f"tmp_worker{index}"
    tmpdir.mkdir(parents=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), TMPDIR=str(tmpdir),
               TF_CPP_MIN_LOG_LEVEL="2", TF_CONFIG=json.dumps({
                   "cluster": {"worker": hosts},
                   "task": {"type": "worker", "index": index}}))
    log = open(tmp / f"worker{index}.log", "w", encoding="utf-8")
    procs.append(subprocess.Popen(
        [sys.executable, "-m", "tfgnn_gfm.cli", *argv,
         "--distribute", "multi_worker"], env=env, stdout=log,
        stderr=subprocess.STDOUT, cwd=ROOT))
    tmpdirs.append(tmpdir)
  return procs, tmpdirs


def wait_workers(procs, tmp: pathlib.Path) -> None:
  """Waits for every worker; kills them all on a failure or the timeout."""
  try:
    for index, proc in enumerate(procs):
      rc = proc.wait(timeout=TIMEOUT)
      log = (tmp / f"worker{index}.log").read_text(encoding="utf-8")
      assert rc == 0, f"worker {index} exited {rc}:\n{log[-4000:]}"
  finally:
    for proc in procs:
      if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def run_workers(argv: list[str], tmp: pathlib.Path) -> list[pathlib.Path]:
  procs, tmpdirs = start_workers(argv, tmp)
  wait_workers(procs, tmp)
  return tmpdirs


def assert_one_output(out: pathlib.Path, tmpdirs: list[pathlib.Path]) -> None:
  """The chief's --out is complete; nothing else was left anywhere."""
  assert (out / "manifest.json").exists()
  assert sorted(p.name for p in out.parent.iterdir()
                if p.name.startswith(f".{out.name}")) == []
  for tmpdir in tmpdirs:
    assert list(tmpdir.iterdir()) == [], tmpdir


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
  root = tmp_path_factory.mktemp("multi_worker")
  write_synthetic_graph(root, num_users=60, num_podcasts=12,
                        num_audiobooks=8, cold_item_fraction=0.1, seed=2)
  return root


@pytest.fixture(scope="module")
def pretrained(graph):
  """The two-worker and the one-worker pretraining, run side by side."""
  procs, tmpdirs = start_workers(
      ["pretrain", str(graph / "graph"), "--out", str(graph / "hgnn_2w")] +
      PRETRAIN, graph / "pretrain_2w")
  try:
    assert main(["pretrain", str(graph / "graph"), "--out",
                 str(graph / "hgnn_1w")] + PRETRAIN) == 0
  finally:
    wait_workers(procs, graph / "pretrain_2w")
  return tmpdirs


def test_pretrain_two_workers_equal_one(graph, pretrained):
  assert_one_output(graph / "hgnn_2w", pretrained)
  one, two = HGNNDir(graph / "hgnn_1w"), HGNNDir(graph / "hgnn_2w")
  h1 = json.loads(one.history_path.read_text())
  h2 = json.loads(two.history_path.read_text())
  assert len(h1["loss"]) == len(h2["loss"]) == 2
  np.testing.assert_allclose(h2["loss"], h1["loss"], atol=ATOL)
  np.testing.assert_allclose(h2["val_loss"], h1["val_loss"], atol=ATOL)
  for name in ("hgnn_1w", "hgnn_2w"):
    assert main(["embed", str(graph / "graph"), "--model", str(graph / name),
                 "--out", str(graph / f"emb_{name}"), "--full-graph"]) == 0
  v1 = np.load(EmbeddingsDir(graph / "emb_hgnn_1w").vectors_path)
  v2 = np.load(EmbeddingsDir(graph / "emb_hgnn_2w").vectors_path)
  assert v1.shape == v2.shape and len(v1) > 0
  np.testing.assert_allclose(v2, v1, atol=ATOL)
  # Training moved the encoder: equal vectors are not equal initial weights.
  assert json.loads(two.manifest_path.read_text())["metrics"]["epochs_run"] == 2


def test_train_2t_two_workers_equal_one(graph, pretrained):
  del pretrained  # Its embeddings are the towers' HGNN vectors.
  emb = graph / "emb_hgnn_1w"
  if not emb.exists():
    assert main(["embed", str(graph / "graph"), "--model",
                 str(graph / "hgnn_1w"), "--out", str(emb),
                 "--full-graph"]) == 0
  args = ["train-2t", str(graph / "data"), "--embeddings", str(emb)]
  procs, tmpdirs = start_workers(
      args + ["--out", str(graph / "2t_2w")] + TWO_TOWER, graph / "2t_2w_run")
  try:
    assert main(args + ["--out", str(graph / "2t_1w")] + TWO_TOWER) == 0
  finally:
    wait_workers(procs, graph / "2t_2w_run")
  assert_one_output(graph / "2t_2w", tmpdirs)
  i1 = np.load(TwoTowerDir(graph / "2t_1w").item_embeddings_path)
  i2 = np.load(TwoTowerDir(graph / "2t_2w").item_embeddings_path)
  assert i1.shape == i2.shape and len(i1) > 0
  np.testing.assert_allclose(i2, i1, atol=ATOL)


def test_multi_worker_without_tf_config_is_a_one_line_error(graph, capsys,
                                                            monkeypatch):
  monkeypatch.delenv("TF_CONFIG", raising=False)
  assert main(["pretrain", str(graph / "graph"), "--out",
               str(graph / "never"), "--distribute", "multi_worker"]) == 2
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1 and "TF_CONFIG" in err, err
  assert not (graph / "never").exists()


@pytest.mark.parametrize("value, message", [
    ("{not json", "not valid JSON"),
    ('{"task": {"type": "worker", "index": 0}}', "no cluster.worker"),
    ('{"cluster": {"worker": ["localhost"]}, "task": {"type": "worker", '
     '"index": 0}}', "host:port"),
    ('{"cluster": {"worker": ["localhost:1"]}}', "no task"),
    ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", '
     '"index": 1}}', "index 1 is out of range"),
    ('{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "ps", '
     '"index": 0}}', "does not train"),
])
def test_malformed_tf_config_names_the_problem(value, message):
  with pytest.raises(ValueError, match=message):
    tf_config({"TF_CONFIG": value})


def test_local_share_splits_rows_in_order():
  for total in (0, 1, 7, 8, 32):
    parts = [local_share(total, r, 3) for r in range(3)]
    rows = [i for p in parts for i in range(total)[p]]
    assert rows == list(range(total))
    sizes = [len(range(total)[p]) for p in parts]
    assert max(sizes) - min(sizes) <= 1


def test_batch_part_keeps_each_positive_with_its_own_negatives():
  b, k = 4, 2
  batch = {
      "root_set": np.zeros(2 * b + b * k, np.int32),
      "root_id": np.concatenate([np.arange(b), 10 + np.arange(b),
                                 100 + np.arange(b * k)]).astype(np.int64),
      "partner_set": np.zeros(2 * b + b * k, np.int32),
      "partner_id": np.concatenate([10 + np.arange(b), np.arange(b),
                                    np.zeros(b * k)]).astype(np.int64),
      "neg_valid": np.arange(b * k).reshape(b, k) % 3 > 0,
      "inbatch_valid": np.arange(b * b).reshape(b, b) % 2 > 0}
  part = batch_part(batch, slice(1, 3))
  np.testing.assert_array_equal(part["root_id"],
                                [1, 2, 11, 12, 102, 103, 104, 105])
  np.testing.assert_array_equal(part["partner_id"][:4], [11, 12, 1, 2])
  np.testing.assert_array_equal(part["neg_valid"], batch["neg_valid"][1:3])
  np.testing.assert_array_equal(part["inbatch_valid"],
                                batch["inbatch_valid"][1:3, 1:3])
  assert len(batch_part(batch, slice(4, 4))["root_id"]) == 0


def test_configs_that_cannot_run_multi_worker_are_refused():
  from tfgnn_gfm.hgnn.config import PretrainConfig
  from tfgnn_gfm.twotower.config import EvaluateConfig, TwoTowerConfig
  PretrainConfig(mode="full_graph", distribute="multi_worker").validate()
  TwoTowerConfig(distribute="multi_worker").validate()
  with pytest.raises(ValueError, match="every worker would run it"):
    PretrainConfig(sampler="beam", distribute="multi_worker").validate()
  with pytest.raises(ValueError, match="unknown distribute"):
    TwoTowerConfig(distribute="multi-worker").validate()
  with pytest.raises(ValueError, match="evaluate runs in one process"):
    EvaluateConfig(distribute="multi_worker").validate()
