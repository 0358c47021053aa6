"""Consumption-aware retrieval: the repeat rule and its use in the protocol."""

import numpy as np
import pandas as pd
import pytest

from tests.evaluation.test_metrics import _tiny_catalog, protocol_hand_case
from tfgnn_gfm.evaluation.protocol import ALL_TYPES, evaluate_scorer
from tfgnn_gfm.timesplit import SECONDS_PER_DAY, TimeSplit
from tfgnn_gfm.twotower import repeats
from tfgnn_gfm.twotower.config import TwoTowerConfig

DAY = SECONDS_PER_DAY


def test_repeat_rates_by_hand():
  # Type a: u0 takes x on days 0, 0 (same day: once), 1 and 3; u1 takes x
  # on day 2 and y on day 2. Days: (u0,x,0), (u0,x,1), (u0,x,3), (u1,x,2),
  # (u1,y,2) = 5, of which 2 return to an item of an earlier day.
  # Type b: every consumption is a first one.
  rates = repeats.repeat_rates(
      user=np.array(["u0", "u0", "u0", "u0", "u1", "u1", "u0", "u1"]),
      item=np.array(["x", "x", "x", "x", "x", "y", "z", "z"]),
      day=np.array([0, 0, 1, 3, 2, 2, 5, 6]),
      item_type=np.array(["a"] * 6 + ["b"] * 2))
  assert rates == {"a": (pytest.approx(2 / 5), 5), "b": (0.0, 2)}


def test_rule_threshold_and_overrides():
  rates = {"podcast": (0.4, 100), "book": (0.02, 50)}
  types = ["book", "movie", "podcast"]
  auto = repeats.decide(rates, types, threshold=0.1)
  # movie has no consumption: nothing to go on, it keeps its items.
  assert dict(auto.keep) == {"book": False, "movie": True, "podcast": True}
  assert auto.dropped_types == ["book"]
  assert set(auto.source.values()) == {"rule"}
  assert dict(repeats.decide(rates, types, threshold=0.5).keep) == {
      "book": False, "movie": True, "podcast": False}
  assert not any(repeats.decide(rates, types, override="drop").keep.values())
  assert all(repeats.decide(rates, types, override="keep").keep.values())
  mixed = repeats.decide(rates, types, override="book=keep,podcast=drop")
  assert dict(mixed.keep) == {"book": True, "movie": True, "podcast": False}
  assert mixed.source["book"] == "flag" and mixed.source["movie"] == "rule"
  with pytest.raises(ValueError, match="unknown item type 'song'"):
    repeats.decide(rates, types, override="song=drop")
  for bad in ("sometimes", "book:drop", "book=maybe"):
    with pytest.raises(ValueError, match="repeats must be"):
      repeats.parse_override(bad)
  with pytest.raises(ValueError, match="repeats must be"):
    TwoTowerConfig(repeats="sometimes").validate()
  with pytest.raises(ValueError, match="repeat_threshold"):
    TwoTowerConfig(repeat_threshold=1.5).validate()


def test_policy_round_trips_and_masks_item_types():
  policy = repeats.decide({"a": (0.0, 3), "b": (0.5, 4)}, ["a", "b"])
  back = repeats.RepeatPolicy.from_dict(policy.to_dict())
  assert back == policy
  np.testing.assert_array_equal(policy.drop_mask(["b", "a", "a", "c"]),
                                [False, True, True, False])
  assert "a drops (repeat rate 0.000)" in policy.describe()
  # An output written before the rule: every type keeps its items.
  assert not repeats.RepeatPolicy.from_dict(None).drop_mask(["a"]).any()


def test_policy_of_data_with_and_without_repeats():
  """Episodes roll up to their show: a listener of two episodes of p0 on
  two days repeats p0; audiobooks are each taken once."""
  items = _tiny_catalog()
  split = TimeSplit(cut=10 * DAY, train_days=10)
  frame = pd.DataFrame({
      "user_id": ["u0", "u0", "u1", "u1", "u0", "u1", "u0"],
      "item_id": ["p0", "e0", "p0", "p0", "a0", "a1", "a2"],
      # The last event is after the cut: not read.
      "timestamp": [1 * DAY, 2 * DAY, 3 * DAY, 4 * DAY, 5 * DAY, 6 * DAY,
                    11 * DAY]})
  policy = repeats.repeat_policy(frame, items, split)
  assert policy.rates["podcast"] == pytest.approx(2 / 4)
  assert policy.rates["audiobook"] == 0.0 and policy.days["audiobook"] == 2
  assert policy.dropped_types == ["audiobook"]
  assert policy.keeps("podcast") and policy.keeps("episode")
  assert repeats.repeat_policy(frame, items, split,
                               override="audiobook=keep").dropped_types == []


