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
class Comparison:
  """Results of ``compare_models``.

  Attributes:
    models: name -> {"seeded", "seeds", "runs" (one result per seed),
      "metrics" (aggregated), "train_seconds", "eval_seconds", "info",
      "per_user" (per seed, ``evaluate_scorer``'s per-user ranks) and, for
      a skipped model, "skipped" (the reason)}.
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
  """

  models: dict[str, dict[str, Any]]
  counts: dict[str, Any]
  types: list[str]
  training: dict[str, Any] = dataclasses.field(default_factory=dict)
  user_ids: np.ndarray | None = None
  warm: np.ndarray | None = None
  cross_type: dict[str, np.ndarray] | None = None
  repeats: dict[str, Any] = dataclasses.field(default_factory=dict)


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
  user_rows = np.unique(holdout.user)
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
  out: dict[str, dict[str, Any]] = {}
  # Wall seconds per model (fitting, inner-split choices, ranking; all
  # seeds): what a user waits for each row of the table.
  wall: dict[str, float] = {}
  seeds = list(range(config.seed, config.seed + config.seeds))
  for spec in (s for name, s in MODELS.items() if name in models):
    entry = {"seeded": spec.seeded, "seeds": [], "runs": [], "info": [],
             "eval_seconds": [], "per_user": []}
    start = time.perf_counter()
    for seed in seeds if spec.seeded else [config.seed]:
      try:
        runs = spec.run(shared, seed)
      except ModelSkipped as skipped:
        _LOG.warning("%s skipped: %s", spec.name, skipped)
        entry.update(seeds=[], runs=[], eval_seconds=[], per_user=[],
                     info=[{"skipped": str(skipped)}], skipped=str(skipped))
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
      entry["seeds"].append(seed if spec.seeded else None)
      entry["runs"].append(result)
      entry["eval_seconds"].append(round(seconds, 2))
      entry["info"].append(infos)
      entry["per_user"].append(per_user)
    wall[spec.name] = time.perf_counter() - start
    if entry["runs"] or "skipped" in entry:
      out[spec.name] = entry
  for name, entry in out.items():
    entry["metrics"] = aggregate_runs(entry["runs"]) if entry["runs"] else {}
    entry["wall_seconds"] = round(wall.get(name, 0.0), 2)
  for name, seconds in wall.items():
    _LOG.info("%s: %.1f s (fitting and ranking, all seeds)", name, seconds)
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
                    repeats=policy.to_dict())
