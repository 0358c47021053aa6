"""Crafted hostile input files: each bad value or damage is accounted for.

One test (or a few) per "must be true" of the input-data hardening: bad
values become dead letters with reason, line and column; damaged files give
one-line errors or keep the rows before the damage; rows are counted right.
"""

import datetime
import gzip
import io
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tfgnn_gfm.data import reader
from tfgnn_gfm.data.reader import (
  MAX_TIMESTAMP,
  MIN_TIMESTAMP,
  DataContractError,
  read_table,
)

_REPO = pathlib.Path(__file__).resolve().parents[2]


def _letters(data):
  return sorted((d["line"], d["column"], d["reason"])
                for d in data.dead_letters)


def _accounted(data, rows):
  """Every data row of the file is a good row or a dead letter."""
  assert data.rows_read == rows
  assert len(data.frame) + len(data.dead_letters) == rows


# Bad values are dead letters with reason, line and column.


def test_iso_times_outside_the_range_are_dead_letters(tmp_path):
  path = tmp_path / "items.csv"
  path.write_text(
      "item_id,item_type,title,published_at\n"
      "a,podcast,A,2999-01-01T00:00:00Z\n"
      "b,podcast,B,9999-12-31T23:59:59Z\n"
      "c,podcast,C,+10000-01-01T00:00:00Z\n"
      "d,podcast,D,1799-12-31T23:59:59Z\n"
      "e,podcast,E,2024-01-01T00:00:00Z\n"
      "f,podcast,F,1800-01-01T00:00:00Z\n"
      "g,podcast,G,2199-12-31T23:59:59Z\n")
  data = read_table(path, "items")
  assert _letters(data) == [(2, "published_at", "bad_timestamp"),
                            (3, "published_at", "bad_timestamp"),
                            (4, "published_at", "bad_timestamp"),
                            (5, "published_at", "bad_timestamp")]
  for letter in data.dead_letters:
    assert "outside the supported range" in letter["message"]
  assert data.frame["item_id"].tolist() == ["e", "f", "g"]
  assert data.frame["published_at"].tolist() == [
      1704067200, MIN_TIMESTAMP, MAX_TIMESTAMP - 1]
  _accounted(data, 7)


def test_epoch_seconds_share_the_range(tmp_path):
  path = tmp_path / "interactions.csv"
  path.write_text(
      "user_id,item_id,timestamp\n"
      f"u,i,{MIN_TIMESTAMP - 1}\nu,i,{MIN_TIMESTAMP}\n"
      f"u,i,{MAX_TIMESTAMP - 1}\nu,i,{MAX_TIMESTAMP}\n"
      "u,i,1700000000000\n")
  data = read_table(path, "interactions")
  assert _letters(data) == [(2, "timestamp", "bad_timestamp"),
                            (5, "timestamp", "bad_timestamp"),
                            (6, "timestamp", "bad_timestamp")]
  assert data.frame["timestamp"].tolist() == [MIN_TIMESTAMP,
                                              MAX_TIMESTAMP - 1]


def test_parquet_timestamps_in_year_9999(tmp_path):
  path = tmp_path / "interactions.parquet"
  pq.write_table(pa.table({
      "user_id": ["u1", "u2"], "item_id": ["i", "i"],
      "timestamp": pa.array([datetime.datetime(9999, 1, 1),
                             datetime.datetime(2024, 1, 1)],
                            pa.timestamp("s"))}), path)
  data = read_table(path, "interactions")
  assert _letters(data) == [(1, "timestamp", "bad_timestamp")]
  assert "outside the supported range" in data.dead_letters[0]["message"]
  assert data.frame["timestamp"].tolist() == [1704067200]


