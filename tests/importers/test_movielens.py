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
  ratings = inter.loc[inter["event"] == "rating", "weight"]
  assert ratings.tolist() == [4.0, 2.5, 5.0]


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
  with pytest.raises(FileNotFoundError, match="is not a MovieLens folder"):
    import_movielens(tmp_path)


def _flags(*genres):
  names = ("unknown", "Action", "Adventure", "Animation", "Children's",
           "Comedy", "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir",
           "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
           "War", "Western")
  return "|".join("1" if n in genres else "0" for n in names)


@pytest.fixture
def ml100k_folder(tmp_path):
  folder = tmp_path / "ml-100k"
  folder.mkdir()
  toy_story = _flags("Animation", "Children's", "Comedy")
  (folder / "u.item").write_bytes((
      f"1|Toy Story (1995)|01-Jan-1995||http://x/1|{toy_story}\n"
      f"2|Caf\u00e9 \"Society\"|01-Jan-1997||http://x/2|{_flags('Drama')}\n"
      f"267|unknown|||http://x/267|{_flags('unknown')}\n").encode("latin-1"))
  (folder / "u.data").write_text(
      "196\t1\t3\t881250949\n186\t2\t5\t891717742\n196\t2\t1\t878887116\n")
  (folder / "u.user").write_text(
      "196|49|M|writer|55105\n186|17|F|student|T8H1N\n")
  return folder


def test_100k_layout(ml100k_folder):
  tables = import_movielens(ml100k_folder)
  items = tables["items"].set_index("item_id")
  assert list(items.index) == ["m1", "m2", "m267"]
  assert items.loc["m1", "genres"] == "Animation;Children's;Comedy"
  # Latin-1 decoded; a quote is text, not CSV quoting.
  assert items.loc["m2", "title"] == 'Caf\u00e9 "Society"'
  # No "(year)" in the title: the release date's year.
  assert items.loc["m2", "published_at"] == "1997-01-01T00:00:00Z"
  assert items.loc["m1", "published_at"] == "1995-01-01T00:00:00Z"
  # The "unknown" flag is no genre.
  assert items.loc["m267", "genres"] == ""
  assert items.loc["m267", "published_at"] == ""
  inter = tables["interactions"]
  # Sorted by time.
  assert inter["timestamp"].tolist() == [878887116, 881250949, 891717742]
  assert inter["user_id"].tolist() == ["u196", "u196", "u186"]
  assert inter["item_id"].tolist() == ["m2", "m1", "m2"]
  assert inter["weight"].tolist() == [1.0, 3.0, 5.0]
  assert set(inter["event"]) == {"rating"}
  users = tables["users"].set_index("user_id")
  assert users.to_dict(orient="index") == {
      "u196": {"age": 49, "age_bucket": "45-49", "gender": "M",
               "occupation": "writer", "zip_prefix": "5xxxx"},
      "u186": {"age": 17, "age_bucket": "under 18", "gender": "F",
               "occupation": "student", "zip_prefix": "Txxxx"}}


@pytest.fixture
def ml1m_folder(tmp_path):
  folder = tmp_path / "ml-1m"
  folder.mkdir()
  (folder / "movies.dat").write_bytes(
      "1::Toy Story (1995)::Animation|Children's|Comedy\n"
      "2::Star Wars: Episode IV (1977)::Action|Sci-Fi\n"
      "3::Am\u00e9lie (2001)::Comedy|Romance\n".encode("latin-1"))
  (folder / "ratings.dat").write_text(
      "1::1::5::978300760\n1::3::3::978302109\n2::2::4::978298413\n")
  (folder / "users.dat").write_text(
      "1::F::1::10::48067\n2::M::56::16::70072\n")
  return folder


def test_1m_layout(ml1m_folder):
  tables = import_movielens(ml1m_folder,
                            MovieLensImportConfig(zip_prefix_digits=3))
  items = tables["items"].set_index("item_id")
  assert items.loc["m2", "title"] == "Star Wars: Episode IV (1977)"
  assert items.loc["m2", "genres"] == "Action;Sci-Fi"
  assert items.loc["m3", "title"] == "Am\u00e9lie (2001)"
  assert items.loc["m3", "published_at"] == "2001-01-01T00:00:00Z"
  inter = tables["interactions"]
  assert inter["timestamp"].tolist() == [978298413, 978300760, 978302109]
  assert inter["weight"].tolist() == [4.0, 5.0, 3.0]
  users = tables["users"].set_index("user_id")
  # Age and occupation codes decoded as the 1M README defines them.
  assert users.to_dict(orient="index") == {
      "u1": {"age_bucket": "under 18", "gender": "F",
             "occupation": "K-12 student", "zip_prefix": "480xx"},
      "u2": {"age_bucket": "56+", "gender": "M",
             "occupation": "self-employed", "zip_prefix": "700xx"}}


@pytest.mark.parametrize("fixture", ["ml100k_folder", "ml1m_folder"])
def test_users_table_validates_and_stays_categorical(fixture, request,
                                                     tmp_path):
  out = tmp_path / "out"
  write_dataset(out, import_movielens(request.getfixturevalue(fixture)),
                stage="import", config={})
  ds = read_dataset(out)
  assert ds.dead_letters() == []
  assert ds.users is not None
  assert {"age_bucket", "gender", "occupation", "zip_prefix"} <= set(
      ds.users.extra_columns)
  # A zip prefix must not look like a number (it would become numeric).
  assert not ds.users.frame["zip_prefix"].str.fullmatch(r"\d+").any()


def test_latest_layout_has_no_users_table(ml_folder):
  assert "users" not in import_movielens(ml_folder)


def test_zip_prefix_can_be_left_out(ml1m_folder):
  users = import_movielens(
      ml1m_folder, MovieLensImportConfig(zip_prefix_digits=0))["users"]
  assert "zip_prefix" not in users.columns


def test_users_file_is_optional(ml1m_folder):
  (ml1m_folder / "users.dat").unlink()
  assert "users" not in import_movielens(ml1m_folder)


def test_damaged_dat_file_names_the_line(ml1m_folder):
  (ml1m_folder / "ratings.dat").write_text("1::1::5::978300760\n1::3::3\n")
  with pytest.raises(ValueError, match=r"ratings.dat: line 2 does not have 4"):
    import_movielens(ml1m_folder)


def test_cli_reports_the_layout(ml1m_folder, tmp_path, capsys):
  from tfgnn_gfm.cli.gfm import main
  out = tmp_path / "out"
  assert main(["import", "movielens", str(ml1m_folder), "--out",
               str(out)]) == 0
  assert "(1m layout)" in capsys.readouterr().out
  assert (out / "users.csv").exists()
  assert main(["import", "movielens", str(tmp_path / "nothing"), "--out",
               str(out)]) == 2
  assert "is not a MovieLens folder" in capsys.readouterr().err
