"""The cross-type user slice: users with training examples, none of the
target's type."""

import numpy as np

from tfgnn_gfm.evaluation import rolling
from tfgnn_gfm.evaluation.comparison import Comparison, ModelResult
from tfgnn_gfm.evaluation.protocol import cross_type_users


def test_cross_type_users_by_hand():
  # Items 0, 1: food; 2: kitchen. u0 {food}, u1 {kitchen}, u2 {food,
  # kitchen}, u3 nothing (a cold user is no cross-type user).
  item_type = np.array(["food", "food", "kitchen"], dtype=object)
  user = np.array([0, 0, 1, 2, 2])
  item = np.array([0, 1, 2, 1, 2])
  cross = cross_type_users(user, item, item_type, ["food", "kitchen"], 4)
  np.testing.assert_array_equal(cross["food"], [False, True, False, False])
  np.testing.assert_array_equal(cross["kitchen"], [True, False, False,
                                                   False])


def _comparison(ranks_by_model, cross):
  """One window: users 0-3 ranked in 'food' (all items), one seed."""
  users = np.arange(4)
  models = {}
  for name, ranks in ranks_by_model.items():
    per_user = {("food", s): (users, np.asarray(ranks, np.float64))
                for s in ("all_items", "new_items", "cold_items")}
    run = {"food": {"candidates": 50}}
    models[name] = ModelResult(seeded=False, seeds=[None], runs=[run],
                               info=[{}], eval_seconds=[0.0],
                               per_user=[per_user])
  return Comparison(models=models, counts={}, types=["food"],
                    user_ids=np.array(["a", "b", "c", "d"], dtype=object),
                    warm=np.array([True, True, True, False]),
                    cross_type={"food": np.asarray(cross)})


def test_pool_reports_the_cross_type_group_with_a_paired_interval():
  # Ranks (0-based): the reference hits (rank < 10) users 1 and 2; the
  # popularity model only user 0. Cross-type users: 1 and 2.
  comparison = _comparison({"2t_hgnn": [50, 0, 3, 40],
                            "popularity": [0, 30, 30, 40]},
                           [False, True, True, False])
  metrics, paired = rolling.pool([comparison], k=10, mrr_k=100,
                                 coverage_k=100, num_resamples=200)
  group = metrics["2t_hgnn"]["food"]["all_items"]["cross_type_users"]
  assert group["users"] == 2
  assert group["hr@10"]["mean"] == 1.0
  other = metrics["popularity"]["food"]["all_items"]["cross_type_users"]
  assert other["hr@10"]["mean"] == 0.0
  assert metrics["2t_hgnn"]["food"]["all_items"]["all_users"]["users"] == 4
  diff = paired["popularity"]["food"]["all_items"]["cross_type_users"][
      "hr@10"]
  assert diff["mean"] == 1.0 and diff["n"] == 2
