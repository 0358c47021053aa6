"""Embeds items with a trained encoder: graph nodes and inductive new items."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_gnn as tfgnn
import tqdm

from tfgnn_gfm.hgnn.graph_data import (
  DEGREE_FEATURE,
  ID_FEATURE,
  TEXT_FEATURE,
  ItemGraph,
)
from tfgnn_gfm.hgnn.node_features import node_feature_tensors
from tfgnn_gfm.hgnn.sampling import Sampler


class NodeEmbedder:
  """Embeds nodes from their sampled neighbourhoods, tracing the graph once.

  Args:
    encoder: GraphTensor -> {node set: embeddings}.
    sampler: samples the neighbourhoods (seed it for reproducible output).
  """

  def __init__(self, encoder: tf.keras.Model, sampler: Sampler):
    self._sampler = sampler
    node_sets = sampler.node_sets
    fields = sampler.pass_fields(0)  # Inference reads as validation does.

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32),
                                  tf.TensorSpec([None], tf.int64)])
    def step(root_set, root_id):
      graph, positions = sampler.sample(root_set, root_id, **fields)
      out = encoder(graph, training=False)
      return tf.gather(tf.concat([out[n] for n in node_sets], axis=0),
                       positions)

    self._step = step

  def __call__(self, num_nodes: dict[str, int], batch_size: int = 512,
               progress: bool = False) -> dict[str, np.ndarray]:
    """Embeds nodes ``0..num_nodes[X]-1`` of every node set X.

    Returns:
      node set -> float32 [n, dim], in node order.
    """
    total = sum(num_nodes.values())
    bar = tqdm.tqdm(total=total, desc="embed", unit="item",
                    disable=not progress)
    result = {}
    for name in self._sampler.node_sets:
      n = num_nodes.get(name, 0)
      chunks = []
      for start in range(0, n, batch_size):
        ids = np.arange(start, min(n, start + batch_size), dtype=np.int64)
        sets = np.full(len(ids), self._sampler.set_index(name), np.int32)
        chunks.append(self._step(tf.constant(sets), tf.constant(ids)).numpy())
        bar.update(len(ids))
      result[name] = (np.concatenate(chunks) if chunks else
                      np.zeros((0, 0), np.float32))
    bar.close()
    return result


def embed_nodes(encoder: tf.keras.Model, sampler: Sampler,
                num_nodes: dict[str, int], batch_size: int = 512,
                progress: bool = False) -> dict[str, np.ndarray]:
  """Embeds every node of every node set from its sampled neighbourhood.

  Args:
    encoder: GraphTensor -> {node set: embeddings}.
    sampler: samples the neighbourhoods (seed it for reproducible output).
    num_nodes: node set -> number of nodes.
    batch_size: roots per forward pass.
    progress: show a progress bar.

  Returns:
    node set -> float32 [n, dim], in node order.
  """
  return NodeEmbedder(encoder, sampler)(num_nodes, batch_size, progress)


def encoder_input_spec(encoder: tf.keras.Model) -> tfgnn.GraphTensorSpec:
  """The GraphTensorSpec a (functional) encoder takes."""
  return encoder.input.type_spec


def isolated_items_graph(graph_spec: tfgnn.GraphTensorSpec, node_set: str,
                         text_embeddings: np.ndarray,
                         item_ids: list[str] | None = None
                         ) -> tfgnn.GraphTensor:
  """A GraphTensor of new items with text but no edges (one per component).

  Args:
    graph_spec: the encoder's input spec (gives node and edge sets).
    node_set: the node set the new items belong to.
    text_embeddings: float32 [n, D].
    item_ids: optional ids for ``#id``.

  Returns:
    A scalar GraphTensor with n components of one node each.
  """
  n = len(text_embeddings)
  ids = item_ids if item_ids is not None else [""] * n
  node_sets = {}
  for name, ns_spec in graph_spec.node_sets_spec.items():
    dim = ns_spec.features_spec[TEXT_FEATURE].shape[-1]
    count = n if name == node_set else 0
    sizes = tf.constant([1 if name == node_set else 0] * n, tf.int64)
    node_sets[name] = tfgnn.NodeSet.from_fields(
        sizes=sizes,
        features={
            ID_FEATURE: tf.constant(ids if name == node_set else [],
                                    tf.string),
            TEXT_FEATURE: tf.constant(
                text_embeddings if name == node_set else
                np.zeros((0, dim), np.float32), tf.float32),
            DEGREE_FEATURE: tf.zeros([count, 1], tf.float32)})
  edge_sets = {}
  for name, es_spec in graph_spec.edge_sets_spec.items():
    adj = es_spec.adjacency_spec
    edge_sets[name] = tfgnn.EdgeSet.from_fields(
        sizes=tf.zeros([n], tf.int64),
        adjacency=tfgnn.Adjacency.from_indices(
            source=(adj.source_name, tf.zeros([0], tf.int64)),
            target=(adj.target_name, tf.zeros([0], tf.int64))))
  return tfgnn.GraphTensor.from_pieces(
      context=tfgnn.Context.from_fields(sizes=tf.ones([n], tf.int64)),
      node_sets=node_sets, edge_sets=edge_sets)


def embed_new_items(encoder: tf.keras.Model, node_set: str,
                    text_embeddings: np.ndarray) -> np.ndarray:
  """Inductive embeddings of items that have text but no edges yet."""
  if len(text_embeddings) == 0:
    return np.zeros((0, encoder.output[node_set].shape[-1]), np.float32)
  graph = isolated_items_graph(encoder_input_spec(encoder), node_set,
                               np.asarray(text_embeddings, np.float32))
  return encoder(graph, training=False)[node_set].numpy()


def whole_graph_tensor(graph: ItemGraph) -> tfgnn.GraphTensor:
  """The whole item graph as one GraphTensor component (encoder format)."""
  features = node_feature_tensors(graph, ids=True)
  node_sets = {
      n: tfgnn.NodeSet.from_fields(
          sizes=tf.constant([graph.num_nodes(n)], tf.int64),
          features=features[n])
      for n in graph.node_sets}
  edge_sets = {
      name: tfgnn.EdgeSet.from_fields(
          sizes=tf.constant([len(es)], tf.int64),
          adjacency=tfgnn.Adjacency.from_indices(
              source=(es.source_set, tf.constant(es.source, tf.int64)),
              target=(es.target_set, tf.constant(es.target, tf.int64))))
      for name, es in sorted(graph.edge_sets.items())}
  return tfgnn.GraphTensor.from_pieces(
      context=tfgnn.Context.from_fields(sizes=tf.constant([1], tf.int64)),
      node_sets=node_sets, edge_sets=edge_sets)


def embed_full_graph(encoder: tf.keras.Model, graph: ItemGraph
                     ) -> dict[str, np.ndarray]:
  """Embeds every node with its whole neighbourhood in one pass.

  Exact and deterministic, and an order of magnitude faster than sampled
  inference when the graph fits in memory (messages of every edge are held at
  once); pooling sees all neighbours instead of the fanouts used in training.

  Returns:
    node set -> float32 [n, dim], in node order.
  """
  out = encoder(whole_graph_tensor(graph), training=False)
  return {n: v.numpy() for n, v in out.items()}
