"""``gfm build-graph``: the graph stage (an Apache Beam pipeline).

This module defines the graph pipeline's command line once, for both entry
points: ``gfm build-graph`` (``add_parser``) and ``python -m
beam.build_graph`` (``standalone_parser``). It imports neither Beam nor
TensorFlow (``gfm --help`` stays fast); the pipeline itself
(``beam/build_graph.py``) is imported only when the command runs.
Parsed arguments are run by ``beam.build_graph.run``.
"""

from __future__ import annotations

import argparse

from tfgnn_gfm.config import add_config_arguments
from tfgnn_gfm.graph.config import GraphBuildConfig
from tfgnn_gfm.pipelines.options import BeamArgsParser, pass_beam_options

HELP = "build the item-item graph with Apache Beam"
DESCRIPTION = """\
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
both in [cut - train_days, cut); one edge set per ordered pair of node sets,
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


def configure_parser(parser: argparse.ArgumentParser) -> None:
  """Adds the graph command's arguments to ``parser``.

  Args:
    parser: a ``BeamArgsParser`` (or a subparser given its behaviour by
      ``pass_beam_options``), so that every unknown argument is kept as a
      Beam pipeline option.
  """
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


def standalone_parser() -> BeamArgsParser:
  """The parser of ``python -m beam.build_graph``.

  Returns:
    A parser with the graph command's arguments and ``-v``/``--verbose``.
  """
  parser = BeamArgsParser(
      prog="python -m beam.build_graph", description=DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter,
      allow_abbrev=False)
  parser.add_argument("-v", "--verbose", action="store_true",
                      help="log debug messages")
  configure_parser(parser)
  return parser


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Registers ``gfm build-graph``.

  Args:
    subparsers: the ``gfm`` parser's subparsers action.

  Returns:
    The subcommand's parser.
  """
  parser = pass_beam_options(subparsers.add_parser(
      "build-graph", help=HELP, description=DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter,
      allow_abbrev=False))
  configure_parser(parser)
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
