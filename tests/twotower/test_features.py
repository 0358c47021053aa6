"""Feature tables, training examples and the time split (no leakage)."""

import numpy as np
import pandas as pd
import pytest

from tests.twotower.helpers import CUT, interactions, item_table, users
from tfgnn_gfm.twotower.features import (TimeSplit, build_history,
                                         build_holdout, build_training_data)

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
  assert ex.sampling_probability[items.rows_of(["p0"])[0]] == pytest.approx(1 / 6)
  # One example per event without de-duplication.
  assert len(_train(interactions(_base_rows()), dedupe_pairs=False).examples) == 7


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
  assert (ex.timestamp < CUT).all() and (ex.timestamp >= SPLIT.train_start).all()
  for name in ("user", "item", "weight", "timestamp"):
    np.testing.assert_array_equal(getattr(ex, name), getattr(base.examples,
                                                             name))
  np.testing.assert_array_equal(ex.sampling_probability,
                                base.examples.sampling_probability)
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
  from tfgnn_gfm.twotower.features import item_table_from_arrays  # pylint: disable=g-import-not-at-top
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
