"""Tests of the MovieLens importer on a tiny hand-made folder."""

import pytest

from tfgnn_gfm.data import read_dataset, write_dataset
from tfgnn_gfm.importers import MovieLensImportConfig, import_movielens


@pytest.fixture
def ml_folder(tmp_path):
  (tmp_path / "movies.csv").write_text(
      'movieId,title,genres\n1,Toy Story (1995),Adventure|Animation\n'
      '2,"Heat, the Sequel (2001)",Action\n3,No Year,(no genres listed)\n')
  (tmp_path / "ratings.csv").write_text(
      "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,2,2.5,964982800\n"
      "2,1,5.0,964983000\n")
  (tmp_path / "tags.csv").write_text(
      "userId,movieId,tag,timestamp\n1,1,pixar,1139045764\n2,1,Pixar,1139045800\n"
      "2,1,fun,1139045900\n1,2,heist,1139046000\n")
  return tmp_path


def test_import_maps_the_contract(ml_folder):
  tables = import_movielens(ml_folder)
  items = tables["items"].set_index("item_id")
  assert items.loc["m1", "item_type"] == "movie"
  assert items.loc["m1", "genres"] == "Adventure;Animation"
  # Most frequent tag first, lower-cased, ties alphabetical.
  assert items.loc["m1", "description"] == "Tags: pixar, fun."
  assert items.loc["m1", "published_at"] == "1995-01-01T00:00:00Z"
  assert items.loc["m3", "genres"] == ""
  assert items.loc["m3", "published_at"] == ""
  inter = tables["interactions"]
  assert (inter["event"] == "rating").sum() == 3
  assert (inter["event"] == "tag").sum() == 4
  assert inter.loc[inter["event"] == "rating", "weight"].tolist() == [4.0, 2.5, 5.0]


def test_imported_folder_validates_cleanly(ml_folder, tmp_path):
  out = tmp_path / "out"
  write_dataset(out, import_movielens(ml_folder), stage="import", config={})
  ds = read_dataset(out)
  assert ds.dead_letters() == []
  assert len(ds.items.frame) == 3
  assert ds.interactions.frame["timestamp"].min() == 964982703


def test_options(ml_folder):
  tables = import_movielens(ml_folder, MovieLensImportConfig(
      min_rating=3.0, include_tags_as_events=False, max_tags_per_movie=1))
  assert set(tables["interactions"]["event"]) == {"rating"}
  assert len(tables["interactions"]) == 2
  assert tables["items"].set_index("item_id").loc["m1", "description"] == (
      "Tags: pixar.")


def test_not_a_movielens_folder(tmp_path):
  with pytest.raises(FileNotFoundError, match="movies.csv is missing"):
    import_movielens(tmp_path)
