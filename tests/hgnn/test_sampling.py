"""Tests of the subgraph sampler (fanouts, edge types, roots, leakage) and of
the ``Sampler`` contract that it and the Beam sample store both keep."""

import numpy as np
import pytest
import tensorflow as tf

from tests.hgnn.planted import planted_graph
from tests.synthetic import write_synthetic_graph
from tfgnn_gfm.hgnn.config import PretrainConfig
from tfgnn_gfm.hgnn.graph_data import (
  DEGREE_FEATURE,
  ID_FEATURE,
  TEXT_FEATURE,
  EdgeSetData,
  ItemGraph,
  load_item_graph,
  removed_edges,
  split_links,
)
from tfgnn_gfm.hgnn.link_data import LinkBatcher, LinkBatchSpec, link_dataset
from tfgnn_gfm.hgnn.model import build_encoder
from tfgnn_gfm.hgnn.sampling import NO_PARTNER, Sampler, SubgraphSampler


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
  sub, _ = sampler.sample(tf.constant([0], tf.int32),
                          tf.constant([0], tf.int64))
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


# The Sampler contract, on a tiny graph: the in-memory sampler and the store
# of TF-GNN's Beam sampler's output (a real Beam step, two rounds).

CONTRACT_FANOUTS = (3, 2)
CONTRACT_BATCH = 4


@pytest.fixture(scope="module")
def samplers(tmp_path_factory):
  """(graph, split, {name: Sampler}) over one tiny synthetic graph."""
  from tfgnn_gfm.hgnn.beam_sampling import sample_with_beam
  root = tmp_path_factory.mktemp("sampler_contract")
  write_synthetic_graph(root, users=False, num_users=150, num_podcasts=24,
                        num_audiobooks=16, seed=4)
  graph = load_item_graph(root / "graph")
  split = split_links(graph, 0.2, 0)
  beam = sample_with_beam(graph, root / "graph", root / "hgnn",
                          fanouts=CONTRACT_FANOUTS,
                          node_sets=list(graph.node_sets), rounds=2,
                          held_out=removed_edges(graph, split.train_graph),
                          beam_args=["--direct_num_workers=1"])
  in_memory = SubgraphSampler(split.train_graph, CONTRACT_FANOUTS,
                              features=graph, seed=0)
  return graph, split, {"in_memory": in_memory, "beam": beam.store}


def _plan(graph, split, sampler, pass_index):
  """A training batch plan of a cross-type link, with the pass's fields."""
  (s_set, t_set), (src, tgt) = next(
      (k, v) for k, v in sorted(split.train_pairs.items()) if k[0] != k[1])
  batcher = LinkBatcher(graph, sampler, LinkBatchSpec(CONTRACT_BATCH, 2))
  batch = batcher.make_batch(s_set, t_set, src[:CONTRACT_BATCH],
                             tgt[:CONTRACT_BATCH], np.random.default_rng(3))
  batch.update(sampler.pass_fields(pass_index))
  return batch


def test_both_samplers_implement_the_protocol(samplers):
  graph, _, by_name = samplers
  for name, sampler in by_name.items():
    assert isinstance(sampler, Sampler), name
    assert list(sampler.node_sets) == list(graph.node_sets), name
    assert [sampler.set_index(n) for n in sampler.node_sets] == list(
        range(len(sampler.node_sets))), name
    for pass_index in range(4):
      fields = sampler.pass_fields(pass_index)
      assert set(fields) == set(sampler.batch_fields), (name, pass_index)
      for key, value in fields.items():
        assert sampler.batch_fields[key].is_compatible_with(
            tf.constant(value)), (name, key)
  # The store's pass e reads round e mod rounds; validation, round 0.
  store = by_name["beam"]
  assert store.rounds == 2
  assert [int(store.pass_fields(e)["round_index"]) for e in range(4)] == [
      0, 1, 0, 1]


