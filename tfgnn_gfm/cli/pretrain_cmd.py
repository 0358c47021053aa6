"""``gfm pretrain``: train the static layer (HGNN) by link prediction."""

from __future__ import annotations

import argparse

from tfgnn_gfm.config import add_config_arguments, config_from_args
from tfgnn_gfm.hgnn.config import PretrainConfig
from tfgnn_gfm.pipelines.options import pass_beam_options

_DESCRIPTION = """\
Pretrain the heterogeneous GraphSAGE encoder on a graph written by
'gfm build-graph', by self-supervised link prediction: positives are
co-interaction edges, negatives random non-neighbour items (and the batch's
other targets); 10% of edges are held out for validation and early stopping.

Two training paths (--mode, default auto), same model, loss and negatives:
  full_graph (--full-graph): each step runs the encoder once over the whole
    training graph, with the step's positive edges removed from message
    passing (both directions), and takes the loss on --positives-per-step
    positives (in groups of --batch-size for in-batch negatives);
  sampled (--sampled): subgraphs around each root item are sampled with fixed
    fanouts by TF-GNN's in-memory edge sampler inside tf.data (--sampler
    in_memory), or by TF-GNN's Beam sampler over the graph's sharded/ files
    in a Beam pipeline run before training (--sampler beam); the predicted
    edge is removed from its own subgraphs.
  auto picks full_graph when the step's messages fit the memory budget:
    directed edges x hidden_dim x num_layers x 4 bytes x 4
    <= --memory-budget-mb MiB (default 2048), and neither --sampler beam nor
    --distribute mirrored is given; else sampled.

With --sampler beam, every argument not listed below is a Beam pipeline
option, as for build-graph, e.g.
  --direct_num_workers=2 --direct_running_mode=multi_processing
  --runner=DataflowRunner --project=P --region=R --temp_location=gs://B/tmp
Without --runner, Beam's classic local DirectRunner engine runs the step.

Writes to OUT: encoder/ (Keras SavedModel), export/ (inference SavedModel:
serialized GraphTensors in, embeddings out), input_schema.pbtxt, metrics.json
(HR@10 and MRR per edge set, against the text-embedding and item-kNN
baselines),
history.json, pretrain.png, checkpoints/, logs/ (TensorBoard), manifest.json;
with --sampler beam also beam_samples/ (the sampled subgraphs, per round and
node set, with their schema and TF-GNN sampling specs).

examples: gfm pretrain out/graph --out out/hgnn --epochs 20
          gfm pretrain out/graph --out out/hgnn --sampler beam \\
            --direct_num_workers=2 --direct_running_mode=multi_processing
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Registers ``gfm pretrain``."""
  parser = subparsers.add_parser(
      "pretrain", help="train the HGNN (static layer) by link prediction",
      description=_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter,
      allow_abbrev=False)
  # Unknown arguments are Beam pipeline options (--sampler beam), checked
  # strictly before training.
  pass_beam_options(parser)
  parser.add_argument("graph", metavar="GRAPH_DIR",
                      help="output folder of gfm build-graph")
  parser.add_argument("--out", required=True, metavar="DIR",
                      help="output folder (replaced atomically)")
  add_config_arguments(parser, PretrainConfig)
  shortcuts = parser.add_mutually_exclusive_group()
  for flag, mode in (("--full-graph", "full_graph"), ("--sampled", "sampled")):
    shortcuts.add_argument(flag, dest="mode", action="store_const",
                           const=mode, default=argparse.SUPPRESS,
                           help=f"same as --mode {mode}")
  parser.set_defaults(func=run)
  return parser


def run(args: argparse.Namespace) -> int:
  """Trains, evaluates and prints the per-edge-set report."""
  from tfgnn_gfm.hgnn.stage import pretrain
  config = config_from_args(PretrainConfig, args)
  metrics = pretrain(args.graph, args.out, config, beam_args=args.beam_args)
  print(format_report(metrics))
  print(f"pretrain: wrote {args.out}")
  return 0


def _link_table(report: dict) -> list[str]:
  """One row per edge set: HGNN, item-kNN and text, and the paired test."""
  lines = [f"{'edge set':<28}{'queries':>8}"
           f"{'HR@10 hgnn':>12}{'HR@10 kNN':>11}{'HR@10 text':>12}"
           f"{'MRR hgnn':>10}{'MRR kNN':>9}{'MRR text':>10}"
           f"  {'hgnn - kNN [95%]':<26}verdict"]
  for name, r in sorted(report.items()):
    vs = r.get("hgnn_vs_knn_hr@10") or {}
    paired = ("-" if vs.get("difference") is None else
              f"{vs['difference']:+.3f} [{vs['low']:+.3f}, {vs['high']:+.3f}]")
    lines.append(f"{name:<28}{r['queries']:>8}{r['hgnn_hr@10']:>12.3f}"
                 f"{r['knn_hr@10']:>11.3f}"
                 f"{r['text_hr@10']:>12.3f}{r['hgnn_mrr']:>10.3f}"
                 f"{r['knn_mrr']:>9.3f}"
                 f"{r['text_mrr']:>10.3f}  {paired:<26}"
                 f"{vs.get('verdict', '-')}")
  return lines


def format_report(metrics: dict) -> str:
  """The link-prediction table of a pretrain run, for the terminal."""
  lines = _link_table(metrics["link_prediction"])
  if "hgnn_meets_knn_target" in metrics:
    lines.append("target (HR@10 >= 1.10 x item-kNN, interval above 0, on "
                 "every edge set of 1,000+ queries): "
                 + ("met" if metrics["hgnn_meets_knn_target"] else "not met"))
  if metrics.get("future_edges"):
    lines.append("future edges (pairs first co-interacted in the graph's "
                 "hold-out window):")
    lines += _link_table(metrics["future_edges"])
    lines.append("target on future edges: " + (
        "met" if metrics["hgnn_meets_knn_target_on_future_edges"]
        else "not met"))
  if metrics.get("new_nodes"):
    lines.append("new nodes (taken out of training, embedded from their "
                 "features alone; --new-node-fraction):")
    lines.append(f"{'edge set':<28}{'queries':>8}{'HR@10 hgnn':>12}"
                 f"{'HR@10 text':>12}  {'hgnn - text [95%]':<26}verdict")
    for name, r in sorted(metrics["new_nodes"].items()):
      vs = r["hgnn_vs_text_hr@10"]
      paired = (f"{vs['difference']:+.3f} [{vs['low']:+.3f}, "
                f"{vs['high']:+.3f}]")
      lines.append(f"{name:<28}{r['queries']:>8}{r['hgnn_hr@10']:>12.3f}"
                   f"{r['text_hr@10']:>12.3f}  {paired:<26}{vs['verdict']}")
  lines.append(f"mode: {metrics.get('mode', 'sampled')}, "
               f"epochs: {metrics['epochs_run']}, "
               f"{metrics.get('train_seconds')} s, "
               f"{metrics['positive_edges_per_second']} positive edges/s, "
               f"embedding {metrics['embed_items_per_second']} items/s")
  if "beam_sampling_seconds" in metrics:
    lines.append(f"Beam sampling step: {metrics['beam_sampling_seconds']} s")
  return "\n".join(lines)
