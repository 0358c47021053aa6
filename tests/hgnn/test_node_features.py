"""Tests of the encoder's node-feature tensors (hgnn/node_features.py)."""

import numpy as np
import tensorflow as tf

from tests.hgnn.planted import planted_graph
from tfgnn_gfm.hgnn.embedding import whole_graph_tensor
from tfgnn_gfm.hgnn.graph_data import (
  DEGREE_FEATURE,
  ID_FEATURE,
  TEXT_FEATURE,
)
from tfgnn_gfm.hgnn.node_features import (
  gather_node_features,
  node_feature_tensors,
  node_id_tensor,
)


def test_feature_tensors_hold_the_graph_arrays_with_the_encoder_dtypes():
  graph, _ = planted_graph()
  plain = node_feature_tensors(graph)
  with_ids = node_feature_tensors(graph, ids=True)
  assert sorted(plain) == graph.node_sets
  for n in graph.node_sets:
    assert set(plain[n]) == {TEXT_FEATURE, DEGREE_FEATURE}
    assert set(with_ids[n]) == {TEXT_FEATURE, DEGREE_FEATURE, ID_FEATURE}
    assert plain[n][TEXT_FEATURE].dtype == tf.float32
    assert plain[n][DEGREE_FEATURE].dtype == tf.float32
    assert with_ids[n][ID_FEATURE].dtype == tf.string
    np.testing.assert_array_equal(plain[n][TEXT_FEATURE].numpy(),
                                  graph.node_features[n][TEXT_FEATURE])
    np.testing.assert_array_equal(plain[n][DEGREE_FEATURE].numpy(),
                                  graph.node_features[n][DEGREE_FEATURE])
    assert [i.decode() for i in with_ids[n][ID_FEATURE].numpy()] == [
        str(i) for i in graph.node_ids[n]]


def test_gather_takes_the_same_rows_of_every_feature():
  graph, _ = planted_graph()
  n = graph.node_sets[0]
  features = node_feature_tensors(graph, ids=True)[n]
  index = tf.constant([3, 0, 3], tf.int64)
  rows = gather_node_features(features, index)
  assert set(rows) == set(features)
  np.testing.assert_array_equal(rows[TEXT_FEATURE].numpy(),
                                graph.node_features[n][TEXT_FEATURE][[3, 0, 3]])
  assert [i.decode() for i in rows[ID_FEATURE].numpy()] == [
      str(graph.node_ids[n][i]) for i in (3, 0, 3)]
  assert node_id_tensor(graph, n).shape == [graph.num_nodes(n)]


def test_the_whole_graph_tensor_carries_these_features():
  graph, _ = planted_graph()
  tensor = whole_graph_tensor(graph)
  expected = node_feature_tensors(graph, ids=True)
  for n in graph.node_sets:
    for name, value in expected[n].items():
      np.testing.assert_array_equal(tensor.node_sets[n][name].numpy(),
                                    value.numpy())
