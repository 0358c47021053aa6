"""Ranking metrics and the protocol against hand-computed cases."""

import numpy as np
import pandas as pd
import pytest

from tfgnn_gfm.evaluation import metrics, ranking
from tfgnn_gfm.evaluation.baselines import Scorer
from tfgnn_gfm.evaluation.holdout import Holdout
from tfgnn_gfm.evaluation.protocol import (
  ALL_TYPES,
  aggregate_runs,
  evaluate_scorer,
  new_items_mrr,
)
from tfgnn_gfm.twotower.items import item_table_from_arrays
from tfgnn_gfm.twotower.prior import offset_index, offset_query

INF = np.inf


def test_top_k_orders_by_score_then_column_and_skips_excluded():
  scores = np.array([[1.0, 3.0, 3.0, 3.0, 0.0],
                     [5.0, 4.0, 3.0, 2.0, 1.0],
                     [-INF, 1.0, -INF, -INF, -INF]])
  np.testing.assert_array_equal(metrics.top_k_columns(scores, 2),
                                [[1, 2], [0, 1], [1, -1]])
  np.testing.assert_array_equal(metrics.top_k_columns(scores, 9),
                                [[1, 2, 3, 0, 4], [0, 1, 2, 3, 4],
                                 [1, -1, -1, -1, -1]])


def test_top_k_matches_a_stable_full_sort():
  rng = np.random.default_rng(0)
  for scores in (rng.normal(size=(64, 40)),
                 np.round(rng.normal(size=(64, 40)))):  # Many ties.
    expected = np.argsort(-scores, axis=1, kind="stable")[:, :7]
    np.testing.assert_array_equal(metrics.top_k_columns(scores, 7), expected)


