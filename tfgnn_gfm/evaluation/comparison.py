"""Every model of the evaluation on one split, with several seeds.

``compare_models`` builds the training data and the hold-out once, then runs
every requested model of the registry (``models.MODELS``, in report order) on
exactly that split:

* ``popularity``, ``llm_knn``, ``hgnn_knn``: deterministic, run once;
* the peers (``peers``): ``item_knn`` and ``ease`` run once, ``als`` and
  ``bpr`` once per seed; a peer that cannot run on the split (EASE above
  its item bound) has no metrics and a ``skipped`` reason;
* ``2t_hgnn`` (unified, every item type), ``2t_no_gnn`` (learned item-id
  embeddings instead of HGNN vectors, in both towers), ``2t_type_specific``
  (for each type, a 2T-HGNN trained only on that type's interactions and
  histories, evaluated on that type) and, when retrained embeddings are
  given, ``2t_hgnn_retrained`` (the unified model over the other HGNN
  vectors): trained once per seed.

Every two-tower model of one seed sees the same examples in the same
pipeline; only what the issue varies (HGNN vs ids, types) changes.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from tfgnn_gfm.evaluation.holdout import Holdout, build_holdout
from tfgnn_gfm.evaluation.models import MODELS, SplitData
from tfgnn_gfm.evaluation.peers import ModelSkipped
from tfgnn_gfm.evaluation.protocol import (
  aggregate_runs,
  cross_type_users,
  evaluate_scorer,
  timed,
)
from tfgnn_gfm.timesplit import TimeSplit
from tfgnn_gfm.twotower import config as cfg
from tfgnn_gfm.twotower.examples import training_data_for
from tfgnn_gfm.twotower.items import ItemTable
from tfgnn_gfm.twotower.repeats import repeat_policy

_LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class ModelResult:
  """One model's results on a split (or pooled over windows).

  Attributes:
    seeded: fitted once per seed (``ModelSpec.seeded``).
    seeds: the seed of each run (None for a deterministic model).
    runs: ``evaluate_scorer``'s result of each seed (empty once pooled).
    info: what each run reported (training time, chosen weight, ...; per
      item type for a type-specific model).
    eval_seconds: ranking seconds of each run.
    per_user: each run's per-user ranks (``evaluate_scorer``'s
      ``per_user``; empty once pooled).
    metrics: the runs aggregated (``aggregate_runs``), or pooled over
      windows.
    wall_seconds: fitting, choices and ranking of every seed: what a user
      waits for the model.
    skipped: why the model could not run on the split, or None.
  """

  seeded: bool
  seeds: list[int | None] = dataclasses.field(default_factory=list)
  runs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
  info: list[Any] = dataclasses.field(default_factory=list)
  eval_seconds: list[float] = dataclasses.field(default_factory=list)
  per_user: list[dict] = dataclasses.field(default_factory=list)
  metrics: dict[str, Any] = dataclasses.field(default_factory=dict)
  wall_seconds: float = 0.0
  skipped: str | None = None

  def to_json(self) -> dict[str, Any]:
    """The entry of ``results.json``: everything but the per-seed raw runs
    and per-user ranks (``skipped`` only when set)."""
    out = {"seeded": self.seeded, "seeds": list(self.seeds),
           "eval_seconds": list(self.eval_seconds),
           "wall_seconds": self.wall_seconds, "info": self.info,
           "metrics": self.metrics}
    if self.skipped:
      out["skipped"] = self.skipped
    return out


@dataclasses.dataclass
class Comparison:
  """Results of ``compare_models``.

  Attributes:
    models: name -> its ``ModelResult``.
    counts: sizes of the split (training and hold-out).
    types: the evaluated item types.
    training: how the (unified) training examples were made
      (``TrainingData.training``).
    user_ids: [U] the user id of each user row (``per_user`` records of
      ``models`` are user rows).
    warm: [U] bool, the user interacted before the cut.
    cross_type: type -> [U] bool, the user's training examples hold no
      item of the type, but some of another (``protocol.cross_type_users``).
    repeats: the split's repeat policy (``RepeatPolicy.to_dict``): per type,
      whether consumed items were ranked again.
    seeds: the seeds of the seeded models (``EvaluateConfig.seeds_for``).
  """

  models: dict[str, ModelResult]
  counts: dict[str, Any]
  types: list[str]
  training: dict[str, Any] = dataclasses.field(default_factory=dict)
  user_ids: np.ndarray | None = None
  warm: np.ndarray | None = None
  cross_type: dict[str, np.ndarray] | None = None
  repeats: dict[str, Any] = dataclasses.field(default_factory=dict)
  seeds: list[int] = dataclasses.field(default_factory=list)


def compare_models(interactions: pd.DataFrame, users: pd.DataFrame | None,
                   items: ItemTable, split: TimeSplit,
                   config: cfg.EvaluateConfig, *,
                   retrained_items: ItemTable | None = None,
                   progress: bool = True,
                   verbose: int | None = None) -> Comparison:
  """Runs every requested model on one split.

  Args:
    interactions: every interaction of the dataset.
    users: the users table or None.
    items: the catalog with the (static) HGNN vectors.
    split: the cut and windows.
    config: evaluation options (and the two-tower options).
    retrained_items: the catalog with retrained HGNN vectors (ablation).
    progress: tqdm bars while ranking.
    verbose: Keras verbosity while training.

  Returns:
    The Comparison.
  """
  data = training_data_for(interactions, users, items, split,
                           config.two_tower())
  holdout: Holdout = build_holdout(interactions, items, data.users.user_id,
                                   split, target_events=config.target_events)
  if config.max_users:
    holdout = holdout.sample_users(config.max_users, config.seed)
  user_rows = np.unique(holdout.user)
  if len(user_rows) < holdout.counts["holdout_users"]:
    _LOG.info("ranking a sample of %d of the %d hold-out users (--max-users)",
              len(user_rows), holdout.counts["holdout_users"])
  types = items.eval_types
  models = list(config.models)
  if retrained_items is not None and cfg.TWO_TOWER_HGNN_RETRAINED not in models:
    models.append(cfg.TWO_TOWER_HGNN_RETRAINED)
  if retrained_items is None and cfg.TWO_TOWER_HGNN_RETRAINED in models:
    raise ValueError(f"{cfg.TWO_TOWER_HGNN_RETRAINED} needs retrained "
                     "embeddings (--retrained-embeddings)")
  unknown = sorted(set(models) - set(MODELS))
  if unknown:
    raise ValueError(f"unknown models {unknown}; known: {', '.join(MODELS)}")
  policy = repeat_policy(interactions, items, split,
                         threshold=config.repeat_threshold,
                         override=config.repeats)
  _LOG.info("%s", policy.describe())
  kw = dict(k=config.k, mrr_k=config.mrr_k, coverage_k=config.coverage_k,
            user_chunk=config.user_chunk, progress=progress, repeats=policy)
  shared = SplitData(interactions=interactions, users=users, items=items,
                     split=split, config=config, data=data,
                     user_rows=user_rows, retrained_items=retrained_items,
                     progress=progress, verbose=verbose)
  out: dict[str, ModelResult] = {}
  seeds = list(range(config.seed,
                     config.seed + config.seeds_for(len(data.examples))))
  if not config.seeds:
    _LOG.info("%d seed(s) for the seeded models (--seeds 0: %d training "
              "examples)", len(seeds), len(data.examples))
  for spec in (s for name, s in MODELS.items() if name in models):
    entry = ModelResult(seeded=spec.seeded)
    start = time.perf_counter()
    for seed in seeds if spec.seeded else [config.seed]:
      try:
        runs = spec.run(shared, seed)
      except ModelSkipped as skipped:
        _LOG.warning("%s skipped: %s", spec.name, skipped)
        entry = ModelResult(seeded=spec.seeded,
                            info=[{"skipped": str(skipped)}],
                            skipped=str(skipped))
        break
      if not runs:
        break
      # One record per seed; a model of several runs (one per item type)
      # merges them.
      result, per_user, infos, seconds = {}, {}, {}, 0.0
      for run in runs:
        extra = ({} if run.types is None else
                 {"types": run.types, "include_all_types": False})
        run_result, s = timed(lambda run=run, extra=extra, per_user=per_user:
                              evaluate_scorer(run.scorer, run.items, holdout,
                                              per_user=per_user, **kw,
                                              **extra))
        result.update(run_result)
        seconds += s
        if run.types is None:
          infos = run.info
        else:
          infos.update({t: run.info for t in run.types})
      entry.seeds.append(seed if spec.seeded else None)
      entry.runs.append(result)
      entry.eval_seconds.append(round(seconds, 4))
      entry.info.append(infos)
      entry.per_user.append(per_user)
    entry.wall_seconds = round(time.perf_counter() - start, 4)
    _LOG.info("%s: %.1f s (fitting and ranking, all seeds)", spec.name,
              entry.wall_seconds)
    if entry.runs or entry.skipped:
      entry.metrics = aggregate_runs(entry.runs) if entry.runs else {}
      out[spec.name] = entry
  counts = dict(data.counts)
  counts.update(holdout.counts)
  counts["evaluated_users"] = int(len(user_rows))
  counts["evaluated_warm_users"] = int(holdout.warm[user_rows].sum())
  counts["evaluated_cold_users"] = int((~holdout.warm[user_rows]).sum())
  counts["cold_candidates"] = int(
      (items.candidate & ~holdout.item_seen_before_cut).sum())
  return Comparison(models=out, counts=counts, types=types,
                    training=data.training,
                    user_ids=np.asarray(data.users.user_id, dtype=object),
                    warm=holdout.warm,
                    cross_type=cross_type_users(
                        data.examples.user, data.examples.item,
                        items.item_type, types, len(data.users.user_id)),
                    repeats=policy.to_dict(), seeds=seeds)
