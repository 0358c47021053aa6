"""Keras layers shared by the static (HGNN) and dynamic (two-tower) layers."""

from __future__ import annotations

from typing import Any

import tensorflow as tf


@tf.keras.utils.register_keras_serializable(package="tfgnn_gfm")
class MaskedEmbedding(tf.keras.layers.Layer):
  """An embedding where index 0 (unknown, missing, padding) is the zero vector.

  Input ``[B]`` gives ``[B, output_dim]``; input ``[B, G]`` (a padded list,
  e.g. genres) gives the mean over its non-zero entries.

  Args:
    input_dim: vocabulary size including index 0.
    output_dim: embedding size.
    embeddings_initializer: Keras initializer of the table (default:
      Keras' ``"uniform"``).
  """

  def __init__(self, *, input_dim: int, output_dim: int,
               embeddings_initializer: Any = "uniform", **kwargs):
    super().__init__(**kwargs)
    self.input_dim = int(input_dim)
    self.output_dim = int(output_dim)
    self._initializer = tf.keras.initializers.get(embeddings_initializer)
    self._embedding = tf.keras.layers.Embedding(
        max(self.input_dim, 1), self.output_dim, name="embedding",
        embeddings_initializer=self._initializer)

  def get_config(self) -> dict[str, Any]:
    return dict(input_dim=self.input_dim, output_dim=self.output_dim,
                embeddings_initializer=tf.keras.initializers.serialize(
                    self._initializer),
                **super().get_config())

  def call(self, indices: tf.Tensor) -> tf.Tensor:
    indices = tf.cast(indices, tf.int32)
    indices = tf.where((indices < 0) | (indices >= self.input_dim), 0, indices)
    mask = tf.cast(indices > 0, self.compute_dtype)[..., tf.newaxis]
    vectors = self._embedding(indices) * mask
    if indices.shape.rank == 2:
      count = tf.reduce_sum(mask, axis=1)
      vectors = tf.reduce_sum(vectors, axis=1) / tf.maximum(count, 1.0)
    return vectors
