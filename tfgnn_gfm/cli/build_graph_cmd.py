"""``gfm build-graph`` and ``python -m beam.build_graph``: the graph stage.

Both entry points share this parser and ``run``; the pipeline itself lives in
``beam/build_graph.py`` and is imported only when the command runs, so
``gfm --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pathlib
import sys
from typing import Sequence

from tfgnn_gfm.config import (ConfigError, add_config_arguments,
                              config_from_args)
from tfgnn_gfm.graph.config import GraphBuildConfig

_HELP = "build the item-item graph with Apache Beam"
_DESCRIPTION = """\
Build the heterogeneous item-item graph from a dataset folder (items,
interactions, optional users; any contract format) with an Apache Beam
pipeline, and write it to OUT:

  graph_schema.pbtxt   TF-GNN GraphSchema (template: schemas/)
  graph.tfrecord       the whole graph as one GraphTensor (tf.Example)
  sharded/             TF-GNN's sharded unigraph format (for TF-GNN's sampler)
  vocab/<set>.txt      item ids in node order
  dead_letter.jsonl    rejected rows with reasons; summary.json; manifest.json
  graph_stats.json/png nodes and edges per set, degree distribution

Nodes: one node set per item type (episodes roll up to their show), items
published by the cut, with text embedding, log degree, language, genres.
Edges: two items are linked when at least --min-co-users users interacted with
both in [cut - window_days, cut); one edge set per ordered pair of node sets,
both directions stored; features co_users, first_day, last_day.

Every argument not listed below is a Beam pipeline option, e.g.
  --direct_num_workers=2 --direct_running_mode=multi_processing
  --runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp
      --setup_file=./setup.py
  --runner=FlinkRunner --flink_master=HOST:8081 --environment_type=LOOPBACK
Give Beam options as --name=value. Without --runner the classic local
DirectRunner engine runs the pipeline (Prism is not tried).

example: gfm build-graph data/synth --out out/graph --direct_num_workers=2 \\
           --direct_running_mode=multi_processing
"""


class _BeamArgsParser(argparse.ArgumentParser):
  """Keeps unknown arguments as ``beam_args`` instead of failing on them."""

  def parse_known_args(self, args=None, namespace=None):
    namespace, extras = super().parse_known_args(args, namespace)
    namespace.beam_args = list(getattr(namespace, "beam_args", None) or [])
    namespace.beam_args += extras
    return namespace, []


def configure_parser(parser: argparse.ArgumentParser) -> None:
  """Adds the command's arguments to ``parser``."""
  parser.add_argument("data", metavar="DATA", nargs="?", default=None,
                      help="dataset folder with items.*, interactions.* and "
                           "optional users.*")
  parser.add_argument("--out", required=True, metavar="DIR",
                      help="output folder (local: replaced atomically)")
  parser.add_argument("--items", metavar="GLOB", default=None,
                      help="items file or glob of shards (overrides DATA)")
  parser.add_argument("--interactions", metavar="GLOB", default=None,
                      help="interactions file or glob (overrides DATA)")
  parser.add_argument("--users", metavar="GLOB", default=None,
                      help="users file or glob (overrides DATA)")
  add_config_arguments(parser, GraphBuildConfig)
  parser.set_defaults(func=run, beam_args=[])


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Registers ``gfm build-graph``."""
  parser = subparsers.add_parser(
      "build-graph", help=_HELP, description=_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter,
      allow_abbrev=False)
  # Unknown arguments are Beam pipeline options, checked strictly later.
  parser.__class__ = _BeamArgsParser
  configure_parser(parser)
  return parser


def _import_pipeline():
  try:
    build_graph = importlib.import_module("beam.build_graph")
  except ModuleNotFoundError as e:
    if e.name != "beam":
      raise
    # A source checkout installed before beam/ existed: use the checkout.
    root = pathlib.Path(__file__).resolve().parents[2]
    if not (root / "beam" / "build_graph.py").exists():
      raise
    sys.path.insert(0, str(root))
    build_graph = importlib.import_module("beam.build_graph")
  return build_graph


def run(args: argparse.Namespace) -> int:
  """Builds the graph and prints the summary."""
  build_graph = _import_pipeline()
  config = config_from_args(GraphBuildConfig, args)
  if args.data is None and not (args.items and args.interactions):
    raise ConfigError("give DATA (a dataset folder) or both --items and "
                      "--interactions")
  summary = build_graph.build_graph(
      args.data, args.out, config, items=args.items,
      interactions=args.interactions, users=args.users,
      beam_args=args.beam_args)
  print(build_graph.format_summary(summary))
  return 0


def main_standalone(argv: Sequence[str] | None = None) -> int:
  """``python -m beam.build_graph``: same options, same errors, exit code."""
  parser = _BeamArgsParser(
      prog="python -m beam.build_graph", description=_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter,
      allow_abbrev=False)
  parser.add_argument("-v", "--verbose", action="store_true",
                      help="log debug messages")
  configure_parser(parser)
  args = parser.parse_args(argv)
  logging.basicConfig(
      level=logging.DEBUG if args.verbose else logging.INFO,
      format="%(asctime)s %(levelname)s %(name)s: %(message)s",
      datefmt="%H:%M:%S")
  try:
    return run(args)
  except (ConfigError, FileNotFoundError, ValueError) as e:
    if args.verbose:
      raise
    print(f"build-graph: error: {e}", file=sys.stderr)
    return getattr(e, "exit_code", 2)
