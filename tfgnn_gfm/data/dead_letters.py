"""What reading a table yields: valid rows, dead letters and the errors.

A bad row is never dropped silently: it becomes a dead letter (the row, its
line number and one of DEAD_LETTER_REASONS). ``TableData`` holds a table's
rows with their dead letters; ``DataContractError`` is raised for a file that
cannot be read at all.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib
import re
from typing import Any, Iterable

import numpy as np
import pandas as pd

# Every reason a row can be rejected for, in the order checks run.
DEAD_LETTER_REASONS = (
    "empty_file",      # the file has no header and no rows
    "damaged_file",    # the unreadable end of a damaged (truncated) file
    "bad_encoding",    # bytes that are not UTF-8
    "malformed_row",   # CSV field count or JSON syntax is wrong
    "missing_column",  # the file lacks a required column (all rows rejected)
    "missing_value",   # a required value is empty
    "wrong_type",      # a value of the wrong type (number, list, ...)
    "out_of_range",    # a number below its minimum (a negative weight), or a
                       # text over its maximum length (a 300-character type)
    "bad_timestamp",   # not ISO-8601 nor epoch seconds, or outside the range
    "duplicate_id",    # a repeated primary key (the first row is kept)
    "unknown_item",    # an interaction names an item not in the items table
    "unknown_parent",  # an item's parent_id names no (valid) item
    "parent_cycle",    # an item's parent_id chain loops
)


LINE = "line"  # name of the index holding each row's line number


class DataContractError(ValueError):
  """Raised for input that cannot be read as a table at all (wrong format)."""


class NoRowsError(DataContractError):
  """Raised when a table that must hold rows has none (empty, header only).

  ``gfm`` exits with ``exit_code`` (3, as for too many bad rows): the input is
  readable but there is nothing to work on.
  """

  exit_code = 3


SURROGATES = re.compile("[\udc80-\udcff]")


def _jsonable(value: Any) -> Any:
  """A value as strict JSON: NaN is null, an infinity its name as text."""
  if isinstance(value, (float, np.floating)):
    if math.isnan(value):
      return None
    if math.isinf(value):
      return "Infinity" if value > 0 else "-Infinity"
    return float(value)
  if value is pd.NA or value is pd.NaT:
    return None
  if isinstance(value, (np.integer,)):
    return int(value)
  if isinstance(value, np.ndarray):
    return [_jsonable(v) for v in value.tolist()]
  if isinstance(value, (list, tuple)):
    return [_jsonable(v) for v in value]
  if isinstance(value, pd.Timestamp):
    return value.isoformat()
  if isinstance(value, str):
    return SURROGATES.sub("\ufffd", value)
  return value


def dead_letter(table: str, path: pathlib.Path, line: Any, reason: str,
                 message: str, row: dict[str, Any],
                 column: str | None = None) -> dict[str, Any]:
  return {"table": table, "file": str(path), "line": int(line),
          "column": column, "reason": reason, "message": message,
          "row": {str(k): _jsonable(v) for k, v in row.items()}}


@dataclasses.dataclass
class TableData:
  """A validated table.

  Attributes:
    table: the contract table name.
    path: the file it came from.
    frame: the good rows, typed: strings as ``str``, datetimes as int64 epoch
      seconds (nullable ``Int64`` when optional), numbers as float64; the index
      (named ``line``) holds each row's line number in the file.
    dead_letters: one dict per bad row: table, file, line, reason, message, row.
    extra_columns: columns not in the contract, kept in ``frame`` as metadata.
    rows_read: number of data rows seen in the file.
    source_columns: the file's own columns; a dead letter shows only these,
      so it holds the row as it was (defaults of absent columns left out).
  """

  table: str
  path: pathlib.Path
  frame: pd.DataFrame
  dead_letters: list[dict[str, Any]]
  extra_columns: list[str]
  rows_read: int
  source_columns: list[str] | None = None

  def reject(self, mask: pd.Series, reason: str, message: str | Iterable[str],
             column: str | None = None):
    """Moves the rows where ``mask`` is True to the dead letters.

    Args:
      mask: True for the rows to reject (aligned with ``frame``).
      reason: one of DEAD_LETTER_REASONS.
      message: one message for all, or one per rejected row.
      column: the column holding the bad value (None: the row as a whole).
    """
    if not mask.any():
      return
    bad = self.frame[mask]
    if self.source_columns is not None:
      bad = bad[[c for c in self.source_columns if c in bad.columns]]
    messages = ([message] * len(bad) if isinstance(message, str)
                else list(message))
    self.dead_letters.extend(
        dead_letter(self.table, self.path, line, reason, msg, row, column)
        for line, msg, row in zip(bad.index, messages,
                                  bad.to_dict(orient="records")))
    self.frame = self.frame[~mask]

  def summary(self) -> dict[str, Any]:
    """Counts: rows read, good rows, bad rows per reason, extra columns."""
    bad: dict[str, int] = {}
    for d in self.dead_letters:
      bad[d["reason"]] = bad.get(d["reason"], 0) + 1
    return {"file": str(self.path), "rows_read": self.rows_read,
            "good": len(self.frame), "bad": dict(sorted(bad.items())),
            "bad_total": sum(bad.values()),
            "extra_columns": list(self.extra_columns)}


def count_rows(raw: pd.DataFrame | None, dead: list[dict[str, Any]]) -> int:
  """Data rows of a parsed file: parsed rows plus unparsable records."""
  return (0 if raw is None else len(raw)) + sum(
      d["reason"] != "empty_file" for d in dead)
