"""``gfm embed``: an HGNN embedding for every item."""

from __future__ import annotations

import argparse
import json

from tfgnn_gfm.config import add_config_arguments, config_from_args
from tfgnn_gfm.hgnn.config import EmbedConfig
from tfgnn_gfm.pipelines.options import pass_beam_options

_DESCRIPTION = """\
Embed every item of the dataset the graph was built from, with a trained
encoder: graph nodes from their sampled neighbourhood; episodes (items with a
parent) inherit their show's embedding; items outside the graph (new items,
published after the cut) inductively from their text alone.

Writes to OUT: embeddings.npy (float32 [items, dim]), text_embeddings.npy
(the same rows' text vectors), index.csv (item_id, item_type, node_set,
source, row) and manifest.json.

Any further argument is a Beam pipeline option and runs the computation as
a Beam job on the runner it selects (workers load the graph, the inference
export and the text encoder from their paths; same output; needs
--full-graph), e.g.
  --runner=PortableRunner --job_endpoint=localhost:8099
      --environment_type=EXTERNAL --environment_config=localhost:50000
  --runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp
      --setup_file=./setup.py
Give Beam options as --name=value.

examples: gfm embed out/graph --model out/hgnn --out out/embeddings
          gfm embed out/graph --model out/hgnn --out out/embeddings \\
            --full-graph --direct_num_workers=2 \\
            --direct_running_mode=multi_processing
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Registers ``gfm embed``."""
  parser = subparsers.add_parser(
      "embed", help="write an embedding for every item (all types)",
      description=_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter,
      allow_abbrev=False)
  # Unknown arguments are Beam pipeline options (the Beam job).
  pass_beam_options(parser)
  parser.add_argument("graph", metavar="GRAPH_DIR",
                      help="output folder of gfm build-graph")
  parser.add_argument("--model", required=True, metavar="HGNN_DIR",
                      help="output folder of gfm pretrain")
  parser.add_argument("--out", required=True, metavar="DIR",
                      help="output folder (replaced atomically)")
  add_config_arguments(parser, EmbedConfig)
  parser.set_defaults(func=run)
  return parser


def run(args: argparse.Namespace) -> int:
  """Embeds and prints the counts."""
  from tfgnn_gfm.hgnn.stage import embed
  counts = embed(args.graph, args.model, args.out,
                 config_from_args(EmbedConfig, args),
                 beam_args=args.beam_args)
  print(f"embed: {json.dumps(counts)}")
  print(f"embed: wrote {args.out}")
  return 0