def test_negative_weight_is_out_of_range(tmp_path):
  path = tmp_path / "interactions.csv"
  path.write_text("user_id,item_id,timestamp,weight\nu,i,1,-0.5\nu,i,2,0\n"
                  "u,i,3,7\n")
  data = read_table(path, "interactions")
  assert _letters(data) == [(2, "weight", "out_of_range")]
  assert data.dead_letters[0]["message"] == (
      "weight='-0.5' is below the minimum 0")
  assert data.frame["weight"].tolist() == [0.0, 7.0]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_weight_in_json_lines(tmp_path, constant):
  path = tmp_path / "interactions.jsonl"
  path.write_text(
      '{"user_id": "u", "item_id": "i", "timestamp": 1, "weight": %s}\n'
      '{"user_id": "u", "item_id": "i", "timestamp": 2}\n' % constant)
  data = read_table(path, "interactions")
  # Not the default 1.0: a NaN weight is a bad value.
  assert _letters(data) == [(1, "weight", "wrong_type")]
  assert data.frame["weight"].tolist() == [1.0]
  json.dumps(data.dead_letters, allow_nan=False)


def test_non_finite_floats_in_parquet_are_dead_letters(tmp_path):
  path = tmp_path / "interactions.parquet"
  nan, inf = float("nan"), float("inf")
  pq.write_table(pa.table({
      "user_id": ["u1", "u2", "u3", "u4", "u5"],
      "item_id": ["i", "i", "i", "i", "i"],
      "timestamp": pa.array([1.0, 2.0, nan, 4.0, 5.0]),
      "weight": pa.array([nan, None, 2.0, -inf, 3.0])}), path)
  data = read_table(path, "interactions")
  # NaN is a bad value like JSON Lines' NaN; a null is missing (the default).
  assert _letters(data) == [(1, "weight", "wrong_type"),
                            (3, "timestamp", "bad_timestamp"),
                            (4, "weight", "wrong_type")]
  messages = {d["line"]: d["message"] for d in data.dead_letters}
  assert messages[1] == "weight='NaN' is not a valid number"
  assert messages[3] == "timestamp='NaN' is not a valid datetime"
  assert data.frame["user_id"].tolist() == ["u2", "u5"]
  assert data.frame["weight"].tolist() == [1.0, 3.0]
  json.dumps(data.dead_letters, allow_nan=False)
  _accounted(data, 5)
  # Only NaN and null: the bad values are then all text.
  pq.write_table(pa.table({"user_id": ["u1", "u2"], "item_id": ["i", "i"],
                           "timestamp": [1, 2], "weight": [nan, None]}), path)
  data = read_table(path, "interactions")
  assert _letters(data) == [(1, "weight", "wrong_type")]
  assert data.frame["weight"].tolist() == [1.0]


# Damaged files give one clear error, or keep the rows before the
# damage with a dead letter.


def _interactions_csv(rows):
  return "user_id,item_id,timestamp\n" + "".join(
      f"u{i},i{i},{1700000000 + i}\n" for i in range(rows))


def test_csv_field_over_the_limit_costs_one_row(tmp_path):
  path = tmp_path / "items.csv"
  path.write_text("item_id,item_type,title\na,podcast,A\n"
                  f"b,podcast,{'x' * 131_073}\nc,podcast,C\n")
  data = read_table(path, "items")
  assert _letters(data) == [(3, None, "malformed_row")]
  assert "field larger than field limit" in data.dead_letters[0]["message"]
  # The dead letter quotes a bounded part of the line.
  assert len(data.dead_letters[0]["row"]["text"]) <= 10_000
  assert data.frame["item_id"].tolist() == ["a", "c"]
  _accounted(data, 3)


