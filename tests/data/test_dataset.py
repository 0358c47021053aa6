"""Tests of dataset-level checks, dead-letter files and the validate stage."""

import json

import pytest

from tfgnn_gfm.artifacts import ValidationDir
from tfgnn_gfm.data import (
  TooManyBadRowsError,
  ValidateConfig,
  read_dataset,
  validate_dataset,
)


def _folder(tmp_path, items, interactions, users=None):
  (tmp_path / "items.csv").write_text(items)
  (tmp_path / "interactions.csv").write_text(interactions)
  if users is not None:
    (tmp_path / "users.jsonl").write_text(users)
  return tmp_path


ITEMS = ("item_id,item_type,title,parent_id\np1,podcast,Show,\n"
         "e1,episode,Ep,p1\ne2,episode,Orphan,p9\n")
INTER = ("user_id,item_id,timestamp\nu1,p1,1\nu1,e1,2\nu2,zz,3\nu2,e2,4\n")


def test_unknown_item_and_parent(tmp_path):
  ds = read_dataset(_folder(tmp_path, ITEMS, INTER))
  reasons = {(d["table"], d["line"], d["reason"]) for d in ds.dead_letters()}
  assert reasons == {("items", 4, "unknown_parent"),
                     ("interactions", 4, "unknown_item"),
                     ("interactions", 5, "unknown_item")}
  # An item seen only in bad rows does not appear anywhere downstream.
  assert "e2" not in set(ds.items.frame["item_id"])
  assert set(ds.interactions.frame["item_id"]) == {"p1", "e1"}


def test_validate_stage_writes_dead_letters_summary_and_manifest(tmp_path):
  (tmp_path / "d").mkdir()
  data = _folder(tmp_path / "d", ITEMS, INTER,
                 '{"user_id": "u1", "country": "SE"}\n')
  out = tmp_path / "v"
  _, summary = validate_dataset(data, out)
  stage = ValidationDir(out)
  lines = stage.dead_letter_path.read_text().splitlines()
  assert len(lines) == 3
  assert all(json.loads(x)["reason"] for x in lines)
  assert json.loads(stage.summary_path.read_text()) == summary
  manifest = stage.read_manifest()
  assert manifest["stage"] == "validate"
  assert manifest["counts"] == {"good_rows": 5, "bad_rows": 3}
  assert set(manifest["inputs"]) == {"items", "interactions", "users"}
  assert summary["tables"]["users"]["extra_columns"] == ["country"]


def test_too_many_bad_rows_fails_after_writing(tmp_path):
  data = _folder(tmp_path, ITEMS, "user_id,item_id,timestamp\nu,zz,1\nu,zz,2\n")
  with pytest.raises(TooManyBadRowsError, match="2 of 2 rows of interactions"):
    validate_dataset(data, tmp_path / "v", ValidateConfig(max_bad_fraction=0.5))
  assert ValidationDir(tmp_path / "v").dead_letter_path.exists()


def test_missing_table_is_a_clear_error(tmp_path):
  (tmp_path / "items.csv").write_text(ITEMS)
  with pytest.raises(FileNotFoundError, match="no interactions table"):
    read_dataset(tmp_path)
