"""Feature tables, training examples and the time split (no leakage)."""

import inspect

import numpy as np
import pandas as pd
import pytest

from tests.twotower.helpers import CUT, DAY, interactions, item_table, users
from tfgnn_gfm.evaluation.holdout import build_holdout
from tfgnn_gfm.timesplit import TimeSplit, validation_view
from tfgnn_gfm.twotower.config import EvaluateConfig, TwoTowerConfig
from tfgnn_gfm.twotower.examples import (
  build_example_history,
  build_history,
  build_training_data,
  interaction_factors,
)

SPLIT = TimeSplit(CUT, train_days=90, holdout_days=14)
WEIGHTS = {"stream": 1.0, "follow": 0.5, "preview": 0.5, "skip": 0.0}


def _train(frame, **kw):
  return build_training_data(frame, users(), item_table(), SPLIT,
                             event_weight=WEIGHTS, **kw)


def _base_rows():
  return [
      ("u0", "p0", 20), ("u0", "e1", 30), ("u0", "a0", 40, "preview"),
      ("u0", "p0", 95), ("u1", "a1", 50), ("u1", "p2", 60, "follow"),
      ("u1", "a2", 61, "skip"),          # weight 0: dropped
      ("u2", "p3", 5),                   # before the window: not used
      ("u3", "a3", 99.9),
  ]


def test_examples_histories_and_weights():
  data = _train(interactions(_base_rows()))
  ex, items, u = data.examples, data.items, data.users
  got = sorted(zip(u.user_id[ex.user], items.item_id[ex.item],
                   ex.weight.tolist()))
  # The episode e1 rolls up to p1; u0's two p0 events are one example.
  assert got == [("u0", "a0", 0.5), ("u0", "p0", 1.0), ("u0", "p1", 1.0),
                 ("u1", "a1", 1.0), ("u1", "p2", 0.5), ("u3", "a3", 1.0)]
  # History: most recent first (p0 at day 95, then a0, then p1).
  history = u.history[u.rows_of(["u0"])[0]]
  assert items.item_id[history[history >= 0]].tolist() == ["p0", "a0", "p1"]
  assert (u.history[u.rows_of(["u2"])[0]] == -1).all()
  # Sampling probability: share of examples per item.
  assert ex.sampling_probability.sum() == pytest.approx(1.0)
  p0 = items.rows_of(["p0"])[0]
  assert ex.sampling_probability[p0] == pytest.approx(1 / 6)
  # One example per event without de-duplication.
  kept = _train(interactions(_base_rows()), dedupe_pairs=False)
  assert len(kept.examples) == 7


def test_nothing_at_or_after_the_cut_reaches_training():
  base = _train(interactions(_base_rows()))
  later = _base_rows() + [
      ("u0", "a1", 100), ("u0", "p4", 101.5),     # at/after the cut
      ("u1", "p0", 110, "follow"),
      ("u7", "a2", 105),                           # a user first seen after
      ("u0", "p5", 103),                           # an item published after
  ]
  data = _train(interactions(later))
  ex = data.examples
  assert (ex.timestamp < CUT).all()
  assert (ex.timestamp >= SPLIT.train_start).all()
  for name in ("user", "item", "weight", "timestamp"):
    np.testing.assert_array_equal(getattr(ex, name), getattr(base.examples,
                                                             name))
  np.testing.assert_array_equal(ex.sampling_probability,
                                base.examples.sampling_probability)
  np.testing.assert_array_equal(ex.history, base.examples.history)
  assert data.training["weight_medians"] == base.training["weight_medians"]
  # Histories, vocabularies and statistics are those of the pre-cut data
  # (compare by user id: the new user only adds a row).
  rows = data.users.rows_of(base.users.user_id)
  np.testing.assert_array_equal(data.users.history[rows], base.users.history)
  assert data.users.categorical_vocab == base.users.categorical_vocab
  assert data.users.numeric_mean == base.users.numeric_mean
  new_user = data.users.rows_of(["u7"])[0]
  assert (data.users.history[new_user] == -1).all()
  post_cut_items = data.items.rows_of(["a1", "p4", "p5"])
  assert not np.isin(data.users.history, post_cut_items[[1, 2]]).any()
  assert data.examples.sampling_probability[post_cut_items[2]] == 0
  # u0's a1 at the cut is not in u0's history.
  u0 = data.users.history[data.users.rows_of(["u0"])[0]]
  assert post_cut_items[0] not in u0


