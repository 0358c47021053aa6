"""Spectral structure vectors (``hgnn.structure``, ``--structure-dim``)."""

import numpy as np
import pytest
import scipy.sparse
import tensorflow as tf
import tensorflow_gnn as tfgnn

from tfgnn_gfm.hgnn.config import PretrainConfig
from tfgnn_gfm.hgnn.embedding import embed_full_graph, whole_graph_tensor
from tfgnn_gfm.hgnn.export import load_encoder, save_encoder
from tfgnn_gfm.hgnn.full_graph import FullGraphEncoder
from tfgnn_gfm.hgnn.graph_data import EdgeSetData, ItemGraph
from tfgnn_gfm.hgnn.model import STRUCTURE_FEATURE, build_encoder
from tfgnn_gfm.hgnn.structure import (
  choose_local_share,
  randomized_eigh,
  structure_parts,
  structure_vectors,
)


def _graph():
  """Two types; p5 has no edge."""
  rng = np.random.default_rng(0)
  pp = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [0, 2], [1, 4]])
  pb = np.array([[0, 0], [2, 1], [4, 1], [3, 2]])
  features = {n: {"text_embedding": rng.normal(size=(k, 8)).astype(
      np.float32), "log_degree": np.ones((k, 1), np.float32)}
      for n, k in (("book", 3), ("podcast", 6))}
  ids = {"book": np.array(["b0", "b1", "b2"], dtype=object),
         "podcast": np.array([f"p{i}" for i in range(6)], dtype=object)}
  both = np.concatenate([pp, pp[:, ::-1]])
  return ItemGraph(ids, features, {
      "podcast_to_podcast": EdgeSetData("podcast", "podcast", both[:, 0],
                                        both[:, 1]),
      "podcast_to_book": EdgeSetData("podcast", "book", pb[:, 0], pb[:, 1]),
      "book_to_podcast": EdgeSetData("book", "podcast", pb[:, 1], pb[:, 0])})


def _positive_part(graph):
  """The positive semi-definite part of D^-1/2 A D^-1/2, and the degrees."""
  a = graph.adjacency().toarray()
  d = a.sum(axis=1)
  inv = np.where(d > 0, 1 / np.sqrt(np.maximum(d, 1)), 0)
  values, vectors = np.linalg.eigh(inv[:, None] * a * inv[None, :])
  return (vectors * np.maximum(values, 0)) @ vectors.T, d


def test_randomized_eigh_matches_the_exact_eigendecomposition():
  rng = np.random.default_rng(1)
  dense = rng.normal(size=(40, 40)) * (rng.random((40, 40)) < 0.3)
  dense = dense + dense.T
  values, vectors = randomized_eigh(scipy.sparse.csr_matrix(dense), 5,
                                    iterations=10)
  exact_values, exact_vectors = np.linalg.eigh(dense)
  top = np.argsort(-np.abs(exact_values))[:5]
  np.testing.assert_allclose(values, exact_values[top], rtol=1e-3)
  # Same vectors up to sign.
  np.testing.assert_allclose(
      np.abs(np.sum(vectors * exact_vectors[:, top], axis=0)), 1, atol=1e-3)


def test_full_rank_vectors_give_the_positive_part_of_the_graph():
  graph = _graph()
  vectors = structure_vectors(graph, dim=9, local_share=0.0)
  stacked = np.concatenate([vectors[n] for n in graph.node_sets])
  positive, degree = _positive_part(graph)
  with_edges = degree > 0
  scores = (stacked @ stacked.T)[with_edges][:, with_edges]
  expected = positive[with_edges][:, with_edges]
  # Up to the scale (mean squared norm 1 over nodes with edges).
  scale = np.mean(np.diag(expected))
  np.testing.assert_allclose(scores, expected / scale, atol=1e-4)
  assert vectors["podcast"].shape == (6, 9)
  assert vectors["book"].dtype == np.float32
  np.testing.assert_array_equal(vectors["podcast"][5], 0)  # No edges.


def test_the_local_part_gives_the_knn_cosine_plus_noise():
  graph = _graph()
  vectors = structure_vectors(graph, dim=20000, local_share=1.0)
  stacked = np.concatenate([vectors[n] for n in graph.node_sets])
  a = graph.adjacency().toarray()
  rows = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
  cosine = rows @ rows.T
  with_edges = a.sum(axis=1) > 0
  scores = (stacked @ stacked.T)[with_edges][:, with_edges]
  # Up to the scale (mean squared norm 1), within the projection noise.
  np.testing.assert_allclose(scores, cosine[with_edges][:, with_edges],
                             atol=0.05)
  assert not np.any(stacked[:, :10000])  # No global share.


def test_low_rank_vectors_are_deterministic_and_graph_dependent():
  graph = _graph()
  a = structure_vectors(graph, dim=3, seed=4)
  b = structure_vectors(graph, dim=3, seed=4)
  np.testing.assert_array_equal(a["podcast"], b["podcast"])
  fewer = graph.without_pairs({("podcast", "podcast"): {(0, 2)}})
  c = structure_vectors(fewer, dim=3, seed=4)
  assert not np.allclose(np.abs(a["podcast"]), np.abs(c["podcast"]),
                         atol=1e-3)


def test_a_graph_without_edges_gets_zero_vectors():
  graph = _graph()
  empty = ItemGraph(graph.node_ids, graph.node_features, {})
  vectors = structure_vectors(empty, dim=4)
  assert vectors["book"].shape == (3, 4)
  assert not np.any(vectors["podcast"])


def _encoder(graph, weight=0.25):
  spec = whole_graph_tensor(graph).spec.relax(
      num_components=True, num_nodes=True, num_edges=True)
  config = PretrainConfig(embedding_dim=8, hidden_dim=8, structure_dim=4,
                          structure_weight=weight, node_id_dropout=0.5)
  return build_encoder(spec, config, graph.node_ids,
                       structure_vectors(graph, 4)), config


