"""The link-prediction training model around the HGNN encoder.

``LinkPredictionModel`` embeds every root of a sampled batch with the encoder
and scores positives against negatives with either the paper's margin loss,
``mean(max(0, z_s.z_neg - z_s.z_pos + margin))`` over valid negatives, or a
sampled softmax over the positive and the negatives. It is a plain Keras
model: ``fit`` gives the progress bar, callbacks (early stopping, checkpoints,
TensorBoard) and tf.distribute support.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import tensorflow as tf
import tensorflow_gnn as tfgnn

from tfgnn_gfm.distribute import global_mean

_MASKED = -1e9


def link_scores(z: tf.Tensor, batch_size: tf.Tensor, k: int
                ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
  """Splits root embeddings: (positive [B], uniform [B, k], in-batch [B, B]).

  Roots are ordered as B sources, B targets, then B*k uniform negatives, along
  the second-last axis of ``z`` ([R, d], or [G, R, d] for G groups, which
  gives [G, B], [G, B, k] and [G, B, B]).
  """
  z_s = z[..., :batch_size, :]
  z_t = z[..., batch_size:2 * batch_size, :]
  z_n = tf.reshape(z[..., 2 * batch_size:, :], tf.concat(
      [tf.shape(z)[:-2], [batch_size, k, tf.shape(z)[-1]]], axis=0))
  pos = tf.reduce_sum(z_s * z_t, axis=-1)
  uniform = tf.einsum("...bd,...bkd->...bk", z_s, z_n)
  inbatch = tf.matmul(z_s, z_t, transpose_b=True)
  return pos, uniform, inbatch


def margin_loss(pos, neg, valid, margin: float) -> tf.Tensor:
  """Mean hinge ``max(0, neg - pos + margin)`` over valid negatives.

  The mean is over the global batch (``distribute.global_mean``).
  """
  valid = tf.cast(valid, pos.dtype)
  hinge = tf.nn.relu(neg - pos[:, None] + margin) * valid
  return global_mean(tf.reduce_sum(hinge), tf.reduce_sum(valid))


def softmax_loss(pos, neg, valid, temperature: float) -> tf.Tensor:
  """Cross-entropy of the positive against the valid negatives.

  The mean is over the global batch's positives (``distribute.global_mean``).
  """
  logits = tf.concat([pos[:, None], tf.where(valid, neg, _MASKED)], axis=1)
  logits /= temperature
  losses = tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.zeros(tf.shape(pos)[0], tf.int32), logits=logits)
  return global_mean(tf.reduce_sum(losses),
                     tf.cast(tf.shape(losses)[0], losses.dtype))


def link_loss(pos, uniform, inbatch, neg_valid, inbatch_valid, *,
              in_batch: bool, loss: str, margin: float, temperature: float
              ) -> tuple[tf.Tensor, tf.Tensor]:
  """The link-prediction loss of a batch and the share of beaten negatives.

  Args:
    pos: [B] positive scores.
    uniform: [B, k] scores of the uniform negatives; neg_valid: their mask.
    inbatch: [B, B] scores of the batch's targets; inbatch_valid: their mask.
    in_batch: use the in-batch negatives.
    loss: ``margin`` or ``softmax``.
    margin: hinge margin.
    temperature: softmax temperature.

  Returns:
    (loss, share of valid negatives scored below their positive).
  """
  negs, valid = [uniform], [neg_valid]
  if in_batch:
    negs.append(inbatch)
    valid.append(inbatch_valid)
  neg, valid = tf.concat(negs, axis=1), tf.concat(valid, axis=1)
  if loss == "softmax":
    value = softmax_loss(pos, neg, valid, temperature)
  else:
    value = margin_loss(pos, neg, valid, margin)
  beats = tf.reduce_sum(tf.cast((pos[:, None] > neg) & valid, tf.float32))
  share = global_mean(beats, tf.reduce_sum(tf.cast(valid, tf.float32)))
  return value, share


@dataclasses.dataclass(frozen=True)
class LinkLoss:
  """The link-loss options both training paths share, and the loss itself.

  Attributes:
    uniform_negatives: k, uniform negatives per positive.
    in_batch_negatives: also score the batch's other targets.
    loss: ``margin`` or ``softmax``.
    margin: hinge margin.
    temperature: softmax temperature.
    encoder_loss_weight: weight of a second term, the same loss on the
      encoder's part of each embedding alone (its first ``encoder_dim``
      values, L2-normalised): the only part a new item, which has no
      structure vector, gets. 0: none.
    encoder_dim: the encoder's values at the front of an embedding.
    new_item_loss_weight: weight of a third term: each positive's source
      embedded from its own features alone (no neighbours, no structure
      vector: as a new item is embedded) and scored, by the encoder's part,
      against the full embeddings' encoder parts of its target and the
      negatives. 0: none.
  """

  uniform_negatives: int = 1
  in_batch_negatives: bool = True
  loss: str = "margin"
  margin: float = 0.5
  temperature: float = 0.1
  encoder_loss_weight: float = 0.0
  encoder_dim: int = 0
  new_item_loss_weight: float = 0.0

  def scores(self, z: tf.Tensor, batch_size: tf.Tensor):
    """``link_scores`` with this loss's k."""
    return link_scores(z, batch_size, self.uniform_negatives)

  def of_embeddings(self, z: tf.Tensor, batch_size: tf.Tensor,
                    neg_valid: tf.Tensor, inbatch_valid: tf.Tensor,
                    rows: tf.Tensor | None = None,
                    alone: tf.Tensor | None = None
                    ) -> tuple[tf.Tensor, tf.Tensor]:
    """The loss of root embeddings and the share of beaten negatives.

    Args:
      z: root embeddings ordered as ``link_scores`` reads them.
      batch_size: B.
      neg_valid: [.., B, k] mask of the uniform negatives.
      inbatch_valid: [.., B, B] mask of the in-batch negatives.
      rows: optional [.., B] mask of the positives that count.
      alone: the same roots embedded from their features alone (needed with
        ``new_item_loss_weight``).

    Returns:
      (loss, share of valid negatives scored below their positive); with
      ``encoder_loss_weight`` the loss adds that weight times the loss of
      the encoder's part alone, with ``new_item_loss_weight`` that weight
      times the loss of the sources embedded alone (the share is the whole
      embeddings').
    """
    value, share = self._masked(z, batch_size, neg_valid, inbatch_valid, rows)
    if self.encoder_loss_weight > 0 and self.encoder_dim > 0:
      term, _ = self._masked(self._encoder_part(z), batch_size, neg_valid,
                             inbatch_valid, rows)
      value += self.encoder_loss_weight * term
    if self.new_item_loss_weight > 0:
      if alone is None:
        raise ValueError("new_item_loss_weight needs the roots embedded alone")
      mixed = tf.concat([self._encoder_part(alone)[..., :batch_size, :],
                         self._encoder_part(z)[..., batch_size:, :]], axis=-2)
      term, _ = self._masked(mixed, batch_size, neg_valid, inbatch_valid, rows)
      value += self.new_item_loss_weight * term
    return value, share

  def _encoder_part(self, z: tf.Tensor) -> tf.Tensor:
    """The encoder's values of embeddings, L2-normalised."""
    dim = self.encoder_dim or None
    return tf.math.l2_normalize(z[..., :dim], axis=-1)

  def _masked(self, z, batch_size, neg_valid, inbatch_valid, rows):
    pos, uniform, inbatch = self.scores(z, batch_size)
    if rows is not None:
      pos, uniform, inbatch, neg_valid, inbatch_valid = (
          tf.boolean_mask(t, rows)
          for t in (pos, uniform, inbatch, neg_valid, inbatch_valid))
    return self(pos, uniform, inbatch, neg_valid, inbatch_valid)

  def __call__(self, pos, uniform, inbatch, neg_valid, inbatch_valid
               ) -> tuple[tf.Tensor, tf.Tensor]:
    """``link_loss`` with these options."""
    return link_loss(pos, uniform, inbatch, neg_valid, inbatch_valid,
                     in_batch=self.in_batch_negatives, loss=self.loss,
                     margin=self.margin, temperature=self.temperature)

  def config(self) -> dict[str, Any]:
    """The options as the models' constructor arguments."""
    return dataclasses.asdict(self)


