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