def test_truncated_gzip_keeps_the_rows_before_the_damage(tmp_path):
  path = tmp_path / "interactions.csv.gz"
  whole = gzip.compress(_interactions_csv(5000).encode())
  path.write_bytes(whole[:len(whole) // 2])
  data = read_table(path, "interactions")
  damaged = [d for d in data.dead_letters if d["reason"] == "damaged_file"]
  assert len(damaged) == 1 and len(data.dead_letters) == 1
  assert "gzip stream is truncated" in damaged[0]["message"]
  good = len(data.frame)
  assert 0 < good < 5000
  # The rows kept are exactly the first ones, and the damage letter sits on
  # the first line that was not read.
  assert data.frame["user_id"].tolist() == [f"u{i}" for i in range(good)]
  assert damaged[0]["line"] == good + 2
  assert data.rows_read == good + 1


def _cli_error(tmp_path, capsys, command, interactions_gz, *args):
  """Runs a command in-process on a folder whose interactions.csv.gz holds
  ``interactions_gz``; returns its one stderr line (exit 2, no output)."""
  from tfgnn_gfm.cli.gfm import main
  folder = tmp_path / "data"
  folder.mkdir()
  (folder / "items.csv").write_text("item_id,item_type,title\ni0,podcast,A\n")
  (folder / "interactions.csv.gz").write_bytes(interactions_gz)
  assert main([command, str(folder), "--out", str(tmp_path / "v"),
               *args]) == 2
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1, err
  assert "Traceback" not in err
  assert not (tmp_path / "v").exists()
  return err


def _corrupt_gzip(rows=20_000, flipped=64):
  """A gzip of ``rows`` rows with ``flipped`` bytes inverted in the middle."""
  data = bytearray(gzip.compress(_interactions_csv(rows).encode()))
  middle = len(data) // 2
  for i in range(middle, middle + flipped):
    data[i] ^= 0xFF
  return bytes(data)


def test_corrupt_gzip_is_refused_whole(tmp_path):
  """Flipped bytes decompress to changed rows that look fine until the
  checksum: no row of such a file is kept."""
  path = tmp_path / "interactions.csv.gz"
  path.write_bytes(_corrupt_gzip())
  with pytest.raises(DataContractError, match=r"interactions.csv.gz: the gzip "
                     r"stream is corrupt .* no row of this file can be "
                     r"trusted"):
    read_table(path, "interactions")
  with pytest.raises(DataContractError, match="corrupt"):
    reader.read_raw(path, "interactions")


@pytest.mark.parametrize("damage", ["no_trailer", "text_after", "zero_padding",
                                    "two_members"])
def test_gzip_cut_at_a_row_boundary_keeps_every_row_and_no_phantom(tmp_path,
                                                                   damage):
  """A missing 8-byte trailer, or bytes after the stream: all 4,000 rows,
  no dead letter, rows read = 4,000 (good + dead = rows)."""
  path = tmp_path / "interactions.csv.gz"
  body = _interactions_csv(4000).encode()
  whole = gzip.compress(body)
  data = {"no_trailer": whole[:-8],
          "text_after": whole + b"some text after the stream\n",
          "zero_padding": whole + b"\x00" * 100,
          "two_members": gzip.compress(body[:50_000]) + gzip.compress(
              body[50_000:])}[damage]
  path.write_bytes(data)
  table = read_table(path, "interactions")
  assert len(table.frame) == 4000
  assert table.dead_letters == []
  assert table.rows_read == 4000


@pytest.mark.parametrize("command", ["validate", "build-graph"])
def test_corrupt_gzip_through_the_cli_is_one_line_exit_2(tmp_path, capsys,
                                                         command):
  err = _cli_error(tmp_path, capsys, command, _corrupt_gzip(3000))
  assert "interactions.csv.gz: the gzip stream is corrupt" in err


def test_gz_that_is_not_gzip_is_one_clear_error(tmp_path):
  path = tmp_path / "interactions.csv.gz"
  path.write_text(_interactions_csv(3))
  with pytest.raises(DataContractError, match=r"interactions.csv.gz: not a "
                     r"gzip file"):
    read_table(path, "interactions")


def test_duplicate_header_names_are_one_clear_error(tmp_path):
  path = tmp_path / "items.csv"
  path.write_text("item_id,item_type,title,title\na,podcast,A,B\n")
  with pytest.raises(DataContractError,
                     match=r"items.csv: duplicate column names in the "
                     r"header: 'title'"):
    read_table(path, "items")
  parquet = tmp_path / "items.parquet"
  pq.write_table(pa.Table.from_arrays(
      [pa.array(["a"]), pa.array(["podcast"]), pa.array(["A"]),
       pa.array(["B"])], names=["item_id", "item_type", "title", "title"]),
      parquet)
  with pytest.raises(DataContractError, match=r"duplicate column names"):
    read_table(parquet, "items")


def test_latin1_header_is_one_clear_error(tmp_path):
  path = tmp_path / "items.csv"
  path.write_bytes("item_id,item_type,title,r\u00e9sum\u00e9\n"
                   "a,podcast,A,x\n".encode("latin-1"))
  with pytest.raises(DataContractError, match=r"items.csv: the header is not "
                     r"UTF-8 \(Latin-1"):
    read_table(path, "items")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_utf16_file_is_one_clear_error(tmp_path, encoding):
  path = tmp_path / "items.csv"
  path.write_bytes("item_id,item_type,title\na,podcast,A\n".encode(encoding))
  with pytest.raises(DataContractError, match=r"items.csv: the file (is|looks)"
                     r" UTF-16"):
    read_table(path, "items")


@pytest.mark.parametrize("command", ["validate", "build-graph"])
def test_damaged_file_through_the_cli_is_one_line_exit_2(tmp_path, capsys,
                                                         command):
  err = _cli_error(tmp_path, capsys, command,
                   _interactions_csv(3).encode())
  assert "interactions.csv.gz: not a gzip file" in err


# Files over beam.read.PREFLIGHT_BYTES are not parsed on the driver before the
# pipeline; their damage must not reach the user as a worker's traceback.
_LARGE = (8 << 20) + 4096


def _large_interactions_csv() -> bytes:
  row = b"u1,i0,1700000000\n"
  return b"user_id,item_id,timestamp\n" + row * (_LARGE // len(row) + 1)


def _gfm(*args):
  """Runs the gfm command line in a new process, as a user would."""
  env = {**os.environ, "PYTHONPATH": str(_REPO)}
  return subprocess.run([sys.executable, "-c",
                         "import sys; from tfgnn_gfm.cli.gfm import main; "
                         "sys.exit(main())", *map(str, args)],
                        capture_output=True, text=True, env=env, check=False,
                        timeout=600)


def _assert_one_line_error(result, command, expected):
  assert result.returncode == 2, result.stderr[-2000:]
  assert "Traceback" not in result.stderr
  errors = [line for line in result.stderr.splitlines()
            if line.startswith(f"gfm {command}: error:")]
  assert errors == [result.stderr.strip().splitlines()[-1]]
  assert expected in errors[0]


class _CountingFile(io.FileIO):
  """A file that counts the bytes read from it (in ``read_bytes``)."""

  read_bytes = 0

  def read(self, size=-1):
    data = super().read(size)
    _CountingFile.read_bytes += len(data)
    return data


@pytest.mark.parametrize("name", ["interactions.csv", "interactions.csv.gz"])
def test_header_check_reads_only_the_start_of_a_large_file(tmp_path, name):
  path = tmp_path / name
  body = _large_interactions_csv()
  path.write_bytes(gzip.compress(body, 1) if name.endswith(".gz") else body)
  _CountingFile.read_bytes = 0
  reader.check_header(path, lambda: _CountingFile(path))
  # 64 KiB (and one byte to see that there is more), of 8 MiB.
  assert 0 < _CountingFile.read_bytes <= (1 << 16) + 1


def test_header_check_reads_on_for_a_long_header(tmp_path):
  # The header's quoted second name holds a line break and 100,000 more
  # characters: longer than the first bytes the check reads.
  path = tmp_path / "items.csv"
  path.write_bytes(b'item_id,"x\n' + b"y" * 100_000 + b'",item_id\n'
                   + b"a,b,c\n" * 10)
  with pytest.raises(DataContractError, match="items.csv: duplicate column "
                     "names in the header: 'item_id'"):
    reader.check_header(path)
  path.write_bytes(b'item_id,"x\n' + b"y" * 100_000 + b'",title\n'
                   + b"a,b,c\n" * 10)
  reader.check_header(path)


@pytest.mark.parametrize("damage", ["not_gzip", "duplicate_header",
                                    "parquet_pages", "corrupt_gzip"])
@pytest.mark.parametrize("command", ["validate", "build-graph"])
def test_large_damaged_file_is_one_line_exit_2(tmp_path, command, damage):
  folder = tmp_path / "data"
  folder.mkdir()
  (folder / "items.csv").write_text("item_id,item_type,title\ni0,podcast,A\n")
  if damage == "not_gzip":
    name = "interactions.csv.gz"
    (folder / name).write_bytes(_large_interactions_csv())
    expected = f"{folder / name}: not a gzip file"
  elif damage == "corrupt_gzip":
    # Stored blocks (level 0) keep it over the threshold; bytes flipped in
    # the middle fail only the checksum, at the end, on a Beam worker.
    name = "interactions.csv.gz"
    data = bytearray(gzip.compress(_large_interactions_csv(), 0))
    for i in range(len(data) // 2, len(data) // 2 + 64):
      data[i] ^= 0xFF
    (folder / name).write_bytes(bytes(data))
    expected = f"{folder / name}: the gzip stream is corrupt"
  elif damage == "duplicate_header":
    name = "interactions.csv"
    (folder / name).write_bytes(b"user_id,item_id,timestamp,item_id\n" + (
        b"u1,i0,1700000000,i0\n" * (_LARGE // 20 + 1)))
    expected = f"{folder / name}: duplicate column names in the header"
  else:
    # A readable footer, a data page of random bytes: only a full read sees
    # the damage, on a Beam worker.
    name = "interactions.parquet"
    rows = _LARGE // 16
    pq.write_table(pa.table({
        "user_id": pa.array(np.random.default_rng(0).integers(
            0, 1 << 62, rows)).cast(pa.string()),
        "item_id": pa.array(["i0"] * rows),
        "timestamp": pa.array(np.arange(rows) + 1_700_000_000)}),
        folder / name, row_group_size=rows // 4, compression="snappy")
    data = bytearray((folder / name).read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = np.random.default_rng(1).bytes(4096)
    (folder / name).write_bytes(bytes(data))
    expected = f"{folder / name}: not a readable Parquet file"
  assert (folder / name).stat().st_size > 8 << 20
  result = _gfm(command, folder, "--out", tmp_path / "out")
  _assert_one_line_error(result, command, expected)
  assert not (tmp_path / "out").exists()


def test_no_valid_interaction_is_one_line_exit_2(tmp_path):
  # Rows, but none valid: there is no cut to derive; the pipeline runs to
  # its end and the driver, not a worker, raises.
  folder = tmp_path / "data"
  folder.mkdir()
  (folder / "items.csv").write_text("item_id,item_type,title\ni0,podcast,A\n")
  (folder / "interactions.csv").write_text(
      "user_id,item_id,timestamp\nu1,i0,yesterday\nu2,nowhere,1700000000\n")
  result = _gfm("build-graph", folder, "--out", tmp_path / "out")
  _assert_one_line_error(result, "build-graph", "no valid interactions to "
                         "derive the cut from; pass --cut")
  assert not (tmp_path / "out").exists()
  # The rows that explain it are kept beside OUT, and the error names them.
  rejected = tmp_path / "out.rejected"
  assert f"(the rejected rows: {rejected})" in result.stderr
  letters = [json.loads(line) for line in (
      rejected / "dead_letter.jsonl").read_text().splitlines()]
  assert sorted((d["line"], d["reason"]) for d in letters) == [
      (2, "bad_timestamp"), (3, "unknown_item")]
  assert (rejected / "summary.json").exists()


def test_large_truncated_gzip_keeps_the_rows_before_the_damage(tmp_path):
  from beam.build_graph import build_graph
  from tfgnn_gfm.graph.config import GraphBuildConfig
  from tfgnn_gfm.graph.hashing_encoder import build_hashing_encoder
  folder = tmp_path / "data"
  folder.mkdir()
  (folder / "items.csv").write_text(
      "item_id,item_type,title\ni0,podcast,A\ni1,podcast,B\n")
  rows = _LARGE // 9  # 19 bytes a row: half of them is over _LARGE
  body = _interactions_csv(0) + "".join(
      f"u{i % 1000:03d},i{i % 2},{1_700_000_000 + i:010d}\n"
      for i in range(rows))
  # Stored (level 0) so the truncated file is larger than the threshold.
  whole = gzip.compress(body.encode(), compresslevel=0)
  (folder / "interactions.csv.gz").write_bytes(whole[:len(whole) // 2])
  assert (folder / "interactions.csv.gz").stat().st_size > 8 << 20
  encoder = build_hashing_encoder(tmp_path / "encoder")
  summary = build_graph(folder, tmp_path / "graph", GraphBuildConfig(
      text_encoder=str(encoder), num_shards=1))
  # As for a small file (test_truncated_gzip_keeps_the_rows_before_the_damage)
  # the rows before the damage are kept, with one damaged_file dead letter.
  table = summary["tables"]["interactions"]
  assert summary["dead_letters"]["interactions"] == {"damaged_file": 1}
  kept = len(read_table(folder / "interactions.csv.gz",
                        "interactions").frame)
  assert 0 < kept < rows
  assert table["valid"] == kept and table["rows_read"] == kept + 1
  letters = [json.loads(line) for line in (
      tmp_path / "graph" / "dead_letter.jsonl").read_text().splitlines()]
  assert [(d["line"], d["reason"]) for d in letters] == [
      (kept + 2, "damaged_file")]


# Rows are counted right.


def test_unicode_line_separators_do_not_split_a_json_record(tmp_path):
  path = tmp_path / "items.jsonl"
  titles = ["a\u2028b", "c\u2029d", "e\u0085f", "g\x0bh\x0ci\x1cj"]
  path.write_text("".join(
      json.dumps({"item_id": f"x{i}", "item_type": "podcast", "title": t},
                 ensure_ascii=False) + "\n" for i, t in enumerate(titles)),
      encoding="utf-8")
  data = read_table(path, "items")
  assert data.dead_letters == []
  assert data.frame["title"].tolist() == titles
  assert list(data.frame.index) == [1, 2, 3, 4]


def test_unclosed_csv_quote_costs_only_its_line(tmp_path):
  path = tmp_path / "interactions.csv"
  path.write_text('user_id,item_id,timestamp\nu1,i1,1\nu2,"i2,2\nu3,i3,3\n'
                  'u4,i4,4\n')
  data = read_table(path, "interactions")
  assert _letters(data) == [(3, None, "malformed_row")]
  assert "opens a quote" in data.dead_letters[0]["message"]
  assert data.dead_letters[0]["row"] == {"text": 'u2,"i2,2\n'}
  assert data.frame["user_id"].tolist() == ["u1", "u3", "u4"]
  assert list(data.frame.index) == [2, 4, 5]
  _accounted(data, 4)


def test_two_unclosed_quotes_each_reported(tmp_path):
  path = tmp_path / "interactions.csv"
  # Line 3's quote is closed by line 5's: the record spanning 3-5 has the
  # wrong width, so line 3 is the dead letter; line 5 reopens a quote that
  # runs to the end, so it is reported too; every other line is a good row.
  path.write_text('user_id,item_id,timestamp\nu1,i1,1\nu2,"i2,2\nu3,i3,3\n'
                  'u4,"i4,4\nu5,i5,5\n')
  data = read_table(path, "interactions")
  assert _letters(data) == [(3, None, "malformed_row"),
                            (5, None, "malformed_row")]
  assert data.frame["user_id"].tolist() == ["u1", "u3", "u5"]
  _accounted(data, 5)


def test_a_quoted_multiline_field_is_still_one_record(tmp_path):
  path = tmp_path / "items.csv"
  path.write_text('item_id,item_type,title,description\n'
                  'a,podcast,A,"line one\nline two"\nb,podcast,B,\n')
  data = read_table(path, "items")
  assert data.dead_letters == []
  assert data.frame["description"].tolist() == ["line one\nline two", ""]
  assert list(data.frame.index) == [2, 4]


# Parent cycles are dead letters at validation.


def test_parent_cycles_are_dead_letters(tmp_path):
  (tmp_path / "items.csv").write_text(
      "item_id,item_type,title,parent_id\n"
      "show,podcast,Show,\n"          # 2
      "ep,episode,Ep,show\n"          # 3: fine
      "self,podcast,Self,self\n"      # 4: points to itself
      "a,podcast,A,b\n"               # 5: a -> b -> a
      "b,podcast,B,a\n"               # 6
      "c,episode,C,a\n"               # 7: leads into the cycle
      "o,episode,O,nowhere\n"         # 8: unknown parent
      "oo,episode,OO,o\n")            # 9: its parent is an orphan
  (tmp_path / "interactions.csv").write_text(
      "user_id,item_id,timestamp\nu,ep,1\nu,self,2\nu,c,3\nu,show,4\n")
  from tfgnn_gfm.data import read_dataset
  ds = read_dataset(tmp_path)
  assert _letters(ds.items) == [
      (4, "parent_id", "parent_cycle"), (5, "parent_id", "parent_cycle"),
      (6, "parent_id", "parent_cycle"), (7, "parent_id", "parent_cycle"),
      (8, "parent_id", "unknown_parent"), (9, "parent_id", "unknown_parent")]
  messages = {d["line"]: d["message"] for d in ds.items.dead_letters}
  assert messages[4] == "parent_id 'self' is the item itself"
  assert "never ends" in messages[5]
  assert ds.items.frame["item_id"].tolist() == ["show", "ep"]
  # Interactions of rejected items are accounted for, not lost.
  assert _letters(ds.interactions) == [(3, "item_id", "unknown_item"),
                                       (4, "item_id", "unknown_item")]
  assert len(ds.items.frame) + len(ds.items.dead_letters) == 8


# No interactions at all is an error (exit 3), not a green run.


@pytest.mark.parametrize("name,content", [
    ("interactions.csv", b""),
    ("interactions.csv", b"user_id,item_id,timestamp\n"),
    ("interactions.csv", b"user_id,item_id,timestamp\n\n\n"),
    ("interactions.jsonl", b"\n"),
    ("interactions.csv.gz", gzip.compress(b"user_id,item_id,timestamp\n")),
    # Over beam.read.PREFLIGHT_BYTES: counted by the pipeline, not before it.
    ("interactions.csv", b"user_id,item_id,timestamp\n" + b"\n" * (9 << 20)),
])
@pytest.mark.parametrize("command", ["validate", "build-graph"])
def test_no_interactions_is_exit_3(tmp_path, capsys, name, content, command):
  from tfgnn_gfm.cli.gfm import main
  folder = tmp_path / "data"
  folder.mkdir()
  (folder / "items.csv").write_text("item_id,item_type,title\ni,podcast,A\n")
  (folder / name).write_bytes(content)
  assert main([command, str(folder), "--out", str(tmp_path / "out")]) == 3
  err = capsys.readouterr().err.strip()
  assert len(err.splitlines()) == 1
  assert f"{name}: the interactions table has no data rows" in err
  assert not (tmp_path / "out").exists()


def test_parquet_without_rows_is_no_rows(tmp_path):
  from tfgnn_gfm.data import read_dataset
  (tmp_path / "items.csv").write_text("item_id,item_type,title\ni,podcast,A\n")
  pq.write_table(pa.table({"user_id": pa.array([], pa.string()),
                           "item_id": pa.array([], pa.string()),
                           "timestamp": pa.array([], pa.int64())}),
                 tmp_path / "interactions.parquet")
  with pytest.raises(reader.NoRowsError, match="no data rows"):
    read_dataset(tmp_path)


# Item type names become node-set and file names.


def _typed_folder(tmp_path, types):
  folder = tmp_path / "data"
  folder.mkdir()
  (folder / "items.csv").write_text("item_id,item_type,title\n" + "".join(
      f"i{n},{t},T{n}\n" for n, t in enumerate(types)))
  (folder / "interactions.csv").write_text(
      "user_id,item_id,timestamp\n" + "".join(
          f"u{u},i{n},{1_700_000_000 + 10 * u + n}\n"
          for u in range(3) for n in range(len(types))))
  return folder


@pytest.mark.parametrize("command", ["validate", "build-graph"])
def test_an_overlong_item_type_is_a_dead_letter_in_both_commands(tmp_path,
                                                                 command):
  folder = _typed_folder(tmp_path, ["x" * 300, "podcast", "podcast"])
  result = _gfm(command, folder, "--out", tmp_path / "out")
  assert result.returncode == 0, result.stderr[-2000:]
  assert "Traceback" not in result.stderr
  letters = [json.loads(line) for line in (
      tmp_path / "out" / "dead_letter.jsonl").read_text().splitlines()]
  items = [d for d in letters if d["table"] == "items"]
  assert [(d["line"], d["reason"], d["column"]) for d in items] == [
      (2, "out_of_range", "item_type")]
  assert "300 characters, over the maximum 64" in items[0]["message"]


@pytest.mark.parametrize("command", ["validate", "build-graph"])
def test_colliding_item_types_are_one_line_error_in_both_commands(tmp_path,
                                                                  command):
  folder = _typed_folder(tmp_path, ["Audio Book", "audio_book", "podcast"])
  result = _gfm(command, folder, "--out", tmp_path / "out")
  _assert_one_line_error(result, command, "item types 'Audio Book' and "
                         "'audio_book' both map to node set 'audio_book'")
  assert not (tmp_path / "out").exists()


def test_a_list_is_an_id_nowhere_but_genres_may_be_one(tmp_path):
  """JSON Lines: ["ep_1"] as an id is wrong_type (it was read as "ep_1");
  a list of genres is still the genres joined."""
  path = tmp_path / "items.jsonl"
  path.write_text(
      '{"item_id": ["ep_1"], "item_type": "podcast", "title": "A"}\n'
      '{"item_id": "b", "item_type": ["podcast"], "title": "B"}\n'
      '{"item_id": "c", "item_type": "podcast", "title": "C",'
      ' "genres": ["jazz", "news"]}\n')
  data = read_table(path, "items")
  assert _letters(data) == [(1, "item_id", "wrong_type"),
                            (2, "item_type", "wrong_type")]
  assert data.frame["item_id"].tolist() == ["c"]
  assert data.frame["genres"].tolist() == ["jazz;news"]
  _accounted(data, 3)


# The decompressed size of an input file is bounded.


def test_a_gzip_bomb_stops_at_the_limit(tmp_path):
  """16 MiB of one repeated row, gzip'd to about 30 KiB: refused after
  max_bytes + 1 decompressed bytes, not after reading it all."""
  import resource
  path = tmp_path / "interactions.csv.gz"
  row = b"u1,i0,1700000000\n"
  rows = (16 << 20) // len(row)
  body = b"user_id,item_id,timestamp\n" + row * rows
  path.write_bytes(gzip.compress(body, 9))
  assert path.stat().st_size < 1 << 20
  before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  with pytest.raises(DataContractError, match=r"interactions.csv.gz: more "
                     r"than 1,048,576 bytes after decompression"):
    read_table(path, "interactions", max_bytes=1 << 20)
  grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss -
              before) / 1024
  assert grown_mb < 32
  # Under the limit it is read whole (its rows repeat: one is kept).
  assert read_table(path, "interactions").rows_read == rows


def test_a_plain_file_over_the_limit_is_refused_unread(tmp_path):
  path = tmp_path / "interactions.csv"
  path.write_text(_interactions_csv(1000))
  with pytest.raises(DataContractError, match="more than 100 bytes"):
    read_table(path, "interactions", max_bytes=100)
  assert len(read_table(path, "interactions",
                        max_bytes=path.stat().st_size).frame) == 1000


@pytest.mark.parametrize("command", ["validate", "build-graph"])
def test_max_input_bytes_through_the_cli_is_one_line_exit_2(tmp_path, capsys,
                                                            command):
  err = _cli_error(tmp_path, capsys, command,
                   gzip.compress(_interactions_csv(5000).encode()),
                   "--max-input-bytes", "4096")
  assert "interactions.csv.gz: more than 4,096 bytes after decompression" in err