def test_the_encoder_appends_weighted_structure_vectors():
  graph = _graph()
  encoder, config = _encoder(graph)
  out = embed_full_graph(encoder, graph)
  vectors = structure_vectors(graph, 4)
  for name in graph.node_sets:
    assert out[name].shape == (graph.num_nodes(name), 12)
    np.testing.assert_allclose(out[name][:, 8:],
                               np.sqrt(0.25) * vectors[name], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(out[name][:, :8], axis=1),
                               np.sqrt(0.75), atol=1e-5)
  # The full-graph training path gives the functional encoder's result.
  fast = FullGraphEncoder(encoder, graph)()
  for name in graph.node_sets:
    np.testing.assert_allclose(fast[name].numpy(), out[name], atol=1e-5)


def test_unknown_and_dropped_nodes_get_zero_structure():
  graph = _graph()
  encoder, _ = _encoder(graph)
  layer = encoder.get_layer("input_projection")
  text = np.zeros((2, 8), np.float32)
  nodes = tfgnn.GraphTensor.from_pieces(node_sets={
      "podcast": tfgnn.NodeSet.from_fields(sizes=[2], features={
          "#id": tf.constant(["p1", "new"]), "text_embedding": text,
          "log_degree": tf.ones([2, 1])}),
      "book": tfgnn.NodeSet.from_fields(sizes=[0], features={
          "#id": tf.constant([], tf.string),
          "text_embedding": tf.zeros([0, 8]), "log_degree": tf.zeros([0, 1])})})
  served = layer(nodes).node_sets["podcast"][STRUCTURE_FEATURE].numpy()
  np.testing.assert_allclose(served[0], structure_vectors(graph, 4)[
      "podcast"][1], atol=1e-6)
  np.testing.assert_array_equal(served[1], 0)
  tf.keras.utils.set_random_seed(0)
  dropped = [layer(nodes, training=True).node_sets["podcast"][
      STRUCTURE_FEATURE].numpy()[0] for _ in range(40)]
  zero = sum(not np.any(d) for d in dropped)
  assert 5 <= zero <= 35  # About half at node_id_dropout 0.5.


def test_structure_vectors_round_trip_through_saved_model(tmp_path):
  graph = _graph()
  encoder, _ = _encoder(graph)
  before = embed_full_graph(encoder, graph)
  save_encoder(encoder, tmp_path / "encoder")
  after = embed_full_graph(load_encoder(tmp_path / "encoder"), graph)
  for name in graph.node_sets:
    np.testing.assert_allclose(before[name], after[name], atol=1e-6)
    assert np.any(after[name][:, 8:])


def test_structure_settings_are_checked():
  with pytest.raises(ValueError, match="structure_weight"):
    PretrainConfig(structure_dim=4, structure_weight=1.0).validate()
  with pytest.raises(ValueError, match="structure_dim"):
    PretrainConfig(structure_dim=-1).validate()


def _cliques(num: int, size: int) -> ItemGraph:
  """``num`` disjoint cliques of ``size`` nodes: a fragmented basket graph."""
  pairs = np.array([(c * size + i, c * size + j) for c in range(num)
                    for i in range(size) for j in range(size) if i != j])
  n = num * size
  return ItemGraph({"item": np.array([f"i{i}" for i in range(n)], object)},
                   {"item": {"text_embedding": np.zeros((n, 2), np.float32)}},
                   {"item_to_item": EdgeSetData("item", "item", pairs[:, 0],
                                                pairs[:, 1])})


def test_the_mix_of_the_parts_is_the_structure_vectors():
  graph = _graph()
  parts = structure_parts(graph, 8, seed=3)
  for share in (0.0, 0.3, 1.0):
    mixed = structure_parts(graph, 8, seed=3, local=share > 0).mix(share)
    expected = structure_vectors(graph, 8, share, seed=3)
    for name in graph.node_sets:
      np.testing.assert_array_equal(mixed[name], expected[name])
  # Zero rows for nodes without edges, whatever the share.
  assert not parts.mix(0.5)["podcast"][5].any()


@pytest.mark.parametrize("seed", [0, 1])
def test_a_fragmented_graph_chooses_the_local_half(seed):
  # 120 cliques of 5: a rank-8 global half cannot tell them apart, the
  # local half (the kNN cosine plus noise) can.
  share, info = choose_local_share(_cliques(120, 5), 16, (0.0, 0.5),
                                   fraction=0.2, seed=seed)
  assert share == 0.5 and info["chosen"] == 0.5
  scores = info["hr@10"]
  assert scores["0.5"] > scores["0.0"] + 0.1
  # Each held-out pair of the inner split is a query both ways.
  assert info["queries"] == 2 * round(0.2 * 120 * 10)


def test_the_best_share_wins_and_ties_take_the_smaller():
  share, info = choose_local_share(_cliques(50, 4), 16, (0.2, 0.5, 0.8),
                                   fraction=0.2, seed=0)
  scores = {float(r): v for r, v in info["hr@10"].items()}
  best = max(scores.values())
  assert share == min(r for r, v in scores.items() if v == best)


def test_one_candidate_is_taken_without_scoring():
  assert choose_local_share(_graph(), 4, (0.4,)) == (0.4, {"chosen": 0.4})


def test_the_old_single_share_key_still_reads():
  from tfgnn_gfm.config import config_from_dict
  config = config_from_dict(PretrainConfig, {"structure_local_share": 0.4})
  assert config.structure_local_shares == (0.4,)
  with pytest.raises(ValueError, match="structure_local_shares"):
    PretrainConfig(structure_local_shares=(0.2, 1.5)).validate()