def test_user_features_come_from_training_users():
  data = _train(interactions(_base_rows()))
  u = data.users
  # Vocabulary: countries of users with examples only (u0 SE, u1 DE, u3 US).
  assert sorted(u.categorical_vocab["country"]) == ["DE", "SE", "US"]
  assert u.categorical["country"][u.rows_of(["u9"])[0]] == 0  # BR: unknown
  # "age" holds numbers: standardised with training users' mean (u0 31,
  # u1 45; u3 has none); missing -> 0.
  assert u.numeric_columns == ["age"]
  assert u.numeric_mean == [pytest.approx(38.0)]
  assert u.numeric[u.rows_of(["u3"])[0], 0] == 0.0
  assert u.numeric[u.rows_of(["u0"])[0], 0] == pytest.approx(-1.0)
  np.testing.assert_array_equal(u.interest_mask[:, 0], [1, 1, 0, 1, 0])
  features = u.features(np.array([0, 2]))
  assert set(features) == {"history", "user_country", "user_numeric",
                           "interest_vector", "interest_mask"}
  with pytest.raises(ValueError, match="not in the users table"):
    _train(interactions(_base_rows()), user_columns=("shoe_size",))


def test_type_specific_data_keeps_one_type():
  data = _train(interactions(_base_rows()), item_types=["audiobook"])
  assert set(data.items.item_type[data.examples.item]) == {"audiobook"}
  h = data.users.history
  assert set(data.items.item_type[h[h >= 0]]) == {"audiobook"}


def test_item_table_flags_and_features():
  items = item_table()
  # p5 is inductive (published after the cut); e5 inherits it.
  inductive = items.rows_of(["p5", "e5"])
  assert not items.graph_vector[inductive].any()
  assert items.graph_vector[items.rows_of(["p0", "e0", "a0"])].all()
  f = items.features(inductive)
  assert (f["hgnn"] == 0).all() and (f["vector_known"] == 0).all()
  f = items.features(items.rows_of(["p0", "a0"]))
  np.testing.assert_array_equal(f["vector_known"], [[1], [1]])
  assert (f["item_type"] >= 1).all()  # 1-based: 0 is unknown.
  assert (f["genres"][:, :2] > 0).all() and (f["genres"][:, 2:] == 0).all()
  f = items.features(use_hgnn=False, known=np.arange(len(items)) % 2 == 0)
  assert "hgnn" not in f and f["vector_known"][:2, 0].tolist() == [1, 0]


def test_holdout_targets_warm_cold_and_seen():
  rows = _base_rows() + [("u0", "a1", 100), ("u0", "e0", 101),
                         ("u7", "p5", 105), ("u1", "a1", 120),  # after hold-out
                         ("u3", "a3", 102, "preview")]
  items = item_table()
  data = build_training_data(interactions(rows), users(), items, SPLIT,
                             event_weight=WEIGHTS)
  h = build_holdout(interactions(rows), items, data.users.user_id, SPLIT)
  uid, iid = data.users.user_id, items.item_id
  assert sorted(zip(uid[h.user], iid[h.item])) == [
      ("u0", "a1"), ("u0", "p0"), ("u3", "a3"), ("u7", "p5")]
  warm = dict(zip(uid, h.warm))
  assert warm["u0"] and warm["u2"] and not warm["u7"]
  # p5 had no interaction before the cut: a cold item.
  assert not h.item_seen_before_cut[items.rows_of(["p5"])[0]]
  assert h.item_seen_before_cut[items.rows_of(["p0"])[0]]
  seen = set(zip(uid[h.seen_user], iid[h.seen_item]))
  assert ("u0", "p1") in seen and ("u2", "p3") in seen  # any time before
  only_streams = build_holdout(interactions(rows), items, uid, SPLIT,
                               target_events=("stream",))
  assert len(only_streams.user) == 3


