"""``gfm build-graph`` on Beam's portable path, against the DirectRunner.

The module's ``portable_runner`` fixture runs a job service and an SDK
worker pool on loopback (``tests/portable.py``); the graph pipeline is
submitted to it with ``--runner=PortableRunner --environment_type=EXTERNAL``,
the way Flink, Spark and Dataflow run a Python pipeline: every DoFn runs in a
separate SDK harness process, loading the text encoder from its path there.
The graph must equal the DirectRunner's (``run_a``) as sets of nodes, edges
and features.
"""

from __future__ import annotations

import os
import socket

import numpy as np
import pandas as pd
import pytest

from tests.beam import outputs
from tfgnn_gfm.artifacts import GraphDir


@pytest.fixture(scope="module")
def run_portable(portable_runner, messy_dataset, config_a, tmp_path_factory):
  """Config A through the PortableRunner, workers in other processes."""
  from beam.build_graph import build_graph
  out = tmp_path_factory.mktemp("run_portable") / "graph"
  summary = build_graph(messy_dataset, out, config_a,
                        beam_args=portable_runner.beam_args)
  return out, summary


def _node_set(frame: pd.DataFrame) -> set[tuple]:
  """Nodes as a set of (node set, id, language, genres, log degree, text
  embedding rounded to 1e-5)."""
  return {(r.node_set, r.item_id, r.language, r.genres,
           round(float(r.log_degree), 5),
           tuple(np.round(np.asarray(r.embedding, np.float64), 5)))
          for r in frame.itertuples()}


def _edge_set(frame: pd.DataFrame) -> set[tuple]:
  return set(frame.itertuples(index=False, name=None))


@pytest.mark.timeout(900)
def test_portable_graph_equals_the_direct_runners(run_portable, run_a):
  portable, direct = run_portable[0], run_a[0]
  p_nodes, p_edges = outputs.full_graph_frames(portable)
  d_nodes, d_edges = outputs.full_graph_frames(direct)
  assert len(p_nodes) == len(d_nodes) > 0
  assert _node_set(p_nodes) == _node_set(d_nodes)
  assert len(p_edges) == len(d_edges) > 0
  assert _edge_set(p_edges) == _edge_set(d_edges)
  # TF-GNN's sharded format too (read back with TF-GNN's unigraph reader).
  p_nodes, p_edges = outputs.sharded_frames(portable)
  d_nodes, d_edges = outputs.sharded_frames(direct)
  assert [tuple(np.round(e, 5)) for e in p_nodes["embedding"]] == [
      tuple(np.round(e, 5)) for e in d_nodes["embedding"]]
  pd.testing.assert_frame_equal(p_nodes.drop(columns="embedding"),
                                d_nodes.drop(columns="embedding"))
  assert _edge_set(p_edges) == _edge_set(d_edges)
  # Same rejected rows, same vocabularies and schema.
  key = lambda d: (d["table"], d["file"], d["line"], d["reason"])  # noqa: E731
  assert sorted(map(key, outputs.dead_letters(portable))) == sorted(
      map(key, outputs.dead_letters(direct)))
  for name in ("schema_path", "sharded_schema_path"):
    assert (getattr(GraphDir(portable), name).read_text()
            == getattr(GraphDir(direct), name).read_text())
  vocab = sorted(p.name for p in GraphDir(direct).vocab_dir.iterdir())
  assert vocab and vocab == sorted(
      p.name for p in GraphDir(portable).vocab_dir.iterdir())
  for name in vocab:
    assert ((GraphDir(portable).vocab_dir / name).read_text()
            == (GraphDir(direct).vocab_dir / name).read_text())
  assert run_portable[1]["accounting"] == run_a[1]["accounting"]


@pytest.mark.timeout(900)
def test_portable_elements_ran_in_worker_processes(run_portable,
                                                   portable_runner):
  manifest = GraphDir(run_portable[0]).read_manifest()
  beam = manifest["beam"]
  assert beam["runner"] == "PortableRunner"
  assert beam["args"] == portable_runner.beam_args
  processes = beam["worker_processes"]
  assert processes, "the portable runner reported no worker counters"
  pids = {int(key.rsplit("/", 1)[1]) for key in processes}
  hosts = {key.rsplit("/", 1)[0] for key in processes}
  assert hosts == {socket.gethostname()}
  # Neither the test (the driver) nor the job service processed elements:
  # the SDK harnesses the worker pool started did.
  assert os.getpid() not in pids
  assert portable_runner.job_service_pid not in pids
  assert portable_runner.worker_pool_pid not in pids
  # Every interaction batch and every node text went through a worker.
  counts = manifest["metrics"]["beam_counters"]
  assert sum(processes.values()) >= counts["texts_encoded"] > 0
