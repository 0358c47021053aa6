"""Property tests of the reader (hypothesis): whatever a file holds, every
data row is either a good row or a dead letter, and a file that cannot be
read at all is one documented one-line error naming the file."""

import csv
import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfgnn_gfm.data.contract import table_spec
from tfgnn_gfm.data.reader import (
  DEAD_LETTER_REASONS,
  DataContractError,
  check_header,
  read_raw,
  read_table,
)

TABLES = ("items", "interactions", "users")
SUFFIXES = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".parquet")
_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow,
                                            HealthCheck.function_scoped_fixture])

# Text without lone surrogates (they cannot be written as UTF-8 at all).
_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_SPECIAL = st.sampled_from([
    "", " ", "NaN", "nan", "inf", "-1", "0", "1.5", "1e400", "-0.0",
    "2024-01-01", "2024-01-01T10:00:00+02:00", "9999-01-01T00:00:00Z",
    "2999-01-01T00:00:00Z", "+10000-01-01", "1700000000", "1700000000000",
    "-99999999999", '"', '""', "a,b", "line\nbreak", "cr\rlf", "\u2028",
    "\u2029", "\u0085", "\x00", "[1, 2]", "0.5;1.5", "{}", "\ufeff"])
_VALUE = st.one_of(_TEXT, _SPECIAL)
_JSON_VALUE = st.one_of(
    _VALUE, st.none(), st.booleans(), st.integers(-10**20, 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.floats(-5, 5), max_size=3), st.dictionaries(_TEXT, _TEXT,
                                                            max_size=2))


def _columns(table):
  return st.lists(st.sampled_from(list(table_spec(table).field_names)
                                  + ["extra", "mood"]),
                  min_size=1, max_size=8, unique=True)


def _check(path, table, rows=None):
  """Reads ``path``: dead letters or a one-line error, nothing else."""
  try:
    data = read_table(path, table)
  except DataContractError as e:
    message = str(e)
    assert "\n" not in message and str(path) in message
    assert len(message) < 1000
    return None
  # An empty file's one dead letter stands for the file, not for a row.
  rows_dead = [d for d in data.dead_letters if d["reason"] != "empty_file"]
  assert len(data.frame) + len(rows_dead) == data.rows_read
  if rows is not None:
    assert data.rows_read == rows
  for letter in data.dead_letters:
    assert letter["reason"] in DEAD_LETTER_REASONS
    assert isinstance(letter["line"], int) and letter["line"] >= 0
    assert letter["table"] == table
    # Dead letters are written as strict JSON.
    json.dumps(letter, allow_nan=False, ensure_ascii=False).encode("utf-8")
  return data


@_SETTINGS
@given(data=st.binary(max_size=400), table=st.sampled_from(TABLES),
       suffix=st.sampled_from(SUFFIXES), compress=st.booleans(),
       cut=st.integers(0, 400))
def test_arbitrary_bytes(tmp_path_factory, data, table, suffix, compress,
                         cut):
  path = tmp_path_factory.mktemp("bytes") / f"{table}{suffix}"
  if suffix.endswith(".gz") and compress:
    # Valid gzip around arbitrary bytes, possibly truncated.
    data = gzip.compress(data)
    data = data[:max(cut, 2)] if cut < len(data) else data
  path.write_bytes(data)
  _check(path, table)


def _error(function, *args):
  """The one-line error ``function(*args)`` raises, or None."""
  try:
    function(*args)
  except DataContractError as e:
    return str(e)
  return None


@_SETTINGS
@given(data=st.binary(max_size=400), suffix=st.sampled_from(SUFFIXES),
       compress=st.booleans(), cut=st.integers(0, 400))
def test_header_check_agrees_with_the_full_read(tmp_path_factory, data,
                                                suffix, compress, cut):
  path = tmp_path_factory.mktemp("head") / f"items{suffix}"
  if suffix.endswith(".gz") and compress:
    data = gzip.compress(data)
    data = data[:max(cut, 2)] if cut < len(data) else data
  path.write_bytes(data)
  assert _error(check_header, path) == _error(read_raw, path, "items")


@_SETTINGS
@given(header=st.one_of(st.binary(max_size=200), st.lists(
    st.one_of(_VALUE, st.sampled_from(["item_id", "title"])), min_size=1,
    max_size=6).map(lambda names: ",".join(
        f'"{n}"' if "," in n or "\n" in n else n for n in names).encode(
            "utf-8"))),
       gz=st.booleans(), cut=st.floats(0.0, 1.0))
