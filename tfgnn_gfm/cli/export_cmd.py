"""``gfm export``: TF Serving SavedModels (ScaNN, brute force, user tower)."""

from __future__ import annotations

import argparse
import json

from tfgnn_gfm.config import add_config_arguments, config_from_args
from tfgnn_gfm.export.config import ExportConfig

_DESCRIPTION = """\
Export the two-tower model as a TF Serving model base path. Each run adds one
new integer version (never overwrites) of three models:

  BASE/gfm_retrieval/<v>/     ScaNN index (serve with google/tf-serving-scann
                              or gfm serve)
  BASE/gfm_retrieval_bf/<v>/  the same signatures, brute-force top-K on stock
                              TF ops (serve with tensorflow/serving)
  BASE/gfm_user_tower/<v>/    the query embedding alone (external ANN index)

Signatures of the retrieval models (inputs are batched; row or columnar):
  serving_default  user columns (e.g. user_country), recent_item_ids, k,
                   item_type ("" = all) -> item_ids, scores, item_types,
                   unknown_recent_items
  similar_items    item_id, k, item_type -> item_ids, scores, item_types
  search           query (free text), k, item_type -> item_ids, scores,
                   item_types
  embed_items      item_id -> embeddings, item_types

Ids are resolved inside the graph: unknown recent item ids are ignored and
counted; an unknown item_id of similar_items/embed_items is a 400 naming it.
ScaNN's recall@10 against brute force is measured and written to the
manifest (BASE/manifest.json and each version's manifest.json);
BASE/models.config serves all three models with `gfm serve --model-config-file`.

example: gfm export out/two_tower --out out/exports
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Registers ``gfm export``."""
  parser = subparsers.add_parser(
      "export", help="export SavedModels for TF Serving (ScaNN + brute force)",
      description=_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("two_tower", metavar="TWO_TOWER_DIR",
                      help="output folder of gfm train-2t")
  parser.add_argument("--out", required=True, metavar="BASE",
                      help="TF Serving model base path (versions are added)")
  add_config_arguments(parser, ExportConfig)
  parser.set_defaults(func=run)
  return parser


def run(args: argparse.Namespace) -> int:
  """Exports and prints the version, the recall and the paths."""
  from tfgnn_gfm.export.stage import export
  config = config_from_args(ExportConfig, args)
  from tfgnn_gfm.artifacts import ExportSummary
  summary = ExportSummary.from_manifest(export(args.two_tower, args.out,
                                               config))
  print(f"export: version {summary.version} of "
        f"{', '.join(summary.models)} under {args.out}")
  print(f"export: ScaNN recall@10 vs brute force "
        f"{json.dumps(summary.scann_recall)} (target "
        f"{summary.recall_target})")
  print(f"export: serve with: gfm serve --model-config-file "
        f"{args.out}/models.config")
  return 0
