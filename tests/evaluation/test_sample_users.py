"""``--max-users``: ranking a seeded sample of the hold-out's users."""

import dataclasses

import numpy as np
import pytest

from tests.twotower.helpers import CUT, DAY, interactions, item_table, users
from tfgnn_gfm.evaluation.comparison import compare_models
from tfgnn_gfm.evaluation.holdout import Holdout
from tfgnn_gfm.timesplit import TimeSplit
from tfgnn_gfm.twotower.config import EvaluateConfig


def _holdout():
  return Holdout(user=np.array([0, 0, 1, 2, 2, 2, 4, 5]),
                 item=np.array([3, 4, 1, 0, 1, 2, 3, 0]),
                 warm=np.ones(6, bool), seen_user=np.array([0]),
                 seen_item=np.array([1]),
                 item_seen_before_cut=np.ones(5, bool),
                 counts={"target_pairs": 8})


def test_a_sample_keeps_every_target_of_the_sampled_users():
  holdout = _holdout()
  sample = holdout.sample_users(3, seed=0)
  users_kept = np.unique(sample.user)
  assert len(users_kept) == 3
  assert set(users_kept) <= {0, 1, 2, 4, 5}
  for u in users_kept:
    np.testing.assert_array_equal(sample.item[sample.user == u],
                                  holdout.item[holdout.user == u])
  assert not np.isin(sample.user, np.setdiff1d([0, 1, 2, 4, 5],
                                               users_kept)).any()
  # The same seed draws the same sample; the seeds do not all agree.
  np.testing.assert_array_equal(holdout.sample_users(3, seed=0).user,
                                sample.user)
  drawn = {tuple(np.unique(holdout.sample_users(2, seed=s).user))
           for s in range(20)}
  assert len(drawn) > 1
  # Pre-cut facts are the whole hold-out's.
  np.testing.assert_array_equal(sample.warm, holdout.warm)
  assert holdout.sample_users(5, seed=0) is holdout
  assert holdout.sample_users(50, seed=0) is holdout


def _data(seed=0):
  rng = np.random.default_rng(seed)
  ids = ["p0", "p1", "p2", "p3", "p4", "a0", "a1", "a2", "a3"]
  rows = []
  for u in range(40):
    for _ in range(5):
      rows.append((f"u{u}", ids[rng.integers(len(ids))], rng.uniform(1, 99)))
    rows.append((f"u{u}", ids[rng.integers(len(ids))],
                 CUT / DAY + rng.uniform(0, 6)))
  return interactions(rows)


def test_sampled_users_rank_as_in_the_full_evaluation():
  config = EvaluateConfig(models=("popularity", "item_knn"),
                          bootstrap_resamples=10, holdout_days=7)
  frame, split = _data(), TimeSplit(CUT, 90, 7)
  full = compare_models(frame, users(), item_table(), split, config,
                        progress=False)
  sample = compare_models(frame, users(), item_table(), split,
                          dataclasses.replace(config, max_users=15),
                          progress=False)
  assert sample.counts["evaluated_users"] == 15
  # The hold-out's user count is what the sample was drawn from.
  assert (sample.counts["holdout_users"] == full.counts["holdout_users"] ==
          full.counts["evaluated_users"] > 15)
  for name in ("popularity", "item_knn"):
    for key, (rows, ranks) in sample.models[name].per_user[0].items():
      full_rows, full_ranks = full.models[name].per_user[0][key]
      position = np.searchsorted(full_rows, rows)
      np.testing.assert_array_equal(full_rows[position], rows)
      np.testing.assert_array_equal(full_ranks[position], ranks)
  # Every model ranks the same sample.
  assert all(
      np.array_equal(sample.models["popularity"].per_user[0][key][0],
                     sample.models["item_knn"].per_user[0][key][0])
      for key in sample.models["popularity"].per_user[0])


def test_max_users_is_not_negative():
  with pytest.raises(ValueError, match="max_users must be >= 0"):
    EvaluateConfig(max_users=-1).validate()
