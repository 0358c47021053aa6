"""``gfm evaluate``: the evaluation protocol with every baseline."""

from __future__ import annotations

import argparse

from tfgnn_gfm.config import add_config_arguments, config_from_args
from tfgnn_gfm.twotower.config import EvaluateConfig

_DESCRIPTION = """\
Evaluate on one global time cut (docs/DESIGN.md section 4): train on the
--train-days before the cut, hold out the --holdout-days after it. HR@10 per
item type (all items, and new items only), MRR@100, coverage@100, warm vs
cold users, cold items; for, on the same split: popularity, LLM-kNN (text
embeddings), HGNN-kNN, 2T without GNN (learned item ids), type-specific 2T
(one per type), unified 2T-HGNN; the two-tower models with --seeds seeds
(mean and standard deviation; by default 3 on small windows, 1 from 100,000
training examples). With --retrained-embeddings, also the
static-vs-retrained HGNN ablation: the unified 2T-HGNN over --embeddings
(static, e.g. from a graph cut a week earlier) and over the retrained ones
(from a graph cut at the evaluation cut).

The cut defaults to the latest cut of the embeddings given; an embeddings
directory whose graph was cut after the evaluation cut is refused (its
vectors have seen the hold-out).

Choosing hyper-parameters: --validation --cut TEST_CUT drops every
interaction at or after the test cut on reading and moves the split back by
--holdout-days (train on [cut - holdout - train_days, cut - holdout),
evaluate on [cut - holdout, cut)), so a sweep never sees the test hold-out.
Its embeddings must come from a graph cut at or before cut - holdout.

Writes to OUT: results.json, results.md (tables), summary.txt (who wins per
type and by how much), hr_at_k.png, mrr_coverage.png, manifest.json.

example: gfm evaluate data/ --embeddings out/embeddings --out out/evaluation
         gfm evaluate data/ --embeddings out/embeddings_val --validation \
             --cut 2024-03-31 --vector-dropout 0.1 --out out/val_0.1
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Registers ``gfm evaluate``."""
  parser = subparsers.add_parser(
      "evaluate", help="evaluate every model and baseline on a time split",
      description=_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("data", metavar="DATA_DIR",
                      help="dataset folder (items, interactions, users)")
  parser.add_argument("--embeddings", required=True, metavar="EMB_DIR",
                      help="output folder of gfm embed (the static HGNN)")
  parser.add_argument("--retrained-embeddings", default=None,
                      metavar="EMB_DIR",
                      help="gfm embed output of an HGNN retrained at the cut "
                           "(adds the static-vs-retrained ablation)")
  parser.add_argument("--out", required=True, metavar="DIR",
                      help="output folder (replaced atomically)")
  add_config_arguments(parser, EvaluateConfig)
  parser.set_defaults(func=run)
  return parser


def run(args: argparse.Namespace) -> int:
  """Evaluates and prints the verdict."""
  from tfgnn_gfm.evaluation.report import summary_text
  from tfgnn_gfm.evaluation.stage import evaluate
  config = config_from_args(EvaluateConfig, args)
  result = evaluate(args.data, args.embeddings, args.out, config,
                    retrained_embeddings=args.retrained_embeddings)
  print(summary_text(result), end="")
  print(f"evaluate: wrote {args.out}")
  return 0
