"""``gfm demo``: the main job on built-in synthetic data, end to end."""

from __future__ import annotations

import argparse
import time

from tfgnn_gfm.config import config_to_dict, load_config
from tfgnn_gfm.synth.generator import SynthConfig

_DESCRIPTION = """\
Run the pipeline on built-in synthetic data into one output folder:

  OUT/data/        synthetic tables (gfm synth)
  OUT/validation/  dead letters and summary (gfm validate)

Each stage folder has a manifest.json; any stage can be rerun alone with its
own command. A --config FILE may hold a section per stage (synth:, validate:).
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Registers ``gfm demo``."""
  parser = subparsers.add_parser(
      "demo", help="run the whole pipeline on built-in synthetic data",
      description=_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--out", default="demo_out", metavar="DIR",
                      help="output folder (default: demo_out)")
  parser.add_argument("--seed", type=int, default=0, help="synthetic seed")
  parser.add_argument("--config", default=None, metavar="FILE",
                      help="YAML/JSON file with one section per stage")
  parser.set_defaults(func=run)
  return parser


def run(args: argparse.Namespace) -> int:
  """Runs each stage in order and prints what it wrote."""
  # pylint: disable=g-import-not-at-top
  from tfgnn_gfm.artifacts import RunLayout
  from tfgnn_gfm.data.validate import (ValidateConfig, format_summary,
                                       validate_dataset)
  from tfgnn_gfm.data.writer import write_dataset
  from tfgnn_gfm.synth.generator import generate
  layout = RunLayout(args.out)
  start = time.perf_counter()
  synth_config = load_config(SynthConfig, args.config, {"seed": args.seed})
  print(f"[1/2] synth: {synth_config.num_users} users, "
        f"{synth_config.num_podcasts} shows, {synth_config.num_audiobooks} "
        "audiobooks")
  platform = generate(synth_config)
  write_dataset(layout.data.root,
                {"items": platform.items,
                 "interactions": platform.interactions,
                 "users": platform.users},
                stage="synth", config=config_to_dict(synth_config),
                fmt=synth_config.format, compress=synth_config.compress,
                side_tables={"item_topics": platform.item_topics,
                             "user_topics": platform.user_topics},
                extra={"cut_timestamp": platform.cut_timestamp})
  print(f"[2/2] validate: {layout.data.root}")
  _, summary = validate_dataset(layout.data.root, layout.validation.root,
                                load_config(ValidateConfig, args.config))
  print(format_summary(summary))
  print(f"demo: done in {time.perf_counter() - start:.1f}s; outputs in "
        f"{layout.root}/")
  return 0
