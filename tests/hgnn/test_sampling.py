"""Tests of the subgraph sampler: fanouts, edge types, roots, leakage."""

import numpy as np
import pytest
import tensorflow as tf

from tests.hgnn.planted import planted_graph
from tfgnn_gfm.hgnn.graph_data import EdgeSetData, ItemGraph
from tfgnn_gfm.hgnn.sampling import NO_PARTNER, SubgraphSampler


@pytest.fixture(scope="module")
def graph():
  return planted_graph(n_per_set=(40, 30), p_in=0.5, seed=3)[0]


def _edges(g, name):
  es = g.edge_sets[name]
  ids = {n: g.node_sets[n]["#id"].numpy().astype(str) for n in g.node_sets}
  a, b = es.adjacency.source_name, es.adjacency.target_name
  return (ids[a][es.adjacency.source.numpy()],
          ids[b][es.adjacency.target.numpy()],
          np.repeat(np.arange(int(g.num_components)), es.sizes.numpy()))


def test_roots_come_first_and_positions_point_at_them(graph):
  sampler = SubgraphSampler(graph, (4, 2), seed=1)
  root_set = tf.constant([0, 1, 1, 0], tf.int32)  # audiobook, podcast, ...
  root_id = tf.constant([3, 5, 7, 0], tf.int64)
  g, positions = sampler.sample(root_set, root_id)
  assert int(g.num_components) == 4
  names = sampler.node_sets
  all_ids = np.concatenate([g.node_sets[n]["#id"].numpy().astype(str)
                            for n in names])
  expected = [graph.node_ids[names[s]][i] for s, i in
              zip(root_set.numpy(), root_id.numpy())]
  assert list(all_ids[positions.numpy()]) == expected


def test_fanouts_and_edge_types_are_respected(graph):
  fanouts = (3, 2)
  sampler = SubgraphSampler(graph, fanouts, seed=2)
  g, _ = sampler.sample(tf.constant([1] * 6, tf.int32),
                        tf.constant(np.arange(6), tf.int64))
  true_edges = {name: set(zip(graph.node_ids[es.source_set][es.source],
                              graph.node_ids[es.target_set][es.target]))
                for name, es in graph.edge_sets.items()}
  for name in graph.edge_sets:
    src, tgt, comp = _edges(g, name)
    # Every sampled edge exists in the graph, in that edge set.
    assert set(zip(src, tgt)) <= true_edges[name]
    # A node sends at most fanout[hop] edges per edge set: roots at hop 0.
    for c in range(6):
      root = graph.node_ids["podcast"][c]
      out_of_root = np.sum((comp == c) & (src == root))
      assert out_of_root <= fanouts[0] + fanouts[1] * 2


def test_per_node_fanout_of_the_first_hop():
  # A star: node 0 of 'a' has 10 neighbours; fanout 3 keeps 3.
  g = ItemGraph(
      {"a": np.array(["h"] + [f"n{i}" for i in range(10)], dtype=object)},
      {"a": {"text_embedding": np.eye(11, 4, dtype=np.float32),
             "log_degree": np.zeros((11, 1), np.float32)}},
      {"a_to_a": EdgeSetData("a", "a", np.concatenate([np.zeros(10, int),
                                                       np.arange(1, 11)]),
                             np.concatenate([np.arange(1, 11),
                                             np.zeros(10, int)]))})
  sampler = SubgraphSampler(g, (3, 1), seed=0)
  sub, _ = sampler.sample(tf.constant([0], tf.int32), tf.constant([0], tf.int64))
  src, tgt, _ = _edges(sub, "a_to_a")
  assert np.sum(src == "h") == 3  # hop 1 from the hub
  assert len(src) == 3 + 3  # hop 2: one edge back from each neighbour


def test_seed_edge_is_removed_from_its_own_subgraph():
  # Two nodes joined by one edge (both directions) and nothing else: with
  # the pair as partners, neither subgraph may contain the edge.
  g = ItemGraph(
      {"a": np.array(["x", "y", "z"], dtype=object)},
      {"a": {"text_embedding": np.eye(3, 4, dtype=np.float32),
             "log_degree": np.zeros((3, 1), np.float32)}},
      {"a_to_a": EdgeSetData("a", "a", np.array([0, 1, 1, 2]),
                             np.array([1, 0, 2, 1]))})
  sampler = SubgraphSampler(g, (5, 5), seed=0)
  sub, _ = sampler.sample(tf.constant([0, 0, 0], tf.int32),
                          tf.constant([0, 1, 0], tf.int64),
                          tf.constant([0, 0, NO_PARTNER], tf.int32),
                          tf.constant([1, 0, 0], tf.int64))
  src, tgt, comp = _edges(sub, "a_to_a")
  for c in (0, 1):
    pairs = set(zip(src[comp == c], tgt[comp == c]))
    assert ("x", "y") not in pairs and ("y", "x") not in pairs
  # Root y still reaches z; the unmasked root x does reach y.
  assert ("y", "z") in set(zip(src[comp == 1], tgt[comp == 1]))
  assert ("x", "y") in set(zip(src[comp == 2], tgt[comp == 2]))


def test_bad_fanout_is_a_clear_error(graph):
  with pytest.raises(ValueError, match="fanouts must be positive"):
    SubgraphSampler(graph, (3, 0))
