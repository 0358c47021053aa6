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

import pandas as pd

from tfgnn_gfm.artifacts import DatasetDir
from tfgnn_gfm.data.reader import TableData, read_table


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


def check_references(dataset: Dataset) -> None:
  """Rejects rows that name items absent from the (validated) items table.

  Items are checked first (an episode whose show is unknown is rejected), then
  interactions against the remaining items, so an item seen only in bad rows
  never reaches a later stage.
  """
  items = dataset.items
  known = set(items.frame["item_id"])
  parent = items.frame["parent_id"]
  orphan = (parent != "") & ~parent.isin(known)
  items.reject(orphan, "unknown_parent",
               [f"parent_id {p!r} names no item" for p in parent[orphan]],
               column="parent_id")
  known = pd.Index(items.frame["item_id"])
  inter = dataset.interactions
  unknown = ~inter.frame["item_id"].isin(known)
  inter.reject(unknown, "unknown_item",
               [f"item_id {i!r} is not in the items table"
                for i in inter.frame.loc[unknown, "item_id"]],
               column="item_id")


def read_dataset(folder: str | pathlib.Path) -> Dataset:
  """Reads and validates every table of a dataset folder.

  Args:
    folder: a folder with ``items.*``, ``interactions.*`` and optionally
      ``users.*`` (any format of the contract).

  Returns:
    The validated Dataset.
  """
  layout = DatasetDir(pathlib.Path(folder))
  items = read_table(layout.table_path("items"), "items")
  interactions = read_table(layout.table_path("interactions"), "interactions")
  users_path = layout.table_path("users", required=False)
  users = read_table(users_path, "users") if users_path else None
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
