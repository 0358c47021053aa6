"""Tests of the validating reader: formats, dead letters and types."""

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from tfgnn_gfm.data import reader
from tfgnn_gfm.data.reader import DEAD_LETTER_REASONS, read_table

ITEMS = pd.DataFrame({
    "item_id": ["p1", "a1", "e1"],
    "item_type": ["podcast", "audiobook", "episode"],
    "title": ["Show", "Book, with comma", "Ep \"quoted\""],
    "description": ["about things", "", "multi\nline"],
    "parent_id": ["", "", "p1"],
    "language": ["en", "de", "en"],
    "genres": ["history;society", "fiction", "history"],
    "published_at": ["2024-01-01T00:00:00Z", "1704067200", ""],
    "mood": ["calm", "dark", "calm"],  # an extra column
})


def _write(frame, path, fmt):
  from tfgnn_gfm.data.writer import write_table
  write_table(frame, path, fmt)
  return path


@pytest.mark.parametrize("name,fmt", [
    ("items.csv", "csv"), ("items.csv.gz", "csv"), ("items.jsonl", "jsonl"),
    ("items.jsonl.gz", "jsonl"), ("items.parquet", "parquet")])
def test_round_trip_every_format(tmp_path, name, fmt):
  data = read_table(_write(ITEMS, tmp_path / name, fmt), "items")
  assert data.dead_letters == []
  frame = data.frame
  assert list(frame["item_id"]) == ["p1", "a1", "e1"]
  assert list(frame["title"]) == list(ITEMS["title"])
  assert list(frame["description"]) == list(ITEMS["description"])
  assert list(frame["parent_id"]) == ["", "", "p1"]
  # Both ISO-8601 and epoch seconds parse to the same instant; empty is NA.
  assert frame["published_at"].iloc[0] == 1704067200
  assert frame["published_at"].iloc[1] == 1704067200
  assert pd.isna(frame["published_at"].iloc[2])
  assert data.extra_columns == ["mood"]
  assert list(frame["mood"]) == ["calm", "dark", "calm"]
  assert data.summary()["good"] == 3


def test_csv_line_numbers_follow_multiline_records(tmp_path):
  data = read_table(_write(ITEMS, tmp_path / "items.csv", "csv"), "items")
  # Header is line 1; the third record starts on line 4 (one per line before).
  assert list(data.frame.index) == [2, 3, 4]


def test_optional_columns_take_defaults(tmp_path):
  path = tmp_path / "interactions.csv"
  path.write_text("user_id,item_id,timestamp\nu1,i1,2024-01-02\n")
  frame = read_table(path, "interactions").frame
  assert frame["event"].tolist() == ["stream"]
  assert frame["weight"].tolist() == [1.0]
  assert frame["timestamp"].tolist() == [1704153600]


def _reasons(data):
  return {(d["line"], d["reason"]) for d in data.dead_letters}


def test_missing_column_rejects_every_row_with_a_clear_message(tmp_path):
  path = tmp_path / "items.csv"
  path.write_text("item_id,title\na,A\nb,B\n")
  data = read_table(path, "items")
  assert _reasons(data) == {(2, "missing_column"), (3, "missing_column")}
  assert "no column item_type" in data.dead_letters[0]["message"]
  assert data.dead_letters[0]["row"] == {"item_id": "a", "title": "A"}
  assert len(data.frame) == 0


def test_bad_timestamp(tmp_path):
  path = tmp_path / "interactions.csv"
  path.write_text("user_id,item_id,timestamp\nu,i,2024-02-30\nu,i,yesterday\n"
                  "u,i,1700000000000\nu,i,2024-01-01T10:00:00+02:00\n")
  data = read_table(path, "interactions")
  assert _reasons(data) == {(2, "bad_timestamp"), (3, "bad_timestamp"),
                            (4, "bad_timestamp")}
  assert "timestamp='yesterday'" in [d for d in data.dead_letters
                                     if d["line"] == 3][0]["message"]
  # +02:00 is converted to UTC.
  assert data.frame["timestamp"].tolist() == [1704096000]


def test_duplicate_id_keeps_the_first(tmp_path):
  path = tmp_path / "items.csv"
  path.write_text("item_id,item_type,title\nx,podcast,First\nx,podcast,Second\n")
  data = read_table(path, "items")
  assert _reasons(data) == {(3, "duplicate_id")}
  assert data.frame["title"].tolist() == ["First"]


def test_duplicate_interaction_rows(tmp_path):
  path = tmp_path / "interactions.csv"
  path.write_text("user_id,item_id,timestamp,event\nu,i,5,stream\nu,i,5,stream\n"
                  "u,i,5,follow\n")
  data = read_table(path, "interactions")
  assert _reasons(data) == {(3, "duplicate_id")}
  assert len(data.frame) == 2


