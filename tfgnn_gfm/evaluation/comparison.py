"""Every model of the evaluation on one split, with several seeds.

``compare_models`` builds the training data and the hold-out once, then runs
the baselines and the two-tower variants on exactly that split:

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

import contextlib
import dataclasses
import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from tfgnn_gfm.evaluation.baselines import Scorer, knn_scorer, popularity_scorer
from tfgnn_gfm.evaluation.holdout import Holdout, build_holdout
from tfgnn_gfm.evaluation.peers import PEERS, ModelSkipped
from tfgnn_gfm.evaluation.protocol import (
  aggregate_runs,
  cross_type_users,
  evaluate_scorer,
  timed,
)
from tfgnn_gfm.timesplit import TimeSplit
from tfgnn_gfm.twotower import config as cfg
from tfgnn_gfm.twotower.examples import TrainingData, training_data_for
from tfgnn_gfm.twotower.items import ItemTable
from tfgnn_gfm.twotower.prior import (
  choose_popularity_weight,
  inner_split,
  with_chosen_epochs,
)
from tfgnn_gfm.twotower.repeats import repeat_policy
from tfgnn_gfm.twotower.train import train_two_tower

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


def _two_tower_scorer(name: str, data: TrainingData, config: cfg.TwoTowerConfig,
                      user_rows: np.ndarray, *, use_hgnn: bool, seed: int,
                      verbose: int | None, popularity_weight: float,
                      prior_info: dict[str, Any] | None = None
                      ) -> tuple[Scorer, dict[str, Any]]:
  model = train_two_tower(data, config, use_hgnn=use_hgnn, seed=seed,
                          verbose=verbose,
                          popularity_weight=popularity_weight)
  user_vectors, item_vectors = model.retrieval_vectors(
      data.users, user_rows, data.items, config.inference_batch_size)
  scorer = Scorer(name=name, user_rows=user_rows, user_vectors=user_vectors,
                  item_vectors=item_vectors)
  info = {"train_seconds": round(model.seconds, 2),
          "examples_per_second": round(model.examples_per_second, 1),
          "examples": len(data.examples),
          "final_loss": model.history.get("mean_batch_loss", [None])[-1],
          "popularity_weight": round(model.popularity_weight, 4)}
  if prior_info and len(prior_info.get("candidates", [])) > 1:
    info["popularity_prior"] = prior_info
  return scorer, info


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
  tt_config = config.two_tower()
  data = training_data_for(interactions, users, items, split, tt_config)
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
  policy = repeat_policy(interactions, items, split,
                         threshold=config.repeat_threshold,
                         override=config.repeats)
  _LOG.info("%s", policy.describe())
  kw = dict(k=config.k, mrr_k=config.mrr_k, coverage_k=config.coverage_k,
            user_chunk=config.user_chunk, progress=progress, repeats=policy)
  out: dict[str, dict[str, Any]] = {}
  # Wall seconds per model (fitting, inner-split choices, ranking; all
  # seeds): what a user waits for each row of the table.
  wall: dict[str, float] = {}

  @contextlib.contextmanager
  def clock(name: str):
    start = time.perf_counter()
    try:
      yield
    finally:
      wall[name] = wall.get(name, 0.0) + time.perf_counter() - start

  def record(name: str, seed: int | None, result: dict, seconds: float,
             info: dict, per_user: dict | None = None) -> None:
    entry = out.setdefault(name, {"seeded": name in cfg.SEEDED_MODELS,
                                  "seeds": [], "runs": [], "info": [],
                                  "eval_seconds": [], "per_user": []})
    entry["seeds"].append(seed)
    entry["runs"].append(result)
    entry["eval_seconds"].append(round(seconds, 2))
    entry["info"].append(info)
    entry["per_user"].append(per_user or {})

  def evaluate(scorer: Scorer, run_items: ItemTable, **extra: Any
               ) -> tuple[dict, float, dict]:
    per_user: dict = {}
    result, seconds = timed(lambda: evaluate_scorer(
        scorer, run_items, holdout, per_user=per_user, **kw, **extra))
    return result, seconds, per_user

  if cfg.POPULARITY in models:
    with clock(cfg.POPULARITY):
      scorer = popularity_scorer(data.examples, len(items), user_rows)
      result, s, pu = evaluate(scorer, items)
      record(cfg.POPULARITY, None, result, s, scorer.info, pu)
  for name, vectors in ((cfg.LLM_KNN, items.text), (cfg.HGNN_KNN, items.hgnn)):
    if name in models:
      with clock(name):
        scorer = knn_scorer(data.users, user_rows, vectors, data.examples,
                            name)
        result, s, pu = evaluate(scorer, items)
        record(name, None, result, s, scorer.info, pu)
  for spec in (s for n, s in PEERS.items() if n in models):
    name, seeded = spec.name, spec.seeded
    for seed in (range(config.seed, config.seed + config.seeds) if seeded
                 else [None]):
      _LOG.info("fitting %s%s", name, f" (seed {seed})" if seeded else "")
      with clock(name):
        try:
          scorer = spec.fit(data, user_rows, config,
                            seed=config.seed if seed is None else seed,
                            progress=progress)
        except ModelSkipped as skipped:
          _LOG.warning("%s skipped: %s", name, skipped)
          out[name] = {"seeded": seeded, "seeds": [], "runs": [],
                       "info": [{"skipped": str(skipped)}],
                       "eval_seconds": [], "per_user": [],
                       "skipped": str(skipped)}
          break
        result, s, pu = evaluate(scorer, items)
        record(name, seed, result, s, scorer.info, pu)
  per_type = {}
  if cfg.TWO_TOWER_TYPE_SPECIFIC in models and len(types) < 2:
    # With one item type, "type-specific" is the unified model again.
    _LOG.info("one item type: %s is the unified model; skipped",
              cfg.TWO_TOWER_TYPE_SPECIFIC)
  elif cfg.TWO_TOWER_TYPE_SPECIFIC in models:
    per_type = {t: training_data_for(interactions, users, items, split,
                                     tt_config, item_types=[t],
                                     user_ids=data.users.user_id)
                for t in types}
  retrained = (dataclasses.replace(data, items=retrained_items)
               if retrained_items is not None else None)
  # Built once per window; each model kind chooses its weight once, with the
  # first seed, and every seed reuses it: the weight is a property of the
  # window's data, and the seeds then vary only the model (half the inner
  # trainings of three seeds).
  inner = inner_split(interactions, users, items, split, tt_config)
  chosen: dict[str, tuple[float, dict[str, Any]]] = {}

  def weight_for(name: str, run_data: TrainingData, use_hgnn: bool,
                 seed: int) -> tuple[float, dict[str, Any]]:
    if name not in chosen:
      weight, info = choose_popularity_weight(
          inner.with_items(run_data.items), tt_config, use_hgnn=use_hgnn,
          seed=seed, verbose=verbose)
      chosen[name] = weight, {**info, "chosen_with_seed": seed}
    return chosen[name]

  for seed in range(config.seed, config.seed + config.seeds):
    _LOG.info("seed %d", seed)
    for name, run_data, use_hgnn in (
        (cfg.TWO_TOWER_HGNN, data, True),
        (cfg.TWO_TOWER_NO_GNN, data, False),
        (cfg.TWO_TOWER_HGNN_RETRAINED, retrained, True)):
      if name not in models:
        continue
      _LOG.info("training %s (seed %d)", name, seed)
      with clock(name):
        weight, prior_info = weight_for(name, run_data, use_hgnn, seed)
        scorer, info = _two_tower_scorer(name, run_data,
                                         with_chosen_epochs(prior_info,
                                                            tt_config),
                                         user_rows, use_hgnn=use_hgnn,
                                         seed=seed, verbose=verbose,
                                         popularity_weight=weight,
                                         prior_info=prior_info)
        result, s, pu = evaluate(scorer, run_data.items)
        record(name, seed, result, s, info, pu)
    if per_type:
      # The type-specific models take the unified model's weight and
      # epochs.
      weight, unified_info = weight_for(cfg.TWO_TOWER_HGNN, data, True, seed)
      specific_config = with_chosen_epochs(unified_info, tt_config)
      merged, infos, seconds, merged_pu = {}, {}, 0.0, {}
      with clock(cfg.TWO_TOWER_TYPE_SPECIFIC):
        for t, run_data in per_type.items():
          _LOG.info("training %s for %s (seed %d)",
                    cfg.TWO_TOWER_TYPE_SPECIFIC, t, seed)
          scorer, info = _two_tower_scorer(
              f"{cfg.TWO_TOWER_TYPE_SPECIFIC}[{t}]", run_data,
              specific_config,
              user_rows, use_hgnn=True, seed=seed, verbose=verbose,
              popularity_weight=weight)
          result, s, pu = evaluate(scorer, items, types=[t],
                                   include_all_types=False)
          merged.update(result)
          merged_pu.update(pu)
          infos[t] = info
          seconds += s
        record(cfg.TWO_TOWER_TYPE_SPECIFIC, seed, merged, seconds, infos,
               merged_pu)
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
