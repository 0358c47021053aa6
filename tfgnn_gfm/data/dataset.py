"""A whole dataset of the contract: items, interactions and optional users.

``read_dataset`` reads the three tables of a folder, runs the cross-table
checks (interactions of unknown items, episodes of unknown shows) and returns
everything a later stage needs, with one summary and one dead-letter list.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any

import numpy as np
import pandas as pd

from tfgnn_gfm.artifacts import DatasetDir
from tfgnn_gfm.data.reader import (
  MAX_INPUT_BYTES,
  NoRowsError,
  TableData,
  read_table,
)


@dataclasses.dataclass
class Dataset:
  """Validated tables of one dataset folder.

  Attributes:
    items: the items table.
    interactions: the interactions table.
    users: the users table, or None when the folder has none.
  """

  items: TableData
  interactions: TableData
  users: TableData | None

  @property
  def tables(self) -> list[TableData]:
    return [t for t in (self.items, self.interactions, self.users) if t]

  def dead_letters(self) -> list[dict[str, Any]]:
    """Every rejected row of every table, in table then line order."""
    out = []
    for t in self.tables:
      out.extend(sorted(t.dead_letters, key=lambda d: d["line"]))
    return out

  def summary(self) -> dict[str, Any]:
    """Per-table counts plus totals and what the dataset holds."""
    tables = {t.table: t.summary() for t in self.tables}
    items = self.items.frame
    inter = self.interactions.frame
    return {
        "tables": tables,
        "good_rows": sum(s["good"] for s in tables.values()),
        "bad_rows": sum(s["bad_total"] for s in tables.values()),
        "item_types": {str(k): int(v) for k, v in
                       items["item_type"].value_counts().sort_index().items()},
        "users_with_interactions": int(inter["user_id"].nunique()),
        "events": {str(k): int(v) for k, v in
                   inter["event"].value_counts().sort_index().items()},
        "time_range": (
            [int(inter["timestamp"].min()), int(inter["timestamp"].max())]
            if len(inter) else None),
    }


@dataclasses.dataclass(frozen=True)
class ParentCheck:
  """Items whose ``parent_id`` chain does not end at an item without parent.

  Attributes:
    unknown_parent: the chain reaches a ``parent_id`` that names no item
      (the item's own parent, or an ancestor's).
    parent_cycle: the chain never ends (points to the item itself, forms a
      cycle, or leads into one).
    messages: a dead-letter message for every flagged item (else "").
  """

  unknown_parent: np.ndarray
  parent_cycle: np.ndarray
  messages: np.ndarray


def check_parents(item_id: np.ndarray, parent_id: np.ndarray) -> ParentCheck:
  """Follows every item's ``parent_id`` chain to its end, vectorised.

  Pointer doubling: each step replaces every item's pointer by its pointer's
  pointer, so ``log2(n)`` steps reach the end of every chain; a chain that
  ends at an item whose parent is missing is broken, one that never ends is a
  cycle. The same check serves ``read_dataset`` and the Beam pipeline's item
  catalog, so both reject the same items for the same reasons.

  Args:
    item_id: unique item ids.
    parent_id: each item's parent id ("" for none).

  Returns:
    The ParentCheck, aligned with ``item_id``.
  """
  item_id = np.asarray(item_id, dtype=object)
  parent_id = np.asarray(parent_id, dtype=object)
  n = len(item_id)
  has_parent = parent_id != ""
  parent = np.where(has_parent, pd.Index(item_id).get_indexer(parent_id), -2)
  positions = np.arange(n, dtype=np.int64)
  # Ends of chains point to themselves; doubling then stops there.
  pointer = np.where(parent >= 0, parent, positions)
  for _ in range(int(np.ceil(np.log2(max(n, 2)))) + 1):
    pointer = pointer[pointer]
  end_parent = parent[pointer]
  cycle = end_parent >= 0
  broken = has_parent & (end_parent == -1)
  direct = parent == -1
  messages = np.full(n, "", dtype=object)
  for i in np.flatnonzero(broken):
    messages[i] = (f"parent_id {parent_id[i]!r} names no item" if direct[i]
                   else f"parent_id {parent_id[i]!r} leads to parent_id "
                        f"{parent_id[pointer[i]]!r}, which names no item")
  for i in np.flatnonzero(cycle):
    messages[i] = (f"parent_id {parent_id[i]!r} is the item itself"
                   if parent[i] == i else
                   f"parent_id {parent_id[i]!r} starts a chain of parents "
                   "that never ends (a cycle)")
  return ParentCheck(unknown_parent=broken, parent_cycle=cycle,
                     messages=messages)


def check_references(dataset: Dataset) -> None:
  """Rejects rows that name items absent from the (validated) items table.

  Items are checked first (an episode whose show is unknown, or whose
  parents form a cycle, is rejected; see ``check_parents``), then
  interactions against the remaining items, so an item seen only in bad rows
  never reaches a later stage.
  """
  items = dataset.items
  check = check_parents(items.frame["item_id"].to_numpy(object),
                        items.frame["parent_id"].to_numpy(object))
  index = items.frame.index
  messages = pd.Series(check.messages, index=index)
  for reason, mask in (("unknown_parent", check.unknown_parent),
                       ("parent_cycle", check.parent_cycle)):
    mask = pd.Series(mask, index=index).reindex(items.frame.index)
    items.reject(mask, reason, list(messages[mask[mask].index]),
                 column="parent_id")
  known = pd.Index(items.frame["item_id"])
  inter = dataset.interactions
  unknown = ~inter.frame["item_id"].isin(known)
  inter.reject(unknown, "unknown_item",
               [f"item_id {i!r} is not in the items table"
                for i in inter.frame.loc[unknown, "item_id"]],
               column="item_id")


def read_dataset(folder: str | pathlib.Path,
                 max_input_bytes: int = MAX_INPUT_BYTES) -> Dataset:
  """Reads and validates every table of a dataset folder.

  Args:
    folder: a folder with ``items.*``, ``interactions.*`` and optionally
      ``users.*`` (any format of the contract).
    max_input_bytes: the most bytes of one text file after decompression
      (``DataContractError`` beyond).

  Returns:
    The validated Dataset.

  Raises:
    NoRowsError: the interactions file has no data rows (empty or header
      only): no stage has anything to work on.
  """
  layout = DatasetDir(pathlib.Path(folder))
  items = read_table(layout.table_path("items"), "items", max_input_bytes)
  interactions = read_table(layout.table_path("interactions"), "interactions",
                            max_input_bytes)
  if not interactions.rows_read:
    raise NoRowsError(f"{interactions.path}: the interactions table has no "
                      "data rows (empty or header only)")
  users_path = layout.table_path("users", required=False)
  users = (read_table(users_path, "users", max_input_bytes) if users_path
           else None)
  dataset = Dataset(items, interactions, users)
  check_references(dataset)
  return dataset


def write_dead_letters(dead_letters: list[dict[str, Any]],
                       path: str | pathlib.Path) -> int:
  """Writes dead letters as JSON Lines (one object per rejected row).

  Returns:
    The number written.
  """
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  with open(path, "w", encoding="utf-8") as fh:
    for d in dead_letters:
      fh.write(json.dumps(d, ensure_ascii=False, default=str) + "\n")
  return len(dead_letters)
