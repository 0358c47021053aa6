"""Saving the HGNN encoder: Keras SavedModel and the inference export.

The inference export follows TF-GNN's model-saving convention: its
``serving_default`` signature takes a batch of serialized ``tf.Example``
GraphTensors (``examples``, string [B]) that match the input schema saved
beside it, and returns, for every node set X, the embeddings of all its nodes
(``X_embeddings``, float32 [n_X, dim], components in order) and their ids
(``X_ids``). In a sampled subgraph the root is the first node of its set.
"""

from __future__ import annotations

import pathlib

import tensorflow as tf
import tensorflow_gnn as tfgnn

# Importing the model module registers its Keras classes for loading.
from tfgnn_gfm.hgnn import model as _model  # noqa: F401
from tfgnn_gfm.hgnn.graph_data import ID_FEATURE


class _InferenceModule(tf.Module):
  """Parses serialized GraphTensors and runs the encoder."""

  def __init__(self, encoder: tf.keras.Model, schema: tfgnn.proto.GraphSchema):
    super().__init__()
    self.encoder = encoder
    self._spec = tfgnn.create_graph_spec_from_schema_pb(
        schema, indices_dtype=tf.int64)
    self._node_sets = sorted(schema.node_sets)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string,
                                              name="examples")])
  def serve(self, examples):
    graph = tfgnn.parse_example(self._spec, examples)
    graph = graph.merge_batch_to_components()
    out = self.encoder(graph, training=False)
    result = {}
    for name in self._node_sets:
      result[f"{name}_embeddings"] = out[name]
      result[f"{name}_ids"] = graph.node_sets[name][ID_FEATURE]
    return result


def save_encoder(encoder: tf.keras.Model, path: str | pathlib.Path) -> None:
  """Saves the encoder as a Keras SavedModel (reload: ``load_encoder``)."""
  encoder.save(str(path), save_format="tf", include_optimizer=False)


def load_encoder(path: str | pathlib.Path) -> tf.keras.Model:
  """Loads an encoder saved by ``save_encoder``."""
  return tf.keras.models.load_model(str(path), compile=False)


def export_inference_model(encoder: tf.keras.Model,
                           schema: tfgnn.proto.GraphSchema,
                           path: str | pathlib.Path) -> None:
  """Writes the serving SavedModel (serialized GraphTensors -> embeddings)."""
  module = _InferenceModule(encoder, schema)
  tf.saved_model.save(module, str(path),
                      signatures={"serving_default": module.serve})
