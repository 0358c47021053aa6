"""Reading and row-local validation of the input tables inside Beam.

An input is a file or a glob of shards (``interactions-*.csv``), local or on
any file system Beam knows (``gs://``, ``s3://``, ``hdfs://``). Each matched
file is one element; ``ReadTableFileFn`` parses it with the project's own raw
readers (``tfgnn_gfm.data.reader``: CSV, JSON Lines, Parquet, optionally gzip'd)
and validates it in chunks of ``read_chunk_rows`` rows with
``tfgnn_gfm.data.validate_rows`` (the row-local checks of the data contract).
Good rows leave as ``RowBatch`` elements, bad rows as dead letters on the
``dead_letters`` output, each counted in the Beam counter
``dead_letters.<table>.<reason>``. Key checks (duplicate ids, unknown items,
unknown parents) need other rows and are done by key in ``beam/validation.py``.

A file is parsed whole before it is chunked (the raw readers parse a whole
file), so files should be sharded for parallelism and memory: a runner reads
different files on different workers.
"""

from __future__ import annotations

import logging
import os
import pathlib
import shutil
import tempfile
from typing import Any, Iterator

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from beam.elements import DEAD_LETTERS, METRICS_NAMESPACE, SUMMARY, RowBatch
from tfgnn_gfm.artifacts import ArtifactError
from tfgnn_gfm.data import reader
from tfgnn_gfm.data.contract import table_spec

_LOG = logging.getLogger(__name__)


def is_remote(path: str) -> bool:
  """Whether a path is a URL of a remote file system (``gs://`` etc.)."""
  return "://" in str(path)


def match_files(pattern: str) -> list[str]:
  """Expands a file or glob into a sorted list of files.

  Args:
    pattern: a path or glob, local or remote.

  Returns:
    The matching files, sorted (their order decides which duplicate is kept).

  Raises:
    tfgnn_gfm.artifacts.ArtifactError: when nothing matches.
  """
  if not is_remote(pattern):
    pattern = os.path.abspath(os.path.expanduser(pattern))
  try:
    results = FileSystems.match([pattern])[0].metadata_list
  except Exception as e:  # Beam raises BeamIOError for unmatched patterns.
    raise ArtifactError(f"{pattern}: cannot list files: {e}") from e
  files = sorted(m.path for m in results)
  if not files:
    raise ArtifactError(f"no input file matches {pattern}")
  return files


def dead_letter_counter(table: str, reason: str):
  """The Beam counter of one table's dead letters for one reason."""
  return Metrics.counter(METRICS_NAMESPACE, f"dead_letters.{table}.{reason}")


def count_dead_letters(letters: list[dict[str, Any]]) -> None:
  """Increments the dead-letter counters for each letter."""
  for letter in letters:
    dead_letter_counter(letter["table"], letter["reason"]).inc()


# Local input files up to this size are parsed once on the driver before the
# pipeline starts, so an unreadable or row-less small file fails at once.
PREFLIGHT_BYTES = 8 << 20


def preflight(table: str, files: list[str], require_rows: bool,
              max_bytes: int = reader.MAX_INPUT_BYTES) -> None:
  """Checks a table's files on the driver before the pipeline starts.

  Small local files are parsed whole, larger or remote ones checked by what
  decides whether they can be read at all (``reader.check_header``: the
  first 64 KiB of a text file, the footer of a Parquet file), so a damaged
  file stops the run with its one-line error before any worker starts. A
  table whose every file is small and row-less (empty or header only) is an
  error when ``require_rows``; large or remote files are not row-less.

  Raises:
    tfgnn_gfm.data.reader.DataContractError: a file cannot be read.
    tfgnn_gfm.data.reader.NoRowsError: ``require_rows`` and no file has a
      data row.
  """
  rows, headers = 0, 0
  for path in files:
    if is_remote(path):
      reader.check_header(path, lambda p=path: FileSystems.open(
          p, compression_type="uncompressed"))
      headers += 1
    elif os.path.getsize(path) > PREFLIGHT_BYTES:
      reader.check_header(path)
      headers += 1
    else:
      rows += reader.count_rows(*reader.read_raw(path, table, max_bytes))
  if headers:
    _LOG.info("preflight %s: %d files parsed, %d large or remote files "
              "checked by their header", table, len(files) - headers, headers)
  if require_rows and files and not headers and not rows:
    raise no_rows_error(table, files)


def no_rows_error(table: str, files: list[str]) -> reader.NoRowsError:
  """The error for a table whose files hold no data row (exit 3)."""
  return reader.NoRowsError(
      f"{', '.join(files)}: the {table} table has no data rows (empty or "
      "header only); there is nothing to build a graph from")


