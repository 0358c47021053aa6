"""Crafted hostile input files: each bad value or damage is accounted for.

One test (or a few) per "must be true" of the input-data hardening: bad
values become dead letters with reason, line and column; damaged files give
one-line errors or keep the rows before the damage; rows are counted right.
"""

import datetime
import gzip
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tfgnn_gfm.data import reader
from tfgnn_gfm.data.reader import (MAX_TIMESTAMP, MIN_TIMESTAMP,
                                   DataContractError, read_table)


def _letters(data):
  return sorted((d["line"], d["column"], d["reason"])
                for d in data.dead_letters)


def _accounted(data, rows):
  """Every data row of the file is a good row or a dead letter."""
  assert data.rows_read == rows
  assert len(data.frame) + len(data.dead_letters) == rows


# Point 5: bad values are dead letters with reason, line and column.


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
