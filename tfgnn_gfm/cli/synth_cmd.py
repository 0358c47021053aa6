"""``gfm synth``: generate a synthetic platform in the data contract."""

from __future__ import annotations

import argparse
import time

from tfgnn_gfm.config import add_config_arguments, config_from_args
from tfgnn_gfm.synth.generator import SynthConfig

_HELP = "generate synthetic catalog, users and listening logs"
_DESCRIPTION = """\
Generate a synthetic audio platform with planted structure: podcasts, episodes
and audiobooks written from latent topics, users whose age and country shape
their tastes, and interactions over train_days + holdout_days days with
power-law popularity, repeats, weak signals (follow, preview), cold items and
cold users. Deterministic by --seed. Writes items, interactions and users in
the data contract (plus truth/ with the planted topics) and a manifest.json.

example: gfm synth --out data/synth --seed 7 --num-users 100000
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Registers ``gfm synth``."""
  parser = subparsers.add_parser(
      "synth", help=_HELP, description=_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--out", required=True, metavar="DIR",
                      help="output dataset folder (replaced atomically)")
  add_config_arguments(parser, SynthConfig)
  parser.set_defaults(func=run)
  return parser


def run(args: argparse.Namespace) -> int:
  """Generates and writes the dataset; prints counts and timing."""
  from tfgnn_gfm.synth.stage import synth
  config = config_from_args(SynthConfig, args)
  start = time.perf_counter()
  platform, layout = synth(args.out, config)
  tables = {"items": platform.items, "interactions": platform.interactions,
            "users": platform.users}
  elapsed = time.perf_counter() - start
  counts = ", ".join(f"{k}={len(v):,}" for k, v in tables.items())
  print(f"synth: wrote {counts} to {layout.root} in {elapsed:.1f}s")
  return 0
