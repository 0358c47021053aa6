"""Reads contract tables (CSV, JSON Lines, Parquet; gzip too) into validated frames.

Bad rows never crash a run and are never dropped silently: each one becomes a
dead letter with the row, its line number and a reason, and the summary counts
good rows and bad rows per reason. Unknown extra columns are kept as metadata.

Validation is vectorised with pandas, so millions of rows validate in seconds.
Within a table the first failing check names the reason; checks run in the
order of DEAD_LETTER_REASONS.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import logging
import math
import pathlib
import re
from typing import Any, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tfgnn_gfm.data.contract import TableSpec, table_spec

_LOG = logging.getLogger(__name__)

# Every reason a row can be rejected for, in the order checks run.
DEAD_LETTER_REASONS = (
    "empty_file",      # the file has no header and no rows
    "bad_encoding",    # bytes that are not UTF-8
    "malformed_row",   # CSV field count or JSON syntax is wrong
    "missing_column",  # the file lacks a required column (all rows rejected)
    "missing_value",   # a required value is empty
    "wrong_type",      # a value of the wrong type (number, list, ...)
    "bad_timestamp",   # a time that is neither ISO-8601 nor epoch seconds
    "duplicate_id",    # a repeated primary key (the first row is kept)
    "unknown_item",    # an interaction names an item not in the items table
    "unknown_parent",  # an item's parent_id names no item
)
LINE = "line"  # name of the index holding each row's line number
# Epoch seconds beyond this (year 3000) are surely milliseconds or garbage.
_MAX_EPOCH_SECONDS = 32_503_680_000
_SURROGATES = re.compile("[\udc80-\udcff]")


class DataContractError(ValueError):
  """Raised for input that cannot be read as a table at all (wrong format)."""


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

  def reject(self, mask: pd.Series, reason: str, message: str | Iterable[str]):
    """Moves the rows where ``mask`` is True to the dead letters."""
    if not mask.any():
      return
    bad = self.frame[mask]
    if self.source_columns is not None:
      bad = bad[[c for c in self.source_columns if c in bad.columns]]
    messages = ([message] * len(bad) if isinstance(message, str)
                else list(message))
    self.dead_letters.extend(
        _dead_letter(self.table, self.path, line, reason, msg, row)
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


def _jsonable(value: Any) -> Any:
  if isinstance(value, float) and math.isnan(value):
    return None
  if value is pd.NA or value is pd.NaT:
    return None
  if isinstance(value, (np.integer,)):
    return int(value)
  if isinstance(value, (np.floating,)):
    return None if np.isnan(value) else float(value)
  if isinstance(value, np.ndarray):
    return [_jsonable(v) for v in value.tolist()]
  if isinstance(value, (list, tuple)):
    return [_jsonable(v) for v in value]
  if isinstance(value, pd.Timestamp):
    return value.isoformat()
  if isinstance(value, str):
    return _SURROGATES.sub("\ufffd", value)
  return value


def _dead_letter(table: str, path: pathlib.Path, line: Any, reason: str,
                 message: str, row: dict[str, Any]) -> dict[str, Any]:
  return {"table": table, "file": str(path), "line": int(line),
          "reason": reason, "message": message,
          "row": {str(k): _jsonable(v) for k, v in row.items()}}


def _format_of(path: pathlib.Path) -> tuple[str, bool]:
  name = path.name.lower()
  compressed = name.endswith(".gz")
  if compressed:
    name = name[:-3]
  for suffix, fmt in ((".csv", "csv"), (".jsonl", "jsonl"), (".json", "jsonl"),
                      (".ndjson", "jsonl"), (".parquet", "parquet")):
    if name.endswith(suffix):
      return fmt, compressed
  raise DataContractError(
      f"{path}: unknown table format; use .csv, .jsonl or .parquet "
      "(optionally .gz)")


def _read_text(path: pathlib.Path, compressed: bool) -> tuple[str, bool]:
  """Returns (text, clean): clean is False when some bytes were not UTF-8."""
  opener = gzip.open if compressed else open
  with opener(path, "rb") as fh:
    data = fh.read()
  if data.startswith(b"\xef\xbb\xbf"):
    data = data[3:]
  try:
    return data.decode("utf-8"), True
  except UnicodeDecodeError:
    return data.decode("utf-8", errors="surrogateescape"), False


def _raw_csv(path, compressed, table):
  """Parses a CSV file into (raw frame of str, dead letters)."""
  text, clean = _read_text(path, compressed)
  dead = []
  if not text.strip():
    return None, [_dead_letter(table, path, 0, "empty_file",
                               f"{path.name} is empty: no header and no rows",
                               {})]
  reader = csv.reader(io.StringIO(text, newline=""))
  header = next(reader)
  header = [h.strip() for h in header]
  width = len(header)
  rows, lines = [], []
  start = reader.line_num + 1
  for record in reader:
    line = start
    start = reader.line_num + 1
    if not record or (len(record) == 1 and not record[0].strip()):
      continue  # blank line
    if not clean and any(_SURROGATES.search(v) for v in record):
      dead.append(_dead_letter(
          table, path, line, "bad_encoding",
          f"line {line} holds bytes that are not UTF-8",
          dict(zip(header, record))))
      continue
    if len(record) != width:
      dead.append(_dead_letter(
          table, path, line, "malformed_row",
          f"line {line} has {len(record)} fields, the header has {width}",
          {"fields": record}))
      continue
    rows.append(record)
    lines.append(line)
  frame = pd.DataFrame(rows, columns=header, dtype=object)
  frame.index = pd.Index(lines, name=LINE)
  return frame, dead


def _raw_jsonl(path, compressed, table):
  text, clean = _read_text(path, compressed)
  dead = []
  if not text.strip():
    return None, [_dead_letter(table, path, 0, "empty_file",
                               f"{path.name} is empty: no rows", {})]
  records, lines = [], []
  for number, line in enumerate(text.splitlines(), start=1):
    if not line.strip():
      continue
    if not clean and _SURROGATES.search(line):
      dead.append(_dead_letter(table, path, number, "bad_encoding",
                               f"line {number} holds bytes that are not UTF-8",
                               {"text": line}))
      continue
    try:
      record = json.loads(line)
    except json.JSONDecodeError as e:
      dead.append(_dead_letter(table, path, number, "malformed_row",
                               f"line {number} is not valid JSON: {e.msg}",
                               {"text": line}))
      continue
    if not isinstance(record, dict):
      dead.append(_dead_letter(table, path, number, "malformed_row",
                               f"line {number} is not a JSON object",
                               {"text": line}))
      continue
    records.append(record)
    lines.append(number)
  frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
  frame = frame.astype(object)
  frame.index = pd.Index(lines, name=LINE)
  return frame, dead


def _raw_parquet(path, table):
  import pyarrow.parquet as pq  # pylint: disable=import-outside-toplevel
  try:
    arrow = pq.read_table(path)
  except Exception as e:  # pyarrow raises several error types here.
    raise DataContractError(f"{path}: not a readable Parquet file: {e}") from e
  if arrow.num_rows == 0 and arrow.num_columns == 0:
    return None, [_dead_letter(table, path, 0, "empty_file",
                               f"{path.name} is empty: no columns", {})]
  frame = arrow.to_pandas().astype(object)
  frame.index = pd.Index(np.arange(1, len(frame) + 1), name=LINE)
  return frame, []


def _arrow_strings(series: pd.Series):
  """The column as a pyarrow string array when every value is a str, else None.

  CSV columns are all strings; for them the checks below run in Arrow's C++
  kernels instead of a Python call per value.
  """
  if len(series) and pd.api.types.infer_dtype(series, skipna=False) == "string":
    return pa.array(series.to_numpy(dtype=object), type=pa.string())
  return None


def _is_empty(series: pd.Series) -> pd.Series:
  """True where a value is missing: None, NaN, or a blank string."""
  arrow = _arrow_strings(series)
  if arrow is not None:
    blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arrow)), 0)
    return pd.Series(blank.to_numpy(zero_copy_only=False), index=series.index)
  as_text = series.map(lambda v: v.strip() if isinstance(v, str) else v)
  return as_text.isna() | (as_text.map(lambda v: isinstance(v, str) and not v))


def _to_string(series: pd.Series) -> tuple[pd.Series, pd.Series]:
  """Returns (values as str, bad mask): numbers become their text, lists join."""
  arrow = _arrow_strings(series)
  if arrow is not None:
    values = pd.Series(pc.utf8_trim_whitespace(arrow).to_numpy(
        zero_copy_only=False), index=series.index, dtype=object)
    return values, pd.Series(False, index=series.index)

  def convert(v):
    if isinstance(v, str):
      return v.strip()
    if isinstance(v, bool):
      return None
    if isinstance(v, (int, np.integer)):
      return str(int(v))
    if isinstance(v, (float, np.floating)):
      return str(int(v)) if float(v).is_integer() else str(v)
    if isinstance(v, (list, tuple, np.ndarray)) and all(
        isinstance(x, str) for x in v):
      return ";".join(x.strip() for x in v)
    return None
  out = series.map(convert)
  return out, out.isna()


def _to_number(series: pd.Series) -> tuple[pd.Series, pd.Series]:
  if _arrow_strings(series) is not None:
    out = pd.to_numeric(series, errors="coerce").astype("float64")
  else:
    def convert(v):
      if isinstance(v, bool):
        return np.nan
      if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
      if isinstance(v, str):
        try:
          return float(v)
        except ValueError:
          return np.nan
      return np.nan
    out = series.map(convert).astype("float64")
  return out, out.isna() | ~np.isfinite(out.fillna(0.0))


_NUMBER = r"^\s*-?\d+(\.\d+)?\s*$"


def parse_timestamps(series: pd.Series) -> tuple[pd.Series, pd.Series]:
  """Parses ISO-8601 strings, epoch seconds or datetimes to int64 epoch seconds.

  A time without a zone is taken as UTC.

  Args:
    series: values of any of those kinds (no empties).

  Returns:
    (epoch seconds as int64 with 0 where bad, bad mask).
  """
  if pd.api.types.is_datetime64_any_dtype(series):
    ts = pd.to_datetime(series, utc=True)
    bad = ts.isna()
    epoch = pd.Timestamp(0, tz="UTC")
    secs = ((ts - epoch) // pd.Timedelta(seconds=1)).fillna(0).astype(np.int64)
    return secs, bad
  values = series.map(lambda v: v.isoformat() if isinstance(v, pd.Timestamp)
                      else v)
  arrow = _arrow_strings(values)
  if arrow is not None:
    is_num = pd.Series(pc.match_substring_regex(arrow, _NUMBER).to_numpy(
        zero_copy_only=False), index=values.index)
    numeric = pd.to_numeric(values.where(is_num), errors="coerce")
  else:
    numeric = values.map(
        lambda v: float(v) if isinstance(
            v, (int, float, np.integer, np.floating))
        and not isinstance(v, bool) else (
            float(v) if isinstance(v, str) and re.fullmatch(_NUMBER, v)
            else np.nan)).astype("float64")
    is_num = numeric.notna()
  secs = pd.Series(np.zeros(len(values), dtype=np.int64), index=series.index)
  bad = pd.Series(np.zeros(len(values), dtype=bool), index=series.index)
  if is_num.any():
    num = numeric[is_num].astype("float64")
    out_of_range = (num.abs() > _MAX_EPOCH_SECONDS)
    secs[is_num] = np.floor(num.where(~out_of_range, 0)).astype(np.int64)
    bad[is_num] = out_of_range
  text = values[~is_num]
  if len(text):
    as_str = text.map(lambda v: v if isinstance(v, str) else None)
    parsed = pd.to_datetime(as_str, format="ISO8601", utc=True,
                            errors="coerce")
    ok = parsed.notna()
    epoch = pd.Timestamp(0, tz="UTC")
    secs[text.index[ok]] = ((parsed[ok] - epoch) // pd.Timedelta(seconds=1)
                           ).astype(np.int64).to_numpy()
    bad[text.index[~ok]] = True
  return secs, bad


def _to_array(series: pd.Series) -> tuple[pd.Series, pd.Series]:
  def convert(v):
    if isinstance(v, str):
      text = v.strip()
      try:
        parts = (json.loads(text) if text.startswith("[")
                 else [float(x) for x in text.split(";")])
      except (ValueError, json.JSONDecodeError):
        return None
    elif isinstance(v, (list, tuple, np.ndarray)):
      parts = list(v)
    else:
      return None
    try:
      arr = np.asarray(parts, dtype=np.float32)
    except (TypeError, ValueError):
      return None
    return arr if arr.ndim == 1 and np.all(np.isfinite(arr)) else None
  out = series.map(convert)
  return out, out.isna()


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
                f"{', '.join(map(str, frame.columns))})")
    data.frame = pd.DataFrame(columns=list(spec.field_names))
    return
  for f in spec.fields:
    if f.name not in frame.columns:
      frame[f.name] = f.default
  data.frame = frame
  # Required values first, then types, field by field.
  for f in spec.fields:
    if f.required:
      empty = _is_empty(data.frame[f.name])
      data.reject(empty, "missing_value", f"{f.name} is empty")
  converted = {}
  for f in spec.fields:
    column = data.frame[f.name]
    present = column[~_is_empty(column)]
    if f.type == "string":
      values, bad = _to_string(present)
      reason = "wrong_type"
    elif f.type in ("number", "integer"):
      values, bad = _to_number(present)
      if f.type == "integer":
        bad |= ~values.fillna(0).map(float.is_integer)
      reason = "wrong_type"
    elif f.type == "datetime":
      values, bad = parse_timestamps(present)
      reason = "bad_timestamp"
    else:  # array
      values, bad = _to_array(present)
      reason = "wrong_type"
    if bad.any():
      mask = data.frame.index.isin(present.index[bad.to_numpy()])
      shown = [repr(v)[:80] for v in data.frame.loc[mask, f.name]]
      data.reject(pd.Series(mask, index=data.frame.index), reason,
                  [f"{f.name}={v} is not a valid {f.type}" for v in shown])
    converted[f.name] = values[~bad.to_numpy()]
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
                    "length)")


def check_primary_key(data: TableData, spec: TableSpec) -> None:
  """Rejects rows whose primary key repeats an earlier row's, in place."""
  if spec.primary_key:
    dup = data.frame.duplicated(subset=list(spec.primary_key), keep="first")
    key = ", ".join(spec.primary_key)
    data.reject(dup, "duplicate_id", f"repeated key ({key}); the first row "
                "with it is kept")


def read_table(path: str | pathlib.Path, table: str) -> TableData:
  """Reads and validates one table of the data contract.

  Args:
    path: a ``.csv``, ``.jsonl`` or ``.parquet`` file, optionally ``.gz``.
    table: ``items``, ``interactions`` or ``users``.

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
  fmt, compressed = _format_of(path)
  if fmt == "csv":
    raw, dead = _raw_csv(path, compressed, table)
  elif fmt == "jsonl":
    raw, dead = _raw_jsonl(path, compressed, table)
  else:
    raw, dead = _raw_parquet(path, table)
  if raw is None:
    frame = pd.DataFrame(columns=list(spec.field_names))
    return TableData(table, path, frame, dead, [], 0)
  rows_read = len(raw) + sum(d["reason"] != "empty_file" for d in dead)
  extra = [c for c in raw.columns if c not in spec.field_names]
  data = TableData(table, path, raw, dead, extra, rows_read,
                   source_columns=list(raw.columns))
  validate_rows(data, spec)
  check_primary_key(data, spec)
  _LOG.debug("%s: %s", path, data.summary())
  return data
