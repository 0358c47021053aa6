"""The Item-kNN peer (its Scorer and its registry spec).

cosine between the item columns of the training
matrix, optionally the top-k neighbours of each item; a user's score of
item i is the sum of the similarities of its history items to i. User
vector: the history indicator row (sparse when there are many users);
item vector: similarity column (sparse with top-k neighbours).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.linalg
import scipy.sparse

from tfgnn_gfm.evaluation.baselines import Scorer
from tfgnn_gfm.evaluation.peers.matrices import (
  check_size,
  item_item_scorer,
  training_matrix,
)
from tfgnn_gfm.evaluation.peers.spec import PeerSpec
from tfgnn_gfm.twotower import config as cfg
from tfgnn_gfm.twotower.examples import TrainingData

_LOG = logging.getLogger(__name__)


def item_knn_scorer(data: TrainingData, user_rows: np.ndarray, *,
                    neighbours: int = 0, max_items: int = 20_000,
                    name: str = "item_knn") -> Scorer:
  """Item-kNN: cosine between the item columns of the training matrix.

  ``s(j, i) = |users(j) & users(i)| / sqrt(|users(j)| |users(i)|)``, with
  ``s(i, i) = 0`` (a history item is scored by the other history items, as
  EASE's zero diagonal does). With ``neighbours`` k > 0, each item j keeps
  only its k most similar items (ties: lower item row first). A user's score
  of item i is ``sum_{j in history} s(j, i)``.

  With k > 0 the item-item matrix is sparse (k entries per item, computed a
  block of rows at a time from the sparse co-occurrence product), so any
  number of items fits; with k = 0 (all neighbours) it is dense and bounded
  by ``max_items``.

  Args:
    data: the training data.
    user_rows: evaluated users (sorted).
    neighbours: most similar items kept per item (0: all).
    max_items: most training items when ``neighbours`` is 0 (the item-item
      matrix is then dense); above, ``ModelSkipped``.
    name: model name.

  Returns:
    The Scorer (``info``: training seconds, training items, fallback users).

  Raises:
    ModelSkipped: ``neighbours`` is 0 and there are more than ``max_items``
      training items.
  """
  start = time.perf_counter()
  x, train_items = training_matrix(data)
  if neighbours > 0:
    weights = cosine_neighbours(x, neighbours)
    kept = weights.nnz
  else:
    check_size("knn_max_items", len(train_items), max_items)
    weights = cosine_weights(x)
    kept = int(np.count_nonzero(weights))
  info = {"train_seconds": round(time.perf_counter() - start, 3),
          "neighbours": int(neighbours)}
  _LOG.info("%s: %d training items, %d similarities, %.2f s", name,
            len(train_items), kept, info["train_seconds"])
  return item_item_scorer(name, data, user_rows, train_items, weights, info)


def _cosine_blocks(x: scipy.sparse.spmatrix, neighbours: int, block: int):
  """Yields item-kNN's item-item matrix a block of rows at a time.

  Args:
    x: [U, T] binary user x item matrix.
    neighbours: entries kept per row (``_top_k_per_row``); 0: all.
    block: rows per block.

  Yields:
    Dense float32 [rows, T] blocks, in row order, zero diagonal.
  """
  x = scipy.sparse.csc_matrix(x, dtype=np.float32)
  t = x.shape[1]
  norm = np.sqrt(np.asarray(x.sum(axis=0)).ravel())
  xn = scipy.sparse.csc_matrix(
      x @ scipy.sparse.diags((1.0 / np.maximum(norm, 1e-12)).astype(
          np.float32)))
  xn_rows = xn.T.tocsr()
  for s in range(0, t, block):
    e = min(s + block, t)
    sim = (xn_rows[s:e] @ xn).toarray()
    sim[np.arange(e - s), np.arange(s, e)] = 0.0
    if 0 < neighbours < t:
      sim = _top_k_per_row(sim, neighbours)
    yield sim


def cosine_weights(x: scipy.sparse.spmatrix, neighbours: int = 0,
                   block: int = 1024) -> np.ndarray:
  """Item-kNN's item-item matrix, dense: column cosines, top-k per row.

  Args:
    x: [U, T] binary user x item matrix.
    neighbours: entries kept per row, the largest (ties: lower column
      first); 0: all.
    block: rows computed at a time.

  Returns:
    [T, T] float32, zero diagonal; row j holds item j's neighbours.
  """
  t = x.shape[1]
  out = np.empty((t, t), np.float32)
  s = 0
  for sim in _cosine_blocks(x, neighbours, block):
    out[s:s + len(sim)] = sim
    s += len(sim)
  return out


def cosine_neighbours(x: scipy.sparse.spmatrix, neighbours: int,
                      block_values: int = 16_000_000
                      ) -> scipy.sparse.csr_matrix:
  """Item-kNN's top-k item-item matrix, sparse: ``cosine_weights`` as CSR.

  Memory: the k T kept entries plus one dense block of at most
  ``block_values`` similarities (64 MB by default), never T x T.

  Args:
    x: [U, T] binary user x item matrix.
    neighbours: entries kept per row, the largest (ties: lower column
      first); at least 1.
    block_values: most similarities computed at a time.

  Returns:
    [T, T] float32 CSR with at most ``neighbours`` entries per row (zero
    similarities are not stored), zero diagonal.
  """
  if neighbours < 1:
    raise ValueError(f"neighbours must be at least 1, got {neighbours!r}")
  t = x.shape[1]
  block = max(1, block_values // max(t, 1))
  parts = [scipy.sparse.csr_matrix(sim)
           for sim in _cosine_blocks(x, neighbours, block)]
  if not parts:
    return scipy.sparse.csr_matrix((0, 0), dtype=np.float32)
  return scipy.sparse.vstack(parts, format="csr", dtype=np.float32)


def _top_k_per_row(sim: np.ndarray, k: int) -> np.ndarray:
  """``sim`` with all but each row's k largest entries set to 0 (of equal
  entries at the k-th value, the lower columns are kept)."""
  kth = np.partition(sim, sim.shape[1] - k, axis=1)[:, sim.shape[1] - k]
  above = sim > kth[:, None]
  tied = sim == kth[:, None]
  room = k - above.sum(axis=1, keepdims=True)
  keep = above | (tied & (np.cumsum(tied, axis=1) <= room))
  return np.where(keep, sim, 0.0).astype(np.float32)


#: The registry entry (``tfgnn_gfm.evaluation.peers.PEERS``).
SPEC = PeerSpec(name=cfg.ITEM_KNN, scorer=item_knn_scorer, options={
    "neighbours": "knn_neighbours", "max_items": "knn_max_items"})
