"""``gfm demo``: the main job on built-in synthetic data, end to end."""

from __future__ import annotations

import argparse
import time

_DESCRIPTION = """\
Run the pipeline on built-in synthetic data into one output folder:

  OUT/data/        synthetic tables (gfm synth)
  OUT/validation/  dead letters and summary (gfm validate)
  OUT/graph/       item-item graph (gfm build-graph, Apache Beam)
  OUT/hgnn/        HGNN encoder pretrained by link prediction (gfm pretrain)
  OUT/embeddings/  an embedding for every item (gfm embed)
  OUT/two_tower/   the unified 2T-HGNN retrieval model (gfm train-2t)
  OUT/evaluation/  every model and baseline on the time split (gfm evaluate):
                   results.md, results.json, summary.txt, PNG charts

Each stage folder has a manifest.json; any stage can be rerun alone with its
own command. A --config FILE may hold a section per stage (synth:, validate:,
graph:, pretrain:, embed:, two_tower:, evaluate:) on top of the demo's
settings.
"""

# The demo's own settings (a quick run on 2 CPU cores); --config wins.
DEMO_PRESETS = {
    "pretrain": {"epochs": 6, "patience": 3},
}


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


def _stage_config(cls, path, preset=None, **forced):
  # pylint: disable=g-import-not-at-top
  from tfgnn_gfm.config import config_from_dict, load_config
  config = config_from_dict(cls, preset or {})
  if path:
    file_config = load_config(cls, path)
    changed = {k: v for k, v in vars(file_config).items()
               if v != getattr(cls(), k)}
    config = config_from_dict(cls, changed, config)
  return config_from_dict(cls, forced, config) if forced else config


def run(args: argparse.Namespace) -> int:
  """Runs each stage in order and prints what it wrote."""
  # pylint: disable=g-import-not-at-top
  from tfgnn_gfm.artifacts import RunLayout
  from tfgnn_gfm.config import config_to_dict
  from tfgnn_gfm.data.validate import (ValidateConfig, format_summary,
                                       validate_dataset)
  from tfgnn_gfm.data.writer import write_dataset
  from tfgnn_gfm.graph.config import GraphBuildConfig
  from tfgnn_gfm.hgnn.config import EmbedConfig, PretrainConfig
  from tfgnn_gfm.synth.generator import SynthConfig, generate
  layout = RunLayout(args.out)
  start = time.perf_counter()
  steps = 7

  def banner(i, text):
    print(f"\n[{i}/{steps}] {text} ({time.perf_counter() - start:.0f}s)",
          flush=True)

  synth_config = _stage_config(SynthConfig, args.config, seed=args.seed)
  banner(1, f"synth: {synth_config.num_users} users, "
         f"{synth_config.num_podcasts} shows, {synth_config.num_audiobooks} "
         f"audiobooks -> {layout.data.root}")
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

  banner(2, f"validate -> {layout.validation.root}")
  _, summary = validate_dataset(layout.data.root, layout.validation.root,
                                _stage_config(ValidateConfig, args.config))
  print(format_summary(summary))

  banner(3, f"build-graph (Apache Beam, DirectRunner) -> {layout.graph.root}")
  from beam.build_graph import build_graph, format_summary as graph_summary
  graph = build_graph(layout.data.root, layout.graph.root,
                      _stage_config(GraphBuildConfig, args.config))
  print(graph_summary(graph))

  banner(4, f"pretrain the HGNN -> {layout.hgnn.root}")
  from tfgnn_gfm.cli.pretrain_cmd import format_report
  from tfgnn_gfm.hgnn.stage import embed, pretrain
  metrics = pretrain(layout.graph.root, layout.hgnn.root,
                     _stage_config(PretrainConfig, args.config,
                                   DEMO_PRESETS["pretrain"]), verbose=2)
  print(format_report(metrics))

  banner(5, f"embed every item -> {layout.embeddings.root}")
  counts = embed(layout.graph.root, layout.hgnn.root, layout.embeddings.root,
                 _stage_config(EmbedConfig, args.config))
  print(f"embedded {counts['items']} items: {counts['by_source']}")

  from tfgnn_gfm.twotower.config import EvaluateConfig, TwoTowerConfig
  from tfgnn_gfm.twotower.report import summary_text
  from tfgnn_gfm.twotower.stage import evaluate, train_2t
  banner(6, f"train the unified two-tower model -> {layout.two_tower.root}")
  metrics = train_2t(layout.data.root, layout.embeddings.root,
                     layout.two_tower.root,
                     _stage_config(TwoTowerConfig, args.config), verbose=2)
  print({k: v for k, v in metrics.items() if not isinstance(v, dict)})

  banner(7, f"evaluate every model and baseline -> {layout.evaluation.root}")
  result = evaluate(layout.data.root, layout.embeddings.root,
                    layout.evaluation.root,
                    _stage_config(EvaluateConfig, args.config), verbose=0)
  print(summary_text(result), end="")

  print(f"\ndemo: done in {time.perf_counter() - start:.0f}s; outputs in "
        f"{layout.root}/ (report: evaluation/results.md; plots: graph/graph_stats.png, "
        "hgnn/pretrain.png, evaluation/*.png)")
  return 0
