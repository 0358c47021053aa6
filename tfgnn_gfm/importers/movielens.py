"""Import a MovieLens folder (latest, 100k or 1M layout) into the data contract.

MovieLens is real data with one item type (``movie``): ratings are the
interactions (rating as weight), tag applications are weak-signal events
(``tag``), and each movie's text is its title, genres and its most frequent
tags, so the text encoder sees what users said about it.

Three layouts are read, told apart by the files present:

* ``latest`` (ml-latest-small, ml-latest, ml-20m, ml-25m): ``movies.csv``,
  ``ratings.csv``, optional ``tags.csv``; no user metadata, so no users table.
* ``100k``: ``u.data`` (tab-separated), ``u.item`` (``|``, Latin-1, 19 genre
  flags), optional ``u.user`` (``id|age|gender|occupation|zip``).
* ``1m``: ``ratings.dat``, ``movies.dat``, optional ``users.dat``
  (``::``-separated, Latin-1; age and occupation as codes).

Where the source has users, a users table is written with categorical
``age_bucket``, ``gender``, ``occupation`` and ``zip_prefix``: both layouts
use the 1M age buckets, so one vocabulary fits both; the 100k layout also
keeps the exact ``age`` as a numeric feature.
"""

from __future__ import annotations

import csv
import dataclasses
import pathlib
import re
from typing import ClassVar

import numpy as np
import pandas as pd

from tfgnn_gfm.config import option_help as _help

_YEAR = re.compile(r"\((\d{4})\)\s*$")
LAYOUTS = {
    "latest": ("movies.csv", "ratings.csv"),
    "100k": ("u.item", "u.data"),
    "1m": ("movies.dat", "ratings.dat"),
}
_USERS_FILE = {"latest": None, "100k": "u.user", "1m": "users.dat"}
# The genre flags of u.item, in column order (the 100k README's u.genre).
_GENRES_100K = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy",
    "Crime", "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror",
    "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller", "War", "Western")
# users.dat age codes (the 1M README); 100k ages are bucketed the same way.
_AGE_BUCKETS_1M = {1: "under 18", 18: "18-24", 25: "25-34", 35: "35-44",
                   45: "45-49", 50: "50-55", 56: "56+"}
_OCCUPATIONS_1M = (
    "other", "academic/educator", "artist", "clerical/admin",
    "college/grad student", "customer service", "doctor/health care",
    "executive/managerial", "farmer", "homemaker", "K-12 student", "lawyer",
    "programmer", "retired", "sales/marketing", "scientist", "self-employed",
    "technician/engineer", "tradesman/craftsman", "unemployed", "writer")
_MOVIE_DAT = re.compile(r"^(\d+)::(.*)::([^:]*)$")


@dataclasses.dataclass
class MovieLensImportConfig:
  """Configuration of ``gfm import movielens``."""

  section: ClassVar[str] = "import_movielens"

  max_tags_per_movie: int = dataclasses.field(default=10, metadata=_help(
      "most frequent tags written into a movie's description"))
  min_rating: float = dataclasses.field(default=0.0, metadata=_help(
      "ratings below this are not imported (0 keeps all)"))
  include_tags_as_events: bool = dataclasses.field(default=True, metadata=_help(
      "write tag applications as weak-signal 'tag' interactions"))
  zip_prefix_digits: int = dataclasses.field(default=1, metadata=_help(
      "leading zip-code characters kept as the users' zip_prefix (100k / 1M "
      "layouts; 0 leaves the column out)"))
  format: str = dataclasses.field(default="csv", metadata=_help(
      "output table format", choices=("csv", "jsonl", "parquet")))


@dataclasses.dataclass
class _Source:
  """One layout's files, read into the latest layout's column names."""

  movies: pd.DataFrame   # movieId, title, genres ('|'-joined), [year]
  ratings: pd.DataFrame  # userId, movieId, rating, timestamp
  tags: pd.DataFrame     # userId, movieId, tag, timestamp
  users: pd.DataFrame | None  # userId, age_bucket, gender, occupation, zip


def movielens_layout(folder: str | pathlib.Path
                     ) -> tuple[str, list[pathlib.Path]]:
  """Tells the layout of a MovieLens folder from the files it holds.

  Args:
    folder: the MovieLens folder.

  Returns:
    (layout name, the files that will be read).

  Raises:
    FileNotFoundError: no layout's files are all there.
  """
  folder = pathlib.Path(folder)
  for name, required in LAYOUTS.items():
    if all((folder / f).exists() for f in required):
      optional = [f for f in ("tags.csv", _USERS_FILE[name]) if f]
      return name, [folder / f for f in required + tuple(optional)
                    if (folder / f).exists()]
  expected = "; ".join(f"{name}: {', '.join(files)}"
                       for name, files in LAYOUTS.items())
  present = [f for files in LAYOUTS.values() for f in files
             if (folder / f).exists()]
  raise FileNotFoundError(
      f"{folder} is not a MovieLens folder: expected the files of one layout "
      f"({expected}); found {', '.join(present) or 'none of them'}")


