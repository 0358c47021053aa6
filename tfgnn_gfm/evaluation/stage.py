"""``gfm evaluate``: every model on one split, or on rolling windows.

Trains and scores each model (popularity, the kNN models, the peers, the
two-tower variants) with the protocol of this package, on one split or on
rolling windows, and writes the EvaluationDir (results, report, plots).
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import time
from typing import Any

from tfgnn_gfm.artifacts import (
  EmbeddingsDir,
  EvaluationDir,
  atomic_directory,
  cut_extra,
  write_manifest,
)
from tfgnn_gfm.config import config_to_dict
from tfgnn_gfm.evaluation import claims, report, rolling
from tfgnn_gfm.evaluation.comparison import (
  Comparison,
  ModelResult,
  compare_models,
)
from tfgnn_gfm.evaluation.protocol import peak_rss_mb
from tfgnn_gfm.timesplit import (
  format_time,
  validation_view,
  window_splits,
)
from tfgnn_gfm.twotower import config as cfg
from tfgnn_gfm.twotower.items import load_item_table
from tfgnn_gfm.twotower.stage import embeddings_cut, read_data, resolve_cut

_LOG = logging.getLogger(__name__)


def _pooled_comparison(comparisons: list[Comparison],
                       pooled: dict[str, Any]) -> Comparison:
  """One Comparison of every window: pooled metrics, summed counts."""
  models = {}
  for name in dict.fromkeys(m for c in comparisons for m in c.models):
    entries = [c.models[name] for c in comparisons if name in c.models]
    first = entries[0]
    skipped = [e.skipped for e in entries if e.skipped]
    models[name] = ModelResult(
        seeded=first.seeded, seeds=first.seeds,
        eval_seconds=[round(sum(e.eval_seconds[j] for e in entries), 4)
                      for j in range(len(first.eval_seconds))],
        wall_seconds=round(sum(e.wall_seconds for e in entries), 4),
        info=first.info if len(entries) == 1 else [e.info for e in entries],
        metrics=pooled[name], skipped=skipped[0] if skipped else None)
  counts: dict[str, Any] = {}
  for c in comparisons:
    for key, value in c.counts.items():
      if key in ("items", "users", "candidates", "cold_candidates"):
        counts[key] = value
      elif isinstance(value, (int, float)) and not isinstance(value, bool):
        counts[key] = counts.get(key, 0) + value
      else:
        counts.setdefault(key, value)
  if len(comparisons) > 1:
    counts["windows"] = len(comparisons)
  return Comparison(models=models, counts=counts, types=comparisons[0].types,
                    training=comparisons[0].training,
                    repeats=comparisons[0].repeats)


def evaluate(data_dir: str | pathlib.Path, embeddings_dir: str | pathlib.Path,
             out_dir: str | pathlib.Path, config: cfg.EvaluateConfig, *,
             retrained_embeddings: str | pathlib.Path | None = None,
             progress: bool = True,
             verbose: int | None = None) -> dict[str, Any]:
  """``gfm evaluate``: every model on one split (docs/DESIGN.md section 4).

  Args:
    data_dir: the dataset folder.
    embeddings_dir: the (static) HGNN embeddings used by every model.
    out_dir: the EvaluationDir to write (atomically).
    config: options; ``config.cut`` defaults to the latest cut of the
      embeddings given. With ``config.validation``, ``config.cut`` is the
      test cut: interactions at or after it are dropped on reading and the
      split moves back by ``holdout_days`` (``timesplit.validation_view``).
    retrained_embeddings: embeddings of an HGNN retrained at the cut: adds
      the static-vs-retrained ablation (``2t_hgnn_retrained``).
    progress: tqdm bars while ranking.
    verbose: Keras verbosity while training.

  Returns:
    The result (also written as results.json).

  Raises:
    ValueError: when an embeddings' graph saw interactions at or after the
      cut (they would leak the hold-out), or nothing is held out.
  """
  config.validate()
  items_frame, interactions, users, inputs, dead = read_data(data_dir)
  cut = resolve_cut(config.cut, embeddings_dir, retrained_embeddings)
  validation = None
  splits = window_splits(cut, cuts=config.cuts,
                         step_days=config.cut_step_days or config.holdout_days,
                         train_days=config.train_days,
                         holdout_days=config.holdout_days,
                         validation=config.validation)
  if config.validation:
    kept, _ = validation_view(interactions, cut, config.train_days,
                              config.holdout_days)
    validation = {"test_cut": cut, "test_cut_utc": format_time(cut),
                  "dropped_interactions": int(len(interactions) - len(kept))}
    interactions = kept
  else:
    last = int(interactions["timestamp"].max()) if len(interactions) else cut
    if config.cuts > 1 and splits[-1].cut > last:
      raise ValueError(
          f"--cuts {config.cuts}: window {len(splits)} starts at "
          f"{format_time(splits[-1].cut)}, after the last interaction "
          f"({format_time(last)}); build the graph with an earlier cut "
          f"(gfm build-graph --holdout-days {config.cuts} x the step) or "
          "ask for fewer cuts")
  split, cut = splits[0], splits[0].cut
  what = "validation cut" if validation else "evaluation cut"
  if config.cuts > 1:
    what = "first " + what
  for name, path in (("--embeddings", embeddings_dir),
                     ("--retrained-embeddings", retrained_embeddings)):
    emb_cut = embeddings_cut(path) if path else None
    if emb_cut is not None and emb_cut > cut:
      raise ValueError(
          f"{name} {path} comes from a graph cut at {format_time(emb_cut)}, "
          f"after the {what} {format_time(cut)}: its vectors have seen "
          f"hold-out interactions; rebuild the graph with --cut <= the "
          f"{what}")
  start = time.perf_counter()
  comparisons, missing, windows = [], 0, []
  for i, window in enumerate(splits):
    if len(splits) > 1:
      _LOG.info("window %d/%d: cut %s", i + 1, len(splits),
                format_time(window.cut))
    items = load_item_table(embeddings_dir, items_frame,
                            rollup_episodes=config.rollup_episodes,
                            max_genres=config.max_genres,
                            available_until=window.holdout_end)
    retrained = None
    if retrained_embeddings:
      retrained = EmbeddingsDir(retrained_embeddings).read()
      index, vectors = retrained.index, retrained.vectors
      source = index["source"].to_numpy(object) if "source" in index else None
      retrained, missing = items.with_hgnn(index["item_id"].to_numpy(object),
                                           vectors, source)
      if missing and not i:
        _LOG.warning("%d items of --embeddings are absent from "
                     "--retrained-embeddings (zero vectors)", missing)
    comparison = compare_models(interactions, users, items, window, config,
                                retrained_items=retrained, progress=progress,
                                verbose=verbose)
    comparisons.append(comparison)
    if not config.seeds:
      # Every window trains as many seeds as the first (the pooled
      # intervals average each user-window over the same seeds).
      config = dataclasses.replace(config, seeds=len(comparison.seeds))
    windows.append({"split": window.to_dict(),
                    "counts": dict(comparison.counts),
                    "repeats": comparison.repeats})
  seconds = time.perf_counter() - start
  evaluated = sum(c.counts["evaluated_users"] for c in comparisons)
  if not evaluated:
    raise ValueError(f"no hold-out interaction in [{format_time(cut)}, "
                     f"{format_time(splits[-1].holdout_end)}): nothing to "
                     "evaluate")
  pooled, paired = rolling.pool(comparisons, k=config.k, mrr_k=config.mrr_k,
                                coverage_k=config.coverage_k,
                                num_resamples=config.bootstrap_resamples,
                                seed=config.seed)
  comparison = _pooled_comparison(comparisons, pooled)
  models = {name: entry.to_json()
            for name, entry in report.ordered(comparison.models).items()}
  result = {
      "config": config_to_dict(config),
      "mode": "validation" if validation else "test",
      "split": split.to_dict(),
      "counts": {**comparison.counts, "dead_letters": dead,
                 "retrained_missing_items": missing},
      "types": comparison.types,
      "models": models,
      "training": comparison.training,
      "repeats": comparison.repeats,
      "seconds": round(seconds, 1),
      "peak_rss_mb": peak_rss_mb(),
      "windows": windows,
      "paired": paired,
  }
  if validation:
    result["validation"] = validation
  result["verdict"] = report.verdict(models, comparison.types, config.k)
  result["verdict"]["paired"] = report.paired_verdict(
      paired, comparison.types, config.k)
  rows = claims.claim_rows(result)
  result["claims"] = {"rows": rows, "verdicts": claims.claim_verdicts(rows)}
  headline = {m: {t: e["metrics"][t]["all_items"]["all_users"][
      f"hr@{config.k}"]["mean"] for t in e["metrics"]}
              for m, e in models.items()}
  inputs = {**inputs, "embeddings": embeddings_dir}
  if retrained_embeddings:
    inputs["retrained_embeddings"] = retrained_embeddings
  with atomic_directory(out_dir) as tmp:
    layout = EvaluationDir(tmp)
    report.write_json(result, layout.results_path)
    layout.table_path.write_text(report.markdown_tables(result),
                                 encoding="utf-8")
    layout.summary_path.write_text(report.summary_text(result),
                                   encoding="utf-8")
    report.plot_results(result, layout.hr_plot_path, layout.metrics_plot_path)
    claims.plot_claims(result, layout.claims_plot_path)
    write_manifest(
        tmp, stage="evaluate", config=config_to_dict(config), inputs=inputs,
        counts=result["counts"],
        metrics={f"hr@{config.k}": headline,
                 "unified_beats_all_baselines": result["verdict"].get(
                     "unified_beats_all_baselines"),
                 "unified_beats_type_specific": result["verdict"].get(
                     "unified_beats_type_specific"),
                 "seconds": result["seconds"]},
        extra={**cut_extra(cut), "split": split.to_dict(),
               "mode": result["mode"],
               **({"validation": validation} if validation else {})})
  return result

