"""``gfm build-graph``: the graph stage (an Apache Beam pipeline).

The arguments are the pipeline's own (``beam/command.py``, shared with
``python -m beam.build_graph``); the pipeline itself (``beam/build_graph.py``)
is imported only when the command runs, so ``gfm --help`` stays fast. The
dependency is one-way: this module uses ``beam``, ``beam`` never uses it.
"""

from __future__ import annotations

import argparse

from beam import command as graph_command
from beam.options import BeamArgsParser


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Registers ``gfm build-graph``.

  Args:
    subparsers: the ``gfm`` parser's subparsers action.

  Returns:
    The subcommand's parser.
  """
  parser = subparsers.add_parser(
      "build-graph", help=graph_command.HELP,
      description=graph_command.DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter,
      allow_abbrev=False)
  # Unknown arguments are Beam pipeline options, checked strictly later.
  parser.__class__ = BeamArgsParser
  graph_command.configure_parser(parser)
  parser.set_defaults(func=run)
  return parser


def run(args: argparse.Namespace) -> int:
  """Builds the graph and prints the summary.

  Args:
    args: the parsed arguments of ``gfm build-graph``.

  Returns:
    The exit code (0).
  """
  from beam import build_graph
  return build_graph.run(args)