# The summary key of files that cannot be read at all: {message: 1}.
FILE_ERRORS = "file_errors"


class ReadTableFileFn(beam.DoFn):
  """Reads one input file: yields RowBatch chunks and dead letters.

  Input elements are ``(file_index, path)``; the main output is ``RowBatch``,
  the ``dead_letters`` output the contract's dead-letter dicts, ``summary``
  the number of rows read, or for a file that cannot be read at all its
  one-line error under ``FILE_ERRORS``.
  """

  def __init__(self, table: str, chunk_rows: int,
               max_bytes: int = reader.MAX_INPUT_BYTES):
    super().__init__()
    self._table = table
    self._chunk_rows = int(chunk_rows)
    self._max_bytes = int(max_bytes)
    self._rows = Metrics.counter(METRICS_NAMESPACE, f"rows_read.{table}")
    self._good = Metrics.counter(METRICS_NAMESPACE, f"rows_valid.{table}")

  def process(self, element: tuple[int, str]) -> Iterator[Any]:
    file_index, path = element
    spec = table_spec(self._table)
    error = None
    # The reader's raw parsers: the same parsing as tfgnn_gfm.data.read_table.
    with _local_copy(path) as local:
      try:
        raw, dead = reader.read_raw(local, self._table, self._max_bytes)
      except reader.DataContractError as e:
        # Damage the driver's preflight cannot see (inside Parquet data
        # pages): raised here, Beam would log a traceback per retry, so the
        # error goes to the summary and the driver raises it after the run.
        error = " ".join(str(e).replace(str(local), path).split())
    if error is not None:
      yield beam.pvalue.TaggedOutput(SUMMARY, {FILE_ERRORS: {error: 1}})
      return
    for letter in dead:
      letter["file"] = path
    rows = reader.count_rows(raw, dead)
    self._rows.inc(rows)
    _LOG.info("read %s: %s rows from %s", self._table, f"{rows:,}", path)
    count_dead_letters(dead)
    yield beam.pvalue.TaggedOutput(SUMMARY, {"tables": {self._table: {
        "rows_read": rows}}})
    for letter in dead:
      yield beam.pvalue.TaggedOutput(DEAD_LETTERS, letter)
    if raw is None:
      return
    columns = list(raw.columns)
    for start in range(0, max(len(raw), 1), self._chunk_rows):
      chunk = raw.iloc[start:start + self._chunk_rows].copy()
      data = reader.TableData(self._table, pathlib.PurePath(path), chunk, [],
                              [], len(chunk), source_columns=columns)
      reader.validate_rows(data, spec)
      for letter in data.dead_letters:
        letter["file"] = path
      count_dead_letters(data.dead_letters)
      for letter in data.dead_letters:
        yield beam.pvalue.TaggedOutput(DEAD_LETTERS, letter)
      self._good.inc(len(data.frame))
      if len(data.frame):
        yield RowBatch(self._table, path, file_index, columns, data.frame)


class _LocalCopy:
  """Context manager: a local path for a possibly remote file."""

  def __init__(self, path: str):
    self._path = path
    self._tmp = None

  def __enter__(self) -> pathlib.Path:
    if not is_remote(self._path):
      return pathlib.Path(self._path)
    self._tmp = tempfile.mkdtemp(prefix="gfm-read-")
    local = pathlib.Path(self._tmp) / self._path.rstrip("/").rsplit("/", 1)[-1]
    with FileSystems.open(self._path, compression_type="uncompressed") as src:
      with open(local, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 22)
    return local

  def __exit__(self, *exc) -> None:
    if self._tmp:
      shutil.rmtree(self._tmp, ignore_errors=True)


def _local_copy(path: str) -> _LocalCopy:
  return _LocalCopy(path)


class ReadTable(beam.PTransform):
  """Reads the files of one table.

  Output: ``rows`` (RowBatch), ``dead_letters`` and ``summary`` (rows read).
  """

  def __init__(self, table: str, files: list[str], chunk_rows: int,
               max_bytes: int = reader.MAX_INPUT_BYTES):
    super().__init__()
    self._table = table
    self._files = list(files)
    self._chunk_rows = chunk_rows
    self._max_bytes = max_bytes

  def expand(self, pbegin):
    return (pbegin
            | "Files" >> beam.Create(list(enumerate(self._files)))
            | "Reshuffle" >> beam.Reshuffle()
            | "ReadAndValidate" >> beam.ParDo(
                ReadTableFileFn(self._table, self._chunk_rows,
                                self._max_bytes)).with_outputs(
                    DEAD_LETTERS, SUMMARY, main="rows"))
