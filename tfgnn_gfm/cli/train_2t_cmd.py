"""``gfm train-2t``: train the dynamic layer (unified two-tower, TFRS)."""

from __future__ import annotations

import argparse
import json

from tfgnn_gfm.config import add_config_arguments, config_from_args
from tfgnn_gfm.twotower.config import TwoTowerConfig

_DESCRIPTION = """\
Train the unified, type-agnostic two-tower model (TensorFlow Recommenders) on
the interactions of the --train-days (default 90) before the cut, reusing the
static HGNN item embeddings as they are (the daily job: no HGNN retraining).

Item tower (one for every item type): HGNN vector + text vector + type,
language and genres -> MLP 512-256-128 -> L2 norm. User tower: user columns
(country, age bucket, any categorical or numeric column), per item type the
mean HGNN vector of the user's items in the window (zeros and a flag when
none), optional interest vector -> MLP -> L2 norm. In-batch softmax with
logQ sampling-bias correction and accidental-hit removal; weak signals
(follow, preview) are positives with --event-weights, scaled by the
interactions' weight column (--interaction-weight, e.g. seconds streamed); a
training example's history holds only the user's events before it
(--training-history).

Writes to OUT: user_tower/ and item_tower/ (Keras SavedModels),
item_embeddings.npy (every item), items.csv, features.json (inputs,
vocabularies, cut), history.json, manifest.json.

example: gfm train-2t data/ --embeddings out/embeddings --out out/two_tower
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Registers ``gfm train-2t``."""
  parser = subparsers.add_parser(
      "train-2t", help="train the unified two-tower model (dynamic layer)",
      description=_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("data", metavar="DATA_DIR",
                      help="dataset folder (items, interactions, users)")
  parser.add_argument("--embeddings", required=True, metavar="EMB_DIR",
                      help="output folder of gfm embed")
  parser.add_argument("--out", required=True, metavar="DIR",
                      help="output folder (replaced atomically)")
  add_config_arguments(parser, TwoTowerConfig)
  parser.set_defaults(func=run)
  return parser


def run(args: argparse.Namespace) -> int:
  """Trains and prints the training figures."""
  from tfgnn_gfm.twotower.stage import train_2t
  config = config_from_args(TwoTowerConfig, args)
  metrics = train_2t(args.data, args.embeddings, args.out, config)
  print(f"train-2t: {json.dumps(metrics)}")
  print(f"train-2t: wrote {args.out}")
  return 0
