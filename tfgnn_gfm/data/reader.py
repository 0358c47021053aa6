"""Reads contract tables (CSV, JSON Lines, Parquet; gzip too) into valid frames.

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
import io
import json
import logging
import math
import os
import pathlib
import re
import zlib
from typing import Any, BinaryIO, Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from tfgnn_gfm.data.contract import TableSpec, table_spec

_LOG = logging.getLogger(__name__)
_GZIP_MAGIC = b"\x1f\x8b"

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
# The supported time range, [1800-01-01, 2200-01-01) UTC, for ISO-8601 and
# epoch seconds alike: wide enough for publication dates and logs, narrow
# enough that no later stage overflows (nanosecond times end in 2262) and that
# epoch milliseconds are rejected.
MIN_TIMESTAMP = -5_364_662_400  # 1800-01-01T00:00:00Z
MAX_TIMESTAMP = 7_258_118_400  # 2200-01-01T00:00:00Z, exclusive
TIME_RANGE_TEXT = "1800-01-01T00:00:00Z <= t < 2200-01-01T00:00:00Z"
# The most bytes of one CSV or JSON Lines file after decompression (the
# reader holds a file's text in memory): a larger file, or a gzip that
# expands beyond it, is a one-line error, and decompression stops there.
# ``--max-input-bytes`` of gfm validate and gfm build-graph sets it.
MAX_INPUT_BYTES = 2 << 30
_ISO_YEAR = re.compile(r"^\s*([+-]?\d{4,})-")
_SURROGATES = re.compile("[\udc80-\udcff]")


class DataContractError(ValueError):
  """Raised for input that cannot be read as a table at all (wrong format)."""


class NoRowsError(DataContractError):
  """Raised when a table that must hold rows has none (empty, header only).

  ``gfm`` exits with ``exit_code`` (3, as for too many bad rows): the input is
  readable but there is nothing to work on.
  """

  exit_code = 3


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
        data, damage, whole = _decompress(path, stream, limit=size)
      else:
        data, damage = stream.read(size + 1), None
        whole = len(data) <= size
        data = data[:size]
    text, _ = _decode(path, data)
    if fmt == "jsonl":
      return
    # A damaged stream counts as read whole: nothing more can be read.
    if damage is not None or not whole:
      # The last line may be cut short (the full read of a damaged file
      # drops it the same way).
      text = text.rpartition("\n")[0] + "\n"
    if not text.strip():
      if damage is not None:
        raise _headless(path, damage)
      if whole:
        return  # An empty file: an empty_file dead letter, not an error.
    elif whole or _header_fits(text):
      _csv_header(path, _Lines(text))
      return
    if size >= _MAX_HEAD:
      return  # A header this long is left to the full read.
    size *= 4


def _header_fits(text: str) -> bool:
  """Whether the start of a CSV text holds its whole header record.

  False when the header record runs to the end of ``text`` without parsing
  (a quoted field going on past it).
  """
  lines = _Lines(text)
  try:
    next(csv.reader(lines, strict=True))
  except csv.Error:
    return sum(map(len, lines.taken)) < len(text)
  return True


def count_rows(raw: pd.DataFrame | None, dead: list[dict[str, Any]]) -> int:
  """Data rows of a parsed file: parsed rows plus unparsable records."""
  return (0 if raw is None else len(raw)) + sum(
      d["reason"] != "empty_file" for d in dead)


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
        _dead_letter(self.table, self.path, line, reason, msg, row, column)
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
    return _SURROGATES.sub("\ufffd", value)
  return value


def _dead_letter(table: str, path: pathlib.Path, line: Any, reason: str,
                 message: str, row: dict[str, Any],
                 column: str | None = None) -> dict[str, Any]:
  return {"table": table, "file": str(path), "line": int(line),
          "column": column, "reason": reason, "message": message,
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


_GZIP_CHUNK = 1 << 16
# A dead letter quotes at most this much of an unparsable record.
_MAX_QUOTED = 10_000


def _decompress(path: str | pathlib.PurePath, stream: BinaryIO,
                limit: int | None = None) -> tuple[bytes, str | None, bool]:
  """A gzip stream's bytes, why it ends early (None when whole), and whether
  it was read to its end.

  Two kinds of damage are told apart, because deflate only reveals changed
  bytes at the member's checksum (bit flips decompress to wrong rows that
  look fine until then):

  * **corrupt** (the deflate data or a checksum fails): no row of the file
    can be trusted, so the file is refused as a whole (``DataContractError``,
    a one-line error with exit 2);
  * **truncated** (the stream stops before its end, without a failed
    check): the bytes decompressed before the cut are kept (input is fed in
    chunks, so little is lost) and the damage is returned.

  Concatenated gzip members are read one after another; zero padding after
  the last member is allowed (as gzip allows), other bytes after it are
  ignored with a warning (as ``gzip -d`` does: the members before them
  passed their checksums).

  Args:
    path: the file's name, for messages.
    stream: the compressed bytes, read from the current position.
    limit: stop once this many bytes are decompressed (None: read all).

  Raises:
    DataContractError: the stream does not start with the gzip magic bytes,
      or is corrupt.
  """
  pending = stream.read(_GZIP_CHUNK)
  if pending[:2] != _GZIP_MAGIC:
    raise DataContractError(
        f"{path}: not a gzip file (it does not start with the gzip magic "
        "bytes); name it without .gz if it is not compressed")
  chunks: list[bytes] = []
  size = 0
  member = zlib.decompressobj(wbits=31)
  while True:
    if not pending:
      pending = stream.read(_GZIP_CHUNK)
      if not pending:
        break
    if member.eof:
      if not pending.strip(b"\x00"):
        pending = b""  # Zero padding after the last member, as gzip allows.
        continue
      if not _GZIP_MAGIC.startswith(pending[:2]):  # Not another member.
        ignored = len(pending) + len(stream.read())
        _LOG.warning("%s: %d bytes after the end of the gzip stream are "
                     "ignored (every member before them passed its "
                     "checksum)", path, ignored)
        return b"".join(chunks), None, True
      member = zlib.decompressobj(wbits=31)
    try:
      piece = member.decompress(pending, 0 if limit is None else limit - size)
    except zlib.error as e:
      raise DataContractError(
          f"{path}: the gzip stream is corrupt after {size:,} decompressed "
          f"bytes ({e}); deflate shows such damage only at the checksum, so "
          "no row of this file can be trusted: restore or re-create the "
          "file") from None
    chunks.append(piece)
    size += len(piece)
    pending = member.unused_data if member.eof else member.unconsumed_tail
    if limit is not None and size >= limit:
      return b"".join(chunks), None, False
  if not member.eof:
    return b"".join(chunks), (
        f"the gzip stream is truncated after {size:,} decompressed bytes"), True
  return b"".join(chunks), None, True


def _decode(path: str | pathlib.PurePath, data: bytes) -> tuple[str, bool]:
  """Decodes a file's bytes as UTF-8; returns (text, clean).

  ``clean`` is False when some bytes were not UTF-8: they are kept as
  surrogate escapes, so those records become ``bad_encoding`` dead letters.

  Raises:
    DataContractError: the file is UTF-16.
  """
  if data.startswith((b"\xff\xfe", b"\xfe\xff")):
    raise DataContractError(
        f"{path}: the file is UTF-16 encoded; the contract needs UTF-8 "
        "(re-save it as UTF-8)")
  head = data[:4096]
  if head.count(b"\x00") > len(head) // 4:
    raise DataContractError(
        f"{path}: the file looks UTF-16 encoded (every other byte is 0, no "
        "byte-order mark); the contract needs UTF-8")
  if data.startswith(b"\xef\xbb\xbf"):
    data = data[3:]
  try:
    return data.decode("utf-8"), True
  except UnicodeDecodeError:
    return data.decode("utf-8", errors="surrogateescape"), False


def _too_large(path: str | pathlib.PurePath,
               max_bytes: int) -> DataContractError:
  return DataContractError(
      f"{path}: more than {max_bytes:,} bytes after decompression (the "
      "reader's limit, --max-input-bytes); split the table into several "
      "files or raise the limit")


def _read_text(path: pathlib.Path, compressed: bool,
               max_bytes: int = MAX_INPUT_BYTES
               ) -> tuple[str, bool, str | None]:
  """Returns (text, clean, damage).

  ``clean`` is as in ``_decode``; ``damage`` says why the file ends early
  (a damaged gzip stream), else None.

  Raises:
    DataContractError: the file is not gzip although named so, or is UTF-16.
  """
  with open(path, "rb") as stream:
    if compressed:
      # Decompression stops one byte past the limit: a gzip bomb costs
      # at most the limit.
      data, damage, _ = _decompress(path, stream, limit=max_bytes + 1)
      too_large = len(data) > max_bytes
    else:
      too_large = os.fstat(stream.fileno()).st_size > max_bytes
      data, damage = (b"", None) if too_large else (stream.read(), None)
  if too_large:
    raise _too_large(path, max_bytes)
  return (*_decode(path, data), damage)


def _damage_letters(table: str, path: pathlib.Path, line: int, damage: str,
                    rest: str) -> list[dict[str, Any]]:
  """The dead letter for the cut-off record of a truncated file, if any.

  A truncated stream that stops inside a record loses that record: one
  ``damaged_file`` letter holds its text and counts as its row. A stream
  cut at a record boundary (a missing gzip trailer, say) loses no record
  that can be seen: no letter (good + dead stays equal to the rows read),
  a warning instead.
  """
  if not rest.strip("\r\n"):
    _LOG.warning("%s: %s at the end of line %d; every row before it is "
                 "kept and none was cut", path.name, damage, line - 1)
    return []
  return [_dead_letter(table, path, line, "damaged_file",
                       f"{path.name}: {damage}; the rows before line {line} "
                       "are kept", {"text": rest[:_MAX_QUOTED]})]


class _Lines:
  """Physical lines of a text, with push-back, for re-parsing CSV records.

  ``taken`` holds the lines handed out since the last ``start_record``.
  """

  def __init__(self, text: str):
    self._it = iter(io.StringIO(text, newline=""))
    self._back: list[str] = []
    self.taken: list[str] = []

  def __iter__(self) -> "_Lines":
    return self

  def __next__(self) -> str:
    line = self._back.pop() if self._back else next(self._it)
    self.taken.append(line)
    return line

  def start_record(self) -> None:
    self.taken = []

  def push_back(self, lines: list[str]) -> None:
    self._back.extend(reversed(lines))


def _headless(path: str | pathlib.PurePath, damage: str) -> DataContractError:
  """The error for a damaged CSV file that ends before its header does."""
  return DataContractError(f"{path}: {damage}; not even a header could be "
                           "read")


def _csv_header(path: str | pathlib.PurePath, lines: _Lines) -> list[str]:
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
  if any(_SURROGATES.search(h) for h in header):
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
  text, clean, damage = _read_text(path, compressed, max_bytes)
  dead = []
  if damage is not None:
    # The last line is cut short: it goes to the damage dead letter.
    text, _, rest = text.rpartition("\n")
    text += "\n" if text else ""
  if not text.strip():
    if damage is not None:
      raise _headless(path, damage)
    return None, [_dead_letter(table, path, 0, "empty_file",
                               f"{path.name} is empty: no header and no rows",
                               {})]
  lines = _Lines(text)
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
      dead.append(_dead_letter(table, path, line, "malformed_row",
                               f"line {line} {why}",
                               {"text": first[:_MAX_QUOTED]}))
      lines.push_back(taken[1:])
      line += 1
      reader = csv.reader(lines, strict=True)
      continue
    start, line = line, line + len(taken)
    if not "".join(taken).strip("\r\n"):
      continue  # An empty line; a line of spaces or a quoted "" is a row.
    if not clean and any(_SURROGATES.search(v) for v in record):
      dead.append(_dead_letter(
          table, path, start, "bad_encoding",
          f"line {start} holds bytes that are not UTF-8",
          dict(zip(header, record))))
      continue
    if len(record) != width:
      dead.append(_dead_letter(
          table, path, start, "malformed_row",
          f"line {start} has {len(record)} fields, the header has {width}",
          {"fields": [v[:_MAX_QUOTED] for v in record]}))
      continue
    rows.append(record)
    numbers.append(start)
  if damage is not None:
    dead.extend(_damage_letters(table, path, line, damage, rest))
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
  text, clean, damage = _read_text(path, compressed, max_bytes)
  dead = []
  rest = ""
  if damage is not None:
    text, _, rest = text.rpartition("\n")
  if not text.strip() and damage is None:
    return None, [_dead_letter(table, path, 0, "empty_file",
                               f"{path.name} is empty: no rows", {})]
  records, numbers = [], []
  physical = text.split("\n") if text else []
  for number, line in enumerate(physical, start=1):
    line = line.removesuffix("\r")
    if not line.strip():
      continue
    if not clean and _SURROGATES.search(line):
      dead.append(_dead_letter(table, path, number, "bad_encoding",
                               f"line {number} holds bytes that are not UTF-8",
                               {"text": line[:_MAX_QUOTED]}))
      continue
    try:
      record = json.loads(line, parse_constant=str)
    except (ValueError, RecursionError) as e:
      why = (f"{e.msg} (column {e.colno})"
             if isinstance(e, json.JSONDecodeError) else
             "nested too deeply" if isinstance(e, RecursionError) else str(e))
      dead.append(_dead_letter(table, path, number, "malformed_row",
                               f"line {number} is not valid JSON: {why}",
                               {"text": line[:_MAX_QUOTED]}))
      continue
    if not isinstance(record, dict):
      dead.append(_dead_letter(table, path, number, "malformed_row",
                               f"line {number} is not a JSON object",
                               {"text": line[:_MAX_QUOTED]}))
      continue
    records.append(record)
    numbers.append(number)
  if damage is not None:
    dead.extend(_damage_letters(table, path, len(physical) + 1, damage, rest))
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
    return None, [_dead_letter(table, path, 0, "empty_file",
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
  return as_text.isna() | as_text.map(
      lambda v: isinstance(v, str) and not v).astype(bool)


# String fields that also take a list of strings (joined by ";"), as the
# schema says of them; in any other string field (an id) a list is wrong_type.
LIST_FIELDS = frozenset({"genres"})


def _to_string(series: pd.Series, lists: bool = False
               ) -> tuple[pd.Series, pd.Series]:
  """(values as str, bad mask): numbers become their text; with ``lists``,
  a list of strings joins with ``;`` (else it is bad)."""
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
    if lists and isinstance(v, (list, tuple, np.ndarray)) and all(
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


def _datetimes_to_seconds(values: pd.Series) -> np.ndarray:
  """Datetimes (any unit, naive = UTC) as int64 epoch seconds; NaT = min."""
  utc = pd.to_datetime(values, utc=True).dt.tz_convert(None)
  return utc.to_numpy().astype("datetime64[s]").astype(np.int64)


def _has_huge_year(value: Any) -> bool:
  match = _ISO_YEAR.match(value) if isinstance(value, str) else None
  return bool(match) and len(match.group(1).lstrip("+-")) > 4


def parse_timestamps(series: pd.Series
                     ) -> tuple[pd.Series, pd.Series, pd.Series]:
  """Parses ISO-8601 strings, epoch seconds or datetimes to int64 epoch seconds.

  A time without a zone is taken as UTC. Times outside
  ``[MIN_TIMESTAMP, MAX_TIMESTAMP)`` are bad, whatever their spelling.

  Args:
    series: values of any of those kinds (no empties).

  Returns:
    (epoch seconds as int64 with 0 where bad, bad mask, the part of the bad
    mask that is a valid time outside the supported range).
  """
  index = series.index
  secs = pd.Series(np.zeros(len(series), dtype=np.int64), index=index)
  bad = pd.Series(np.zeros(len(series), dtype=bool), index=index)
  out_of_range = bad.copy()
  if pd.api.types.is_datetime64_any_dtype(series):
    raw = _datetimes_to_seconds(series)
    nat = raw == np.iinfo(np.int64).min
    outside = ~nat & ((raw < MIN_TIMESTAMP) | (raw >= MAX_TIMESTAMP))
    secs[:] = np.where(nat | outside, 0, raw)
    return secs, pd.Series(nat | outside, index=index), pd.Series(
        outside, index=index)
  values = series.map(lambda v: v.isoformat() if isinstance(v, pd.Timestamp)
                      else v)
  arrow = _arrow_strings(values)
  if arrow is not None:
    is_num = pd.Series(pc.match_substring_regex(arrow, _NUMBER).to_numpy(
        zero_copy_only=False), index=index)
    numeric = pd.to_numeric(values.where(is_num), errors="coerce")
  else:
    numeric = values.map(
        lambda v: float(v) if isinstance(
            v, (int, float, np.integer, np.floating))
        and not isinstance(v, bool) else (
            float(v) if isinstance(v, str) and re.fullmatch(_NUMBER, v)
            else np.nan)).astype("float64")
    is_num = numeric.notna()
  if is_num.any():
    num = numeric[is_num].astype("float64")
    outside = ~((num >= MIN_TIMESTAMP) & (num < MAX_TIMESTAMP))
    secs[is_num] = np.floor(num.where(~outside, 0)).astype(np.int64)
    bad[is_num] = outside
    out_of_range[is_num] = outside & np.isfinite(num)
  text = values[~is_num]
  if len(text):
    as_str = text.map(lambda v: v if isinstance(v, str) else None)
    parsed = pd.to_datetime(as_str, format="ISO8601", utc=True,
                            errors="coerce")
    raw = _datetimes_to_seconds(parsed)
    nat = raw == np.iinfo(np.int64).min
    outside = ~nat & ((raw < MIN_TIMESTAMP) | (raw >= MAX_TIMESTAMP))
    # A year pandas cannot hold at all (+10000-01-01) is out of range too.
    huge = nat & text.map(_has_huge_year).to_numpy(bool)
    ok = ~nat & ~outside
    secs[text.index[ok]] = raw[ok]
    bad[text.index[~ok]] = True
    out_of_range[text.index[outside | huge]] = True
  return secs, bad, out_of_range


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
      empty = _is_empty(data.frame[f.name])
      data.reject(empty, "missing_value", f"{f.name} is empty",
                  column=f.name)
  converted = {}
  for f in spec.fields:
    column = data.frame[f.name]
    present = column[~_is_empty(column)]
    outside = None
    if f.type == "string":
      values, bad = _to_string(present, lists=f.name in LIST_FIELDS)
    elif f.type in ("number", "integer"):
      values, bad = _to_number(present)
      if f.type == "integer":
        bad |= ~values.fillna(0).map(float.is_integer)
    elif f.type == "datetime":
      values, bad, outside = parse_timestamps(present)
    else:  # array
      values, bad = _to_array(present)
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