def test_header_check_of_a_long_file_reads_its_start_only(
    tmp_path_factory, header, gz, cut):
  # Longer than the check reads at first: the check sees a part of the file.
  data = header + b"\n" + b"a,b\n" * 18_000
  if gz:
    data = gzip.compress(data)
    if cut < 0.5:
      data = data[:max(2, int(len(data) * cut * 2))]
  path = tmp_path_factory.mktemp("long") / f"items.csv{'.gz' if gz else ''}"
  path.write_bytes(data)
  assert _error(check_header, path) == _error(read_raw, path, "items")


@_SETTINGS
@given(table=st.sampled_from(TABLES), columns=st.data(),
       rows=st.data(), gz=st.booleans())
def test_arbitrary_csv_rows(tmp_path_factory, table, columns, rows, gz):
  names = columns.draw(_columns(table))
  body = rows.draw(st.lists(st.lists(_VALUE, min_size=len(names),
                                     max_size=len(names)), max_size=12))
  buffer = io.StringIO(newline="")
  writer = csv.writer(buffer)
  writer.writerow(names)
  writer.writerows(body)
  text = buffer.getvalue().encode("utf-8")
  path = tmp_path_factory.mktemp("csv") / f"{table}.csv{'.gz' if gz else ''}"
  path.write_bytes(gzip.compress(text) if gz else text)
  # Every written record is one row: good or a dead letter.
  _check(path, table, rows=len(body))


@_SETTINGS
@given(table=st.sampled_from(TABLES), columns=st.data(), rows=st.data(),
       raw_lines=st.lists(st.one_of(_TEXT, st.sampled_from(
           ["[1]", "null", "{", "NaN", '"x"', "{\"a\": NaN}"])), max_size=3))
def test_arbitrary_json_lines(tmp_path_factory, table, columns, rows,
                              raw_lines):
  names = columns.draw(_columns(table))
  body = rows.draw(st.lists(st.fixed_dictionaries(
      {n: _JSON_VALUE for n in names}), max_size=10))
  lines = [json.dumps(r, ensure_ascii=False) for r in body]
  # Lines that are not JSON objects are rows too (malformed ones), unless
  # they are blank.
  lines += [line for line in raw_lines if "\n" not in line]
  expected = len(body) + sum(
      1 for line in raw_lines if "\n" not in line and line.strip())
  path = tmp_path_factory.mktemp("jsonl") / f"{table}.jsonl"
  path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
  _check(path, table, rows=expected)


@_SETTINGS
@given(table=st.sampled_from(TABLES), columns=st.data(), rows=st.data())
def test_arbitrary_parquet_rows(tmp_path_factory, table, columns, rows):
  names = columns.draw(_columns(table))
  n = rows.draw(st.integers(0, 10))
  arrays = {}
  for name in names:
    kind = rows.draw(st.sampled_from(["text", "int", "float", "time"]))
    if kind == "text":
      arrays[name] = pa.array(rows.draw(st.lists(
          st.one_of(_VALUE, st.none()), min_size=n, max_size=n)), pa.string())
    elif kind == "int":
      arrays[name] = pa.array(rows.draw(st.lists(
          st.integers(-2**62, 2**62), min_size=n, max_size=n)), pa.int64())
    elif kind == "float":
      arrays[name] = pa.array(rows.draw(st.lists(
          st.one_of(st.floats(), st.none()), min_size=n, max_size=n)),
                              pa.float64())
    else:
      seconds = rows.draw(st.lists(st.integers(-62135596800, 253402300799),
                                   min_size=n, max_size=n))
      arrays[name] = pa.array(seconds, pa.int64()).cast(pa.timestamp("s"))
  path = tmp_path_factory.mktemp("parquet") / f"{table}.parquet"
  pq.write_table(pa.table(arrays), path)
  _check(path, table, rows=n)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_floats_in_parquet_weights(tmp_path, value):
  path = tmp_path / "interactions.parquet"
  pq.write_table(pa.table({"user_id": ["u", "u"], "item_id": ["i", "i"],
                           "timestamp": [1, 2], "weight": [value, 2.0]}),
                 path)
  data = _check(path, "interactions", rows=2)
  # NaN and infinity are bad values, not missing ones (a null is missing).
  assert [(d["line"], d["column"], d["reason"])
          for d in data.dead_letters] == [(1, "weight", "wrong_type")]
  assert data.frame["weight"].tolist() == [2.0]