def test_build_history_caps_and_orders():
  h = build_history(np.array([0, 0, 0, 1]), np.array([5, 6, 5, 7]),
                    np.array([1, 3, 2, 1]), num_users=3, max_history=1)
  np.testing.assert_array_equal(h, [[6], [7], [-1]])


def test_no_users_table_and_one_item_type():
  """MovieLens-like data: no users table, a single item type, no parents."""
  ids = np.array(["m0", "m1", "m2"], dtype=object)
  items = pd.DataFrame({"item_id": ids, "item_type": ["movie"] * 3})
  from tfgnn_gfm.twotower.items import item_table_from_arrays
  table = item_table_from_arrays(ids, np.array(["movie"] * 3, dtype=object),
                                 np.eye(3, dtype=np.float32),
                                 np.eye(3, dtype=np.float32), items)
  frame = interactions([("u0", "m0", 50, "rating"), ("u0", "m1", 60, "tag"),
                        ("u1", "m2", 70, "rating")])
  data = build_training_data(frame, None, table, SPLIT, event_weight={})
  assert len(data.examples) == 3
  assert data.users.categorical == {} and data.users.interest is None
  assert set(data.users.features()) == {"history"}
  assert table.eval_types == ["movie"]
  assert (table.language == 0).all() and (table.genres == 0).all()


def test_build_example_history_by_hand():
  # User 0: p5@1, p6@3, p5@4, p7@4, p8@6; user 1: p9@2; user 2: nothing.
  h = build_example_history(
      user=np.array([0, 0, 0, 0, 0, 1]), item=np.array([5, 6, 5, 7, 8, 9]),
      timestamp=np.array([1, 3, 4, 4, 6, 2]),
      example_user=np.array([0, 0, 0, 1, 2, 0]),
      example_time=np.array([4, 5, 100, 2, 50, 0]), max_history=3)
  np.testing.assert_array_equal(h, [
      [6, 5, -1],    # before 4: p5@1, p6@3 (p5@4 and p7@4 are not before).
      [5, 7, 6],     # before 5: p5 last at 4, p7 at 4 (ties by row), p6 at 3.
      [8, 5, 7],     # everything, capped at 3.
      [-1, -1, -1],  # user 1's only event is at the example's time.
      [-1, -1, -1],  # user 2 has no event.
      [-1, -1, -1]])  # nothing before time 0.


def _brute_force_history(user, item, timestamp, ex_user, ex_time, length):
  out = np.full((len(ex_user), length), -1, np.int32)
  for k, (u, t) in enumerate(zip(ex_user, ex_time)):
    before = (user == u) & (timestamp < t)
    out[k] = build_history(np.zeros(before.sum(), np.int64), item[before],
                           timestamp[before], 1, length)[0]
  return out


def test_build_example_history_matches_brute_force():
  rng = np.random.default_rng(7)
  n = 400
  user = rng.integers(0, 12, n)
  item = rng.integers(0, 15, n)          # Many repeats.
  timestamp = rng.integers(0, 30, n)     # Many ties.
  ex_user = rng.integers(0, 13, 200)     # User 12 has no event.
  ex_time = rng.integers(-1, 32, 200)
  for length in (1, 4, 20):
    np.testing.assert_array_equal(
        build_example_history(user, item, timestamp, ex_user, ex_time,
                              length),
        _brute_force_history(user, item, timestamp, ex_user, ex_time, length))


