"""The item-item graph in memory: numpy arrays per node set and edge set.

The Beam pipeline writes the whole graph as one GraphTensor; this module loads
it (``load_item_graph``), holds it as plain arrays, and derives what
link-prediction training needs: link types (unordered pairs of node sets), a
train/validation split of edges, and the training graph without the held-out
edges.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import scipy.sparse

# The graph's feature names have one home, the schema the Beam pipeline
# writes; the HGNN's names for them:
from tfgnn_gfm.graph.schema import ID_FEATURE  # noqa: F401  (re-exported)
from tfgnn_gfm.graph.schema import LOG_DEGREE as DEGREE_FEATURE
from tfgnn_gfm.graph.schema import TEXT_EMBEDDING as TEXT_FEATURE

#: Prefix that makes a new node's id unknown to the encoder's id tables.
NEW_ID_PREFIX = "\x00new\x00"


@dataclasses.dataclass
class EdgeSetData:
  """One directed edge set: source/target node sets and index arrays."""

  source_set: str
  target_set: str
  source: np.ndarray  # int64 [m]
  target: np.ndarray  # int64 [m]

  def __len__(self) -> int:
    return len(self.source)


@dataclasses.dataclass
class ItemGraph:
  """A heterogeneous item graph.

  Attributes:
    node_ids: node set -> item ids (str) in node order.
    node_features: node set -> feature name -> float32 array [n, ...]; holds
      at least ``text_embedding`` [n, D] and ``log_degree`` [n, 1].
    edge_sets: edge set name -> EdgeSetData (both directions are stored as
      separate edge sets, or both orders in a same-type set).
  """

  node_ids: dict[str, np.ndarray]
  node_features: dict[str, dict[str, np.ndarray]]
  edge_sets: dict[str, EdgeSetData]

  @property
  def node_sets(self) -> list[str]:
    return sorted(self.node_ids)

  def num_nodes(self, node_set: str) -> int:
    return len(self.node_ids[node_set])

  @property
  def text_dim(self) -> int:
    return next(iter(self.node_features.values()))[TEXT_FEATURE].shape[1]

  def link_types(self) -> dict[tuple[str, str], str]:
    """Unordered node set pairs -> the edge set that lists each pair once.

    For a same-type set the pairs with source < target are used; for a
    cross-type pair the edge set whose source set sorts first.
    """
    out = {}
    for name, es in sorted(self.edge_sets.items()):
      key = tuple(sorted((es.source_set, es.target_set)))
      if es.source_set == key[0] and key not in out:
        out[key] = name
    return out

  def link_pairs(self, edge_set: str) -> tuple[np.ndarray, np.ndarray]:
    """The undirected pairs of a link type's edge set (each pair once)."""
    es = self.edge_sets[edge_set]
    if es.source_set == es.target_set:
      keep = es.source < es.target
      return es.source[keep], es.target[keep]
    return es.source, es.target

  def edge_set_between(self, source_set: str, target_set: str) -> str | None:
    for name, es in self.edge_sets.items():
      if es.source_set == source_set and es.target_set == target_set:
        return name
    return None

  def without_pairs(self, removed: dict[tuple[str, str], set[tuple[int, int]]]
                    ) -> "ItemGraph":
    """A copy without the given undirected pairs (both directions removed).

    Args:
      removed: (set_a, set_b) sorted -> {(index_in_a, index_in_b)}.

    Returns:
      The reduced graph (node sets and features shared, not copied).
    """
    edge_sets = {}
    for name, es in self.edge_sets.items():
      key = tuple(sorted((es.source_set, es.target_set)))
      pairs = removed.get(key)
      if not pairs:
        edge_sets[name] = es
        continue
      a, b = (es.source, es.target) if es.source_set == key[0] else (
          es.target, es.source)
      encoded = _encode(a, b, self.num_nodes(key[1]))
      drop = np.isin(encoded, _encode_pairs(pairs, self.num_nodes(key[1])))
      if es.source_set == es.target_set:
        mirrored = _encode(b, a, self.num_nodes(key[1]))
        drop |= np.isin(mirrored, _encode_pairs(pairs, self.num_nodes(key[1])))
      edge_sets[name] = EdgeSetData(es.source_set, es.target_set,
                                    es.source[~drop], es.target[~drop])
    return ItemGraph(self.node_ids, self.node_features, edge_sets)

  def node_offsets(self) -> dict[str, int]:
    """node set -> row of its first node in ``adjacency`` (node set order)."""
    offsets, total = {}, 0
    for name in self.node_sets:
      offsets[name] = total
      total += self.num_nodes(name)
    return offsets

  def adjacency(self) -> scipy.sparse.csr_matrix:
    """The binary adjacency of every node set at once, [N, N] float64.

    Rows and columns are the nodes of every node set stacked in
    ``node_sets`` order (``node_offsets``); a pair listed twice counts once.
    """
    offsets = self.node_offsets()
    total = sum(self.num_nodes(n) for n in self.node_sets)
    rows = [offsets[es.source_set] + es.source.astype(np.int64)
            for es in self.edge_sets.values()]
    cols = [offsets[es.target_set] + es.target.astype(np.int64)
            for es in self.edge_sets.values()]
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    matrix = scipy.sparse.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(total, total))
    matrix.data[:] = 1.0  # Duplicates were summed: binary again.
    return matrix

  def neighbour_keys(self, source_set: str, target_set: str) -> np.ndarray:
    """Sorted int64 keys ``s * n_target + t`` of edges source_set -> target_set.

    Used to reject negatives that are in fact neighbours (accidental hits).
    """
    name = self.edge_set_between(source_set, target_set)
    if name is None:
      return np.zeros(0, dtype=np.int64)
    es = self.edge_sets[name]
    return np.unique(_encode(es.source, es.target, self.num_nodes(target_set)))


