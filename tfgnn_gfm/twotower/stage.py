"""The ``train-2t`` and ``evaluate`` stages: directories in, directories out."""

from __future__ import annotations

import json
import logging
import pathlib
import time
from typing import Any

import numpy as np
import pandas as pd

from tfgnn_gfm.artifacts import (
  EmbeddingsDir,
  EvaluationDir,
  TwoTowerDir,
  atomic_directory,
  write_manifest,
)
from tfgnn_gfm.config import config_to_dict
from tfgnn_gfm.distribute import make_strategy, output_directory
from tfgnn_gfm.timesplit import (
  TimeSplit,
  format_time,
  parse_cut,
  validation_view,
  window_splits,
)
from tfgnn_gfm.twotower import claims, report, rolling
from tfgnn_gfm.twotower import config as cfg
from tfgnn_gfm.twotower.comparison import Comparison, compare_models
from tfgnn_gfm.twotower.examples import training_data_for
from tfgnn_gfm.twotower.items import load_item_table, read_embeddings
from tfgnn_gfm.twotower.prior import (
  choose_popularity_weight,
  inner_split,
  with_chosen_epochs,
)
from tfgnn_gfm.twotower.protocol import peak_rss_mb
from tfgnn_gfm.twotower.repeats import repeat_policy
from tfgnn_gfm.twotower.towers import save_tower
from tfgnn_gfm.twotower.train import train_two_tower

_LOG = logging.getLogger(__name__)


def _read_data(data_dir: str | pathlib.Path):
  from tfgnn_gfm.data import read_dataset
  dataset = read_dataset(data_dir)
  inputs = {t.table: t.path for t in dataset.tables}
  users = dataset.users.frame if dataset.users is not None else None
  return (dataset.items.frame, dataset.interactions.frame, users, inputs,
          len(dataset.dead_letters()))


def embeddings_cut(embeddings_dir: str | pathlib.Path) -> int | None:
  """The cut recorded by ``gfm embed`` (the graph's), or None."""
  return EmbeddingsDir(pathlib.Path(embeddings_dir)).cut()


def resolve_cut(cut: str | None, *embeddings_dirs: str | pathlib.Path) -> int:
  """The cut: the flag, else the latest cut of the given embeddings.

  Raises:
    ValueError: when neither gives one.
  """
  if cut is not None:
    return parse_cut(cut)
  cuts = [c for c in (embeddings_cut(d) for d in embeddings_dirs if d)
          if c is not None]
  if not cuts:
    raise ValueError("the embeddings manifest records no cut; pass --cut")
  return max(cuts)


def _pooled_comparison(comparisons: list[Comparison],
                       pooled: dict[str, Any]) -> Comparison:
  """One Comparison of every window: pooled metrics, summed counts."""
  models = {}
  for name in dict.fromkeys(m for c in comparisons for m in c.models):
    entries = [c.models[name] for c in comparisons if name in c.models]
    first = entries[0]
    models[name] = {
        "seeded": first["seeded"], "seeds": first["seeds"],
        "eval_seconds": [round(sum(e["eval_seconds"][j] for e in entries), 2)
                         for j in range(len(first["eval_seconds"]))],
        "wall_seconds": round(sum(e.get("wall_seconds", 0.0)
                                  for e in entries), 2),
        "info": first["info"] if len(entries) == 1 else
                [e["info"] for e in entries],
        "metrics": pooled[name]}
    skipped = [e["skipped"] for e in entries if e.get("skipped")]
    if skipped:
      models[name]["skipped"] = skipped[0]
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