@pytest.mark.parametrize("dedupe", [True, False])
def test_example_history_has_nothing_at_or_after_the_example(dedupe):
  """Leakage: an example's history is built from its user's events strictly
  before the example's time, and from nothing else."""
  rng = np.random.default_rng(3)
  ids = ["p0", "p1", "p2", "p3", "p4", "a0", "a1", "a2", "a3", "e0", "e2"]
  rows = [(f"u{rng.integers(4)}", ids[rng.integers(len(ids))],
           float(rng.integers(12, 99)) + rng.integers(0, 3) / 4)
          for _ in range(300)]
  frame = interactions(rows)
  data = _train(frame, dedupe_pairs=dedupe, max_history=6)
  ex, items, u = data.examples, data.items, data.users
  assert ex.history is not None and ex.history.shape == (len(ex), 6)
  # Every event, rolled up, as (user row, item row, time).
  ev_user = u.rows_of(frame["user_id"])
  ev_item = items.root[items.rows_of(frame["item_id"])]
  ev_time = frame["timestamp"].to_numpy()
  for k in range(len(ex)):
    mine = ev_user == ex.user[k]
    for r in ex.history[k][ex.history[k] >= 0]:
      assert (ev_time[mine & (ev_item == r)] < ex.timestamp[k]).any()
  np.testing.assert_array_equal(ex.history, _brute_force_history(
      ev_user, ev_item, ev_time, ex.user, ex.timestamp, 6))
  # Examples late in the window see a longer history than early ones, and
  # some history differs from the user's whole-window history.
  assert not np.array_equal(ex.history, u.history[ex.user])
  window = _train(frame, dedupe_pairs=dedupe, max_history=6,
                  training_history="window")
  assert window.examples.history is None
  np.testing.assert_array_equal(window.users.history, u.history)


def test_example_history_tie_at_the_example_time():
  # u0 streams p1 and p2 in the same second: neither is in the other's
  # history; p0 (a day earlier) is in both.
  data = _train(interactions([("u0", "p0", 50), ("u0", "p1", 51),
                              ("u0", "p2", 51)]))
  ex, items = data.examples, data.items
  got = {items.item_id[i]: items.item_id[h[h >= 0]].tolist()
         for i, h in zip(ex.item, ex.history)}
  assert got == {"p0": [], "p1": ["p0"], "p2": ["p0"]}


def test_interaction_factors_by_hand():
  weight = np.array([10, 30, 90, np.nan, 0, -5, 2, 2, np.inf])
  group = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1])
  factor, median = interaction_factors(weight, group, "saturating")
  # Group 0: positive weights 10, 30, 90 -> median 30; 2w / (w + 30).
  np.testing.assert_allclose(median, [30, 2])
  np.testing.assert_allclose(factor, [0.5, 1, 1.5, 1, 0, 0, 1, 1, 1])
  factor, _ = interaction_factors(weight, group, "log1p")
  np.testing.assert_allclose(factor, [np.log2(4 / 3), 1, 2, 1, 0, 0, 1, 1, 1])
  factor, _ = interaction_factors(weight, group, "none")
  np.testing.assert_array_equal(factor, np.ones(9))
  with pytest.raises(ValueError, match="unknown interaction_weight"):
    interaction_factors(weight, group, "sqrt")


def test_example_weights_from_the_weight_column():
  rows = [("u0", "p0", 20), ("u0", "p0", 30), ("u1", "p1", 40),
          ("u1", "a0", 50, "preview"), ("u2", "a1", 60, "preview"),
          ("u2", "p2", 70), ("u3", "p3", 80), ("u3", "p4", 81, "follow")]
  frame = interactions(rows)
  # Seconds streamed: streams of podcasts 100, 300, 500, 0 (dropped), NaN;
  # previews of audiobooks 30, 90; the follow has the contract default 1.
  frame["weight"] = [100.0, 300.0, 500.0, 30.0, 90.0, 0.0, np.nan, 1.0]
  data = _train(frame)
  ex, items, u = data.examples, data.items, data.users
  got = dict(zip(zip(u.user_id[ex.user], items.item_id[ex.item]),
                 ex.weight.tolist()))
  # stream/podcast median 300 (of 100, 300, 500): u0's pair is the larger
  # of 2*100/400 and 2*300/600; u1's p1 2*500/800. preview/audiobook median
  # 60, event weight 0.5: 0.5 * 2*30/90 and 0.5 * 2*90/150. NaN counts 1;
  # the follow's median is its own weight: 0.5 * 1.
  assert got == pytest.approx({
      ("u0", "p0"): 1.0, ("u1", "p1"): 1.25, ("u1", "a0"): 1 / 3,
      ("u2", "a1"): 0.6, ("u3", "p3"): 1.0, ("u3", "p4"): 0.5})
  assert data.training["weight_medians"] == {
      "follow/podcast": 1.0, "preview/audiobook": 60.0,
      "stream/podcast": 300.0}
  assert data.counts["weight_dropped_events"] == 1
  assert data.training["weight_missing_events"] == 1
  # u2's zero-second stream of p2 is in no history either.
  assert items.rows_of(["p2"])[0] not in u.history
  plain = _train(frame, interaction_weight="none")
  assert sorted(plain.examples.weight.tolist()) == [0.5, 0.5, 0.5, 1, 1, 1, 1]