def without_edges(graph: tfgnn.GraphTensor) -> tfgnn.GraphTensor:
  """``graph`` with the same nodes and every edge set emptied.

  The encoder then embeds each node from its own features alone, as a new
  item without interactions is embedded.
  """
  edge_sets = {}
  for name, edge_set in graph.edge_sets.items():
    adjacency = edge_set.adjacency
    empty = adjacency.source[:0]
    edge_sets[name] = tfgnn.EdgeSet.from_fields(
        sizes=tf.zeros_like(edge_set.sizes),
        features={k: v[:0] for k, v in edge_set.features.items()},
        adjacency=tfgnn.Adjacency.from_indices(
            source=(adjacency.source_name, empty),
            target=(adjacency.target_name, empty)))
  return tfgnn.GraphTensor.from_pieces(
      context=graph.context, node_sets=graph.node_sets, edge_sets=edge_sets)


@tf.keras.utils.register_keras_serializable(package="tfgnn_gfm")
class LinkPredictionModel(tf.keras.Model):
  """Trains an encoder by self-supervised link prediction.

  Args:
    encoder: GraphTensor -> {node set: embeddings}.
    node_sets: node set order of the ``positions`` in batches.
    uniform_negatives: k, uniform negatives per positive.
    in_batch_negatives: also score the batch's other targets.
    loss: ``margin`` or ``softmax``.
    margin: hinge margin.
    temperature: softmax temperature.
    encoder_loss_weight, encoder_dim: the encoder-alone term (``LinkLoss``).
    new_item_loss_weight: the features-alone term (``LinkLoss``).
  """

  def __init__(self, *, encoder: tf.keras.Model, node_sets: list[str],
               uniform_negatives: int = 1, in_batch_negatives: bool = True,
               loss: str = "margin", margin: float = 0.5,
               temperature: float = 0.1, encoder_loss_weight: float = 0.0,
               encoder_dim: int = 0, new_item_loss_weight: float = 0.0,
               **kwargs):
    super().__init__(**kwargs)
    self.encoder = encoder
    self._node_sets = list(node_sets)
    self._link = LinkLoss(uniform_negatives, in_batch_negatives, loss, margin,
                          temperature, encoder_loss_weight, encoder_dim,
                          new_item_loss_weight)
    self._loss_tracker = tf.keras.metrics.Mean(name="loss")
    self._accuracy = tf.keras.metrics.Mean(name="pos_beats_negs")

  def get_config(self) -> dict[str, Any]:
    return dict(encoder=tf.keras.layers.serialize(self.encoder),
                node_sets=self._node_sets, **self._link.config())

  @classmethod
  def from_config(cls, config, custom_objects=None):
    config = dict(config)
    config["encoder"] = tf.keras.layers.deserialize(
        config["encoder"], custom_objects=custom_objects)
    return cls(**config)

  @property
  def metrics(self):
    return [self._loss_tracker, self._accuracy]

  def embed_roots(self, graph, positions, training: bool = False) -> tf.Tensor:
    """Embeddings of the roots at ``positions`` (see SubgraphSampler)."""
    out = self.encoder(graph, training=training)
    stacked = tf.concat([out[n] for n in self._node_sets], axis=0)
    return tf.gather(stacked, positions)

  def call(self, inputs, training=False):
    return self.embed_roots(inputs["graph"], inputs["positions"], training)

  def _loss(self, data, training: bool):
    z = self.embed_roots(data["graph"], data["positions"], training)
    alone = (self.embed_roots(without_edges(data["graph"]), data["positions"],
                              training)
             if self._link.new_item_loss_weight > 0 else None)
    b = tf.shape(data["inbatch_valid"])[0]
    return self._link.of_embeddings(z, b, data["neg_valid"],
                                    data["inbatch_valid"], alone=alone)

  def train_step(self, data):
    with tf.GradientTape() as tape:
      loss, share = self._loss(data, training=True)
      # Gradients are summed over replicas by the optimizer; the loss is
      # this replica's term of the global batch's mean (global_mean).
      scaled = loss / tf.distribute.get_strategy().num_replicas_in_sync
    grads = tape.gradient(scaled, self.trainable_variables)
    self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
    self._loss_tracker.update_state(loss)
    self._accuracy.update_state(share)
    return {m.name: m.result() for m in self.metrics}

  def test_step(self, data):
    loss, share = self._loss(data, training=False)
    self._loss_tracker.update_state(loss)
    self._accuracy.update_state(share)
    return {m.name: m.result() for m in self.metrics}
