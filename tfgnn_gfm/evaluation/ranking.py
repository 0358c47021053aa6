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
  return Ranker(scores).ranks(target_rows, target_columns)


def _distinct(keys: np.ndarray) -> np.ndarray:
  """Sorted distinct keys (a sort: numpy's hash-based ``unique`` is several
  times slower on the hundred thousand keys of a chunk's exclusions)."""
  keys = np.sort(keys)
  return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


class Ranker:
  """Ranks several target sets against one score matrix, sharing its passes.

  The cost of a rank is two passes over the row's scores (how many score
  higher than the best target, how many tie with it). An evaluation ranks
  several target sets per row (all targets, the cold ones, the new ones with
  the user's seen items excluded); their best target is often the same
  column. A ``Ranker`` remembers each row's last threshold and its counts,
  so a later set with the same best score costs no pass; rows whose
  threshold is new are counted on their own rows only; and excluded
  candidates are subtracted from the counts instead of being written into
  the scores. ``ranks`` equals ``target_ranks`` on the scores with the
  excluded candidates set to ``-inf`` (a test checks it).
  """

  def __init__(self, scores: np.ndarray):
    self.scores = np.asarray(scores)
    b = self.scores.shape[0]
    # NaN never equals a threshold: no row starts counted.
    self._threshold = np.full(b, np.nan, np.float64)
    self._above = np.zeros(b, np.int64)
    self._equal = np.zeros(b, np.int64)

  def _counts(self, rows: np.ndarray, threshold: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """(candidates above, candidates equal to) ``threshold`` in ``rows``."""
    todo = self._threshold[rows] != threshold.astype(np.float64)
    if todo.any():
      r, t = rows[todo], threshold[todo][:, None].astype(self.scores.dtype)
      # Count on a copy of the rows when few are new; else on the whole
      # matrix (a copy would cost a pass of its own).
      if 2 * len(r) <= self.scores.shape[0]:
        sub = self.scores[r]
        above = np.count_nonzero(sub > t, axis=1)
        equal = np.count_nonzero(sub == t, axis=1)
      else:
        full = np.full((self.scores.shape[0], 1), np.inf, self.scores.dtype)
        full[r] = t
        above = np.count_nonzero(self.scores > full, axis=1)[r]
        equal = np.count_nonzero(self.scores == full, axis=1)[r]
      self._threshold[r] = t[:, 0]
      self._above[r], self._equal[r] = above, equal
    return self._above[rows], self._equal[rows]

  def ranks(self, target_rows: np.ndarray, target_columns: np.ndarray,
            excluded_rows: np.ndarray | None = None,
            excluded_columns: np.ndarray | None = None) -> np.ndarray:
    """Each row's expected rank of its best target, as ``target_ranks``.

    Args:
      target_rows, target_columns: int [m] the targets (repeats count once).
      excluded_rows, excluded_columns: int [e] candidates ranked as if they
        scored ``-inf`` (a user's seen items); an excluded target is no
        target.

    Returns:
      float64 [B], -1 for a row without targets.
    """
    b, c = self.scores.shape
    rank = np.full(b, -1.0, np.float64)
    keys = _distinct(np.asarray(target_rows, np.int64) * c +
                     np.asarray(target_columns, np.int64))
    ex_keys = np.zeros(0, np.int64)
    if excluded_rows is not None and len(excluded_rows):
      ex_keys = _distinct(np.asarray(excluded_rows, np.int64) * c +
                          np.asarray(excluded_columns, np.int64))
      at = np.minimum(np.searchsorted(ex_keys, keys), len(ex_keys) - 1)
      keys = keys[ex_keys[at] != keys]
    if not len(keys):
      return rank
    rows, cols = keys // c, keys % c
    values = self.scores[rows, cols]
    # Best target score of each row, and how many of its targets share it.
    order = np.lexsort((-values, rows))
    rows, values = rows[order], values[order]
    first = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    best_rows = rows[first]
    best = np.full(b, np.inf, self.scores.dtype)
    best[best_rows] = values[first]
    tied_targets = np.bincount(rows[values == best[rows]], minlength=b)
    above, equal = self._counts(best_rows, best[best_rows])
    if len(ex_keys):
      # An excluded candidate of a ranked row moves from its score to -inf:
      # it leaves the "above" or "tied" count, and ties a best target that
      # itself scores -inf.
      ex_rows, ex_cols = ex_keys // c, ex_keys % c
      at = np.minimum(np.searchsorted(best_rows, ex_rows), len(best_rows) - 1)
      ranked = best_rows[at] == ex_rows
      at, ex_rows, ex_cols = at[ranked], ex_rows[ranked], ex_cols[ranked]
      v, t = self.scores[ex_rows, ex_cols], best[ex_rows]
      n = len(best_rows)
      above = above - np.bincount(at[v > t], minlength=n)
      equal = (equal - np.bincount(at[v == t], minlength=n) +
               np.bincount(at[t == -np.inf], minlength=n))
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
