"""The item catalog: which items are valid, their roll-up, and the node index.

Two small global tables, built once per run and broadcast to every worker as
Beam side inputs:

* ``ItemCatalog`` (independent of the cut): the valid items (after duplicate
  ids, unknown parents and parent cycles are rejected, with
  ``tfgnn_gfm.data.dataset.check_parents`` as in ``read_dataset``), and for
  each the index of its root item. An item without ``parent_id`` is its own
  root; an item with one (an episode) rolls up to its parent's root.
* ``NodeIndex`` (for one cut): the nodes are the valid root items published at
  or before the cut (or with no ``published_at``), sorted by item id; node
  sets are the sanitized item types. Each valid item maps to the node index of
  its root, or -1.

Shards are computed with ``stable_shard`` (pandas' fixed-key SipHash of the
string), never with Python's per-process ``hash``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Sequence

import numpy as np
import pandas as pd

from tfgnn_gfm.data.dataset import check_parents
from tfgnn_gfm.graph.schema import node_set_names

# ``published_at`` of an item that has none: before every cut.
NO_TIME = np.iinfo(np.int64).min


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


@dataclasses.dataclass
class ItemCatalog:
  """The valid items of a run and their roll-up (see module docstring).

  Attributes:
    item_id: sorted valid item ids (object array of str).
    item_type: each item's type.
    root: each item's root item (an index into ``item_id``), or -1.
    published_at: each item's publication time (epoch seconds), or NO_TIME
      when it has none.
    orphans: ids rejected because their ``parent_id`` chain names no item
      (sorted), with ``orphan_messages`` (their dead-letter messages).
    cycles: ids rejected because their ``parent_id`` chain never ends
      (sorted), with ``cycle_messages``.
    token: a digest of the contents, for caches keyed by catalog.
  """

  item_id: np.ndarray
  item_type: np.ndarray
  root: np.ndarray
  published_at: np.ndarray
  orphans: np.ndarray
  cycles: np.ndarray = dataclasses.field(
      default_factory=lambda: np.zeros(0, object))
  orphan_messages: np.ndarray = dataclasses.field(
      default_factory=lambda: np.zeros(0, object))
  cycle_messages: np.ndarray = dataclasses.field(
      default_factory=lambda: np.zeros(0, object))
  token: str = ""

  def __post_init__(self):
    self._index = None

  def __getstate__(self):
    state = dict(self.__dict__)
    state["_index"] = None
    return state

  def __setstate__(self, state):
    self.__dict__.update(state)

  def __len__(self) -> int:
    return len(self.item_id)

  def lookup(self, ids: Sequence[str] | np.ndarray) -> np.ndarray:
    """Catalog index of each id, -1 for ids that are not valid items."""
    if self._index is None:
      self._index = pd.Index(self.item_id)
    return self._index.get_indexer(np.asarray(ids, dtype=object))


def build_item_catalog(item_id: np.ndarray, item_type: np.ndarray,
                       parent_id: np.ndarray,
                       published_at: np.ndarray) -> ItemCatalog:
  """Builds the catalog from the deduplicated items (any order).

  Args:
    item_id: unique item ids.
    item_type: their types.
    parent_id: their parent ids ("" for none).
    published_at: epoch seconds, or NO_TIME for none.

  Returns:
    The ItemCatalog. Items whose parent chain names a missing item are
    orphans, items whose chain never ends are cycles (both as
    ``tfgnn_gfm.data.dataset.check_references``).
  """
  item_id = np.asarray(item_id, dtype=object)
  order = np.argsort(item_id, kind="stable")
  item_id = item_id[order]
  item_type = np.asarray(item_type, dtype=object)[order]
  parent_id = np.asarray(parent_id, dtype=object)[order]
  published_at = np.asarray(published_at, dtype=np.int64)[order]
  if len(np.unique(item_id)) != len(item_id):
    raise ValueError("build_item_catalog needs unique item ids")
  check = check_parents(item_id, parent_id)
  keep = ~check.unknown_parent & ~check.parent_cycle
  orphans, cycles = (item_id[check.unknown_parent],
                     item_id[check.parent_cycle])
  orphan_messages = check.messages[check.unknown_parent]
  cycle_messages = check.messages[check.parent_cycle]
  item_id, item_type = item_id[keep], item_type[keep]
  parent_id, published_at = parent_id[keep], published_at[keep]
  # Parents are looked up again among the surviving items.
  valid_index = pd.Index(item_id)
  parent = np.where(parent_id != "", valid_index.get_indexer(parent_id), -2)
  root = _resolve_roots(parent)
  digest = hashlib.blake2b(digest_size=8)
  for array in (item_id, item_type, root, published_at):
    digest.update(pd.util.hash_array(np.asarray(array, dtype=object)
                                     if array.dtype == object else array
                                     ).tobytes())
  return ItemCatalog(item_id=item_id, item_type=item_type, root=root,
                     published_at=published_at, orphans=orphans,
                     cycles=cycles, orphan_messages=orphan_messages,
                     cycle_messages=cycle_messages, token=digest.hexdigest())


def _resolve_roots(parent: np.ndarray) -> np.ndarray:
  """Root of each item given parent indices (-2: none, -1: not valid)."""
  n = len(parent)
  root = np.full(n, -1, np.int64)
  current = np.arange(n, dtype=np.int64)
  pending = np.ones(n, bool)
  for _ in range(n + 1):
    index = np.flatnonzero(pending)
    if not len(index):
      break
    up = parent[current[index]]
    top = up == -2
    lost = up == -1
    root[index[top]] = current[index[top]]
    pending[index[top | lost]] = False
    step = ~top & ~lost
    current[index[step]] = up[step]
  return root  # Items still pending are in a cycle: -1.


def item_fates(catalog: ItemCatalog, node_index: "NodeIndex"
               ) -> dict[str, int]:
  """What became of each valid item: a node, or why not.

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
  """

  node_id: np.ndarray
  node_set: np.ndarray
  local_index: np.ndarray
  set_names: list[str]
  set_of_type: dict[str, str]
  item_node: np.ndarray
  shard: np.ndarray
  cut: int

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