def _read_delimited(path: pathlib.Path, sep: str, names: list[str],
                    encoding: str = "latin-1") -> pd.DataFrame:
  """A headerless MovieLens file as strings (quotes are part of the text)."""
  return pd.read_csv(path, sep=sep, header=None, names=names, dtype=str,
                     keep_default_na=False, encoding=encoding,
                     quoting=csv.QUOTE_NONE, engine="c")


def _read_dat(path: pathlib.Path, width: int) -> pd.DataFrame:
  """A ``::``-separated Latin-1 file as a frame of ``width`` string columns."""
  lines = pd.Series(path.read_text(encoding="latin-1").splitlines())
  lines = lines[lines.str.strip() != ""]
  if lines.empty:
    raise ValueError(f"{path} has no rows")
  parts = lines.str.split("::", n=width - 1, expand=True)
  short = (parts[width - 1].isna() if parts.shape[1] == width
           else pd.Series(True, index=lines.index))
  if short.any():
    raise ValueError(f"{path}: line {int(short.idxmax()) + 1} does not have "
                     f"{width} '::'-separated fields")
  return parts.reset_index(drop=True)


def _age_bucket(age: pd.Series) -> pd.Series:
  """Exact ages into the 1M layout's buckets (code = the bucket's lower end)."""
  codes = np.array(sorted(_AGE_BUCKETS_1M))
  index = np.searchsorted(codes, age.to_numpy(), side="right") - 1
  return pd.Series([_AGE_BUCKETS_1M[int(codes[max(i, 0)])] for i in index],
                   index=age.index)


def _empty_tags() -> pd.DataFrame:
  return pd.DataFrame({c: pd.Series([], dtype=object)
                       for c in ("userId", "movieId", "tag", "timestamp")})


def _read_latest(folder: pathlib.Path) -> _Source:
  movies = pd.read_csv(folder / "movies.csv", dtype=str, keep_default_na=False)
  ratings = pd.read_csv(folder / "ratings.csv",
                        dtype={"userId": str, "movieId": str})
  tags_path = folder / "tags.csv"
  tags = (pd.read_csv(tags_path, dtype={"userId": str, "movieId": str,
                                        "tag": str}, keep_default_na=False)
          if tags_path.exists() else _empty_tags())
  return _Source(movies, ratings, tags, None)


def _read_100k(folder: pathlib.Path) -> _Source:
  item = _read_delimited(
      folder / "u.item", "|", ["movieId", "title", "release_date",
                               "video_release_date", "url", *_GENRES_100K])
  flags = item[list(_GENRES_100K[1:])] == "1"
  genres = flags.apply(lambda row: "|".join(row.index[row]), axis=1) if len(
      item) else pd.Series([], dtype=object)
  # The release date (01-Jan-1995) gives the year of a title without one.
  movies = pd.DataFrame({
      "movieId": item["movieId"], "title": item["title"], "genres": genres,
      "year": item["release_date"].str.extract(r"(\d{4})\s*$")[0]})
  data = _read_delimited(folder / "u.data", "\t",
                         ["userId", "movieId", "rating", "timestamp"])
  ratings = data.assign(rating=data["rating"].astype(float),
                        timestamp=data["timestamp"].astype("int64"))
  users = None
  if (folder / "u.user").exists():
    raw = _read_delimited(folder / "u.user", "|",
                          ["userId", "age", "gender", "occupation", "zip"])
    age = raw["age"].astype(int)
    users = pd.DataFrame({"userId": raw["userId"], "age": age,
                          "age_bucket": _age_bucket(age),
                          "gender": raw["gender"],
                          "occupation": raw["occupation"], "zip": raw["zip"]})
  return _Source(movies, ratings, _empty_tags(), users)


def _read_1m(folder: pathlib.Path) -> _Source:
  lines = pd.Series((folder / "movies.dat").read_text(
      encoding="latin-1").splitlines())
  lines = lines[lines.str.strip() != ""]
  movies = lines.str.extract(_MOVIE_DAT)
  if lines.empty or movies[0].isna().any():
    bad = int(movies[0].isna().idxmax()) + 1 if len(lines) else 1
    raise ValueError(f"{folder / 'movies.dat'}: line {bad} is not "
                     "MovieID::Title::Genres")
  movies.columns = ["movieId", "title", "genres"]
  data = _read_dat(folder / "ratings.dat", 4)
  ratings = pd.DataFrame({"userId": data[0], "movieId": data[1],
                          "rating": data[2].astype(float),
                          "timestamp": data[3].astype("int64")})
  users = None
  if (folder / "users.dat").exists():
    raw = _read_dat(folder / "users.dat", 5)
    age_code = raw[2].astype(int)
    occupation = raw[3].astype(int)
    unknown_age = ~age_code.isin(list(_AGE_BUCKETS_1M))
    unknown_job = ~occupation.between(0, len(_OCCUPATIONS_1M) - 1)
    if unknown_age.any() or unknown_job.any():
      line = int((unknown_age | unknown_job).idxmax()) + 1
      raise ValueError(f"{folder / 'users.dat'}: line {line} has an age or "
                       "occupation code the 1M README does not define")
    users = pd.DataFrame({
        "userId": raw[0], "age_bucket": age_code.map(_AGE_BUCKETS_1M),
        "gender": raw[1],
        "occupation": occupation.map(dict(enumerate(_OCCUPATIONS_1M))),
        "zip": raw[4]})
  return _Source(movies, ratings, _empty_tags(), users)


