"""Bootstrap intervals against known distributions."""

import numpy as np
import pytest

from tfgnn_gfm.evaluation import intervals


def test_interval_of_a_bernoulli_mean_matches_the_normal_approximation():
  rng = np.random.default_rng(0)
  x = (rng.random(2000) < 0.3).astype(float)
  out = intervals.bootstrap_mean(x, num_resamples=2000, seed=1)
  assert out["mean"] == pytest.approx(x.mean())
  assert out["n"] == 2000 and out["clusters"] == 2000
  half = 1.96 * np.sqrt(x.mean() * (1 - x.mean()) / len(x))
  assert (out["high"] - out["low"]) / 2 == pytest.approx(half, rel=0.12)
  assert out["low"] < x.mean() < out["high"]


def test_95_percent_intervals_cover_the_true_mean_about_95_percent():
  rng = np.random.default_rng(2)
  covered = 0
  trials = 300
  for t in range(trials):
    x = (rng.random(150) < 0.4).astype(float)
    out = intervals.bootstrap_mean(x, num_resamples=400, seed=t)
    covered += out["low"] <= 0.4 <= out["high"]
  # Binomial(300, 0.95): 3 standard deviations are about 0.038.
  assert 0.90 <= covered / trials <= 0.99


def test_clusters_are_resampled_together():
  """Each user appearing three times with the same value carries the
  information of one user: the interval must not shrink by sqrt(3)."""
  rng = np.random.default_rng(3)
  x = (rng.random(400) < 0.5).astype(float)
  once = intervals.bootstrap_mean(x, num_resamples=2000, seed=0)
  tripled = np.repeat(x, 3)
  users = np.repeat(np.arange(400), 3)
  clustered = intervals.bootstrap_mean(tripled, users, num_resamples=2000,
                                       seed=0)
  naive = intervals.bootstrap_mean(tripled, num_resamples=2000, seed=0)

  def width(o):
    return o["high"] - o["low"]

  assert clustered["clusters"] == 400
  assert width(clustered) == pytest.approx(width(once), rel=0.1)
  assert width(naive) < 0.7 * width(clustered)


def test_paired_difference_sign_and_exact_shift():
  rng = np.random.default_rng(4)
  b = (rng.random(300) < 0.5).astype(float)
  users = np.arange(300)
  up = intervals.paired_difference(np.minimum(b + 1, 1), b, users,
                                   num_resamples=500)
  assert up["mean"] == pytest.approx(1 - b.mean())
  assert up["sign"] == 1 and up["excludes_zero"] and up["low"] > 0
  same = intervals.paired_difference(b, b, users, num_resamples=500)
  assert same["mean"] == 0 and same["low"] == 0 and same["high"] == 0
  assert same["sign"] == 0 and not same["excludes_zero"]
  down = intervals.paired_difference(b, np.ones(300), users,
                                     num_resamples=500)
  assert down["sign"] == -1


def test_paired_interval_is_narrower_than_unpaired_when_users_vary():
  """Easy users hit for both models: pairing removes that variance."""
  rng = np.random.default_rng(5)
  easy = rng.random(500) < 0.5
  a = (easy | (rng.random(500) < 0.2)).astype(float)
  b = (easy | (rng.random(500) < 0.1)).astype(float)
  users = np.arange(500)
  paired = intervals.paired_difference(a, b, users, num_resamples=1000)
  ia = intervals.bootstrap_mean(a, users, num_resamples=1000)
  ib = intervals.bootstrap_mean(b, users, num_resamples=1000)
  unpaired_half = np.hypot((ia["high"] - ia["low"]) / 2,
                           (ib["high"] - ib["low"]) / 2)
  assert (paired["high"] - paired["low"]) / 2 < 0.8 * unpaired_half


def test_empty_and_bad_input():
  out = intervals.bootstrap_mean(np.zeros(0))
  assert out["mean"] is None and out["n"] == 0
  assert intervals.paired_difference(np.zeros(0), np.zeros(0),
                                     np.zeros(0))["sign"] == 0
  with pytest.raises(ValueError, match="clusters"):
    intervals.bootstrap_mean(np.zeros(3), np.zeros(2))
  with pytest.raises(ValueError, match="confidence"):
    intervals.bootstrap_mean(np.zeros(3), confidence=1.5)
  with pytest.raises(ValueError, match="shape"):
    intervals.paired_difference(np.zeros(3), np.zeros(2), np.zeros(3))


def _gathered_stats(values, clusters, num_resamples, seed):
  """The resample statistics drawn and gathered directly (the definition)."""
  _, inverse = np.unique(clusters, return_inverse=True)
  sums = np.bincount(inverse, weights=values)
  counts = np.bincount(inverse).astype(np.float64)
  rng = np.random.default_rng(seed)
  step = max(1, intervals._MAX_DRAWS // len(sums))
  stats = []
  for start in range(0, num_resamples, step):
    draw = rng.integers(0, len(sums),
                        size=(min(step, num_resamples - start), len(sums)))
    stats.append(sums[draw].sum(axis=1) / counts[draw].sum(axis=1))
  return np.concatenate(stats)


def test_reused_resample_counts_give_the_gathered_intervals(monkeypatch):
  """Counts of draws per cluster, computed once per (clusters, resamples,
  seed) and reused, give the statistics of gathering the drawn clusters;
  the cache stays within its byte budget."""
  monkeypatch.setattr(intervals, "_counts_cache",
                      type(intervals._counts_cache)())
  monkeypatch.setattr(intervals, "_MAX_DRAWS", 5_000)  # Several blocks.
  rng = np.random.default_rng(4)
  clusters = rng.integers(0, 700, 2_000)  # Users in several windows.
  for values in (rng.random(2_000), (rng.random(2_000) < 0.1) * 1.0):
    for seed in (0, 7):
      got = intervals.bootstrap_mean(values, clusters, num_resamples=300,
                                     seed=seed)
      want = np.quantile(_gathered_stats(values, clusters, 300, seed),
                         [0.025, 0.975])
      np.testing.assert_allclose([got["low"], got["high"]], want,
                                 rtol=1e-12)
  c = len(np.unique(clusters))
  assert set(intervals._counts_cache) == {(c, 300, 0), (c, 300, 7)}
  drawn = intervals._counts_cache[(c, 300, 0)]
  assert drawn.dtype == np.uint8 and (drawn.sum(axis=1) == c).all()
  # Over the budget: the least recently used matrix leaves; one matrix
  # larger than the budget is used but not kept.
  monkeypatch.setattr(intervals, "_CACHE_BYTES", drawn.nbytes)
  intervals.bootstrap_mean(rng.random(50), num_resamples=300, seed=0)
  assert list(intervals._counts_cache) == [(50, 300, 0)]
  intervals.bootstrap_mean(rng.random(5_000), num_resamples=300, seed=0)
  assert list(intervals._counts_cache) == [(50, 300, 0)]
