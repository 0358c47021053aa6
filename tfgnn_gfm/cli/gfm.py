"""The ``gfm`` command: one subcommand per pipeline stage.

Each subcommand lives in its own module under ``tfgnn_gfm.cli`` and exposes
``add_parser(subparsers)``, which registers the subcommand with its help and
sets ``func`` to the function that runs it. Command modules import heavy
libraries (TensorFlow, Beam) only inside that function, so ``gfm --help``
stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from tfgnn_gfm.cli.errors import run_reporting_errors, setup_logging
from tfgnn_gfm.version import __version__

# Order is the order of the pipeline, which is the order shown by --help.
COMMAND_MODULES = (
    "tfgnn_gfm.cli.synth_cmd",
    "tfgnn_gfm.cli.import_cmd",
    "tfgnn_gfm.cli.validate_cmd",
    "tfgnn_gfm.cli.text_encoder_cmd",
    "tfgnn_gfm.cli.build_graph_cmd",
    "tfgnn_gfm.cli.pretrain_cmd",
    "tfgnn_gfm.cli.embed_cmd",
    "tfgnn_gfm.cli.train_2t_cmd",
    "tfgnn_gfm.cli.evaluate_cmd",
    "tfgnn_gfm.cli.export_cmd",
    "tfgnn_gfm.cli.demo_cmd",
    "tfgnn_gfm.cli.serve_cmd",
)

_DESCRIPTION = """\
tfgnn-gfm: a graph foundation model for personalization.

Data flows one way; every stage reads the previous stage's directory and writes
its own with a manifest.json:
  raw tables -> graph -> HGNN embeddings -> two-tower -> exports -> serving

Run 'gfm COMMAND --help' for the options of one stage.
"""


def build_parser() -> argparse.ArgumentParser:
  """Returns the top-level parser with every registered subcommand."""
  parser = argparse.ArgumentParser(
      prog="gfm", description=_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--version", action="version",
                      version=f"tfgnn-gfm {__version__}")
  parser.add_argument("-v", "--verbose", action="store_true",
                      help="log debug messages")
  subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
  for name in COMMAND_MODULES:
    # Every command module must import: a missing one is a broken install
    # (or a renamed module), never a command to leave out quietly.
    importlib.import_module(name).add_parser(subparsers)
  return parser


def main(argv: Sequence[str] | None = None) -> int:
  """Runs ``gfm``; returns the process exit code.

  Known user errors (bad config, missing inputs, data contract violations)
  print one clear line and exit 2 instead of a traceback (or the error's own
  ``exit_code``: 3 for a table without rows).
  """
  parser = build_parser()
  args = parser.parse_args(argv)
  setup_logging(args.verbose)
  if not getattr(args, "func", None):
    parser.print_help()
    return 2
  return run_reporting_errors(f"gfm {args.command}",
                              lambda: args.func(args), verbose=args.verbose)


if __name__ == "__main__":
  sys.exit(main())