def train_2t(data_dir: str | pathlib.Path,
             embeddings_dir: str | pathlib.Path,
             out_dir: str | pathlib.Path, config: cfg.TwoTowerConfig, *,
             verbose: int | None = None) -> dict[str, Any]:
  """``gfm train-2t``: trains the unified 2T-HGNN on the window before the cut.

  The static HGNN vectors are reused as they are (no HGNN retraining): the
  daily job of the paper's two-layer design.

  Args:
    data_dir: the dataset folder.
    embeddings_dir: output of ``gfm embed``.
    out_dir: the TwoTowerDir to write (atomically).
    config: options; ``config.cut`` defaults to the embeddings' cut.
    verbose: Keras verbosity.

  Returns:
    The manifest's metrics.
  """
  config.validate()
  strategy = make_strategy(config.distribute)  # Before any TF op.
  items_frame, interactions, users, inputs, dead = _read_data(data_dir)
  cut = resolve_cut(config.cut, embeddings_dir)
  emb_cut = embeddings_cut(embeddings_dir)
  if emb_cut is not None and emb_cut > cut:
    _LOG.warning("the embeddings' graph was built with a later cut (%s) "
                 "than the training cut (%s)", format_time(emb_cut),
                 format_time(cut))
  split = TimeSplit(cut, config.train_days)
  items = load_item_table(embeddings_dir, items_frame,
                          rollup_episodes=config.rollup_episodes,
                          max_genres=config.max_genres)
  data = training_data_for(interactions, users, items, split, config)
  policy = repeat_policy(interactions, items, split,
                         threshold=config.repeat_threshold,
                         override=config.repeats)
  _LOG.info("%s", policy.describe())
  weight, prior_info = choose_popularity_weight(
      inner_split(interactions, users, items, split, config), config,
      use_hgnn=True, seed=config.seed, verbose=verbose)
  model = train_two_tower(data, with_chosen_epochs(prior_info, config),
                          use_hgnn=True, verbose=verbose,
                          popularity_weight=weight)
  start = time.perf_counter()
  item_vectors = model.embed_items(data.items,
                                   batch_size=config.inference_batch_size)
  embed_seconds = time.perf_counter() - start
  metrics = {
      "train_seconds": round(model.seconds, 2),
      "examples_per_second": round(model.examples_per_second, 1),
      "final_mean_batch_loss": model.history.get("mean_batch_loss",
                                                 [None])[-1],
      "embed_items_per_second": round(len(items) / max(embed_seconds, 1e-9),
                                      1),
      "popularity_weight": weight,
      "popularity_prior": prior_info,
      "repeats_dropped_types": policy.dropped_types,
  }
  with output_directory(out_dir, strategy) as tmp:  # The chief's is out_dir.
    layout = TwoTowerDir(tmp)
    save_tower(model.user_tower, layout.user_tower)
    save_tower(model.item_tower, layout.item_tower)
    np.save(layout.item_embeddings_path, item_vectors)
    pd.DataFrame({
        "row": np.arange(len(items)), "item_id": items.item_id,
        "item_type": items.item_type, "root_row": items.root,
        "candidate": items.candidate,
        "vector_known": items.graph_vector,
        "score_offset": model.item_offset}).to_csv(layout.items_path,
                                                   index=False)
    spec = data.spec()
    spec["user_tower_inputs"] = list(model.user_tower.input_names)
    spec["item_tower_inputs"] = list(model.item_tower.input_names)
    spec["embedding_dim"] = int(model.item_tower.output_shape[-1])
    spec["repeats"] = policy.to_dict()
    spec["notes"] = {
        "categorical": "inputs are 1-based indices into the vocabularies; "
                       "0 = unknown or missing (the zero vector)",
        "history": "item rows (items.csv) of the user's most recent distinct "
                   "items in the training window, most recent first; -1 pads",
        "vector_known": "1 when the item's HGNN vector is from the graph; "
                        "0 for inductive (text-only) items, whose hgnn input "
                        "is zeros",
        "user_numeric": "(x - numeric_mean) / numeric_std; missing = 0",
        "repeats": "per item type, whether a user's consumed items may be "
                   "recommended again (keep) or are left out (the exported "
                   "serving_default leaves out the request's recent items "
                   "of those types)",
        "embeddings": "both towers output the MLP's L2-normalised "
                      f"{config.embedding_dim} values"
                      + (", then the text match (user: "
                         f"{config.text_match_weight} x the normalised sum "
                         "of the history's normalised text vectors; item: "
                         "its normalised text vector)"
                         if config.text_match_weight > 0 else ""),
    }
    layout.features_path.write_text(json.dumps(spec, indent=2) + "\n",
                                    encoding="utf-8")
    layout.history_path.write_text(json.dumps(model.history, indent=2) + "\n",
                                   encoding="utf-8")
    layout.write_manifest(config=config_to_dict(config), inputs=inputs,
                          embeddings=embeddings_dir, cut=cut,
                          split=split.to_dict(),
                          counts={**data.counts, "dead_letters": dead},
                          metrics=metrics)
  return metrics


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
  items_frame, interactions, users, inputs, dead = _read_data(data_dir)
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
      index, vectors, _, _ = read_embeddings(retrained_embeddings)
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
  models = {name: {k: v for k, v in entry.items()
                   if k not in ("runs", "per_user")}
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
        extra={"cut": cut, "split": split.to_dict(), "mode": result["mode"],
               **({"validation": validation} if validation else {})})
  return result

