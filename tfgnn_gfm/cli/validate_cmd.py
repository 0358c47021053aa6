"""``gfm validate``: check a dataset folder against the data contract."""

from __future__ import annotations

import argparse
import sys
import textwrap

from tfgnn_gfm.config import add_config_arguments, config_from_args
from tfgnn_gfm.data.reader import DEAD_LETTER_REASONS
from tfgnn_gfm.data.validate import ValidateConfig

_DESCRIPTION = """\
Read items, interactions and (optional) users from DATA (CSV, JSON Lines or
Parquet, optionally gzip'd; format by file extension) and check them against
the data contract in schemas/. Bad rows never stop the run: each goes to
OUT/dead_letter.jsonl with the row, its line number and the reason; the summary
(OUT/summary.json, printed) counts good rows and bad rows per reason.

{reasons}

A file that cannot be read at all (not gzip although named .gz, a corrupt
gzip stream, UTF-16, a bad CSV header, an unreadable Parquet file) stops the
run with one line naming it.

Exit codes: 0 ok, 2 unreadable input, 3 too many bad rows (--max-bad-fraction)
or no interaction rows.

example: gfm validate data/synth --out out/validation
""".format(reasons=textwrap.fill(
    "Reasons (schemas/README.md explains each): "
    + ", ".join(DEAD_LETTER_REASONS) + ".", 79))


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Registers ``gfm validate``."""
  parser = subparsers.add_parser(
      "validate", help="check a dataset folder against the data contract",
      description=_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("data", metavar="DATA", help="dataset folder")
  parser.add_argument("--out", required=True, metavar="DIR",
                      help="output folder for dead letters and summary")
  add_config_arguments(parser, ValidateConfig)
  parser.set_defaults(func=run)
  return parser


def run(args: argparse.Namespace) -> int:
  """Validates and prints the summary."""
  from tfgnn_gfm.data.validate import (
    TooManyBadRowsError,
    format_summary,
    validate_dataset,
  )
  config = config_from_args(ValidateConfig, args)
  try:
    _, summary = validate_dataset(args.data, args.out, config)
  except TooManyBadRowsError as e:
    print(f"gfm validate: {e}", file=sys.stderr)
    return 3
  print(format_summary(summary))
  print(f"dead letters and summary: {args.out}")
  return 0
