"""The EASE peer (its Scorer and its registry spec).

EASE (Steck, "Embarrassingly Shallow Autoencoders for
Sparse Data", WWW 2019), the closed form
``P = (X^T X + lambda I)^-1``, ``B = I - P / diag(P)`` (column j divided
by ``P_jj``), so ``diag(B) = 0``; score ``x_u B``. User vector: the
history indicator row; item vector: the item's column of B. The Gram
matrix is dense, so EASE is fitted on the most popular items up to a
limit; the others score 0.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.linalg
import scipy.sparse

from tfgnn_gfm.evaluation.baselines import Scorer
from tfgnn_gfm.evaluation.peers.matrices import (
  item_item_scorer,
  training_matrix,
)
from tfgnn_gfm.evaluation.peers.spec import PeerSpec
from tfgnn_gfm.twotower import config as cfg
from tfgnn_gfm.twotower.examples import TrainingData

_LOG = logging.getLogger(__name__)


def ease_weights(x: scipy.sparse.spmatrix, lam: float,
                 block: int = 1024) -> np.ndarray:
  """EASE's item-item matrix B of a binary user x item matrix.

  Memory: one dense T x T float32 matrix (the Gram matrix, factored,
  inverted and scaled in place) plus T x ``block`` temporaries.

  Args:
    x: [U, T] user x item matrix.
    lam: L2 regularisation lambda (> 0).
    block: columns of the Gram matrix computed (and rows symmetrised) at a
      time.

  Returns:
    [T, T] float32 B with zero diagonal: ``B_ij = -P_ij / P_jj``,
    ``P = (X^T X + lam I)^-1``.
  """
  x = scipy.sparse.csc_matrix(x, dtype=np.float32)
  t = x.shape[1]
  xt = x.T.tocsr()
  p = np.empty((t, t), np.float32)
  for s in range(0, t, block):
    p[:, s:s + block] = (xt @ x[:, s:s + block]).toarray()
  p[np.diag_indices(t)] += np.float32(lam)
  # Cholesky factor and inverse in place (LAPACK wants column-major: the
  # transpose of the symmetric C-ordered matrix is that, without a copy);
  # both fill the upper triangle.
  factor, _ = scipy.linalg.cho_factor(p.T, lower=False, overwrite_a=True,
                                      check_finite=False)
  potri, = scipy.linalg.get_lapack_funcs(("potri",), (factor,))
  p, info = potri(factor, lower=False, overwrite_c=True)
  if info != 0:
    raise np.linalg.LinAlgError(f"EASE: potri failed ({info})")
  for s in range(0, t, block):
    e = min(s + block, t)
    p[s:e, :s] = p[:s, s:e].T
    p[s:e, s:e] = np.triu(p[s:e, s:e]) + np.triu(p[s:e, s:e], 1).T
  p /= -np.diag(p)[None, :]
  p[np.diag_indices(t)] = 0.0
  return p


def most_popular_columns(x: scipy.sparse.spmatrix, limit: int) -> np.ndarray:
  """The (sorted) columns of the ``limit`` items with the most users.

  Ties: the lower column first. All columns when there are at most
  ``limit``.
  """
  users = np.asarray((x != 0).sum(axis=0)).ravel()
  if len(users) <= limit:
    return np.arange(len(users))
  return np.sort(np.argsort(-users, kind="stable")[:limit])


def ease_scorer(data: TrainingData, user_rows: np.ndarray, *,
                lam: float = 500.0, max_items: int = 10_000,
                name: str = "ease") -> Scorer:
  """EASE (Steck 2019), closed form, over the most popular training items.

  The Gram matrix is dense (4 T^2 bytes, and a T^3 factorisation), so EASE
  is fitted on the ``max_items`` items with the most training users. The
  fallback for the rest: they score 0 (as items without training data do),
  and a history item outside the fitted items is not part of the query; a
  user none of whose history items was fitted gets the popularity ranking
  (as a user without history does).

  Args:
    data: the training data.
    user_rows: evaluated users (sorted).
    lam: L2 regularisation lambda.
    max_items: most items fitted (the most popular; ties: lower item row).
    name: model name.

  Returns:
    The Scorer (``info``: training seconds, training and fitted items,
    fallback users).
  """
  start = time.perf_counter()
  x, train_items = training_matrix(data)
  fitted = most_popular_columns(x, max_items)
  left_out = len(train_items) - len(fitted)
  if left_out:
    x = scipy.sparse.csr_matrix(x[:, fitted])
    train_items = train_items[fitted]
  import threadpoolctl
  # One BLAS thread: on a shared machine, OpenBLAS's spinning threads made
  # the factorisation 10-50 times slower (3.5 s instead of 0.07 s for 463
  # items at load 10 on 2 cores).
  with threadpoolctl.threadpool_limits(1, "blas"):
    weights = ease_weights(x, lam)
  info = {"train_seconds": round(time.perf_counter() - start, 3),
          "lambda": float(lam), "items_left_out": int(left_out)}
  _LOG.info("%s: %d items fitted (%d less popular ones left out), %.2f s",
            name, len(train_items), left_out, info["train_seconds"])
  return item_item_scorer(name, data, user_rows, train_items, weights, info)


#: The registry entry (``tfgnn_gfm.evaluation.peers.PEERS``).
SPEC = PeerSpec(name=cfg.EASE, scorer=ease_scorer, options={
    "lam": "ease_lambda", "max_items": "ease_max_items"})
