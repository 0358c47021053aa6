"""The three table formats (CSV, JSON Lines, Parquet) read into raw frames.

``read_raw`` reads every cell as found (strings, with each row's line
number) and turns unreadable rows into dead letters; ``check_header`` reads
only a file's columns.
"""

from __future__ import annotations

import csv
import json
import pathlib
from typing import Any, BinaryIO, Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tfgnn_gfm.data.contract import table_spec
from tfgnn_gfm.data.dead_letters import (
  LINE,
  SURROGATES,
  DataContractError,
  dead_letter,
)
from tfgnn_gfm.data.decoding import (
  MAX_INPUT_BYTES,
  MAX_QUOTED,
  TextLines,
  damage_letters,
  decode,
  decompress,
  headless_error,
  read_text,
)


def read_raw(path: str | pathlib.Path, table: str,
             max_bytes: int = MAX_INPUT_BYTES
             ) -> tuple[pd.DataFrame | None, list[dict[str, Any]]]:
  """Parses a file of any contract format without validating values.

  Args:
    path: a local ``.csv``, ``.jsonl`` or ``.parquet`` file, optionally
      ``.gz``.
    table: the contract table (for the dead letters).
    max_bytes: the most bytes of a text file after decompression.

  Returns:
    (the raw rows indexed by line, or None for an empty file; the dead
    letters of records that could not be parsed).

  Raises:
    DataContractError: the file cannot be read at all.
  """
  path = pathlib.Path(path)
  fmt, compressed = _format_of(path)
  if fmt == "csv":
    return _raw_csv(path, compressed, table, max_bytes)
  if fmt == "jsonl":
    return _raw_jsonl(path, compressed, table, max_bytes)
  return _raw_parquet(path, table)


# The start of a text file that check_header reads first; it reads up to
# _MAX_HEAD bytes when the CSV header record is longer.
_HEAD_BYTES = 1 << 16


_MAX_HEAD = 1 << 24


def check_header(path: str | pathlib.PurePath,
                 open_file: Callable[[], BinaryIO] | None = None) -> None:
  """Checks, without reading the whole file, what decides if it can be read.

  ``read_raw`` rejects a file as a whole (``DataContractError``) only for
  damage it sees before the first data row: an unknown format, a ``.gz``
  that is not gzip, a UTF-16 text, a CSV header that cannot be parsed, is not
  UTF-8 or repeats a name, a gzip stream that ends inside the header, or a
  Parquet footer that is unreadable or repeats a name. This check raises the
  same error for those, reading only the start of a text file (the footer of
  a Parquet file), so a large or remote file can be checked before a
  pipeline reads it in full. Damage further on costs ``read_raw`` only the
  rows it touches (dead letters), except inside Parquet data pages.

  Args:
    path: the file's path or URL (its name gives the format).
    open_file: opens the file as a seekable binary stream (default: the
      local file at ``path``); called again when the header needs more bytes.

  Raises:
    DataContractError: as ``read_raw`` would for the whole file.
  """
  fmt, compressed = _format_of(pathlib.PurePath(path))
  opener = open_file or (lambda: open(path, "rb"))
  if fmt == "parquet":
    with opener() as stream:
      _parquet_schema(path, stream)
    return
  size = _HEAD_BYTES
  while True:
    with opener() as stream:
      if compressed:
        data, damage, whole = decompress(path, stream, limit=size)
      else:
        data, damage = stream.read(size + 1), None
        whole = len(data) <= size
        data = data[:size]
    text, _ = decode(path, data)
    if fmt == "jsonl":
      return
    # A damaged stream counts as read whole: nothing more can be read.
    if damage is not None or not whole:
      # The last line may be cut short (the full read of a damaged file
      # drops it the same way).
      text = text.rpartition("\n")[0] + "\n"
    if not text.strip():
      if damage is not None:
        raise headless_error(path, damage)
      if whole:
        return  # An empty file: an empty_file dead letter, not an error.
    elif whole or _header_fits(text):
      _csv_header(path, TextLines(text))
      return
    if size >= _MAX_HEAD:
      return  # A header this long is left to the full read.
    size *= 4


def _header_fits(text: str) -> bool:
  """Whether the start of a CSV text holds its whole header record.

  False when the header record runs to the end of ``text`` without parsing
  (a quoted field going on past it).
  """
  lines = TextLines(text)
  try:
    next(csv.reader(lines, strict=True))
  except csv.Error:
    return sum(map(len, lines.taken)) < len(text)
  return True


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


