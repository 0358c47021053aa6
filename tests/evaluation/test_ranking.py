"""The one rank rule (tfgnn_gfm/evaluation/ranking.py): hand cases, its
expectation, and both evaluations (held-out edges, gfm evaluate) using it."""

import numpy as np
import pytest

from tfgnn_gfm.evaluation import ranking


def test_hand_cases():
  scores = np.array([
      [3.0, 2.0, 2.0, 2.0, 1.0],   # target col 1 tied with 2 others: 1 + 2/2
      [3.0, 2.0, 2.0, 2.0, 1.0],   # targets 1 and 2 tied with 1 other: 1 + 1/3
      [0.0, 0.0, 0.0, 0.0, 0.0],   # all tied, one target: 4/2
      [5.0, 4.0, -np.inf, 1.0, 0.0],  # no tie, best target col 3: 2
      [1.0, 1.0, 1.0, 1.0, 1.0],   # no target
  ])
  rows = np.array([0, 1, 1, 2, 3, 3])
  cols = np.array([1, 1, 2, 4, 3, 4])
  rank = ranking.target_ranks(scores, rows, cols)
  np.testing.assert_allclose(rank, [2.0, 1 + 1 / 3, 2.0, 2.0, -1.0])
  np.testing.assert_array_equal(ranking.hits_at(rank, 2), [0, 0, 0, 0, 0])
  np.testing.assert_array_equal(ranking.hits_at(rank, 3), [1, 1, 1, 1, 0])
  np.testing.assert_allclose(ranking.reciprocal_ranks(rank),
                             [1 / 3, 1 / (2 + 1 / 3), 1 / 3, 1 / 3, 0])
  np.testing.assert_allclose(ranking.reciprocal_ranks(rank, 2),
                             [0, 0, 0, 0, 0])
  # The 1-based rank 2 + 1/3 is within 3 but not within 2.
  assert ranking.hits_at(rank, 3)[1] == 1 and ranking.hits_at(rank, 2)[1] == 0


def test_repeated_targets_count_once():
  scores = np.zeros((1, 4))
  once = ranking.target_ranks(scores, np.array([0]), np.array([2]))
  twice = ranking.target_ranks(scores, np.array([0, 0]), np.array([2, 2]))
  np.testing.assert_array_equal(once, twice)


def test_rank_is_the_expectation_over_random_tie_orders():
  """Breaking ties by a random permutation, the mean position of the first
  target equals target_ranks (many ties, several targets per row)."""
  rng = np.random.default_rng(0)
  scores = rng.integers(0, 4, size=(30, 12)).astype(np.float64)
  rows = rng.integers(0, 30, 50)
  cols = rng.integers(0, 12, 50)
  expected = ranking.target_ranks(scores, rows, cols)
  is_target = np.zeros(scores.shape, bool)
  is_target[rows, cols] = True
  trials = 4000
  total = np.zeros(30)
  for _ in range(trials):
    noise = rng.random(scores.shape) * 1e-3  # Below the integer gaps.
    order = np.argsort(-(scores + noise), axis=1)
    first = np.argmax(np.take_along_axis(is_target, order, axis=1), axis=1)
    total += first
  has = expected >= 0
  np.testing.assert_allclose(total[has] / trials, expected[has], atol=0.08)


def test_held_out_edges_and_gfm_evaluate_share_the_rule():
  """The two figures of a tied score matrix are the same numbers."""
  from tfgnn_gfm.evaluation import protocol
  from tfgnn_gfm.hgnn import evaluation
  scores = np.array([[1.0, 1.0, 1.0, 0.0], [2.0, 1.0, 1.0, 1.0]])
  targets = np.array([2, 3])
  hgnn = evaluation.rank_queries(  # the report's rank step
      lambda a, b: scores[a:b], 2, targets, np.zeros(0, np.int64),
      np.zeros(0, np.int64))
  acc = protocol._Accumulator(4, coverage=False)  # noqa: SLF001
  acc.add(ranking.target_ranks(scores, np.arange(2), targets),
          np.ones(2, bool), np.arange(2))
  result = acc.result(k=2, mrr_k=100, coverage_k=100)["all_users"]
  np.testing.assert_allclose(hgnn, [1.0, 2.0])
  assert result["hr@2"] == pytest.approx(ranking.hits_at(hgnn, 2).mean())
  assert result["mrr@100"] == pytest.approx(
      ranking.reciprocal_ranks(hgnn).mean())


@pytest.mark.parametrize("integer", [False, True])
def test_ranker_shares_passes_and_excludes_without_writing(integer):
  """Ranker.ranks equals target_ranks on the scores with the excluded
  candidates set to -inf (ties, -inf scores, excluded targets included), for
  target sets ranked one after another on the same matrix, and leaves the
  scores untouched."""
  rng = np.random.default_rng(3)
  for _ in range(100):
    b, c = rng.integers(1, 25, size=2)
    scores = rng.normal(size=(b, c)).astype(np.float32)
    if integer:
      scores = np.round(scores * 2)
    scores[rng.random(scores.shape) < 0.1] = -np.inf
    before = scores.copy()
    n, e = rng.integers(0, 50, size=2)
    rows, cols = rng.integers(0, b, n), rng.integers(0, c, n)
    ex_rows, ex_cols = rng.integers(0, b, e), rng.integers(0, c, e)
    excluded = scores.copy()
    excluded[ex_rows, ex_cols] = -np.inf
    gone = set(zip(ex_rows.tolist(), ex_cols.tolist()))
    kept = np.array([(r, q) not in gone for r, q in
                     zip(rows.tolist(), cols.tolist())], bool)
    some = rng.random(n) < 0.3
    ranker = ranking.Ranker(scores)
    np.testing.assert_allclose(ranker.ranks(rows, cols),
                               ranking.target_ranks(scores, rows, cols))
    np.testing.assert_allclose(
        ranker.ranks(rows[some], cols[some]),
        ranking.target_ranks(scores, rows[some], cols[some]))
    np.testing.assert_allclose(
        ranker.ranks(rows, cols, ex_rows, ex_cols),
        ranking.target_ranks(excluded, rows[kept], cols[kept]))
    np.testing.assert_array_equal(scores, before)


def test_ranker_by_hand():
  scores = np.array([[4.0, 3.0, 3.0, 1.0],
                     [2.0, 2.0, 2.0, 2.0]])
  ranker = ranking.Ranker(scores)
  # Row 0: target col 2 (3.0) has 1 above and 1 tie: 1 + 1/2.
  # Row 1: target col 3, all tied: 3/2.
  np.testing.assert_allclose(ranker.ranks(np.array([0, 1]), np.array([2, 3])),
                             [1.5, 1.5])
  # Excluding col 0 of row 0 and col 1 of row 1: 0 + 1/2 and 2/2.
  np.testing.assert_allclose(
      ranker.ranks(np.array([0, 1]), np.array([2, 3]), np.array([0, 1]),
                   np.array([0, 1])), [0.5, 1.0])
  # An excluded target is no target: row 0 is unranked.
  np.testing.assert_allclose(
      ranker.ranks(np.array([0]), np.array([2]), np.array([0]),
                   np.array([2])), [-1.0, -1.0])
