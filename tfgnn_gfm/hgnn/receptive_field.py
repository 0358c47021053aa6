"""Exact receptive fields: a root's whole k-hop neighbourhood as a tf.Example.

The encoder's messages flow from an edge's target to its source
(``receiver_tag=SOURCE``, see ``tfgnn_gfm/hgnn/model.py``), so after ``k``
layers a root's embedding depends on the nodes within ``k`` outgoing hops
and on the edges leaving the nodes within ``k - 1`` hops. The subgraph
induced by the nodes within ``k`` hops holds all of them (its other edges
leave nodes at hop ``k``, whose later states never reach the root), so the
encoder gives the root the same embedding on it as on the whole graph
(``embed_full_graph``), while only the neighbourhood is held in memory.

``ReceptiveFields.examples`` writes one root's subgraph per serialized
``tf.Example`` in TF-GNN's format (``nodes/<set>.#size``, ``.#id``,
``.text_embedding``, ``.log_degree``; ``edges/<set>.#size``, ``.#source``,
``.#target``), the input of the HGNN inference export
(``tfgnn_gfm/hgnn/export.py``); the root is the first node of its set.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import tensorflow as tf

from tfgnn_gfm.hgnn.graph_data import (
  DEGREE_FEATURE,
  ID_FEATURE,
  TEXT_FEATURE,
  ItemGraph,
)


class ReceptiveFields:
  """Builds the ``num_layers``-hop subgraphs of roots of ``graph``.

  Args:
    graph: the graph (node features and both directions of every edge).
    num_layers: the encoder's message-passing layers (hops).
  """

  def __init__(self, graph: ItemGraph, num_layers: int):
    if num_layers < 1:
      raise ValueError("num_layers must be at least 1")
    self._graph = graph
    self._hops = int(num_layers)
    self._csr = {}  # edge set -> (indptr, edge order), by source node
    self._out = {}  # source node set -> edge sets leaving it
    for name, es in sorted(graph.edge_sets.items()):
      n = graph.num_nodes(es.source_set)
      counts = np.bincount(es.source, minlength=n)
      self._csr[name] = (np.concatenate([[0], np.cumsum(counts)]),
                         np.argsort(es.source, kind="stable"))
      self._out.setdefault(es.source_set, []).append(name)
    self._ids = {n: np.asarray(graph.node_ids[n]).astype(str).astype(object)
                 for n in graph.node_sets}

  def _edges_from(self, name: str, sources: np.ndarray) -> np.ndarray:
    """Indices of the edges of ``name`` leaving ``sources``."""
    indptr, order = self._csr[name]
    parts = [order[indptr[v]:indptr[v + 1]] for v in sources]
    return np.concatenate(parts) if parts else np.zeros(0, np.int64)

  def nodes(self, node_set: str, root: int) -> dict[str, np.ndarray]:
    """The nodes within ``num_layers`` outgoing hops of a root.

    Args:
      node_set: the root's node set.
      root: the root's node index.

    Returns:
      node set -> node indices; the root first in its set, the others
      sorted.
    """
    reached = {n: np.array([root] if n == node_set else [], np.int64)
               for n in self._graph.node_sets}
    frontier = {node_set: reached[node_set]}
    for _ in range(self._hops):
      new = {}
      for source_set, sources in frontier.items():
        for name in self._out.get(source_set, []):
          es = self._graph.edge_sets[name]
          targets = np.unique(es.target[self._edges_from(name, sources)])
          targets = np.setdiff1d(targets, reached[es.target_set])
          targets = np.setdiff1d(targets, new.get(es.target_set, []))
          new[es.target_set] = np.union1d(new.get(es.target_set, []),
                                          targets).astype(np.int64)
      for name, targets in new.items():
        reached[name] = np.concatenate([reached[name], targets])
      frontier = new
    out = {}
    for name, members in reached.items():
      if name == node_set:
        out[name] = np.concatenate([[root], np.sort(members[1:])]).astype(
            np.int64)
      else:
        out[name] = np.sort(members).astype(np.int64)
    return out

  def example(self, node_set: str, root: int
              ) -> tuple[tf.train.Example, dict[str, np.ndarray]]:
    """A root's receptive field as one GraphTensor component.

    Args:
      node_set: the root's node set.
      root: the root's node index.

    Returns:
      The ``tf.train.Example`` (the root is node 0 of ``node_set``) and its
      nodes (``nodes(node_set, root)``).
    """
    nodes = self.nodes(node_set, root)
    example = tf.train.Example()
    feature = example.features.feature
    local = {}
    for name in self._graph.node_sets:
      index = nodes[name]
      local[name] = {int(v): i for i, v in enumerate(index)}
      features = self._graph.node_features[name]
      feature[f"nodes/{name}.#size"].int64_list.value.append(len(index))
      feature[f"nodes/{name}.{ID_FEATURE}"].bytes_list.value.extend(
          [s.encode() for s in self._ids[name][index]])
      feature[f"nodes/{name}.{TEXT_FEATURE}"].float_list.value.extend(
          features[TEXT_FEATURE][index].reshape(-1).tolist())
      feature[f"nodes/{name}.{DEGREE_FEATURE}"].float_list.value.extend(
          features[DEGREE_FEATURE][index].reshape(-1).tolist())
    for name, es in sorted(self._graph.edge_sets.items()):
      edges = self._edges_from(name, nodes[es.source_set])
      edges = edges[np.isin(es.target[edges], nodes[es.target_set])]
      src = [local[es.source_set][int(v)] for v in es.source[edges]]
      tgt = [local[es.target_set][int(v)] for v in es.target[edges]]
      feature[f"edges/{name}.#size"].int64_list.value.append(len(src))
      feature[f"edges/{name}.#source"].int64_list.value.extend(src)
      feature[f"edges/{name}.#target"].int64_list.value.extend(tgt)
    return example, nodes

  def examples(self, node_set: str, roots: Sequence[int]
               ) -> tuple[list[bytes], np.ndarray]:
    """Serialized ``example``s of several roots of one node set.

    Args:
      node_set: the roots' node set.
      roots: node indices.

    Returns:
      One serialized ``tf.Example`` per root, in order, and where each root
      lands among the ``node_set`` nodes of the examples merged into one
      GraphTensor (components in order): int64 [len(roots)].
    """
    serialized, sizes = [], []
    for root in roots:
      example, nodes = self.example(node_set, int(root))
      serialized.append(example.SerializeToString())
      sizes.append(len(nodes[node_set]))
    positions = np.cumsum([0] + sizes[:-1]).astype(np.int64)
    return serialized, positions