_READERS = {"latest": _read_latest, "100k": _read_100k, "1m": _read_1m}


def _users_table(users: pd.DataFrame,
                 config: MovieLensImportConfig) -> pd.DataFrame:
  """The contract's users table: every feature a string but the exact age."""
  out = pd.DataFrame({"user_id": "u" + users["userId"].str.strip()})
  if "age" in users:
    out["age"] = users["age"]
  for column in ("age_bucket", "gender", "occupation"):
    out[column] = users[column].str.strip()
  if config.zip_prefix_digits > 0:
    # "9xxxx" rather than "9": a digit-only column would be read as a number.
    digits = config.zip_prefix_digits
    zips = users["zip"].str.strip().str.upper()
    out["zip_prefix"] = (zips.str[:digits] + "x" * max(5 - digits, 1)).where(
        zips != "", "")
  return out.reset_index(drop=True)


def import_movielens(folder: str | pathlib.Path,
                     config: MovieLensImportConfig | None = None
                     ) -> dict[str, pd.DataFrame]:
  """Converts a MovieLens folder into the contract's tables.

  Args:
    folder: a MovieLens folder in the latest (``movies.csv``,
      ``ratings.csv``, optional ``tags.csv``), 100k (``u.item``, ``u.data``,
      optional ``u.user``) or 1M (``movies.dat``, ``ratings.dat``, optional
      ``users.dat``) layout; see ``movielens_layout``.
    config: import options.

  Returns:
    ``{"items": ..., "interactions": ...}`` frames in the contract's columns,
    plus ``"users"`` when the source has user features.
  """
  config = config or MovieLensImportConfig()
  folder = pathlib.Path(folder)
  layout, _ = movielens_layout(folder)
  source = _READERS[layout](folder)
  movies, ratings, tags = source.movies, source.ratings, source.tags
  tags["tag"] = tags["tag"].astype(str).str.strip()
  tags = tags[tags["tag"] != ""]
  # Most frequent tags per movie, ties broken alphabetically (deterministic).
  tag_counts = (tags.assign(tag_l=tags["tag"].str.lower())
                .groupby(["movieId", "tag_l"]).size().rename("n").reset_index()
                .sort_values(["movieId", "n", "tag_l"],
                             ascending=[True, False, True]))
  top_tags = (tag_counts.groupby("movieId").head(config.max_tags_per_movie)
              .groupby("movieId")["tag_l"].agg(", ".join))
  genres = movies["genres"].replace("(no genres listed)", "")
  year = movies["title"].str.extract(_YEAR)[0]
  if "year" in movies:
    year = year.fillna(movies["year"])
  # Genres go to the genres column (item text composition adds them); the
  # description carries what users said: the movie's most frequent tags.
  tag_text = movies["movieId"].map(top_tags).astype(object).fillna("")
  description = ("Tags: " + tag_text + ".").where(tag_text != "", "")
  items = pd.DataFrame({
      "item_id": "m" + movies["movieId"],
      "item_type": "movie",
      "title": movies["title"].str.strip(),
      "description": description,
      "parent_id": "",
      "language": "",
      "genres": genres.str.replace("|", ";", regex=False),
      "published_at": (year + "-01-01T00:00:00Z").fillna(""),
  })
  ratings = ratings[ratings["rating"] >= config.min_rating]
  interactions = pd.DataFrame({
      "user_id": "u" + ratings["userId"],
      "item_id": "m" + ratings["movieId"],
      "timestamp": ratings["timestamp"].astype("int64"),
      "event": "rating",
      "weight": ratings["rating"].astype(float),
  })
  if config.include_tags_as_events and len(tags):
    tag_events = pd.DataFrame({
        "user_id": "u" + tags["userId"],
        "item_id": "m" + tags["movieId"],
        "timestamp": tags["timestamp"].astype("int64"),
        "event": "tag",
        "weight": 1.0,
    }).drop_duplicates(subset=["user_id", "item_id", "timestamp"])
    interactions = pd.concat([interactions, tag_events], ignore_index=True)
  interactions = interactions.sort_values(
      ["timestamp", "user_id", "item_id", "event"], kind="stable"
  ).reset_index(drop=True)
  tables = {"items": items, "interactions": interactions}
  if source.users is not None:
    tables["users"] = _users_table(source.users, config)
  return tables