def _encode(a: np.ndarray, b: np.ndarray, n_b: int) -> np.ndarray:
  return a.astype(np.int64) * n_b + b.astype(np.int64)


def _encode_pairs(pairs, n_b: int) -> np.ndarray:
  arr = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
  return arr[:, 0] * n_b + arr[:, 1]


def is_edge(keys: np.ndarray, source: np.ndarray, target: np.ndarray,
            n_target: int) -> np.ndarray:
  """Vectorised membership of (source, target) pairs in sorted edge keys."""
  if len(keys) == 0:
    return np.zeros(np.broadcast(source, target).shape, dtype=bool)
  q = np.asarray(source, np.int64) * n_target + np.asarray(target, np.int64)
  pos = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
  return keys[pos] == q


@dataclasses.dataclass
class LinkSplit:
  """Held-out validation pairs per link type and the graph without them."""

  train_graph: ItemGraph
  train_pairs: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]
  val_pairs: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]


def split_links(graph: ItemGraph, fraction: float, seed: int) -> LinkSplit:
  """Holds out ``fraction`` of each link type's pairs for validation.

  Held-out pairs are removed from the training graph in both directions, so
  the sampler never sees them. Every link type keeps at least one training
  pair; types with a single pair get no validation pair.

  Args:
    graph: the full graph.
    fraction: share of pairs to hold out, per link type.
    seed: random seed.

  Returns:
    The split.
  """
  rng = np.random.default_rng(seed)
  train, val, removed = {}, {}, {}
  for key, name in sorted(graph.link_types().items()):
    a, b = graph.link_pairs(name)
    n = len(a)
    n_val = int(round(n * fraction)) if n > 1 else 0
    n_val = min(n_val, n - 1)
    perm = rng.permutation(n)
    v, t = perm[:n_val], perm[n_val:]
    val[key] = (a[v], b[v])
    train[key] = (a[t], b[t])
    removed[key] = set(zip(a[v].tolist(), b[v].tolist()))
  return LinkSplit(graph.without_pairs(removed), train, val)


@dataclasses.dataclass
class NodeSplit:
  """New-node evaluation: nodes cut out of training, and their edges.

  Attributes:
    train_graph: the graph without any edge of a new node (node sets, ids and
      features unchanged, so new nodes keep their index and are isolated).
    new_nodes: node set -> sorted indices of the new nodes.
    queries: edge set name -> (source, target) of its edges whose source is
      a new node: what the new node's embedding has to find.
  """

  train_graph: ItemGraph
  new_nodes: dict[str, np.ndarray]
  queries: dict[str, tuple[np.ndarray, np.ndarray]]

  def as_unknown(self, graph: ItemGraph) -> ItemGraph:
    """``graph`` with the new nodes' ids replaced by ids no table holds.

    Embedding this graph gives new nodes what a new item gets: no learnable
    node vector and no structure vector, only their own features.
    """
    ids = {}
    for name, values in graph.node_ids.items():
      values = np.asarray(values, dtype=object).copy()
      new = self.new_nodes.get(name, np.zeros(0, np.int64))
      values[new] = [f"{NEW_ID_PREFIX}{v}" for v in values[new]]
      ids[name] = values
    return ItemGraph(ids, graph.node_features, graph.edge_sets)


