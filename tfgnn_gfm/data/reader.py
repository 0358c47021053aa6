"""Reads contract tables (CSV, JSON Lines, Parquet; gzip too) into valid frames.

Bad rows never crash a run and are never dropped silently: each one becomes a
dead letter with the row, its line number and a reason, and the summary counts
good rows and bad rows per reason. Unknown extra columns are kept as metadata.

Validation is vectorised with pandas, so millions of rows validate in seconds.
Within a table the first failing check names the reason; checks run in the
order of DEAD_LETTER_REASONS.

One module per concept: ``decoding`` (a file's bytes to text lines),
``formats`` (CSV, JSON Lines and Parquet to raw frames), ``coercion`` (cells
to the contract's types), ``dead_letters`` (rows, dead letters, errors); this
module validates rows (``validate_rows``) and reads a table end to end
(``read_table``).
"""

from __future__ import annotations

import logging
import pathlib
from typing import Any

import numpy as np
import pandas as pd

from tfgnn_gfm.data.coercion import (
  LIST_FIELDS,
  MAX_TIMESTAMP,
  MIN_TIMESTAMP,
  TIME_RANGE_TEXT,
  is_empty,
  parse_timestamps,
  to_array,
  to_number,
  to_string,
)
from tfgnn_gfm.data.contract import TableSpec, table_spec
from tfgnn_gfm.data.dead_letters import (
  DEAD_LETTER_REASONS,
  LINE,
  DataContractError,
  NoRowsError,
  TableData,
  count_rows,
)
from tfgnn_gfm.data.decoding import MAX_INPUT_BYTES
from tfgnn_gfm.data.formats import check_header, read_raw

# The reader's public names, wherever they live (its callers import them here).
__all__ = [
    "DEAD_LETTER_REASONS", "LINE", "MAX_INPUT_BYTES", "MAX_TIMESTAMP",
    "MIN_TIMESTAMP", "TIME_RANGE_TEXT", "DataContractError", "NoRowsError",
    "TableData", "check_header", "check_primary_key", "count_rows",
    "parse_timestamps", "read_raw", "read_table", "validate_rows",
]

_LOG = logging.getLogger(__name__)


def _shown(value: Any) -> str:
  """A bad value as quoted in a message: its repr, at most 80 characters."""
  return repr(value)[:80]


