"""Bootstrap confidence intervals, plain and paired, over clusters.

Used by `gfm evaluate` (users are the clusters) and by the held-out-edge
report of pretraining (query nodes are the clusters).

Real hold-outs are small (a 14-day window of a public dataset holds 10 to
100 users), so a metric without an interval says little. The evaluation
therefore treats each user as the unit of resampling: a per-user value (a
hit, a reciprocal rank) is summed per user over every hold-out window the
user appears in, and users are drawn with replacement (a cluster
bootstrap: a user who appears in several rolling windows is one draw, so
the interval is not too narrow when windows share users). The statistic of
a resample is the ratio ``sum of values / number of user-windows`` of the
drawn users, which is the pooled mean of the original data.

A paired interval resamples the same users for two models and bootstraps
the mean of the per-user-window differences: most of the users' own noise
(easy and hard users) cancels, which is what makes a comparison of two
models on 100 users decisive at all.

Intervals are percentile intervals of ``num_resamples`` resamples drawn
with a fixed seed, so a report is reproducible.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np

#: Largest [resamples x clusters] index matrix drawn at once.
_MAX_DRAWS = 4_000_000
#: Bytes of resample-count matrices kept for reuse (``_resample_counts``).
_CACHE_BYTES = 512 * 2**20
_counts_cache: collections.OrderedDict[tuple[int, int, int], np.ndarray] = (
    collections.OrderedDict())


def _resample_counts(clusters: int, num_resamples: int, seed: int
                     ) -> np.ndarray:
  """[num_resamples, clusters] how often each cluster is drawn per resample.

  The draws are ``default_rng(seed).integers(0, clusters)`` in blocks of at
  most ``_MAX_DRAWS``, so they depend only on the number of clusters, the
  resamples and the seed: every interval of an evaluation over the same
  number of users (each model, each metric, the paired differences) reuses
  one matrix, kept up to ``_CACHE_BYTES`` (least recently used first out),
  and a resample's statistic is then two dot products instead of two
  gathers of ``clusters`` values.
  """
  key = (clusters, num_resamples, seed)
  if key in _counts_cache:
    _counts_cache.move_to_end(key)
    return _counts_cache[key]
  rng = np.random.default_rng(seed)
  out = np.empty((num_resamples, clusters), np.uint8)
  step = max(1, _MAX_DRAWS // clusters)
  for start in range(0, num_resamples, step):
    b = min(step, num_resamples - start)
    draw = rng.integers(0, clusters, size=(b, clusters))
    draw += (np.arange(b) * clusters)[:, None]
    counts = np.bincount(draw.ravel(), minlength=b * clusters)
    top = int(counts.max())
    if top > np.iinfo(out.dtype).max:
      out = out.astype(np.min_scalar_type(top))
    out[start:start + b] = counts.reshape(b, clusters)
  if out.nbytes <= _CACHE_BYTES:
    _counts_cache[key] = out
    while sum(v.nbytes for v in _counts_cache.values()) > _CACHE_BYTES:
      _counts_cache.popitem(last=False)
  return out


def _cluster_sums(values: np.ndarray, clusters: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
  _, inverse = np.unique(clusters, return_inverse=True)
  sums = np.bincount(inverse, weights=values)
  counts = np.bincount(inverse).astype(np.float64)
  return sums, counts


def bootstrap_mean(values: np.ndarray, clusters: np.ndarray | None = None, *,
                   num_resamples: int = 1000, confidence: float = 0.95,
                   seed: int = 0) -> dict[str, Any]:
  """Mean of ``values`` with a cluster-bootstrap percentile interval.

  Args:
    values: [n] one value per observation (e.g. a hit per user-window).
    clusters: [n] the resampling unit of each observation (e.g. the user);
      None: every observation is its own cluster.
    num_resamples: bootstrap resamples.
    confidence: coverage of the interval (0.95: the 2.5 and 97.5
      percentiles).
    seed: random seed of the resamples.

  Returns:
    ``{"mean", "low", "high", "n" (observations), "clusters"}``; mean and
    bounds are None when there is no observation.
  """
  values = np.asarray(values, np.float64)
  if clusters is None:
    clusters = np.arange(len(values))
  clusters = np.asarray(clusters)
  if len(values) != len(clusters):
    raise ValueError(f"{len(values)} values but {len(clusters)} clusters")
  if not 0.0 < confidence < 1.0:
    raise ValueError(f"confidence must be in (0, 1), got {confidence}")
  if num_resamples < 1:
    raise ValueError(f"num_resamples must be >= 1, got {num_resamples}")
  if not len(values):
    return {"mean": None, "low": None, "high": None, "n": 0, "clusters": 0}
  sums, counts = _cluster_sums(values, clusters)
  c = len(sums)
  drawn = _resample_counts(c, num_resamples, seed)
  both = np.stack([sums, counts], axis=1)
  stats = np.empty(num_resamples, np.float64)
  step = max(1, _MAX_DRAWS // c)
  for start in range(0, num_resamples, step):
    # Drawn sums and drawn user-windows of each resample.
    part = drawn[start:start + step].astype(np.float64) @ both
    stats[start:start + step] = part[:, 0] / part[:, 1]
  alpha = (1.0 - confidence) / 2.0
  low, high = np.quantile(stats, [alpha, 1.0 - alpha])
  return {"mean": float(values.mean()), "low": float(low),
          "high": float(high), "n": int(len(values)), "clusters": int(c)}


def paired_difference(a: np.ndarray, b: np.ndarray, clusters: np.ndarray, *,
                      num_resamples: int = 1000, confidence: float = 0.95,
                      seed: int = 0) -> dict[str, Any]:
  """Mean of ``a - b`` over the same observations, with a paired interval.

  Args:
    a: [n] model A's value per observation.
    b: [n] model B's value on the same observations (same order).
    clusters: [n] the resampling unit of each observation (the user).
    num_resamples: bootstrap resamples.
    confidence: coverage of the interval.
    seed: random seed (the same seed gives every comparison the same
      resamples of the same users).

  Returns:
    ``bootstrap_mean`` of the differences, plus ``"excludes_zero"`` (the
    interval lies wholly above or below 0) and ``"sign"`` (+1 when the
    interval is above 0, -1 below, 0 when it contains 0).
  """
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  if a.shape != b.shape:
    raise ValueError(f"paired values differ in shape: {a.shape} vs {b.shape}")
  out = bootstrap_mean(a - b, clusters, num_resamples=num_resamples,
                       confidence=confidence, seed=seed)
  if out["mean"] is None:
    out.update(excludes_zero=False, sign=0)
    return out
  sign = 1 if out["low"] > 0 else (-1 if out["high"] < 0 else 0)
  out.update(excludes_zero=sign != 0, sign=sign)
  return out
