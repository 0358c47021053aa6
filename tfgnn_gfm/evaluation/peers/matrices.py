"""What every peer shares: the training matrix, history rows, the Scorer
forms of item-item and factor models, and the popularity fallback.

Every peer is fitted on the training window only, as the binary
user x item matrix of the split's ``TrainingExamples`` (one entry per
(user, item) pair, whatever its weight), and is queried with each evaluated
user's ``UserTable.history`` row: the same history the kNN baselines and the
two-tower models see. Only items with a training interaction get a column;
the others score 0.

Each peer is a ``Scorer`` (score = user . item), with the popularity fallback
of ``knn_scorer``: one extra column holding the item's normalised
training-window count, which only users without a history weigh (their
ranking is exactly popularity's; every other user's is exactly the peer's).
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import scipy.linalg
import scipy.sparse

from tfgnn_gfm.evaluation.baselines import Scorer, item_counts
from tfgnn_gfm.twotower.examples import TrainingData

_LOG = logging.getLogger(__name__)


#: Item-item peers keep user vectors (history indicators) dense up to this
#: many values (64 MB of float32), sparse (CSR) above.
_DENSE_USER_VALUES = 16_000_000


class ModelSkipped(Exception):
  """A peer that cannot run on this split; the message is the reason."""


def training_matrix(data: TrainingData
                    ) -> tuple[scipy.sparse.csr_matrix, np.ndarray]:
  """The binary user x item matrix of the training window.

  Args:
    data: the split's training data.

  Returns:
    (X [U, T] float32 CSR with 1 where the user has a training example of
    the item, the item rows of its T columns, sorted).
  """
  examples = data.examples
  items = np.unique(examples.item)
  column = np.searchsorted(items, examples.item)
  x = scipy.sparse.csr_matrix(
      (np.ones(len(examples), np.float32), (examples.user, column)),
      shape=(len(data.users), len(items)))
  x.sum_duplicates()
  x.data[:] = 1.0
  return x, items


def history_matrix(history: np.ndarray, train_items: np.ndarray
                   ) -> scipy.sparse.csr_matrix:
  """Binary [len(history), T] indicator of each history row's items.

  Args:
    history: [E, L] item rows (-1 pads).
    train_items: the item rows of the T columns (sorted); history items
      outside them are left out.

  Returns:
    A float32 CSR matrix.
  """
  rows, positions = np.nonzero(history >= 0)
  item = history[rows, positions]
  column = np.searchsorted(train_items, item)
  column = np.minimum(column, max(len(train_items) - 1, 0))
  known = (train_items[column] == item) if len(train_items) else (
      np.zeros(len(item), bool))
  x = scipy.sparse.csr_matrix(
      (np.ones(int(known.sum()), np.float32), (rows[known], column[known])),
      shape=(len(history), len(train_items)))
  x.sum_duplicates()
  x.data[:] = 1.0
  return x


def popularity_column(data: TrainingData) -> np.ndarray:
  counts = item_counts(data.examples, len(data.items))
  return (counts / max(counts.max(), 1.0)).astype(np.float32)


def item_item_scorer(name: str, data: TrainingData, user_rows: np.ndarray,
                      train_items: np.ndarray,
                      weights: np.ndarray | scipy.sparse.spmatrix,
                      info: dict) -> Scorer:
  """Scorer of ``score(u, i) = sum_{j in history(u)} weights[j, i]``.

  Args:
    name: model name.
    data: the training data.
    user_rows: evaluated users (sorted).
    train_items: item rows of the T columns.
    weights: [T, T] float32 item-item weights (row: history item), dense
      or sparse.
    info: what the Scorer reports.

  Returns:
    A Scorer with user vectors [E, T + 1] (history indicator, fallback;
    sparse when large) and item vectors [N, T + 1] (sparse CSR when
    ``weights`` is sparse, else dense).
  """
  t = len(train_items)
  hist = history_matrix(data.users.history[user_rows], train_items)
  no_history = np.diff(hist.indptr) == 0
  fallback = scipy.sparse.csr_matrix(no_history[:, None].astype(np.float32))
  user_vectors = scipy.sparse.hstack([hist, fallback], format="csr",
                                     dtype=np.float32)
  if user_vectors.shape[0] * user_vectors.shape[1] <= _DENSE_USER_VALUES:
    # Small: dense rows make the evaluation one BLAS product per chunk
    # (a sparse product first copies the transposed item matrix).
    user_vectors = user_vectors.toarray()
  popularity = popularity_column(data)
  if scipy.sparse.issparse(weights):
    # Item i's vector is column i of the weights: [N, T + 1] CSR.
    w = scipy.sparse.coo_matrix(weights)
    pop_rows = np.flatnonzero(popularity)
    item_vectors = scipy.sparse.csr_matrix(
        (np.concatenate([w.data, popularity[pop_rows]]).astype(np.float32),
         (np.concatenate([train_items[w.col], pop_rows]),
          np.concatenate([w.row, np.full(len(pop_rows), t)]))),
        shape=(len(data.items), t + 1))
  else:
    item_vectors = np.zeros((len(data.items), t + 1), np.float32)
    item_vectors[train_items, :t] = weights.T
    item_vectors[:, t] = popularity
  info = {**info, "training_items": int(t),
          "popularity_fallback_users": int(no_history.sum())}
  return Scorer(name=name, user_rows=np.asarray(user_rows),
                user_vectors=user_vectors, item_vectors=item_vectors,
                info=info)


def check_size(flag: str, num_items: int, max_items: int) -> None:
  if num_items > max_items:
    size = num_items * num_items * 4
    size = (f"{size / 1e9:.1f} GB" if size >= 1e9 else
            f"{size / 1e6:.3g} MB")
    raise ModelSkipped(
        f"{num_items} items have training interactions, above "
        f"--{flag.replace('_', '-')} {max_items} (its dense {num_items} x "
        f"{num_items} float32 item-item matrix would take {size})")


def factor_scorer(name: str, data: TrainingData, user_rows: np.ndarray,
                   train_items: np.ndarray, user_factors: np.ndarray,
                   has_history: np.ndarray, item_factors: np.ndarray, *,
                   started: float, user_factors_note: str) -> Scorer:
  """Scorer of factor models: [user factors, fallback] . [item, popularity].

  ``started`` is the ``time.perf_counter()`` at the start of the fit: the
  training time is logged and kept in ``info`` with ``user_factors_note``.
  """
  info = {"train_seconds": round(time.perf_counter() - started, 3),
          "user_factors": user_factors_note}
  _LOG.info("%s: %d training items, %.2f s", name, len(train_items),
            info["train_seconds"])
  d = item_factors.shape[1]
  user_vectors = np.zeros((len(user_rows), d + 1), np.float32)
  user_vectors[has_history, :d] = user_factors
  user_vectors[~has_history, d] = 1.0
  item_vectors = np.zeros((len(data.items), d + 1), np.float32)
  item_vectors[train_items, :d] = item_factors
  item_vectors[:, d] = popularity_column(data)
  info = {**info, "training_items": int(len(train_items)),
          "popularity_fallback_users": int((~has_history).sum())}
  return Scorer(name=name, user_rows=np.asarray(user_rows),
                user_vectors=user_vectors, item_vectors=item_vectors,
                info=info)


def threads() -> int:
  return max(1, os.cpu_count() or 1)