def test_protocol_leaves_out_consumed_items_of_dropping_types():
  items, scorer, holdout = protocol_hand_case()
  kw = dict(k=1, mrr_k=2, coverage_k=1)
  keep = evaluate_scorer(scorer, items, holdout, **kw)
  drop = evaluate_scorer(scorer, items, holdout, **kw,
                         repeats=repeats.decide({}, ["audiobook", "podcast"],
                                                override="audiobook=drop"))
  # Audiobooks kept: u0's top-1 is a0 (consumed), a miss; u1 hits a2.
  assert keep["audiobook"]["all_items"]["all_users"]["hr@1"] == 0.5
  # Dropped: u0's a0 leaves the ranking, a1 is first: a hit. u1's a2 is a
  # repeat that cannot be recommended; a0 ranks second after a1: a miss.
  ab = drop["audiobook"]["all_items"]["all_users"]
  assert ab["users"] == 2 and ab["hr@1"] == 0.5
  assert ab["mrr@2"] == pytest.approx((1 + 1 / 2) / 2)
  # Coverage@1 lists a1 (u0) and a1 (u1): one of three audiobooks.
  assert ab["coverage@1"] == pytest.approx(1 / 3)
  assert keep["audiobook"]["all_items"]["all_users"][
      "coverage@1"] == pytest.approx(2 / 3)
  # The new-items slice always leaves consumed items out: unchanged.
  assert drop["audiobook"]["new_items"] == keep["audiobook"]["new_items"]
  # Podcasts keep their repeats: u0's repeat target p0 is a hit.
  assert drop["podcast"] == keep["podcast"]
  # Cold items (a2, u1's target, consumed by u1 before the cut): with the
  # type dropped, a2 is a repeat for u1: a miss.
  assert keep["audiobook"]["cold_items"]["all_users"]["hr@1"] == 1.0
  assert drop["audiobook"]["cold_items"]["all_users"] == {
      "users": 1, "hr@1": 0.0, "mrr@2": 0.0, "coverage@1": None}
  # Over all types the rule is per item: u0's a0 leaves, p0 (kept) stays.
  assert keep[ALL_TYPES]["all_items"]["all_users"]["hr@1"] == pytest.approx(
      1 / 3)
  assert drop[ALL_TYPES]["all_items"]["all_users"]["hr@1"] == pytest.approx(
      1 / 3)


def test_a_user_whose_targets_are_all_repeats_counts_as_a_miss():
  items, scorer, holdout = protocol_hand_case()
  everything = repeats.decide({}, ["audiobook", "podcast"], override="drop")
  keep = evaluate_scorer(scorer, items, holdout, k=1, mrr_k=2, coverage_k=1)
  drop = evaluate_scorer(scorer, items, holdout, k=1, mrr_k=2, coverage_k=1,
                         repeats=everything)
  # u0's only podcast target p0 was consumed before the cut: with podcasts
  # dropped it cannot be recommended. u0 stays among the users, as a miss.
  pod_keep = keep["podcast"]["all_items"]["warm_users"]
  pod_drop = drop["podcast"]["all_items"]["warm_users"]
  assert pod_keep == {"users": 1, "hr@1": 1.0, "mrr@2": 1.0,
                      "coverage@1": pytest.approx(1 / 2)}
  assert pod_drop["users"] == 1 and pod_drop["hr@1"] == 0.0
  assert pod_drop["mrr@2"] == 0.0
  per_user = {}
  evaluate_scorer(scorer, items, holdout, k=1, mrr_k=2, coverage_k=1,
                  repeats=everything, per_user=per_user)
  users, ranks = per_user[("podcast", "all_items")]
  assert ranks[list(users).index(0)] == np.inf
