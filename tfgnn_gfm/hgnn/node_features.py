"""The encoder's node features as tensors: the one place that builds them.

Every path that feeds the encoder (the full-graph pass, the in-memory sampler,
the Beam sample store, whole-graph inference) gives each node set the same
features: the text embedding (float32 [n, D]), the log degree (float32
[n, 1]) and, where the encoder looks nodes up by id, the id (string [n]).
Building them here keeps their names and dtypes in one place.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tfgnn_gfm.hgnn.graph_data import (
  DEGREE_FEATURE,
  ID_FEATURE,
  TEXT_FEATURE,
  ItemGraph,
)


def node_id_tensor(graph: ItemGraph, node_set: str) -> tf.Tensor:
  """The node set's item ids as a string tensor [n], in node order."""
  return tf.constant(np.asarray(graph.node_ids[node_set], dtype=object)
                     .astype(str))


def node_feature_tensors(graph: ItemGraph, *, ids: bool = False
                         ) -> dict[str, dict[str, tf.Tensor]]:
  """Node set -> the encoder's features of all its nodes, as tensors.

  Args:
    graph: the graph whose node features (and ids) are used.
    ids: also give the id feature (for encoders that look nodes up by id,
      and for GraphTensors that carry ids).
  """
  out = {}
  for n in graph.node_sets:
    features = {
        TEXT_FEATURE: tf.constant(graph.node_features[n][TEXT_FEATURE],
                                  tf.float32),
        DEGREE_FEATURE: tf.constant(graph.node_features[n][DEGREE_FEATURE],
                                    tf.float32)}
    if ids:
      features[ID_FEATURE] = node_id_tensor(graph, n)
    out[n] = features
  return out


def gather_node_features(features: dict[str, tf.Tensor], index: tf.Tensor
                         ) -> dict[str, tf.Tensor]:
  """The rows ``index`` of one node set's features (every feature given)."""
  return {name: tf.gather(value, index) for name, value in features.items()}