def test_hit_rate_mrr_and_coverage_by_hand():
  # Three users, five items. Rankings (best first):
  #   u0: 4 3 2 1 0   targets {2}     -> rank 3
  #   u1: 0 1 2 3 4   targets {4, 1}  -> first hit at rank 2
  #   u2: 1 0 2 4 3   targets {3}     -> rank 5
  scores = np.array([[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [3, 4, 2, 0, 1]],
                    dtype=float)
  rows, cols = np.array([0, 1, 1, 2]), np.array([2, 4, 1, 3])
  top = metrics.top_k_columns(scores, 5)
  hits = metrics.hit_matrix(top, rows, cols, 5)
  np.testing.assert_array_equal(metrics.hits_at_k(hits, 1), [0, 0, 0])
  np.testing.assert_array_equal(metrics.hits_at_k(hits, 2), [0, 1, 0])
  np.testing.assert_array_equal(metrics.hits_at_k(hits, 3), [1, 1, 0])
  np.testing.assert_allclose(metrics.reciprocal_rank(hits),
                             [1 / 3, 1 / 2, 1 / 5])
  np.testing.assert_allclose(metrics.reciprocal_rank(hits, 4),
                             [1 / 3, 1 / 2, 0])
  assert metrics.hit_rate(scores, rows, cols, 2) == pytest.approx(1 / 3)
  # Top-1 lists hold items 4, 0, 1: 3 of 5; top-2 add 3: 4 of 5.
  assert metrics.coverage(top, 1, 5) == pytest.approx(3 / 5)
  assert metrics.coverage(top, 2, 5) == pytest.approx(4 / 5)
  # Excluded places (-1) are not items.
  assert metrics.coverage(np.array([[-1, 2]]), 2, 4) == pytest.approx(1 / 4)


def _tiny_catalog():
  """Rows: 0 a0, 1 a1, 2 a2 (audiobooks); 3 p0, 4 p1 (podcasts); 5 e0 (an
  episode of p0, rolled up); 6 p2 (a podcast published after the hold-out)."""
  ids = np.array(["a0", "a1", "a2", "p0", "p1", "e0", "p2"], dtype=object)
  types = np.array(["audiobook"] * 3 + ["podcast"] * 2 + ["episode",
                                                          "podcast"],
                   dtype=object)
  items = pd.DataFrame({"item_id": ids, "parent_id": ["", "", "", "", "",
                                                      "p0", ""],
                        "published_at": [0, 0, 0, 0, 0, 0, 10_000]})
  return item_table_from_arrays(ids, types, np.eye(7, 4, dtype=np.float32),
                                np.eye(7, 3, dtype=np.float32), items,
                                available_until=5_000)


def test_catalog_rolls_up_episodes_and_drops_unavailable_items():
  items = _tiny_catalog()
  np.testing.assert_array_equal(items.root, [0, 1, 2, 3, 4, 3, 6])
  np.testing.assert_array_equal(items.candidate,
                                [1, 1, 1, 1, 1, 0, 0])
  assert items.eval_types == ["audiobook", "podcast"]


def protocol_hand_case():
  """(catalog, scorer, holdout) of the protocol's hand-made case.

  Users 0, 1 (warm) and 2 (cold). Item scores are the same for everyone
  except where set: a ranking per user over rows 0..4.
  """
  items = _tiny_catalog()
  item_vectors = np.eye(5, dtype=np.float32)
  item_vectors = np.vstack([item_vectors, np.zeros((2, 5), np.float32)])
  user_vectors = np.array([
      [5, 4, 3, 2, 1],   # u0: audiobooks a0 > a1 > a2; podcasts p0 > p1
      [1, 2, 3, 1, 2],   # u1: audiobooks a2 > a1 > a0; podcasts p1 > p0
      [3, 2, 1, 2, 1],   # u2: audiobooks a0 > a1 > a2; podcasts p0 > p1
  ], dtype=np.float32)
  scorer = Scorer("hand", np.array([0, 1, 2]), user_vectors, item_vectors)
  holdout = Holdout(
      # u0 -> a1, p0; u1 -> a0, a2(cold item); u2 -> p1.
      user=np.array([0, 0, 1, 1, 2]), item=np.array([1, 3, 0, 2, 4]),
      warm=np.array([True, True, False]),
      # Before the cut: u0 consumed a0 and p0; u1 consumed a2.
      seen_user=np.array([0, 0, 1]), seen_item=np.array([0, 3, 2]),
      item_seen_before_cut=np.array([1, 1, 0, 1, 1, 1, 0], bool), counts={})
  return items, scorer, holdout


def test_protocol_by_hand():
  items, scorer, holdout = protocol_hand_case()
  r = evaluate_scorer(scorer, items, holdout, k=1, mrr_k=2, coverage_k=1)
  ab, pod = r["audiobook"], r["podcast"]
  # Audiobooks: u0 top-1 a0 (target a1: miss, rank 2); u1 top-1 a2 (hit).
  assert ab["all_items"]["all_users"] == {
      "users": 2, "hr@1": 0.5, "mrr@2": pytest.approx((1 / 2 + 1) / 2),
      "coverage@1": pytest.approx(2 / 3)}
  # New items only: u0's a0 (seen) leaves its ranking: a1 first -> hit.
  # u1's a2 was seen before the cut: its only new target is a0, ranked
  # after a1 once a2 is removed -> miss (rank 2).
  assert ab["new_items"]["all_users"]["hr@1"] == 0.5
  assert ab["new_items"]["all_users"]["mrr@2"] == pytest.approx((1 + 1 / 2) / 2)
  # Cold items: only a2 (target of u1) had no interaction before the cut.
  assert ab["cold_items"]["all_users"]["users"] == 1
  assert ab["cold_items"]["all_users"]["hr@1"] == 1.0
  # Warm vs cold users on podcasts: u0 (warm) hits p0; u2 (cold) has p1
  # ranked second -> miss.
  assert pod["all_items"]["warm_users"]["hr@1"] == 1.0
  assert pod["all_items"]["cold_users"]["hr@1"] == 0.0
  assert pod["all_items"]["all_users"]["users"] == 2
  # u0's p0 is not new: only u2 counts for podcasts' new items.
  assert pod["new_items"]["all_users"]["users"] == 1
  assert pod["new_items"]["warm_users"]["users"] == 0
  assert pod["new_items"]["warm_users"]["hr@1"] is None
  # The episode and the unavailable podcast are never candidates.
  assert pod["candidates"] == 2 and ab["candidates"] == 3
  assert r[ALL_TYPES]["candidates"] == 5
  # Over all types, u0's top-1 is a0 (not a target), u1's a2 (hit), u2's a0.
  assert r[ALL_TYPES]["all_items"]["all_users"]["hr@1"] == pytest.approx(1 / 3)


def _random_case(rng, *, users: int, types: list[str], items_per_type: int,
                 dim: int, targets: int, seen: int):
  """(catalog, user vectors, item vectors, holdout) drawn from ``rng``."""
  n = len(types) * items_per_type
  ids = np.array([f"i{i}" for i in range(n)], dtype=object)
  items = item_table_from_arrays(
      ids, np.array(types * items_per_type, dtype=object),
      np.zeros((n, 2), np.float32), np.zeros((n, 2), np.float32),
      pd.DataFrame({"item_id": ids}))
  user_vectors = rng.normal(size=(users, dim)).astype(np.float32)
  item_vectors = rng.normal(size=(n, dim)).astype(np.float32)
  pairs = pd.DataFrame({"u": rng.integers(0, users, targets),
                        "i": rng.integers(0, n, targets)}).drop_duplicates()
  before = pd.DataFrame({"u": rng.integers(0, users, seen),
                         "i": rng.integers(0, n, seen)}).drop_duplicates()
  holdout = Holdout(user=pairs["u"].to_numpy(), item=pairs["i"].to_numpy(),
                    warm=rng.random(users) < 0.7,
                    seen_user=before["u"].to_numpy(),
                    seen_item=before["i"].to_numpy(),
                    item_seen_before_cut=rng.random(n) < 0.8, counts={})
  return items, user_vectors, item_vectors, holdout


def test_protocol_is_independent_of_the_chunk_size():
  items, user_vectors, item_vectors, holdout = _random_case(
      np.random.default_rng(1), users=50, types=["a", "b", "c"],
      items_per_type=20, dim=8, targets=300, seen=200)
  types = items.item_type
  scorer = Scorer("r", np.arange(50), user_vectors, item_vectors)
  one = evaluate_scorer(scorer, items, holdout, k=5, mrr_k=10, coverage_k=10,
                        user_chunk=7)
  other = evaluate_scorer(scorer, items, holdout, k=5, mrr_k=10,
                          coverage_k=10, user_chunk=1000)
  assert one == other
  # And HR@5 of one type equals a direct per-user computation.
  cols = np.flatnonzero(types == "b")
  hr = []
  for u in np.unique(holdout.user[np.isin(holdout.item, cols)]):
    s = scorer.user_vectors[u] @ scorer.item_vectors[cols].T
    top = cols[np.argsort(-s, kind="stable")[:5]]
    targets = holdout.item[holdout.user == u]
    hr.append(np.isin(top, targets).any())
  got = one["b"]["all_items"]["all_users"]["hr@5"]
  assert got == pytest.approx(np.mean(hr))


def test_new_items_mrr_equals_the_protocols_for_every_offset():
  # One score matrix for every offset gives evaluate_scorer's all-types
  # new-items MRR of the scorer with that offset in its index.
  rng = np.random.default_rng(3)
  items, user_vectors, item_vectors, holdout = _random_case(
      rng, users=30, types=["a", "b"], items_per_type=20, dim=6,
      targets=120, seen=150)
  users = np.arange(30)
  offsets = [np.zeros(40, np.float32),
             rng.normal(size=40).astype(np.float32),
             3 * rng.normal(size=40).astype(np.float32)]
  got = new_items_mrr(Scorer("r", users, user_vectors, item_vectors), items,
                      holdout, offsets, mrr_k=5, user_chunk=7)
  for offset, value in zip(offsets, got):
    scorer = Scorer("o", users, offset_query(user_vectors),
                    offset_index(item_vectors, offset))
    want = evaluate_scorer(scorer, items, holdout, k=5, mrr_k=5, types=[])
    assert value == pytest.approx(
        want[ALL_TYPES]["new_items"]["all_users"]["mrr@5"], abs=1e-12)
  assert len(set(got)) == 3  # The offsets change the rankings.
  # Nobody with a new target: None per offset.
  only_seen = Holdout(user=np.array([0]), item=np.array([1]),
                      warm=np.ones(30, bool), seen_user=np.array([0]),
                      seen_item=np.array([1]),
                      item_seen_before_cut=np.ones(40, bool), counts={})
  assert new_items_mrr(Scorer("r", users, user_vectors, item_vectors), items,
                       only_seen, offsets[:2]) == [None, None]


def test_aggregate_runs_mean_std_and_values():
  runs = [{"t": {"users": 4, "hr@10": 0.5, "x": None}},
          {"t": {"users": 4, "hr@10": 0.7, "x": None}}]
  out = aggregate_runs(runs)
  assert out["t"]["users"] == 4
  assert out["t"]["x"] is None
  assert out["t"]["hr@10"]["mean"] == pytest.approx(0.6)
  assert out["t"]["hr@10"]["std"] == pytest.approx(0.1)
  assert out["t"]["hr@10"]["values"] == [0.5, 0.7]


def test_popularity_and_knn_scorers_by_hand():
  from tfgnn_gfm.evaluation.baselines import knn_scorer, popularity_scorer
  from tfgnn_gfm.twotower.examples import TrainingExamples
  from tfgnn_gfm.twotower.users import UserTable
  examples = TrainingExamples(user=np.array([0, 0, 1]),
                              item=np.array([2, 1, 2]),
                              weight=np.ones(3, np.float32),
                              timestamp=np.zeros(3, np.int64),
                              sampling_probability=np.zeros(3, np.float32))
  pop = popularity_scorer(examples, 3, np.array([0, 1, 2]))
  scores = pop.user_vectors @ pop.item_vectors.T
  np.testing.assert_array_equal(scores[0], [0, 1, 2])
  users = UserTable(user_id=np.array(["a", "b", "c"], dtype=object),
                    categorical={}, categorical_vocab={},
                    numeric=np.zeros((3, 0)), numeric_columns=[],
                    numeric_mean=[], numeric_std=[], interest=None,
                    interest_mask=np.zeros((3, 1)),
                    history=np.array([[0, 1], [1, -1], [-1, -1]]))
  vectors = np.array([[1, 0], [0, 1], [1, 1]], np.float32)
  knn = knn_scorer(users, np.array([0, 1, 2]), vectors, examples, "knn")
  scores = knn.user_vectors @ knn.item_vectors.T
  # u0: mean of items 0, 1 = (.5, .5) -> item 2 (1, 1)/sqrt2 is the closest.
  assert scores[0].argmax() == 2
  np.testing.assert_allclose(scores[0], [np.sqrt(.5), np.sqrt(.5), 1.0],
                             rtol=1e-6)
  # u1: item 1 itself first; u2 (no history): popularity order 2 > 1 > 0.
  assert scores[1].argmax() == 1
  assert list(np.argsort(-scores[2])) == [2, 1, 0]
  assert knn.info["popularity_fallback_users"] == 1


@pytest.mark.parametrize("integer", [False, True])
def test_fast_rank_and_mask_equal_the_top_k_lists(integer):
  """Without ties the evaluation's ranks (tfgnn_gfm.evaluation.ranking) equal
  the top-K lists' positions; with ties they differ (ranking's rule), the mask
  not."""
  rng = np.random.default_rng(2)
  scores = rng.normal(size=(40, 30))
  if integer:  # Many ties, as popularity counts have.
    scores = np.round(scores * 2)
  scores[rng.random(scores.shape) < 0.1] = -INF  # Excluded columns.
  pairs = {(r, c) for r, c in zip(rng.integers(0, 40, 80),
                                  rng.integers(0, 30, 80))
           if np.isfinite(scores[r, c])}
  rows = np.array([p[0] for p in pairs])
  cols = np.array([p[1] for p in pairs])
  top = metrics.top_k_columns(scores, 30)
  hits = metrics.hit_matrix(top, rows, cols, 30)
  rank = ranking.target_ranks(scores, rows, cols)
  has = np.zeros(40, bool)
  has[rows] = True
  assert ((rank >= 0) == has).all()
  for k in (1, 5, 10):
    if not integer:
      np.testing.assert_array_equal(ranking.hits_at(rank[has], k),
                                    metrics.hits_at_k(hits, k)[has])
      np.testing.assert_allclose(ranking.reciprocal_ranks(rank[has], k),
                                 metrics.reciprocal_rank(hits, k)[has])
    mask = metrics.top_k_mask(scores, k)
    listed = np.zeros_like(mask)
    lists = metrics.top_k_columns(scores, k)
    r, c = np.nonzero(lists >= 0)
    listed[r, lists[r, c]] = True
    np.testing.assert_array_equal(mask, listed)


def test_listed_columns_unions_each_groups_top_k():
  scores = np.array([[3.0, 2.0, 1.0, 0.0],
                     [0.0, 1.0, 2.0, 3.0],
                     [1.0, 1.0, 1.0, -INF]])
  groups = {"first": np.array([True, False, False]),
            "last_two": np.array([False, True, True]),
            "none": np.zeros(3, bool)}
  listed = metrics.listed_columns(scores, 2, groups)
  np.testing.assert_array_equal(listed["first"], [True, True, False, False])
  # Row 2 ties three columns for two places: the lower columns 0 and 1.
  np.testing.assert_array_equal(listed["last_two"], [True, True, True, True])
  assert not listed["none"].any()
