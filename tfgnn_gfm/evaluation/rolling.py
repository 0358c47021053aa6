"""Rolling-origin evaluation: consecutive hold-out windows, pooled.

One 14-day hold-out of a real dataset is small and noisy. Rolling origin
evaluates ``cuts`` consecutive windows: window ``i`` has the cut
``first_cut + i * step`` and holds out ``[cut_i, cut_i + holdout_days)``,
training on the ``train_days`` before ``cut_i``. The static layer (the HGNN
embeddings) is the one given, cut at or before the first window, exactly as
the rarely retrained foundation is used in production; the two-tower models
and every baseline and peer are retrained per window.

Results pool the user-windows: a user evaluated in three windows counts
three times in a metric, and the confidence interval resamples users
(``intervals``), so its three windows are drawn together. Seeded models are
averaged over seeds per user-window before the interval is taken; the
spread over seeds is reported beside it. The windows themselves are
``tfgnn_gfm.timesplit.window_splits``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from tfgnn_gfm.evaluation import intervals, ranking
from tfgnn_gfm.evaluation.comparison import Comparison
from tfgnn_gfm.evaluation.protocol import ALL_TYPES, GROUPS, SLICES
from tfgnn_gfm.twotower import config as cfg

#: The model every other model is compared with by paired intervals.
REFERENCE = cfg.TWO_TOWER_HGNN


def _keys(window: int, users: np.ndarray) -> np.ndarray:
  return window * (1 << 40) + users.astype(np.int64)


def _model_values(comparisons: Sequence[Comparison], model: str, type_: str,
                  slice_: str, k: int, mrr_k: int
                  ) -> dict[str, np.ndarray] | None:
  """Per user-window values of one model, seed-averaged, over all windows.

  Returns:
    ``{"key", "user", "warm", "cross", "hit" [S, n], "rr" [S, n]}``
    (sorted by key; S seeds) or None when the model ranked nobody in this
    slice.
  """
  keys, users, warm, cross, hits, rrs = [], [], [], [], [], []
  for w, comp in enumerate(comparisons):
    entry = comp.models.get(model)
    if entry is None:
      continue
    per_seed = [pu.get((type_, slice_)) for pu in entry.per_user]
    if any(p is None for p in per_seed) or not per_seed:
      continue
    base_users = per_seed[0][0]
    order = np.argsort(base_users)
    u = base_users[order]
    seed_ranks = []
    for users_s, rank_s in per_seed:
      o = np.argsort(users_s)
      if not np.array_equal(users_s[o], u):
        raise ValueError(f"{model}: seeds ranked different users")
      seed_ranks.append(rank_s[o])
    ranks = np.stack(seed_ranks)
    keys.append(_keys(w, u))
    users.append(u)
    warm.append(comp.warm[u])
    cross.append(comp.cross_type[type_][u]
                 if comp.cross_type and type_ in comp.cross_type
                 else np.zeros(len(u), bool))
    hits.append(ranking.hits_at(ranks, k))
    rrs.append(ranking.reciprocal_ranks(ranks, mrr_k))
  if not keys:
    return None
  n_seeds = {h.shape[0] for h in hits}
  if len(n_seeds) != 1:
    raise ValueError(f"{model}: windows have different numbers of seeds")
  key = np.concatenate(keys)
  order = np.argsort(key)
  return {"key": key[order], "user": np.concatenate(users)[order],
          "warm": np.concatenate(warm)[order],
          "cross": np.concatenate(cross)[order],
          "hit": np.concatenate(hits, axis=1)[:, order],
          "rr": np.concatenate(rrs, axis=1)[:, order]}


def _group_mask(values: dict[str, np.ndarray], group: str) -> np.ndarray:
  if group == "warm_users":
    return values["warm"]
  if group == "cold_users":
    return ~values["warm"]
  if group == "cross_type_users":
    return values["cross"]
  return np.ones(len(values["key"]), bool)


def _leaf(per_seed: np.ndarray, clusters: np.ndarray, num_resamples: int,
          seed: int) -> dict[str, Any] | None:
  """{"mean", "std", "values", "ci_low", "ci_high"} of [S, n] values."""
  if per_seed.shape[1] == 0:
    return None
  values = per_seed.mean(axis=1)
  ci = intervals.bootstrap_mean(per_seed.mean(axis=0), clusters,
                                num_resamples=num_resamples, seed=seed)
  return {"mean": float(values.mean()), "std": float(values.std()),
          "values": [float(v) for v in values], "ci_low": ci["low"],
          "ci_high": ci["high"]}


def _coverage(comparisons: Sequence[Comparison], model: str, type_: str,
              group: str, key: str) -> dict[str, Any] | None:
  """Coverage per seed averaged over windows (no interval: not per user)."""
  per_seed = None
  for comp in comparisons:
    entry = comp.models.get(model)
    if entry is None:
      continue
    vals = []
    for run in entry.runs:
      try:
        vals.append(run[type_]["all_items"][group][key])
      except KeyError:
        vals.append(None)
    if any(v is None for v in vals):
      continue
    per_seed = ([[] for _ in vals] if per_seed is None else per_seed)
    for j, v in enumerate(vals[:len(per_seed)]):
      per_seed[j].append(v)
  if not per_seed or not per_seed[0]:
    return None
  values = [float(np.mean(v)) for v in per_seed]
  return {"mean": float(np.mean(values)), "std": float(np.std(values)),
          "values": values}


def pool(comparisons: Sequence[Comparison], *, k: int, mrr_k: int,
         coverage_k: int, num_resamples: int = 1000, seed: int = 0
         ) -> tuple[dict[str, Any], dict[str, Any]]:
  """Pooled metrics of every model, and paired differences to the reference.

  Args:
    comparisons: ``compare_models`` of each window (same models and seeds).
    k: K of HR@K.
    mrr_k: MRR list length.
    coverage_k: coverage list length.
    num_resamples: bootstrap resamples per interval.
    seed: bootstrap seed (shared, so intervals are reproducible).

  Returns:
    (metrics, paired): ``metrics[model][type][slice][group]`` holds
    ``users`` (user-windows) and per metric a leaf ``{"mean", "std",
    "values" (per seed), "ci_low", "ci_high"}``; ``metrics[model][type]
    ["candidates"]`` the last window's candidate count. ``paired[model]
    [type][slice][group][metric]`` is ``intervals.paired_difference`` of
    the reference (unified 2T-HGNN) minus the model, over the user-windows
    both ranked.
  """
  hr, mrr, cov = f"hr@{k}", f"mrr@{mrr_k}", f"coverage@{coverage_k}"
  models = list(dict.fromkeys(m for c in comparisons for m in c.models))
  types = list(dict.fromkeys(
      t for c in comparisons for t in c.types)) + [ALL_TYPES]
  metrics: dict[str, Any] = {}
  cache: dict[tuple, dict | None] = {}
  for model in models:
    metrics[model] = {}
    for t in types:
      cands = [c.models[model].runs[0][t]["candidates"]
               for c in comparisons if model in c.models and
               c.models[model].runs and t in c.models[model].runs[0]]
      if not cands:
        continue
      entry: dict[str, Any] = {}
      for slice_ in SLICES:
        values = _model_values(comparisons, model, t, slice_, k, mrr_k)
        cache[(model, t, slice_)] = values
        entry[slice_] = {}
        for group in GROUPS:
          if values is None:
            entry[slice_][group] = {"users": 0, hr: None, mrr: None,
                                    cov: None}
            continue
          mask = _group_mask(values, group)
          clusters = values["user"][mask]
          entry[slice_][group] = {
              "users": int(mask.sum()),
              hr: _leaf(values["hit"][:, mask], clusters, num_resamples,
                        seed),
              mrr: _leaf(values["rr"][:, mask], clusters, num_resamples,
                         seed),
              cov: (_coverage(comparisons, model, t, group, cov)
                    if slice_ == "all_items" else None)}
      entry["candidates"] = int(cands[-1])
      metrics[model][t] = entry
  paired: dict[str, Any] = {}
  if REFERENCE in models:
    for model in models:
      if model == REFERENCE:
        continue
      paired[model] = {}
      for t in types:
        for slice_ in SLICES:
          ref = cache.get((REFERENCE, t, slice_))
          other = cache.get((model, t, slice_))
          if ref is None or other is None:
            continue
          common, ir, io = np.intersect1d(ref["key"], other["key"],
                                          return_indices=True)
          if not len(common):
            continue
          for group in GROUPS:
            mask = _group_mask({"key": common, "warm": ref["warm"][ir],
                                "cross": ref["cross"][ir]}, group)
            out = {}
            for name, field in ((hr, "hit"), (mrr, "rr")):
              a = ref[field].mean(axis=0)[ir][mask]
              b = other[field].mean(axis=0)[io][mask]
              out[name] = intervals.paired_difference(
                  a, b, ref["user"][ir][mask], num_resamples=num_resamples,
                  seed=seed)
            paired[model].setdefault(t, {}).setdefault(slice_, {})[group] = out
  return metrics, paired