def validate_rows(data: TableData, spec: TableSpec) -> None:
  """Applies the row-local checks of the contract to ``data``, in place.

  Row-local checks (required columns and values, types, timestamps, vector
  lengths) need no other row, so a distributed pipeline can run them on any
  batch of rows; the key checks (``check_primary_key`` and the cross-table
  checks of ``tfgnn_gfm.data.dataset``) need a global view.

  Args:
    data: a TableData whose ``frame`` holds raw values (str from CSV, JSON
      types from JSON Lines, Arrow types from Parquet), indexed by line.
    spec: the table's contract.
  """
  frame = data.frame
  missing = [f.name for f in spec.fields
             if f.required and f.name not in frame.columns]
  if missing:
    data.reject(pd.Series(True, index=frame.index), "missing_column",
                f"{data.path.name} has no column {', '.join(missing)} "
                f"(required: {', '.join(spec.required)}; found: "
                f"{', '.join(map(str, frame.columns))})",
                column=", ".join(missing))
    data.frame = pd.DataFrame(columns=list(spec.field_names))
    return
  for f in spec.fields:
    if f.name not in frame.columns:
      frame[f.name] = f.default
  data.frame = frame
  # Required values first, then types, field by field.
  for f in spec.fields:
    if f.required:
      empty = is_empty(data.frame[f.name])
      data.reject(empty, "missing_value", f"{f.name} is empty",
                  column=f.name)
  converted = {}
  for f in spec.fields:
    column = data.frame[f.name]
    present = column[~is_empty(column)]
    outside = None
    if f.type == "string":
      values, bad = to_string(present, lists=f.name in LIST_FIELDS)
    elif f.type in ("number", "integer"):
      values, bad = to_number(present)
      if f.type == "integer":
        bad |= ~values.fillna(0).map(float.is_integer)
    elif f.type == "datetime":
      values, bad, outside = parse_timestamps(present)
    else:  # array
      values, bad = to_array(present)
    reason = "bad_timestamp" if f.type == "datetime" else "wrong_type"
    if bad.any():
      rows = present.index[bad.to_numpy()]
      ranged = (set(present.index[outside.to_numpy()]) if outside is not None
                else set())
      mask = data.frame.index.isin(rows)
      shown = zip(data.frame.index[mask], data.frame.loc[mask, f.name])
      data.reject(pd.Series(mask, index=data.frame.index), reason, [
          f"{f.name}={_shown(v)} is outside the supported range "
          f"{TIME_RANGE_TEXT}" if line in ranged else
          f"{f.name}={_shown(v)} is not a valid {f.type}"
          for line, v in shown], column=f.name)
    values = values[~bad.to_numpy()]
    if f.minimum is not None:
      low = values < f.minimum
      if low.any():
        mask = data.frame.index.isin(values.index[low.to_numpy()])
        data.reject(pd.Series(mask, index=data.frame.index), "out_of_range", [
            f"{f.name}={_shown(v)} is below the minimum {f.minimum:g}"
            for v in data.frame.loc[mask, f.name]], column=f.name)
        values = values[~low]
    if f.max_length is not None and len(values):
      long = values.str.len() > f.max_length
      if long.any():
        mask = data.frame.index.isin(values.index[long.to_numpy()])
        data.reject(pd.Series(mask, index=data.frame.index), "out_of_range", [
            f"{f.name} has {len(str(v)):,} characters, over the maximum "
            f"{f.max_length}" for v in data.frame.loc[mask, f.name]],
            column=f.name)
        values = values[~long]
    converted[f.name] = values
  # Assemble the typed frame; empty values take the field's default.
  out = data.frame.copy()
  for f in spec.fields:
    aligned = converted[f.name].reindex(out.index)
    if f.type == "string":
      out[f.name] = aligned.where(aligned.notna(), f.default or "").astype(str)
    elif f.type in ("number", "integer"):
      aligned = aligned.astype("float64")
      out[f.name] = aligned if f.default is None else aligned.fillna(
          float(f.default))
    elif f.type == "datetime":
      aligned = aligned.astype("Int64")
      out[f.name] = aligned.astype("int64") if f.required else aligned
    else:
      out[f.name] = aligned.astype(object)
  data.frame = out
  # Array columns: every present vector has the same length.
  for f in spec.fields:
    if f.type == "array":
      lengths = data.frame[f.name].map(
          lambda v: len(v) if isinstance(v, np.ndarray) else -1)
      present = lengths[lengths >= 0]
      if len(present):
        expected = int(present.mode().iloc[0])
        wrong = (lengths >= 0) & (lengths != expected)
        data.reject(wrong, "wrong_type",
                    f"{f.name} must have {expected} values (the most common "
                    "length)", column=f.name)


def check_primary_key(data: TableData, spec: TableSpec) -> None:
  """Rejects rows whose primary key repeats an earlier row's, in place."""
  if spec.primary_key:
    dup = data.frame.duplicated(subset=list(spec.primary_key), keep="first")
    key = ", ".join(spec.primary_key)
    data.reject(dup, "duplicate_id", f"repeated key ({key}); the first row "
                "with it is kept", column=key)


def read_table(path: str | pathlib.Path, table: str,
               max_bytes: int = MAX_INPUT_BYTES) -> TableData:
  """Reads and validates one table of the data contract.

  Args:
    path: a ``.csv``, ``.jsonl`` or ``.parquet`` file, optionally ``.gz``.
    table: ``items``, ``interactions`` or ``users``.
    max_bytes: the most bytes of a text file after decompression.

  Returns:
    A TableData with the good rows, the dead letters and the extra columns.
    Cross-table checks (unknown items, unknown parents) are done by
    ``tfgnn_gfm.data.dataset.read_dataset``.

  Raises:
    DataContractError: the file does not exist or its format is unknown.
  """
  path = pathlib.Path(path)
  if not path.exists():
    raise DataContractError(f"{path}: no such file")
  spec = table_spec(table)
  raw, dead = read_raw(path, table, max_bytes)
  if raw is None:
    frame = pd.DataFrame(columns=list(spec.field_names))
    return TableData(table, path, frame, dead, [], 0)
  rows_read = count_rows(raw, dead)
  extra = [c for c in raw.columns if c not in spec.field_names]
  data = TableData(table, path, raw, dead, extra, rows_read,
                   source_columns=list(raw.columns))
  validate_rows(data, spec)
  check_primary_key(data, spec)
  _LOG.debug("%s: %s", path, data.summary())
  return data
