"""``gfm import``: convert public datasets into the data contract."""

from __future__ import annotations

import argparse

from tfgnn_gfm.config import (
  add_config_arguments,
  config_from_args,
  config_to_dict,
)
from tfgnn_gfm.importers.movielens import MovieLensImportConfig

_DESCRIPTION = """\
Convert a public dataset into the data contract, so every later stage reads it
like synthetic or in-house data.

  movielens  a MovieLens folder, its layout told by the files present:
             latest (movies.csv, ratings.csv, tags.csv), 100k (u.item, u.data,
             u.user) or 1M (movies.dat, ratings.dat, users.dat). One item type
             'movie'; ratings become 'rating' events (weight = rating), tags
             become weak 'tag' events and the movie's most frequent tags its
             description; u.user / users.dat become the users table.

example: gfm import movielens ../shared/data/ml-latest-small --out data/ml
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Registers ``gfm import movielens``."""
  parser = subparsers.add_parser(
      "import", help="convert a public dataset (MovieLens) into the contract",
      description=_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  sources = parser.add_subparsers(dest="source", metavar="SOURCE",
                                  required=True)
  ml = sources.add_parser(
      "movielens", help="MovieLens (latest, 100k or 1M layout)",
      description="Convert a MovieLens folder (latest layout: movies.csv, "
                  "ratings.csv, tags.csv; 100k: u.item, u.data, u.user; 1M: "
                  "movies.dat, ratings.dat, users.dat) into the data "
                  "contract.")
  ml.add_argument("src", metavar="SRC", help="the MovieLens folder")
  ml.add_argument("--out", required=True, metavar="DIR",
                  help="output dataset folder (replaced atomically)")
  add_config_arguments(ml, MovieLensImportConfig)
  ml.set_defaults(func=run_movielens)
  return parser


def run_movielens(args: argparse.Namespace) -> int:
  """Imports the folder and prints counts."""
  from tfgnn_gfm.data.writer import write_dataset
  from tfgnn_gfm.importers.movielens import import_movielens, movielens_layout
  config = config_from_args(MovieLensImportConfig, args)
  try:
    source_layout, files = movielens_layout(args.src)
  except FileNotFoundError as e:
    raise ValueError(str(e)) from e
  tables = import_movielens(args.src, config)
  layout = write_dataset(
      args.out, tables, stage="import", config=config_to_dict(config),
      fmt=config.format, inputs={f.name: f for f in files},
      extra={"source": "movielens", "layout": source_layout})
  counts = ", ".join(f"{k}={len(v):,}" for k, v in tables.items())
  print(f"import movielens ({source_layout} layout): wrote {counts} to "
        f"{layout.root}")
  return 0
