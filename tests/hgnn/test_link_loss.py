"""The link loss of root embeddings, with and without the encoder-alone term."""

import numpy as np
import tensorflow as tf

from tfgnn_gfm.hgnn.link_model import LinkLoss, LinkPredictionModel


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


def test_the_link_model_config_keeps_the_encoder_term():
  encoder = tf.keras.Sequential([tf.keras.layers.Dense(4)])
  model = LinkPredictionModel(encoder=encoder, node_sets=["a"],
                              encoder_loss_weight=0.25, encoder_dim=64)
  config = model.get_config()
  assert config["encoder_loss_weight"] == 0.25
  assert config["encoder_dim"] == 64