def test_builder_defaults_are_the_config_defaults():
  params = inspect.signature(build_training_data).parameters
  config = TwoTowerConfig()
  for name in ("interaction_weight", "training_history", "max_history",
               "dedupe_pairs"):
    assert params[name].default == getattr(config, name)


def test_validation_view_never_reads_the_test_holdout():
  frame = interactions([("u0", "p0", 80), ("u0", "p1", 90),
                        ("u0", "p2", 99.99), ("u0", "p3", 100),
                        ("u1", "a0", 107)])
  kept, split = validation_view(frame, CUT, train_days=90, holdout_days=14)
  assert split.cut == CUT - 14 * DAY and split.holdout_end == CUT
  assert split.train_start == CUT - 104 * DAY
  assert kept["item_id"].tolist() == ["p0", "p1", "p2"]
  # Validation targets: [86, 100) days; p1 and p2 of u0.
  data = build_training_data(kept, users(), item_table(), split,
                             event_weight=WEIGHTS)
  h = build_holdout(kept, data.items, data.users.user_id, split)
  assert data.items.item_id[h.item].tolist() == ["p1", "p2"]
  assert data.items.item_id[data.examples.item].tolist() == ["p0"]


def test_validation_needs_the_test_cut():
  with pytest.raises(ValueError, match="validation needs --cut"):
    EvaluateConfig(validation=True).validate()
  EvaluateConfig(validation=True, cut="2024-03-31").validate()
  with pytest.raises(ValueError, match="training_history"):
    TwoTowerConfig(training_history="future").validate()
  with pytest.raises(ValueError, match="interaction_weight"):
    TwoTowerConfig(interaction_weight="sqrt").validate()


def test_recent_popularity_by_hand_and_never_after_the_cut():
  from tfgnn_gfm.twotower.examples import recent_popularity
  day = 86_400
  cut = 100 * day
  item = np.array([0, 0, 0, 1, 2, 2, 3])
  # Item 2's first event is older than the 14-day window; item 3's is at
  # the cut (never read).
  ts = np.array([95, 96, 99.9, 90, 50, 99, 100]) * day
  pop = recent_popularity(item, ts.astype(np.int64), 5, cut, 14)
  expected = np.log1p([3, 1, 1, 0, 0]) / np.log1p(3)
  np.testing.assert_allclose(pop, expected, rtol=1e-6)
  assert pop.dtype == np.float32


def test_popularity_days_reaches_the_item_features():
  from tests.twotower.helpers import CUT, interactions, item_table
  frame = interactions([("u0", "p0", 95), ("u1", "p0", 96), ("u1", "p1", 20),
                        ("u2", "p0", 101)])
  items = item_table()
  without = build_training_data(frame, None, items, TimeSplit(CUT, 90),
                                event_weight={})
  assert "popularity" not in without.items.features()
  data = build_training_data(frame, None, items, TimeSplit(CUT, 90),
                             event_weight={}, popularity_days=14)
  pop = data.items.features()["popularity"][:, 0]
  rows = items.rows_of(["p0", "p1", "p2"])
  # p0: 2 recent events (the one after the cut is not read); p1's is old.
  np.testing.assert_allclose(pop[rows], [1.0, 0.0, 0.0])
  assert data.training["popularity_days"] == 14
