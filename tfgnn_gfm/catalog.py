"""The item catalog: valid items, their types, roots and genres, one rule each.

Every stage that needs to know what an item is asks this module: the graph
pipeline (``ItemCatalog``, broadcast to Beam workers), ``gfm embed`` (which
reads the graph's item files with ``read_items`` and gives episodes their
root's vector), the two-tower feature tables and the exports (root rows,
type names, genres). The rules (docs/DESIGN.md sections 2.2 and 2.3):

* **Roots.** An item without ``parent_id`` is its own root. An item with one
  takes the root of its parent, so a chain ``episode -> episode -> show``
  ends at the show. An item whose chain never reaches an item without a
  parent has **no root** (``NO_ROOT``): a self-parent, a member of a parent
  cycle, an item whose chain leads into a cycle, and an item whose chain
  reaches a ``parent_id`` that names no item of the catalog. Such items are
  dead letters of the data contract (``parent_cycle``, ``unknown_parent``):
  the graph rejects them, ``gfm embed`` gives them no vector, and the
  two-tower tables neither recommend nor train on them.
* **Types.** ``item_type`` is any name; ``type_names`` lists a catalog's
  types sorted (the index of a type is its position). Node set names are
  the sanitized types of ``tfgnn_gfm.graph.schema.node_set_name``.
* **Genres.** ``split_genres``: a list (or array, tuple) of genres as it is;
  a string holding a JSON list (JSON Lines, Parquet) as that list; any other
  string split on ``;`` (the contract's separator; ``|`` and ``,`` belong to
  the genre's name). Each genre has its whitespace runs collapsed and is
  stripped; empty ones are dropped, and so are repeats compared
  case-insensitively (the first spelling and the order are kept; a set's
  genres are sorted). A missing value has no genres.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
import re
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from tfgnn_gfm.data.dataset import check_parents
from tfgnn_gfm.data.reader import read_table

#: ``parent_positions`` of an item without ``parent_id``.
NO_PARENT = -1
#: ``parent_positions`` of an item whose ``parent_id`` names no catalog item.
UNKNOWN_PARENT = -2
#: ``resolve_roots`` of an item whose parent chain never reaches a root.
NO_ROOT = -1
GENRE_SEPARATOR = ";"
_WHITESPACE_RE = re.compile(r"\s+")


def is_missing(value: Any) -> bool:
  """The one rule for a missing value: None, a NaN of any float type, NA, NaT.

  A container (list, tuple, set, dict, array) is never missing, not even an
  empty one, and neither is an empty string (``clean_field`` treats a blank
  text as empty separately).
  """
  if value is None:
    return True
  if isinstance(value, (list, tuple, set, frozenset, dict, np.ndarray)):
    return False
  try:
    missing = pd.isna(value)
  except (TypeError, ValueError):
    return False
  return bool(missing) if np.ndim(missing) == 0 else False


def parent_positions(item_id: Sequence[str] | np.ndarray,
                     parent_id: Sequence[Any] | np.ndarray) -> np.ndarray:
  """Each item's parent as a position in ``item_id``.

  Args:
    item_id: unique item ids.
    parent_id: each item's parent id; ``""`` or a missing value for none.

  Returns:
    int64 positions; ``NO_PARENT`` for an item without parent,
    ``UNKNOWN_PARENT`` for a parent id that is not in ``item_id``.
  """
  parent_id = np.asarray(parent_id, dtype=object)
  if not len(parent_id):
    return np.zeros(0, np.int64)
  parent_id = np.where(pd.isna(parent_id), "", parent_id).astype(str).astype(
      object)
  found = pd.Index(np.asarray(item_id, dtype=object)).get_indexer(parent_id)
  return np.where(parent_id == "", NO_PARENT,
                  np.where(found >= 0, found, UNKNOWN_PARENT)).astype(np.int64)


def resolve_roots(parent: np.ndarray) -> np.ndarray:
  """The root of each item (the rule of the module docstring), vectorised.

  Args:
    parent: ``parent_positions`` of the items.

  Returns:
    int64 position of each item's root (an item without parent is its own),
    or ``NO_ROOT`` when the chain never ends (a self-parent, a cycle or a
    chain into one) or reaches an ``UNKNOWN_PARENT``.
  """
  parent = np.asarray(parent, np.int64)
  n = len(parent)
  root = np.full(n, NO_ROOT, np.int64)
  current = np.arange(n, dtype=np.int64)
  pending = np.ones(n, bool)
  for _ in range(n + 1):  # A chain that ends is at most n items long.
    index = np.flatnonzero(pending)
    if not len(index):
      break
    up = parent[current[index]]
    top = up == NO_PARENT
    lost = up == UNKNOWN_PARENT
    root[index[top]] = current[index[top]]
    pending[index[top | lost]] = False
    step = ~top & ~lost
    current[index[step]] = up[step]
  return root  # Items still pending are in, or lead into, a cycle.


def root_positions(item_id: Sequence[str] | np.ndarray,
                   parent_id: Sequence[Any] | np.ndarray) -> np.ndarray:
  """``resolve_roots`` of ``parent_positions``: each item's root position.

  Args:
    item_id: unique item ids.
    parent_id: each item's parent id (``""`` or missing for none).

  Returns:
    int64 root positions, ``NO_ROOT`` where there is none.
  """
  return resolve_roots(parent_positions(item_id, parent_id))


def type_names(item_type: Iterable[Any]) -> list[str]:
  """The distinct item types, sorted: a type's index is its position.

  Args:
    item_type: each item's type.

  Returns:
    The sorted distinct type names.
  """
  return sorted({str(t) for t in item_type})


def _clean_genre(value: Any) -> str:
  if isinstance(value, bytes):
    value = value.decode("utf-8", errors="replace")
  return _WHITESPACE_RE.sub(" ", str(value)).strip()


def split_genres(value: Any) -> list[str]:
  """An item's genres, by the genre rule of the module docstring.

  Args:
    value: None/NaN, one string (``;``-separated or a JSON list), bytes, or
      a list, tuple, array, Series or set of genres.

  Returns:
    The distinct non-empty genres, in order.
  """
  if is_missing(value):
    return []
  if isinstance(value, bytes):
    value = value.decode("utf-8", errors="replace")
  if isinstance(value, str):
    text = value.strip()
    parts: Iterable[Any] = text.split(GENRE_SEPARATOR)
    if text.startswith("["):
      try:
        listed = json.loads(text)
      except json.JSONDecodeError:
        listed = None
      if isinstance(listed, list):
        parts = listed
  elif isinstance(value, (set, frozenset)):
    parts = sorted(value, key=str)
  elif isinstance(value, (list, tuple, np.ndarray, pd.Series)):
    parts = list(value)
  else:
    parts = [value]
  out, seen = [], set()
  for part in parts:
    if is_missing(part):
      continue
    genre = _clean_genre(part)
    if genre and genre.casefold() not in seen:
      seen.add(genre.casefold())
      out.append(genre)
  return out


def read_items(paths: str | pathlib.Path | Sequence[str | pathlib.Path]
               ) -> tuple[pd.DataFrame, int]:
  """The valid rows of one or more items files (shards of one table).

  Each file is read and validated row by row (``read_table``); an id seen
  twice keeps its first row.

  Args:
    paths: an items file or a list of them.

  Returns:
    (the items frame, the number of rows rejected as dead letters).

  Raises:
    ValueError: when no file is given.
  """
  if isinstance(paths, (str, pathlib.Path)):
    paths = [paths]
  if not paths:
    raise ValueError("no items file given")
  frames, bad = [], 0
  for path in paths:
    table = read_table(path, "items")
    frames.append(table.frame.reset_index(drop=True))
    bad += len(table.dead_letters)
  items = pd.concat(frames, ignore_index=True)
  items = items.drop_duplicates(subset="item_id", keep="first")
  return items.reset_index(drop=True), bad


@dataclasses.dataclass
class ItemCatalog:
  """The valid items of a run and their roll-up (see module docstring).

  Attributes:
    item_id: sorted valid item ids (object array of str).
    item_type: each item's type.
    root: each item's root item (an index into ``item_id``; see
      ``resolve_roots``). Every valid item has one.
    published_at: each item's publication time (epoch seconds), or
      ``tfgnn_gfm.timesplit.NO_TIME`` when it has none.
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
    """Catalog index of each id.

    Args:
      ids: item ids.

    Returns:
      int64 indices into ``item_id``, -1 for ids that are not valid items.
    """
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
    published_at: epoch seconds, or ``tfgnn_gfm.timesplit.NO_TIME`` for none.

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
  # Parents are looked up again among the surviving items, all of whom have
  # a root (check_parents rejected the others).
  root = root_positions(item_id, parent_id)
  digest = hashlib.blake2b(digest_size=8)
  for array in (item_id, item_type, root, published_at):
    digest.update(pd.util.hash_array(np.asarray(array, dtype=object)
                                     if array.dtype == object else array
                                     ).tobytes())
  return ItemCatalog(item_id=item_id, item_type=item_type, root=root,
                     published_at=published_at, orphans=orphans,
                     cycles=cycles, orphan_messages=orphan_messages,
                     cycle_messages=cycle_messages, token=digest.hexdigest())
