"""The link loss of root embeddings, with and without the encoder-alone and
features-alone (new-item) terms."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_gnn as tfgnn

from tfgnn_gfm.hgnn.link_model import (
  LinkLoss,
  LinkPredictionModel,
  without_edges,
)


def _roots(batch=4, k=2, enc=3, structure=5, seed=0):
  rng = np.random.default_rng(seed)
  z = rng.normal(size=(batch * (2 + k), enc + structure)).astype(np.float32)
  neg_valid = rng.random((batch, k)) > 0.2
  inbatch_valid = ~np.eye(batch, dtype=bool)
  return tf.constant(z), neg_valid, inbatch_valid


def _hinge(z, batch, k, neg_valid, inbatch_valid, margin):
  """The margin loss by hand: mean hinge over valid negatives."""
  s, t, n = z[:batch], z[batch:2 * batch], z[2 * batch:].reshape(batch, k, -1)
  pos = (s * t).sum(-1)
  neg = np.concatenate([np.einsum("bd,bkd->bk", s, n), s @ t.T], axis=1)
  valid = np.concatenate([neg_valid, inbatch_valid], axis=1)
  hinge = np.maximum(0, neg - pos[:, None] + margin) * valid
  return hinge.sum() / valid.sum()


def test_the_encoder_term_is_the_loss_of_the_encoders_part_alone():
  z, neg_valid, inbatch_valid = _roots()
  base = LinkLoss(uniform_negatives=2)
  value, share = base.of_embeddings(z, 4, neg_valid, inbatch_valid)
  np.testing.assert_allclose(
      value, _hinge(z.numpy(), 4, 2, neg_valid, inbatch_valid, 0.5),
      rtol=1e-5)
  both = LinkLoss(uniform_negatives=2, encoder_loss_weight=0.7, encoder_dim=3)
  value2, share2 = both.of_embeddings(z, 4, neg_valid, inbatch_valid)
  part = z.numpy()[:, :3]
  part /= np.linalg.norm(part, axis=1, keepdims=True)
  np.testing.assert_allclose(
      value2, value + 0.7 * _hinge(part, 4, 2, neg_valid, inbatch_valid, 0.5),
      rtol=1e-5)
  # The share of beaten negatives is the whole embeddings'.
  np.testing.assert_allclose(share2, share)
  # Without encoder values named, no second term.
  np.testing.assert_allclose(
      LinkLoss(uniform_negatives=2, encoder_loss_weight=0.7).of_embeddings(
          z, 4, neg_valid, inbatch_valid)[0], value)


def test_rows_mask_out_positives_as_the_full_graph_path_needs():
  z, neg_valid, inbatch_valid = _roots()
  rows = np.array([True, False, True, True])
  loss = LinkLoss(uniform_negatives=2, encoder_loss_weight=0.5, encoder_dim=3)
  value, _ = loss.of_embeddings(z[None], 4, neg_valid[None],
                                inbatch_valid[None], rows[None])
  zn = z.numpy()
  kept = np.flatnonzero(rows)
  # By hand: only the kept positives' hinges (their in-batch negatives are
  # still every target of the group).
  def masked(v):
    s, t = v[:4], v[4:8]
    n = v[8:].reshape(4, 2, -1)
    pos = (s * t).sum(-1)
    neg = np.concatenate([np.einsum("bd,bkd->bk", s, n), s @ t.T], axis=1)
    valid = np.concatenate([neg_valid, inbatch_valid], axis=1)
    hinge = np.maximum(0, neg - pos[:, None] + 0.5) * valid
    return hinge[kept].sum() / valid[kept].sum()
  part = zn[:, :3] / np.linalg.norm(zn[:, :3], axis=1, keepdims=True)
  np.testing.assert_allclose(value, masked(zn) + 0.5 * masked(part),
                             rtol=1e-5)


def test_the_new_item_term_scores_sources_embedded_alone():
  z, neg_valid, inbatch_valid = _roots()
  alone, _, _ = _roots(seed=1)
  base = LinkLoss(uniform_negatives=2, encoder_dim=3)
  value, share = base.of_embeddings(z, 4, neg_valid, inbatch_valid)
  loss = LinkLoss(uniform_negatives=2, encoder_dim=3, new_item_loss_weight=2.0)
  value2, share2 = loss.of_embeddings(z, 4, neg_valid, inbatch_valid,
                                      alone=alone)
  # By hand: the sources' encoder parts from the features-alone pass, the
  # targets' and negatives' from the full embeddings.
  def part(v):
    return v[:, :3] / np.linalg.norm(v[:, :3], axis=1, keepdims=True)
  mixed = np.concatenate([part(alone.numpy())[:4], part(z.numpy())[4:]])
  np.testing.assert_allclose(
      value2, value + 2.0 * _hinge(mixed, 4, 2, neg_valid, inbatch_valid, 0.5),
      rtol=1e-5)
  np.testing.assert_allclose(share2, share)
  with pytest.raises(ValueError, match="embedded alone"):
    loss.of_embeddings(z, 4, neg_valid, inbatch_valid)


def test_without_edges_keeps_every_node_and_no_edge():
  graph = tfgnn.GraphTensor.from_pieces(
      node_sets={"a": tfgnn.NodeSet.from_fields(
          sizes=tf.constant([2, 1], tf.int64),
          features={"x": tf.constant([[1.0], [2.0], [3.0]])})},
      edge_sets={"a_to_a": tfgnn.EdgeSet.from_fields(
          sizes=tf.constant([2, 0], tf.int64),
          features={"w": tf.constant([0.5, 0.25])},
          adjacency=tfgnn.Adjacency.from_indices(
              source=("a", tf.constant([0, 1], tf.int64)),
              target=("a", tf.constant([1, 0], tf.int64))))})
  alone = without_edges(graph)
  np.testing.assert_array_equal(alone.node_sets["a"]["x"],
                                graph.node_sets["a"]["x"])
  np.testing.assert_array_equal(alone.node_sets["a"].sizes, [2, 1])
  edges = alone.edge_sets["a_to_a"]
  np.testing.assert_array_equal(edges.sizes, [0, 0])
  assert edges.adjacency.source.shape[0] == 0
  assert edges["w"].shape[0] == 0
  # Pooling over no neighbours: each node's state is its own features'.
  pooled = tfgnn.pool_edges_to_node(alone, "a_to_a", tfgnn.SOURCE, "sum",
                                    feature_value=tf.ones([0, 1]))
  np.testing.assert_array_equal(pooled, np.zeros((3, 1)))


def test_the_link_model_config_keeps_the_encoder_term():
  encoder = tf.keras.Sequential([tf.keras.layers.Dense(4)])
  model = LinkPredictionModel(encoder=encoder, node_sets=["a"],
                              encoder_loss_weight=0.25, encoder_dim=64,
                              new_item_loss_weight=1.5)
  config = model.get_config()
  assert config["encoder_loss_weight"] == 0.25
  assert config["encoder_dim"] == 64
  assert config["new_item_loss_weight"] == 1.5