def _csv_header(path: str | pathlib.PurePath, lines: TextLines) -> list[str]:
  """Parses the header record of a CSV text and checks its names.

  Raises:
    DataContractError: the header cannot be parsed, is not UTF-8 or repeats
      a name.
  """
  try:
    header = next(csv.reader(lines, strict=True))
  except csv.Error as e:
    raise DataContractError(f"{path}: the header line cannot be parsed: "
                            f"{e}") from None
  header = [h.strip() for h in header]
  if any(SURROGATES.search(h) for h in header):
    raise DataContractError(
        f"{path}: the header is not UTF-8 (Latin-1 or another 8-bit "
        "encoding?); the contract needs UTF-8")
  repeated = sorted({h for h in header if header.count(h) > 1})
  if repeated:
    raise DataContractError(
        f"{path}: duplicate column names in the header: "
        f"{', '.join(map(repr, repeated))}")
  return header


def _raw_csv(path, compressed, table, max_bytes=MAX_INPUT_BYTES):
  """Parses a CSV file into (raw frame of str, dead letters).

  A record with the wrong number of fields that spans several physical lines
  (an unclosed quote) costs only its first line: that line is a dead letter
  and parsing resumes on the next one, so every line is either in a record or
  reported. A field over the csv module's limit is handled the same way.

  Raises:
    DataContractError: the header cannot be read (not UTF-8, duplicate
      names, unparsable).
  """
  text, clean, damage = read_text(path, compressed, max_bytes)
  dead = []
  if damage is not None:
    # The last line is cut short: it goes to the damage dead letter.
    text, _, rest = text.rpartition("\n")
    text += "\n" if text else ""
  if not text.strip():
    if damage is not None:
      raise headless_error(path, damage)
    return None, [dead_letter(table, path, 0, "empty_file",
                               f"{path.name} is empty: no header and no rows",
                               {})]
  lines = TextLines(text)
  header = _csv_header(path, lines)
  width = len(header)
  rows, numbers = [], []
  line = 1 + len(lines.taken)
  reader = csv.reader(lines, strict=True)
  while True:
    lines.start_record()
    try:
      record = next(reader)
      error = None
    except StopIteration:
      break
    except csv.Error as e:
      record, error = None, str(e)
    taken = lines.taken
    if error is not None and not taken:
      break  # Nothing left to read.
    if error is not None or (len(record) != width and len(taken) > 1):
      # Only the record's first line is lost; the rest is parsed again.
      first = taken[0] if taken else ""
      if error is None:
        why = (f"opens a quote that is not closed on it ({len(record)} "
               f"fields over {len(taken)} lines, the header has {width})")
      elif len(taken) > 1:
        why = f"opens a quote that is not closed properly ({error})"
      else:
        why = f"cannot be parsed ({error})"
      dead.append(dead_letter(table, path, line, "malformed_row",
                               f"line {line} {why}",
                               {"text": first[:MAX_QUOTED]}))
      lines.push_back(taken[1:])
      line += 1
      reader = csv.reader(lines, strict=True)
      continue
    start, line = line, line + len(taken)
    if not "".join(taken).strip("\r\n"):
      continue  # An empty line; a line of spaces or a quoted "" is a row.
    if not clean and any(SURROGATES.search(v) for v in record):
      dead.append(dead_letter(
          table, path, start, "bad_encoding",
          f"line {start} holds bytes that are not UTF-8",
          dict(zip(header, record))))
      continue
    if len(record) != width:
      dead.append(dead_letter(
          table, path, start, "malformed_row",
          f"line {start} has {len(record)} fields, the header has {width}",
          {"fields": [v[:MAX_QUOTED] for v in record]}))
      continue
    rows.append(record)
    numbers.append(start)
  if damage is not None:
    dead.extend(damage_letters(table, path, line, damage, rest))
  frame = pd.DataFrame(rows, columns=header, dtype=object)
  frame.index = pd.Index(numbers, name=LINE)
  return frame, dead