def test_wrong_type_in_csv_and_jsonl(tmp_path):
  csv_path = tmp_path / "interactions.csv"
  csv_path.write_text("user_id,item_id,timestamp,weight\nu,i,5,lots\nu,i,6,inf\n")
  assert _reasons(read_table(csv_path, "interactions")) == {
      (2, "wrong_type"), (3, "wrong_type")}
  jsonl = tmp_path / "items.jsonl"
  jsonl.write_text("\n".join(json.dumps(r) for r in [
      {"item_id": "a", "item_type": "podcast", "title": {"nested": 1}},
      {"item_id": 7, "item_type": "podcast", "title": "Numeric id is text"},
      {"item_id": "b", "item_type": "podcast", "title": "T",
       "genres": ["x", "y"]},
  ]) + "\n")
  data = read_table(jsonl, "items")
  assert _reasons(data) == {(1, "wrong_type")}
  assert data.frame["item_id"].tolist() == ["7", "b"]
  assert data.frame["genres"].tolist() == ["", "x;y"]


def test_empty_file(tmp_path):
  path = tmp_path / "items.csv"
  path.write_bytes(b"")
  data = read_table(path, "items")
  assert [d["reason"] for d in data.dead_letters] == ["empty_file"]
  assert "is empty" in data.dead_letters[0]["message"]
  assert len(data.frame) == 0
  assert data.summary()["bad"] == {"empty_file": 1}


def test_non_utf8_bytes_reject_only_their_line(tmp_path):
  path = tmp_path / "items.csv"
  path.write_bytes(b"item_id,item_type,title\na,podcast,Caf\xe9\nb,podcast,Fine\n"
                   b"c,podcast,Caf\xc3\xa9 ok\n")
  data = read_table(path, "items")
  assert _reasons(data) == {(2, "bad_encoding")}
  assert data.frame["title"].tolist() == ["Fine", "Café ok"]
  # The dead letter is valid JSON with a replacement character.
  json.dumps(data.dead_letters[0], ensure_ascii=False).encode("utf-8")
  assert "\ufffd" in data.dead_letters[0]["row"]["title"]


def test_malformed_rows(tmp_path):
  path = tmp_path / "items.csv"
  path.write_text("item_id,item_type,title\na,podcast\nb,podcast,T\n")
  assert _reasons(read_table(path, "items")) == {(2, "malformed_row")}
  jsonl = tmp_path / "items.jsonl"
  jsonl.write_text('{"item_id": "a", "item_type": "p", "title": "t"}\n'
                   '{oops\n[1]\n')
  data = read_table(jsonl, "items")
  assert _reasons(data) == {(2, "malformed_row"), (3, "malformed_row")}


def test_missing_required_value(tmp_path):
  path = tmp_path / "items.csv"
  path.write_text("item_id,item_type,title\n ,podcast,T\nb,,T\nc,podcast,T\n")
  data = read_table(path, "items")
  assert _reasons(data) == {(2, "missing_value"), (3, "missing_value")}


def test_nothing_is_lost(tmp_path):
  """Every data row is either good or a dead letter, for a messy file."""
  path = tmp_path / "interactions.csv.gz"
  body = ("user_id,item_id,timestamp,weight\n"
          "u1,i1,2024-01-01,1\nu1,i1,2024-01-01,1\n,i2,5,1\nu3,i3,never,1\n"
          "u4,i4,7,heavy\nu5,i5\nu6,i6,8,2.5\n")
  with gzip.open(path, "wt") as fh:
    fh.write(body)
  data = read_table(path, "interactions")
  assert data.rows_read == 7
  assert len(data.frame) + len(data.dead_letters) == 7
  assert data.summary()["bad"] == {"bad_timestamp": 1, "duplicate_id": 1,
                                   "malformed_row": 1, "missing_value": 1,
                                   "wrong_type": 1}


def test_interest_vector_parsing(tmp_path):
  path = tmp_path / "users.csv"
  path.write_text('user_id,interest_vector,country\nu1,0.5;1.5,SE\n'
                  'u2,"[1, 2]",DE\nu3,,US\nu4,1;2;3,US\nu5,x;y,US\n')
  data = read_table(path, "users")
  assert _reasons(data) == {(5, "wrong_type"), (6, "wrong_type")}
  vectors = data.frame["interest_vector"].tolist()
  np.testing.assert_allclose(vectors[0], [0.5, 1.5])
  np.testing.assert_allclose(vectors[1], [1.0, 2.0])
  assert vectors[2] is None or (isinstance(vectors[2], float)
                                and np.isnan(vectors[2]))


def test_unknown_format_is_a_clear_error(tmp_path):
  path = tmp_path / "items.xlsx"
  path.write_text("x")
  with pytest.raises(reader.DataContractError, match="unknown table format"):
    read_table(path, "items")


def test_every_reason_is_documented_in_the_schema_readme():
  import pathlib
  root = pathlib.Path(__file__).parents[2]
  text = (root / "schemas" / "README.md").read_text()
  for reason in DEAD_LETTER_REASONS:
    assert f"`{reason}`" in text
