"""The nodes of the graph for one cut, and stable shards.

* ``NodeIndex`` (for one cut, a Beam side input): the nodes are the valid root
  items (``tfgnn_gfm.catalog.ItemCatalog``) published at or before the cut (or
  with no ``published_at``), sorted by item id; node sets are the sanitized
  item types. Each valid item maps to the node index of its root, or -1.

Shards are computed with ``stable_shard`` (pandas' fixed-key SipHash of the
string), never with Python's per-process ``hash``.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd

from tfgnn_gfm.catalog import ItemCatalog
from tfgnn_gfm.graph.schema import node_set_names


def stable_shard(values: Sequence[str] | np.ndarray | pd.Series,
                 num_shards: int) -> np.ndarray:
  """The shard of each string, the same in every process and run.

  Args:
    values: strings (ids).
    num_shards: the number of shards.

  Returns:
    int64 shard numbers in ``[0, num_shards)``.
  """
  array = np.asarray(values, dtype=object)
  if not len(array):
    return np.zeros(0, np.int64)
  hashed = pd.util.hash_array(array, categorize=True)
  return (hashed % np.uint64(num_shards)).astype(np.int64)


def item_fates(catalog: ItemCatalog, node_index: "NodeIndex"
               ) -> dict[str, int]:
  """What became of each valid item: a node, or why not.

  Args:
    catalog: the ItemCatalog.
    node_index: its NodeIndex for one cut.

  Returns:
    ``{"nodes": ..., "rolled_up_into_parent": ..., "published_after_cut":
    ...}``; the counts add up to ``len(catalog)``.
  """
  positions = np.arange(len(catalog), dtype=np.int64)
  is_root = catalog.root == positions
  is_node = is_root & (node_index.item_node >= 0)
  return {"nodes": int(is_node.sum()),
          "rolled_up_into_parent": int((~is_root).sum()),
          "published_after_cut": int((is_root & ~is_node).sum())}


@dataclasses.dataclass
class NodeIndex:
  """The nodes of the graph for one cut (see module docstring).

  Attributes:
    node_id: node item ids, sorted (the global node order).
    node_set: each node's set, an index into ``set_names``.
    local_index: each node's index within its set (item id order).
    set_names: sorted node set names.
    set_of_type: item type -> node set name, for the types that have nodes.
    item_node: for each catalog item, the node index of its root, or -1.
    shard: each node's item shard (``stable_shard`` of its id).
    cut: the cut (epoch seconds).
    error: why the catalog has no node index (two item types on one node
      set name); the index is then empty, so a pipeline can run to its end
      and its driver report the error without a worker's traceback.
  """

  node_id: np.ndarray
  node_set: np.ndarray
  local_index: np.ndarray
  set_names: list[str]
  set_of_type: dict[str, str]
  item_node: np.ndarray
  shard: np.ndarray
  cut: int
  error: str | None = None

  @classmethod
  def empty(cls, num_items: int, cut: int, error: str) -> "NodeIndex":
    """An index without nodes that carries ``error`` (see ``error``)."""
    none = np.zeros(0, np.int64)
    return cls(node_id=np.zeros(0, object), node_set=none, local_index=none,
               set_names=[], set_of_type={},
               item_node=np.full(num_items, -1, np.int64), shard=none,
               cut=int(cut), error=str(error))

  @property
  def num_nodes(self) -> int:
    return len(self.node_id)

  def set_size(self, set_code: int) -> int:
    return int(np.count_nonzero(self.node_set == set_code))

  def set_ids(self, set_code: int) -> np.ndarray:
    """The item ids of one node set in node order."""
    return self.node_id[self.node_set == set_code]


def build_node_index(catalog: ItemCatalog, cut: int,
                     num_shards: int) -> NodeIndex:
  """Selects the nodes of one cut and indexes them.

  Args:
    catalog: the ItemCatalog.
    cut: the cut (epoch seconds); items published after it are not nodes.
    num_shards: the number of item shards (for ``NodeIndex.shard``).

  Returns:
    The NodeIndex.

  Raises:
    tfgnn_gfm.graph.schema.GraphSchemaError: when two item types collide on
      one node set name.
  """
  positions = np.arange(len(catalog), dtype=np.int64)
  # NO_TIME (no publication time) is before every cut.
  is_node = (catalog.root == positions) & (catalog.published_at <= cut)
  node_pos = np.flatnonzero(is_node)  # Sorted, as the catalog is.
  node_id = catalog.item_id[node_pos]
  types = catalog.item_type[node_pos]
  set_of_type = node_set_names(pd.unique(types).tolist()) if len(types) else {}
  set_names = sorted(set(set_of_type.values()))
  code_of_set = {name: i for i, name in enumerate(set_names)}
  node_set = np.array([code_of_set[set_of_type[t]] for t in types],
                      dtype=np.int64) if len(types) else np.zeros(0, np.int64)
  local_index = np.zeros(len(node_pos), np.int64)
  for code in range(len(set_names)):
    members = np.flatnonzero(node_set == code)
    local_index[members] = np.arange(len(members))
  node_of_pos = np.full(len(catalog), -1, np.int64)
  node_of_pos[node_pos] = np.arange(len(node_pos))
  item_node = np.where(catalog.root >= 0,
                       node_of_pos[np.maximum(catalog.root, 0)], -1)
  return NodeIndex(node_id=node_id, node_set=node_set, local_index=local_index,
                   set_names=set_names, set_of_type=set_of_type,
                   item_node=item_node,
                   shard=stable_shard(node_id, num_shards), cut=int(cut))