@pytest.mark.parametrize("pass_index", [0, 1])
def test_both_samplers_keep_the_contract_on_the_same_plan(samplers,
                                                          pass_index):
  graph, split, by_name = samplers
  train_edges = {
      name: set(zip(split.train_graph.node_ids[es.source_set][es.source],
                    split.train_graph.node_ids[es.target_set][es.target]))
      for name, es in split.train_graph.edge_sets.items()}
  plan = _plan(graph, split, by_name["in_memory"], 0)
  specs = {}
  elements = {}
  for name, sampler in by_name.items():
    batch = {**plan, **sampler.pass_fields(pass_index)}
    # The tf.data path training uses, up to the model's input.
    dataset = link_dataset(lambda b=batch: iter([b]), sampler)
    specs[name] = dataset.element_spec
    element = next(iter(dataset))
    elements[name] = element
    sub, positions = element["graph"], element["positions"].numpy()
    num_roots = len(plan["root_id"])
    assert int(sub.num_components) == num_roots, name
    # Features: ids, and the full graph's text and degree rows of each node.
    offsets, rows = {}, []
    for n in sampler.node_sets:
      ids = sub.node_sets[n][ID_FEATURE].numpy().astype(str)
      index = {item: i for i, item in enumerate(graph.node_ids[n])}
      which = np.array([index[i] for i in ids], np.int64)
      np.testing.assert_array_equal(
          sub.node_sets[n][TEXT_FEATURE].numpy(),
          graph.node_features[n][TEXT_FEATURE][which])
      np.testing.assert_array_equal(
          sub.node_sets[n][DEGREE_FEATURE].numpy(),
          graph.node_features[n][DEGREE_FEATURE][which])
      offsets[n] = sum(len(r) for r in rows)
      rows.append(ids)
    rows = np.concatenate(rows)
    for c in range(num_roots):
      root_set = sampler.node_sets[plan["root_set"][c]]
      root = graph.node_ids[root_set][plan["root_id"][c]]
      # positions point at the root, the first node of its set in its
      # component.
      assert rows[positions[c]] == root, (name, c)
      sizes = sub.node_sets[root_set].sizes.numpy()
      assert positions[c] == offsets[root_set] + sizes[:c].sum(), (name, c)
    for edge_set in sorted(graph.edge_sets):
      es = sub.edge_sets[edge_set]
      a, b = es.adjacency.source_name, es.adjacency.target_name
      src = sub.node_sets[a][ID_FEATURE].numpy().astype(str)[
          es.adjacency.source.numpy()]
      tgt = sub.node_sets[b][ID_FEATURE].numpy().astype(str)[
          es.adjacency.target.numpy()]
      comp = np.repeat(np.arange(num_roots), es.sizes.numpy())
      # Every edge is a training edge (none held out) ...
      assert set(zip(src, tgt)) <= train_edges[edge_set], (name, edge_set)
      for c in range(2 * CONTRACT_BATCH):  # ... and no root-partner edge.
        r_set = sampler.node_sets[plan["root_set"][c]]
        p_set = sampler.node_sets[plan["partner_set"][c]]
        r = graph.node_ids[r_set][plan["root_id"][c]]
        p = graph.node_ids[p_set][plan["partner_id"][c]]
        pairs = set(zip(src[comp == c], tgt[comp == c]))
        if (a, b) == (r_set, p_set):
          assert (r, p) not in pairs, (name, edge_set, c)
        if (a, b) == (p_set, r_set):
          assert (p, r) not in pairs, (name, edge_set, c)
  # The same input spec for the model: one encoder serves both samplers.
  assert specs["beam"] == specs["in_memory"]
  tf.keras.utils.set_random_seed(0)
  encoder = build_encoder(specs["in_memory"]["graph"], PretrainConfig(
      embedding_dim=8, hidden_dim=8, fanouts=CONTRACT_FANOUTS))
  for name, element in elements.items():
    out = encoder(element["graph"])
    assert sum(int(out[n].shape[0]) for n in by_name[name].node_sets) == int(
        sum(element["graph"].node_sets[n].total_size
            for n in by_name[name].node_sets)), name
