"""``gfm pretrain --sampler beam`` with its Beam step on the portable path.

The module's ``portable_runner`` fixture runs a job service and an SDK worker
pool on loopback (``tests/portable.py``). ``gfm pretrain --sampler beam`` is
given ``--runner=PortableRunner --environment_type=EXTERNAL ...``, so TF-GNN's
Beam sampler runs in SDK harness processes, reading the graph's ``sharded/``
files and the sampling artifacts from their paths. Its samples are compared
with the same step on the DirectRunner.

Fanouts cover every neighbourhood, so uniform sampling without replacement
keeps every neighbour and each root's sample is determined by the graph:
samples must be equal, root by root. (With smaller fanouts TF-GNN's sampler
draws are not seeded per root, so runs, on any runner, agree only in
distribution.)
"""

from __future__ import annotations

import os

import pytest
import tensorflow as tf
import tensorflow_gnn as tfgnn

from tests.hgnn.beam_pretrain import (
  EDGE_SET,
  FANOUTS,
  SET,
  pretrain_with_beam_sampler,
)
from tfgnn_gfm.artifacts import HGNNDir
from tfgnn_gfm.hgnn.beam_sample_store import read_samples
from tfgnn_gfm.hgnn.beam_sampling import write_link_samples
from tfgnn_gfm.hgnn.config import PretrainConfig
from tfgnn_gfm.hgnn.graph_data import (
  load_item_graph,
  removed_edges,
  split_links,
)


@pytest.fixture(scope="module")
def runs(portable_runner, tmp_path_factory):
  """The portable ``gfm pretrain`` and the DirectRunner's Beam step."""
  root = tmp_path_factory.mktemp("beam_portable")
  pretrain_with_beam_sampler(root, epochs=1, batch_size=8,
                             beam_args=portable_runner.beam_args)
  graph = load_item_graph(root / "graph")
  config = PretrainConfig()
  split = split_links(graph, config.validation_fraction, config.seed)
  held = removed_edges(graph, split.train_graph)
  ids = {name: (graph.node_ids[graph.edge_sets[name].source_set][s],
                graph.node_ids[graph.edge_sets[name].target_set][t])
         for name, (s, t) in held.items()}
  direct = HGNNDir(root / "direct")
  direct_summary = write_link_samples(
      root / "graph", direct, fanouts=FANOUTS, node_sets=[SET], rounds=1,
      held_out=ids, num_nodes={SET: graph.num_nodes(SET)})
  return root, graph, direct, direct_summary


def _canonical(spec: tfgnn.GraphTensorSpec, record: bytes):
  """A sample as sets: node ids per node set, edges (ids) per edge set, and
  the root (the first node of the seed node set)."""
  graph = tfgnn.parse_single_example(spec, tf.constant(record))
  ids = {n: graph.node_sets[n]["#id"].numpy().astype(str).tolist()
         for n in graph.node_sets}
  edges = {}
  for name, es in graph.edge_sets.items():
    src = ids[es.adjacency.source_name]
    tgt = ids[es.adjacency.target_name]
    edges[name] = frozenset(zip((src[i] for i in es.adjacency.source.numpy()),
                                (tgt[i] for i in es.adjacency.target.numpy())))
  return ids[SET][0], {n: frozenset(v) for n, v in ids.items()}, edges


@pytest.mark.timeout(900)
def test_portable_samples_equal_the_direct_runners(runs):
  root, graph, direct, _ = runs
  portable = HGNNDir(root / "hgnn")
  spec = tfgnn.create_graph_spec_from_schema_pb(
      tfgnn.read_schema(str(direct.beam_samples_schema_path)),
      indices_dtype=tf.int64)
  got = read_samples(portable, graph, [SET], rounds=1)[(0, SET)]
  want = read_samples(direct, graph, [SET], rounds=1)[(0, SET)]
  assert len(got) == len(want) == graph.num_nodes(SET)
  edges = 0
  for i, (a, b) in enumerate(zip(got, want)):
    sample = _canonical(spec, a)
    assert sample[0] == graph.node_ids[SET][i]
    assert sample == _canonical(spec, b), i
    edges += len(sample[2][EDGE_SET])
  assert edges > 0


@pytest.mark.timeout(900)
def test_portable_sampling_ran_in_worker_processes(runs, portable_runner):
  root, graph, _, direct_summary = runs
  manifest = HGNNDir(root / "hgnn").read_manifest()
  beam = manifest["beam"]
  assert beam["runner"] == "PortableRunner"
  assert beam["args"] == portable_runner.beam_args
  assert beam["samples"] == {SET: [graph.num_nodes(SET)]}
  assert beam["held_out_edges_dropped"] == beam["held_out_edges"] > 0
  assert beam["held_out_edges"] == direct_summary["held_out_edges"]
  processes = beam["worker_processes"]
  assert sum(processes.values()) == graph.num_nodes(SET)
  pids = {int(key.rsplit("/", 1)[1]) for key in processes}
  assert pids.isdisjoint({os.getpid(), portable_runner.job_service_pid,
                          portable_runner.worker_pool_pid})
  # On the DirectRunner (in memory) the same counters name the test's own
  # process.
  assert {int(key.rsplit("/", 1)[1]) for key in
          direct_summary["worker_processes"]} == {os.getpid()}