def _raw_jsonl(path, compressed, table, max_bytes=MAX_INPUT_BYTES):
  """Parses a JSON Lines file into (raw frame, dead letters).

  Records are split on ``\\n`` only (``\\r\\n`` too): U+2028, U+2029 and
  U+0085 are ordinary characters inside JSON strings. ``NaN`` and
  ``Infinity`` (not JSON, but Python writes them) are read as text, so a
  number, time or vector field holding them is ``wrong_type``.
  """
  text, clean, damage = read_text(path, compressed, max_bytes)
  dead = []
  rest = ""
  if damage is not None:
    text, _, rest = text.rpartition("\n")
  if not text.strip() and damage is None:
    return None, [dead_letter(table, path, 0, "empty_file",
                               f"{path.name} is empty: no rows", {})]
  records, numbers = [], []
  physical = text.split("\n") if text else []
  for number, line in enumerate(physical, start=1):
    line = line.removesuffix("\r")
    if not line.strip():
      continue
    if not clean and SURROGATES.search(line):
      dead.append(dead_letter(table, path, number, "bad_encoding",
                               f"line {number} holds bytes that are not UTF-8",
                               {"text": line[:MAX_QUOTED]}))
      continue
    try:
      record = json.loads(line, parse_constant=str)
    except (ValueError, RecursionError) as e:
      why = (f"{e.msg} (column {e.colno})"
             if isinstance(e, json.JSONDecodeError) else
             "nested too deeply" if isinstance(e, RecursionError) else str(e))
      dead.append(dead_letter(table, path, number, "malformed_row",
                               f"line {number} is not valid JSON: {why}",
                               {"text": line[:MAX_QUOTED]}))
      continue
    if not isinstance(record, dict):
      dead.append(dead_letter(table, path, number, "malformed_row",
                               f"line {number} is not a JSON object",
                               {"text": line[:MAX_QUOTED]}))
      continue
    records.append(record)
    numbers.append(number)
  if damage is not None:
    dead.extend(damage_letters(table, path, len(physical) + 1, damage, rest))
  frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
  frame = frame.astype(object)
  frame.index = pd.Index(numbers, name=LINE)
  return frame, dead


def _one_line(error: BaseException) -> str:
  """An exception's message on one line, at most 300 characters."""
  return " ".join(str(error).split())[:300] or type(error).__name__


def _parquet_schema(path: str | pathlib.PurePath, source: Any) -> pa.Schema:
  """Reads a Parquet file's schema (its footer) and checks the names.

  Args:
    path: the file's name, for messages.
    source: the file: a local path or a seekable binary file object.

  Raises:
    DataContractError: no readable footer, or a repeated column name.
  """
  import pyarrow.parquet as pq
  try:
    schema = pq.read_schema(source)
  except Exception as e:  # pyarrow raises several error types here.
    raise DataContractError(
        f"{path}: not a readable Parquet file: {_one_line(e)}") from e
  names = schema.names
  repeated = sorted({n for n in names if names.count(n) > 1})
  if repeated:
    raise DataContractError(f"{path}: duplicate column names: "
                            f"{', '.join(map(repr, repeated))}")
  return schema


def _raw_parquet(path, table):
  """Reads a Parquet file into (raw frame, dead letters).

  A NaN in a float column of a number or time field is read as the text
  ``NaN``, as JSON Lines reads its ``NaN`` constant, so it is a bad value
  (``wrong_type``, ``bad_timestamp``) and not a missing one: pandas would
  make it NaN like a null, and a missing weight takes the default.

  Raises:
    DataContractError: the file is not Parquet, repeats a column name, or
      its data pages or a column cannot be read.
  """
  import pyarrow.parquet as pq
  _parquet_schema(path, path)
  try:
    arrow = pq.read_table(path)
  except Exception as e:  # pyarrow raises several error types here.
    raise DataContractError(
        f"{path}: not a readable Parquet file: {_one_line(e)}") from e
  if arrow.num_rows == 0 and arrow.num_columns == 0:
    return None, [dead_letter(table, path, 0, "empty_file",
                               f"{path.name} is empty: no columns", {})]
  try:
    frame = arrow.to_pandas().astype(object)
  except (pa.ArrowException, ValueError, OverflowError) as e:
    raise DataContractError(
        f"{path}: a column cannot be read: {_one_line(e)}") from e
  for f in table_spec(table).fields:
    if (f.type in ("number", "integer", "datetime")
        and f.name in arrow.column_names
        and pa.types.is_floating(arrow.schema.field(f.name).type)):
      column = arrow.column(f.name)
      values = frame[f.name].to_numpy(dtype=object, copy=True)
      values[pc.is_nan(column.cast(pa.float64())).fill_null(False).to_numpy(
          zero_copy_only=False)] = "NaN"
      # None, not pandas' float NaN, and an object column (pandas would
      # infer its str dtype, NaN for None): beside text, some NaN floats
      # make pandas.api.types.infer_dtype see a column of strings.
      values[column.is_null().to_numpy(zero_copy_only=False)] = None
      frame[f.name] = pd.Series(values, index=frame.index, dtype=object)
  frame.index = pd.Index(np.arange(1, len(frame) + 1), name=LINE)
  return frame, []
