"""Ranking metrics on batched score matrices (pure numpy, no Python per user).

A batch of users is scored against a set of candidate columns in one matrix
product; ``top_k_columns`` takes each row's top-K by ``argpartition`` plus a
sort of the K survivors; ``hit_matrix`` marks which listed columns are
targets of the row's user with one vectorised membership test on
``row * num_columns + column`` keys. The metric functions then reduce hit
matrices:

* HR@K: 1 when any of the first K entries is a target;
* reciprocal rank within the first K (0 when none), whose mean is MRR@K;
* coverage@K: distinct columns in the first K entries of any row, over the
  number of candidate columns.

These lists are what a served model returns (ties by the lower column).
HR@K and MRR of the evaluation do not come from them: they come from
``tfgnn_gfm.evaluation.ranking`` (the expected rank with ties broken at
random, the one rule of every figure; without ties both agree, which a test
checks).
Coverage takes ``top_k_mask``, the top-K sets from ``np.partition`` (equal to
these lists, and about 20 times faster than selecting them).
"""

from __future__ import annotations

import numpy as np

#: Score of an excluded candidate.
EXCLUDED = -np.inf


def top_k_columns(scores: np.ndarray, k: int) -> np.ndarray:
  """Each row's top-k columns, best first.

  Ties are broken by the lower column index (deterministic). Columns whose
  score is ``-inf`` (excluded) are never listed: their places hold ``-1``.

  Args:
    scores: float [B, C].
    k: list length (clipped to C).

  Returns:
    int64 [B, min(k, C)] column indices, ``-1`` for empty places.
  """
  scores = np.asarray(scores)
  b, c = scores.shape
  k = min(int(k), c)
  if k == 0:
    return np.zeros((b, 0), np.int64)
  if k < c:
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    # argpartition picks an arbitrary member of a tie at the k-th value;
    # rows with such a tie take the tied columns in column order instead.
    kth = np.take_along_axis(scores, part, axis=1).min(axis=1)
    tied = scores == kth[:, None]
    tie_rows = np.flatnonzero(tied.sum(axis=1) > 1)
    if len(tie_rows):
      sub, sub_tied = scores[tie_rows], tied[tie_rows]
      above = sub > kth[tie_rows, None]
      room = k - above.sum(axis=1)
      chosen = above | (sub_tied & (np.cumsum(sub_tied, axis=1) <=
                                    room[:, None]))
      part = part.copy()
      part[tie_rows] = np.nonzero(chosen)[1].reshape(len(tie_rows), k)
    cand = part
  else:
    cand = np.broadcast_to(np.arange(c), (b, c))
  values = np.take_along_axis(scores, cand, axis=1)
  order = np.lexsort((cand, -values), axis=1)
  top = np.take_along_axis(cand, order, axis=1).astype(np.int64)
  top_values = np.take_along_axis(values, order, axis=1)
  top[top_values == EXCLUDED] = -1
  return top


def top_k_mask(scores: np.ndarray, k: int) -> np.ndarray:
  """bool [B, C]: the columns of each row's top-k list (as ``top_k_columns``).

  The k-th largest value of each row comes from ``np.partition``; columns
  at or above it are in (one pass). Only rows where more than k columns tie
  at it take the tied columns in column order (``_tied_top_k_mask``);
  ``-inf`` columns are never in.
  """
  scores = np.asarray(scores)
  b, c = scores.shape
  k = min(int(k), c)
  if k <= 0:
    return np.zeros((b, c), bool)
  if k == c:
    return scores != EXCLUDED
  kth = np.partition(scores, c - k, axis=1)[:, c - k]
  # A k-th value of -inf (fewer than k finite scores) lists the finite ones.
  lowest = np.finfo(scores.dtype).min if scores.dtype.kind == "f" else kth
  kth = np.where(kth == EXCLUDED, lowest, kth)
  mask = scores >= kth[:, None]
  over = np.flatnonzero(np.count_nonzero(mask, axis=1) > k)
  if len(over):
    mask[over] = _tied_top_k_mask(scores[over], kth[over], k)
  return mask


def _tied_top_k_mask(scores: np.ndarray, kth: np.ndarray, k: int
                     ) -> np.ndarray:
  """``top_k_mask`` of rows where more than k columns reach the k-th value:
  the columns above it, then the tied ones in column order."""
  above = scores > kth[:, None]
  tied = scores == kth[:, None]
  room = k - np.count_nonzero(above, axis=1)
  return above | (tied & (np.cumsum(tied, axis=1) <= room[:, None]))


def listed_columns(scores: np.ndarray, k: int,
                   row_groups: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
  """Per group of rows, bool [C]: columns in the top-k list of any row.

  Coverage's building block: ``top_k_mask`` once for all groups.

  Args:
    scores: float [B, C].
    k: list length.
    row_groups: name -> bool [B], the rows of each group.
  """
  mask = top_k_mask(scores, k)
  return {name: mask[np.asarray(member)].any(axis=0)
          for name, member in row_groups.items()}


def hit_matrix(top: np.ndarray, target_rows: np.ndarray,
               target_columns: np.ndarray, num_columns: int) -> np.ndarray:
  """Whether each listed column is a target of its row.

  Args:
    top: int [B, K] listed columns (``-1`` = empty place).
    target_rows: int [m] row (0..B-1) of each target.
    target_columns: int [m] column of each target.
    num_columns: C (for the key encoding).

  Returns:
    bool [B, K].
  """
  b = top.shape[0]
  keys = np.arange(b, dtype=np.int64)[:, None] * num_columns + top
  target_keys = (np.asarray(target_rows, np.int64) * num_columns +
                 np.asarray(target_columns, np.int64))
  hits = np.isin(keys, target_keys)
  return hits & (top >= 0)


def hits_at_k(hits: np.ndarray, k: int) -> np.ndarray:
  """float [B]: 1.0 when a target is among the first k places."""
  return hits[:, :k].any(axis=1).astype(np.float64)


def reciprocal_rank(hits: np.ndarray, k: int | None = None) -> np.ndarray:
  """float [B]: 1 / (1 + position of the first hit) within k, else 0."""
  hits = hits if k is None else hits[:, :k]
  if hits.shape[1] == 0:
    return np.zeros(hits.shape[0])
  first = hits.argmax(axis=1)
  return np.where(hits.any(axis=1), 1.0 / (first + 1.0), 0.0)


def coverage(top: np.ndarray, k: int, num_candidates: int) -> float:
  """Share of the candidates listed in the first k places of any row."""
  if num_candidates <= 0:
    return 0.0
  listed = np.unique(top[:, :k])
  return float((listed >= 0).sum()) / float(num_candidates)


def hit_rate(scores: np.ndarray, target_rows: np.ndarray,
             target_columns: np.ndarray, k: int) -> float:
  """HR@k of a score matrix over its rows (each row must have a target).

  A convenience for small cases and tests: ``mean(hits_at_k(...))``.
  """
  top = top_k_columns(scores, k)
  hits = hit_matrix(top, target_rows, target_columns, scores.shape[1])
  return float(hits_at_k(hits, k).mean()) if len(hits) else 0.0
