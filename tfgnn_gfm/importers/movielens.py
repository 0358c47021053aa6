"""Import a MovieLens folder (ml-latest-small layout) into the data contract.

MovieLens is real data with one item type (``movie``): ratings are the
interactions (rating as weight), tag applications are weak-signal events
(``tag``), and each movie's text is its title, genres and its most frequent
tags, so the text encoder sees what users said about it. MovieLens has no user
metadata, so no users table is written (the contract makes it optional).
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
from typing import ClassVar

import pandas as pd

from tfgnn_gfm.config import option_help as _help

_YEAR = re.compile(r"\((\d{4})\)\s*$")


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
  format: str = dataclasses.field(default="csv", metadata=_help(
      "output table format", choices=("csv", "jsonl", "parquet")))


def _require(folder: pathlib.Path, name: str) -> pathlib.Path:
  path = folder / name
  if not path.exists():
    raise FileNotFoundError(
        f"{folder} is not a MovieLens folder in the latest-small layout: "
        f"{name} is missing (expected movies.csv, ratings.csv, tags.csv)")
  return path


def import_movielens(folder: str | pathlib.Path,
                     config: MovieLensImportConfig | None = None
                     ) -> dict[str, pd.DataFrame]:
  """Converts a MovieLens folder into the contract's tables.

  Args:
    folder: a folder with ``movies.csv``, ``ratings.csv`` and optionally
      ``tags.csv`` (ml-latest-small / ml-latest / ml-25m layout).
    config: import options.

  Returns:
    ``{"items": ..., "interactions": ...}`` frames in the contract's columns.
  """
  config = config or MovieLensImportConfig()
  folder = pathlib.Path(folder)
  movies = pd.read_csv(_require(folder, "movies.csv"), dtype=str,
                       keep_default_na=False)
  ratings = pd.read_csv(_require(folder, "ratings.csv"),
                        dtype={"userId": str, "movieId": str})
  tags_path = folder / "tags.csv"
  tags = (pd.read_csv(tags_path, dtype={"userId": str, "movieId": str,
                                        "tag": str}, keep_default_na=False)
          if tags_path.exists() else
          pd.DataFrame(columns=["userId", "movieId", "tag", "timestamp"]))
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
  # Genres go to the genres column (item text composition adds them); the
  # description carries what users said: the movie's most frequent tags.
  tag_text = movies["movieId"].map(top_tags).fillna("")
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
  return {"items": items, "interactions": interactions}
