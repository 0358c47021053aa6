"""Learnable node vectors of the input projection (``--node-id-dim``)."""

import numpy as np
import tensorflow as tf
import tensorflow_gnn as tfgnn

from tfgnn_gfm.hgnn.config import PretrainConfig
from tfgnn_gfm.hgnn.embedding import embed_full_graph, whole_graph_tensor
from tfgnn_gfm.hgnn.export import load_encoder, save_encoder
from tfgnn_gfm.hgnn.graph_data import EdgeSetData, ItemGraph
from tfgnn_gfm.hgnn.model import ItemInputProjection, build_encoder


def _graph():
  rng = np.random.default_rng(0)
  pairs = np.array([[0, 1], [1, 2], [2, 3], [3, 0], [4, 5]])
  src = np.concatenate([pairs[:, 0], pairs[:, 1]])
  tgt = np.concatenate([pairs[:, 1], pairs[:, 0]])
  features = {"podcast": {
      "text_embedding": rng.normal(size=(6, 8)).astype(np.float32),
      "log_degree": np.ones((6, 1), np.float32)}}
  ids = {"podcast": np.array([f"p{i}" for i in range(6)], dtype=object)}
  return ItemGraph(ids, features, {
      "podcast_to_podcast": EdgeSetData("podcast", "podcast", src, tgt)})


def _encoder(graph, dim=4, dropout=0.5):
  spec = whole_graph_tensor(graph).spec.relax(
      num_components=True, num_nodes=True, num_edges=True)
  config = PretrainConfig(embedding_dim=8, hidden_dim=8, node_id_dim=dim,
                          node_id_dropout=dropout, structure_dim=0)
  return build_encoder(spec, config, graph.node_ids)


def _node_set_graph(ids, text):
  return tfgnn.GraphTensor.from_pieces(node_sets={"podcast": (
      tfgnn.NodeSet.from_fields(sizes=[len(ids)], features={
          "#id": tf.constant(ids), "text_embedding": tf.constant(text),
          "log_degree": tf.ones([len(ids), 1])}))})


def test_unknown_ids_get_zero_vectors_and_known_ones_learned_vectors():
  layer = ItemInputProjection(node_sets=["podcast"], units=3,
                              id_vocab={"podcast": ["a", "b"]}, id_dim=2,
                              id_dropout=0.0)
  text = np.zeros((3, 4), np.float32)
  out = layer(_node_set_graph(["a", "b", "new"], text))
  hidden = out.node_sets["podcast"][tfgnn.HIDDEN_STATE].numpy()
  bias = layer._dense["podcast"].bias.numpy()
  # Zero text, zero vector: only the bias; known ids differ from it.
  np.testing.assert_allclose(hidden[2], bias + np.ones(1) @ layer._dense[
      "podcast"].kernel.numpy()[4:5], atol=1e-6)
  assert not np.allclose(hidden[0], hidden[2])
  assert not np.allclose(hidden[0], hidden[1])


def test_dropout_zeroes_vectors_in_training_only():
  layer = ItemInputProjection(node_sets=["podcast"], units=3,
                              id_vocab={"podcast": ["a"]}, id_dim=2,
                              id_dropout=1.0)
  graph = _node_set_graph(["a", "zz"], np.zeros((2, 4), np.float32))
  trained = layer(graph, training=True).node_sets["podcast"][
      tfgnn.HIDDEN_STATE].numpy()
  served = layer(graph, training=False).node_sets["podcast"][
      tfgnn.HIDDEN_STATE].numpy()
  np.testing.assert_allclose(trained[0], trained[1], atol=1e-6)
  assert not np.allclose(served[0], served[1])


def test_encoder_with_node_vectors_round_trips_through_saved_model(tmp_path):
  graph = _graph()
  encoder = _encoder(graph)
  before = embed_full_graph(encoder, graph)
  save_encoder(encoder, tmp_path / "encoder")
  loaded = load_encoder(tmp_path / "encoder")
  after = embed_full_graph(loaded, graph)
  np.testing.assert_allclose(before["podcast"], after["podcast"], atol=1e-6)
  config = loaded.get_layer("input_projection").get_config()
  assert config["id_vocab"] == {"podcast": [f"p{i}" for i in range(6)]}
  assert config["id_dim"] == 4


def test_without_node_id_dim_the_encoder_is_unchanged():
  graph = _graph()
  plain = _encoder(graph, dim=0)
  assert not plain.get_layer("input_projection").uses_ids
