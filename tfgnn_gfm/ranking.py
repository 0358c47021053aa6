"""The rank of a target among scored candidates: the one rule of every figure.

Every HR@K and MRR this project reports (held-out edges of pretraining,
``gfm evaluate``, the intervals over users and windows) comes from
``target_ranks`` and the two reductions below, so one rule holds everywhere:

* **Ties are broken at random, and the rank is its expectation** (the
  "realistic rank"). A row's rank is that of its best target: with ``above``
  candidates scored strictly higher, ``n`` other candidates and ``m`` targets
  tied at the best target's score, the expected 0-based position of the first
  of those ``m`` targets in a uniformly random order of the tie is
  ``above + n / (m + 1)``. With one target, a tie counts half.
* HR@K: the 1-based rank ``rank + 1`` is at most K (``hits_at``).
* Reciprocal rank: ``1 / (rank + 1)`` when ``rank + 1`` is at most the
  cutoff, else 0 (``reciprocal_ranks``; MRR is its mean).

Column order never decides: a count-based score (popularity, item-kNN)
that ties the target with many candidates gets neither the best nor the
worst place of the tie, whatever the ids' order. Excluded candidates score
``-inf`` and so rank after every finite score.
"""

from __future__ import annotations

import numpy as np


def target_ranks(scores: np.ndarray, target_rows: np.ndarray,
                 target_columns: np.ndarray) -> np.ndarray:
  """Each row's 0-based expected rank of its best target (ties at random).

  Args:
    scores: float [B, C] scores of B rows (users, queries) against C
      candidates; ``-inf`` marks an excluded candidate.
    target_rows: int [m] row of each target (a row may have several).
    target_columns: int [m] column of each target (repeats count once).

  Returns:
    float64 [B]: ``above + n / (m + 1)`` (see the module docstring), or -1 for
    a row without targets.
  """
  scores = np.asarray(scores)
  b, c = scores.shape
  rank = np.full(b, -1.0, np.float64)
  if not len(target_rows):
    return rank
  keys = np.unique(np.asarray(target_rows, np.int64) * c +
                   np.asarray(target_columns, np.int64))
  rows, cols = keys // c, keys % c
  values = scores[rows, cols]
  # Best target score of each row, and how many of its targets share it.
  order = np.lexsort((-values, rows))
  rows, values = rows[order], values[order]
  first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
  best_rows = rows[first]
  best = np.full((b, 1), np.inf, scores.dtype)
  best[best_rows, 0] = values[first]
  tied_targets = np.bincount(rows[values == best[rows, 0]], minlength=b)
  above = np.count_nonzero(scores > best, axis=1)[best_rows]
  equal = np.count_nonzero(scores == best, axis=1)[best_rows]
  m = tied_targets[best_rows]
  rank[best_rows] = above + (equal - m) / (m + 1.0)
  return rank


def hits_at(rank: np.ndarray, k: int) -> np.ndarray:
  """float64 hits of HR@K: 1 where the 1-based rank ``rank + 1`` is <= k."""
  rank = np.asarray(rank, np.float64)
  return ((rank >= 0) & (rank + 1.0 <= k)).astype(np.float64)


def reciprocal_ranks(rank: np.ndarray, cutoff: int | None = None
                     ) -> np.ndarray:
  """float64 ``1 / (rank + 1)``; 0 beyond ``cutoff`` (1-based) or unranked."""
  rank = np.asarray(rank, np.float64)
  keep = rank >= 0
  if cutoff is not None:
    keep &= rank + 1.0 <= cutoff
  return np.where(keep, 1.0 / (np.maximum(rank, 0.0) + 1.0), 0.0)
