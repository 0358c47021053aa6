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
  OUT/exports/     TF Serving model base path (gfm export): gfm_retrieval
                   (ScaNN), gfm_retrieval_bf (brute force), gfm_user_tower
  OUT/report/      report.md (every stage's tables and plots, the REST calls)
                   and serving.json

After the export, the demo starts gfm serve on the export (TF Serving's REST
API, on loopback), sends a few requests (a warm user, a cold user, similar
items, a text search), prints a curl command to try, and writes the report.
With --keep-serving the server stays up until Ctrl-C.

Each stage folder has a manifest.json; any stage can be rerun alone with its
own command. A --config FILE may hold a section per stage (synth:, validate:,
graph:, pretrain:, embed:, two_tower:, evaluate:, export:) on top of the
demo's settings.
"""

# The demo's own settings (a quick run on 2 CPU cores); --config wins.
DEMO_PRESETS = {
    # Six whole epochs: the synthetic graph is small, no positives budget.
    "pretrain": {"epochs": 6, "patience": 3, "positives_budget": 0},
}


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Registers ``gfm demo``."""
  parser = subparsers.add_parser(
      "demo", help="run the whole pipeline on built-in synthetic data",
      description=_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--out", default="demo_out", metavar="DIR",
                      help="output folder (default: demo_out)")
  parser.add_argument("--seed", type=int, default=None,
                      help="synthetic seed; wins over the file's synth: seed "
                           "(default: the file's, else 0)")
  parser.add_argument("--config", default=None, metavar="FILE",
                      help="YAML/JSON file with one section per stage")
  parser.add_argument("--port", type=int, default=0,
                      help="REST port of the demo's server (default: a free "
                           "one)")
  parser.add_argument("--keep-serving", action="store_true",
                      help="keep serving after the report, until Ctrl-C")
  parser.set_defaults(func=run)
  return parser


def _stage_config(cls, path, preset=None, **forced):
  """defaults < the demo's preset < the --config file < forced values."""
  from tfgnn_gfm.config import load_config
  return load_config(cls, path, forced, preset=preset)


def run(args: argparse.Namespace) -> int:
  """Runs each stage in order and prints what it wrote."""
  from tfgnn_gfm.artifacts import RunLayout
  from tfgnn_gfm.data.validate import (
    ValidateConfig,
    format_summary,
    validate_dataset,
  )
  from tfgnn_gfm.graph.config import GraphBuildConfig
  from tfgnn_gfm.hgnn.config import EmbedConfig, PretrainConfig
  from tfgnn_gfm.synth.generator import SynthConfig
  from tfgnn_gfm.synth.stage import synth
  layout = RunLayout(args.out)
  start = time.perf_counter()
  steps = 9
  timings: dict[str, float] = {}
  last = [start]

  def banner(i, text):
    now = time.perf_counter()
    if i > 1:
      timings[_STAGE_NAMES[i - 2]] = now - last[0]
    last[0] = now
    print(f"\n[{i}/{steps}] {text} ({now - start:.0f}s)", flush=True)

  synth_config = _stage_config(
      SynthConfig, args.config,
      **({} if args.seed is None else {"seed": args.seed}))
  banner(1, f"synth: {synth_config.num_users} users, "
         f"{synth_config.num_podcasts} shows, {synth_config.num_audiobooks} "
         f"audiobooks -> {layout.data.root}")
  platform, _ = synth(layout.data.root, synth_config)

  banner(2, f"validate -> {layout.validation.root}")
  _, summary = validate_dataset(layout.data.root, layout.validation.root,
                                _stage_config(ValidateConfig, args.config))
  print(format_summary(summary))

  banner(3, f"build-graph (Apache Beam, DirectRunner) -> {layout.graph.root}")
  from beam.build_graph import build_graph
  from beam.build_graph import format_summary as graph_summary
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

  from tfgnn_gfm.evaluation.report import summary_text
  from tfgnn_gfm.evaluation.stage import evaluate
  from tfgnn_gfm.twotower.config import EvaluateConfig, TwoTowerConfig
  from tfgnn_gfm.twotower.stage import train_2t
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

  from tfgnn_gfm.export.config import ExportConfig
  from tfgnn_gfm.export.stage import export
  banner(8, f"export for TF Serving -> {layout.exports.root}")
  from tfgnn_gfm.artifacts import ExportSummary
  summary = ExportSummary.from_manifest(export(
      layout.two_tower.root, layout.exports.root,
      _stage_config(ExportConfig, args.config)))
  print(f"exported version {summary.version} of "
        f"{', '.join(summary.models)}; ScaNN recall@10 vs brute force: "
        f"{summary.scann_recall}")

  banner(9, "serve the export (TF Serving REST API) and query it")
  from tfgnn_gfm.run_report import write_run_report
  server = _start_server(layout, args.port)
  try:
    tour = _query(server.url, platform)
    timings[_STAGE_NAMES[-1]] = time.perf_counter() - last[0]
    report = write_run_report(layout, timings=timings, tour=tour)
    print(f"\ndemo: done in {time.perf_counter() - start:.0f}s; outputs in "
          f"{layout.root}/; report: {report}")
    if args.keep_serving:
      print(f"serving at {server.url}; Ctrl-C stops", flush=True)
      _wait_for_interrupt()
  finally:
    server.stop()
  return 0


_STAGE_NAMES = ("synth", "validate", "build-graph", "pretrain", "embed",
                "train-2t", "evaluate", "export", "serve")


def _demo_user(platform):
  """A warm user (most interactions before the cut) and its recent items,
  most recent first."""
  import pandas as pd
  interactions = platform.interactions
  times = interactions["timestamp"]
  if not pd.api.types.is_numeric_dtype(times):
    times = (pd.to_datetime(times, utc=True, format="ISO8601") -
             pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
  before = interactions[times.to_numpy() < platform.cut_timestamp]
  user_id = before["user_id"].value_counts().index[0]
  mine = before[before["user_id"] == user_id].sort_values("timestamp",
                                                          ascending=False)
  recent = list(dict.fromkeys(mine["item_id"]))[:10]
  users = platform.users.set_index("user_id")
  row = users.loc[user_id].to_dict() if user_id in users.index else {}
  return user_id, row, recent


def _start_server(layout, port):
  """gfm serve in-process (a background thread) over the run's export."""
  from tfgnn_gfm.export import config as export_config
  from tfgnn_gfm.serving import (
    BackgroundServer,
    ModelServer,
    load_model_server_config,
  )
  config = load_model_server_config(layout.exports.models_config_path)
  server = BackgroundServer(ModelServer(config, host="127.0.0.1", port=port,
                                        poll_wait_seconds=1.0)).start()
  if not server.store.wait_until_served(export_config.MODEL_NAMES,
                                        timeout=600):
    server.stop()
    raise RuntimeError("the exported models did not load; see the log")
  return server


def _query(url, platform):
  """The REST tour (``tfgnn_gfm.serving.walkthrough``), printed as it goes."""
  from tfgnn_gfm.export import config as export_config
  from tfgnn_gfm.serving.tour import walkthrough
  user_id, user, recent = _demo_user(platform)
  titles = dict(zip(platform.items["item_id"], platform.items["title"]))
  item_id = recent[0] if recent else platform.items["item_id"].iloc[0]
  tour = walkthrough(url, user=user, recent_item_ids=recent, item_id=item_id,
                     query="true crime stories", titles=titles,
                     model=export_config.RETRIEVAL_SCANN)
  print(f"user {user_id}, recent items {recent[:3]}...:")
  for call in tour["calls"]:
    shown = ", ".join(f"{i} ({t[:30]})" for i, t in zip(
        call["answer"].get("item_ids", [])[:3], call["titles"][:3]))
    print(f"  {call['name']}: {shown} ... [{call['latency_ms']} ms]")
  print("try it (with --keep-serving):\n  " + tour["curl"])
  return tour


def _wait_for_interrupt() -> None:
  try:
    while True:
      time.sleep(3600)
  except KeyboardInterrupt:
    pass