def split_new_nodes(graph: ItemGraph, fraction: float, seed: int
                    ) -> NodeSplit:
  """Takes a random ``fraction`` of each node set out of training.

  Every edge that touches a new node is removed, in every edge set and both
  directions, so neither the encoder, the structure vectors nor the link
  split see them; the new nodes are then embedded from their own features,
  as a new item is. Only nodes with at least one edge are drawn (a node
  without edges has nothing to evaluate).

  Args:
    graph: the full graph.
    fraction: share of each node set's nodes with edges to take out.
    seed: random seed.

  Returns:
    The split.
  """
  rng = np.random.default_rng(seed)
  degree = {n: np.zeros(graph.num_nodes(n), np.int64) for n in graph.node_sets}
  for es in graph.edge_sets.values():
    np.add.at(degree[es.source_set], es.source, 1)
  new = {}
  for name in graph.node_sets:
    candidates = np.flatnonzero(degree[name])
    count = int(round(len(candidates) * fraction))
    new[name] = np.sort(rng.choice(candidates, count, replace=False))
  edge_sets, queries = {}, {}
  for name, es in graph.edge_sets.items():
    new_source = np.isin(es.source, new[es.source_set])
    new_target = np.isin(es.target, new[es.target_set])
    keep = ~(new_source | new_target)
    edge_sets[name] = EdgeSetData(es.source_set, es.target_set,
                                  es.source[keep], es.target[keep])
    queries[name] = (es.source[new_source], es.target[new_source])
  return NodeSplit(ItemGraph(graph.node_ids, graph.node_features, edge_sets),
                   new, queries)


def removed_edges(graph: ItemGraph, reduced: ItemGraph
                  ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
  """The directed edges of ``graph`` that ``reduced`` lacks, per edge set.

  Args:
    graph: the full graph.
    reduced: the same graph with edges removed (e.g. ``split.train_graph``).

  Returns:
    edge set -> (source node indices, target node indices) of the edges
    removed (both directions of a held-out pair, each in its edge set).
  """
  out = {}
  for name, es in sorted(graph.edge_sets.items()):
    n_t = graph.num_nodes(es.target_set)
    kept = reduced.edge_sets[name]
    gone = ~np.isin(_encode(es.source, es.target, n_t),
                    _encode(kept.source, kept.target, n_t))
    out[name] = (es.source[gone], es.target[gone])
  return out


def graph_from_graph_tensor(graph) -> ItemGraph:
  """Converts a scalar GraphTensor (as written by the Beam pipeline)."""
  node_ids, node_features = {}, {}
  for name, ns in graph.node_sets.items():
    if name.startswith("_"):
      continue
    feats = {k: v.numpy() for k, v in ns.features.items()}
    ids = feats.pop(ID_FEATURE, None)
    n = int(ns.total_size)
    node_ids[name] = (np.array([x.decode() for x in ids], dtype=object)
                      if ids is not None else np.arange(n).astype(str))
    if DEGREE_FEATURE in feats:
      feats[DEGREE_FEATURE] = feats[DEGREE_FEATURE].reshape(n, -1).astype(
          np.float32)
    node_features[name] = {k: v for k, v in feats.items()
                           if v.dtype.kind == "f"}
  edge_sets = {}
  for name, es in graph.edge_sets.items():
    if name.startswith("_"):
      continue
    adj = es.adjacency
    edge_sets[name] = EdgeSetData(adj.source_name, adj.target_name,
                                  adj.source.numpy().astype(np.int64),
                                  adj.target.numpy().astype(np.int64))
  return ItemGraph(node_ids, node_features, edge_sets)


def load_item_graph(graph_dir: str | pathlib.Path) -> ItemGraph:
  """Loads the whole graph written by ``gfm build-graph`` (GraphDir)."""
  import tensorflow as tf
  import tensorflow_gnn as tfgnn

  from tfgnn_gfm.artifacts import GraphDir
  layout = GraphDir(pathlib.Path(graph_dir))
  layout.read_manifest()
  schema = tfgnn.read_schema(str(layout.schema_path))
  spec = tfgnn.create_graph_spec_from_schema_pb(schema)
  (serialized,) = list(tf.data.TFRecordDataset(str(layout.full_graph_path)))
  return graph_from_graph_tensor(tfgnn.parse_single_example(spec, serialized))
