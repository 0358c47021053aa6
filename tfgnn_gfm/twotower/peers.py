"""Strong simple peers: item-kNN, EASE, ALS and BPR as Scorers.

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

* ``item_knn_scorer``: cosine between the item columns of the training
  matrix, optionally the top-k neighbours of each item; a user's score of
  item i is the sum of the similarities of its history items to i. User
  vector: the history indicator row (sparse when there are many users);
  item vector: similarity column (sparse with top-k neighbours).
* ``ease_scorer``: EASE (Steck, "Embarrassingly Shallow Autoencoders for
  Sparse Data", WWW 2019), the closed form
  ``P = (X^T X + lambda I)^-1``, ``B = I - P / diag(P)`` (column j divided
  by ``P_jj``), so ``diag(B) = 0``; score ``x_u B``. User vector: the
  history indicator row; item vector: the item's column of B. The Gram
  matrix is dense, so EASE is fitted on the most popular items up to a
  limit; the others score 0.
* ``als_scorer``: ``implicit`` ALS (Hu, Koren, Volinsky 2008, conjugate
  gradient). The evaluated users' factors are recomputed from their history
  rows against the fitted item factors (``recalculate_user``: the exact
  least-squares user step of ALS), so ALS sees the same history as every
  other model.
* ``bpr_scorer``: ``implicit`` BPR (Rendle et al. 2009). BPR has no user
  fold-in, so a user's factors are the fitted ones: every user with a
  history has a row in the training matrix (the history is built from the
  same window), which may hold more items than the history's
  ``max_history`` most recent ones. The item bias is the last factor (the
  user's is 1), so the dot product includes it.

ALS and BPR are seeded (``random_state``): ``compare_models`` runs them once
per seed, like the two-tower models.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np
import scipy.linalg
import scipy.sparse

from tfgnn_gfm.twotower import config as cfg
from tfgnn_gfm.twotower.baselines import Scorer, item_counts
from tfgnn_gfm.twotower.config import EvaluateConfig
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


def _popularity_column(data: TrainingData) -> np.ndarray:
  counts = item_counts(data.examples, len(data.items))
  return (counts / max(counts.max(), 1.0)).astype(np.float32)


def _item_item_scorer(name: str, data: TrainingData, user_rows: np.ndarray,
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
  popularity = _popularity_column(data)
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


def _check_size(flag: str, num_items: int, max_items: int) -> None:
  if num_items > max_items:
    size = num_items * num_items * 4
    size = (f"{size / 1e9:.1f} GB" if size >= 1e9 else
            f"{size / 1e6:.3g} MB")
    raise ModelSkipped(
        f"{num_items} items have training interactions, above "
        f"--{flag.replace('_', '-')} {max_items} (its dense {num_items} x "
        f"{num_items} float32 item-item matrix would take {size})")


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
    _check_size("knn_max_items", len(train_items), max_items)
    weights = cosine_weights(x)
    kept = int(np.count_nonzero(weights))
  info = {"train_seconds": round(time.perf_counter() - start, 3),
          "neighbours": int(neighbours)}
  _LOG.info("%s: %d training items, %d similarities, %.2f s", name,
            len(train_items), kept, info["train_seconds"])
  return _item_item_scorer(name, data, user_rows, train_items, weights, info)


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
  return _item_item_scorer(name, data, user_rows, train_items, weights, info)


def _factor_scorer(name: str, data: TrainingData, user_rows: np.ndarray,
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
  item_vectors[:, d] = _popularity_column(data)
  info = {**info, "training_items": int(len(train_items)),
          "popularity_fallback_users": int((~has_history).sum())}
  return Scorer(name=name, user_rows=np.asarray(user_rows),
                user_vectors=user_vectors, item_vectors=item_vectors,
                info=info)


def _threads() -> int:
  return max(1, os.cpu_count() or 1)


def als_scorer(data: TrainingData, user_rows: np.ndarray, *,
               factors: int = 64, regularization: float = 0.01,
               alpha: float = 1.0, iterations: int = 15, seed: int = 0,
               progress: bool = False, name: str = "als") -> Scorer:
  """``implicit`` ALS on the training matrix; users folded in from history.

  Args:
    data: the training data.
    user_rows: evaluated users (sorted).
    factors: latent factors.
    regularization: L2 regularisation.
    alpha: confidence of a positive (implicit's ``alpha``: the binary
      matrix times alpha; unobserved pairs weigh 1).
    iterations: ALS sweeps.
    seed: random_state of the initial factors.
    progress: show implicit's tqdm bar.
    name: model name.

  Returns:
    The Scorer (``info``: training seconds, training items, fallback users).
  """
  import implicit.als
  import threadpoolctl
  start = time.perf_counter()
  x, train_items = training_matrix(data)
  hist = history_matrix(data.users.history[user_rows], train_items)
  has_history = np.diff(hist.indptr) > 0
  # implicit parallelises over users itself; BLAS threads only slow it.
  with threadpoolctl.threadpool_limits(1, "blas"):
    model = implicit.als.AlternatingLeastSquares(
        factors=factors, regularization=regularization, alpha=alpha,
        iterations=iterations, use_gpu=False, num_threads=_threads(),
        random_state=seed)
    model.fit(x, show_progress=progress)
    users = np.flatnonzero(has_history)
    user_factors = (model.recalculate_user(users, hist[users])
                    if len(users) else np.zeros((0, factors), np.float32))
  return _factor_scorer(name, data, user_rows, train_items,
                        np.asarray(user_factors).reshape(len(users), -1),
                        has_history, np.asarray(model.item_factors),
                        started=start,
                        user_factors_note="recalculated from the history row")


def bpr_scorer(data: TrainingData, user_rows: np.ndarray, *,
               factors: int = 64, learning_rate: float = 0.01,
               regularization: float = 0.01, iterations: int = 100,
               seed: int = 0, progress: bool = False,
               name: str = "bpr") -> Scorer:
  """``implicit`` BPR on the training matrix; the fitted user factors.

  One thread, so that a seed gives one result (several threads update
  the factors without locks, in an order that varies run to run).

  Args:
    data: the training data.
    user_rows: evaluated users (sorted).
    factors: latent factors (implicit adds the item bias as one more).
    learning_rate: SGD learning rate.
    regularization: L2 regularisation.
    iterations: epochs (each samples as many triples as training pairs).
    seed: random_state of the initial factors and the sampling.
    progress: show implicit's tqdm bar.
    name: model name.

  Returns:
    The Scorer (``info``: training seconds, training items, fallback users).
  """
  import implicit.bpr
  import threadpoolctl
  start = time.perf_counter()
  x, train_items = training_matrix(data)
  user_rows = np.asarray(user_rows)
  has_history = (data.users.history[user_rows] >= 0).any(axis=1)
  with threadpoolctl.threadpool_limits(1, "blas"):
    model = implicit.bpr.BayesianPersonalizedRanking(
        factors=factors, learning_rate=learning_rate,
        regularization=regularization, iterations=iterations, use_gpu=False,
        num_threads=1, random_state=seed)
    model.fit(x, show_progress=progress)
  user_factors = np.asarray(model.user_factors)[user_rows[has_history]]
  return _factor_scorer(
      name, data, user_rows, train_items, user_factors, has_history,
      np.asarray(model.item_factors), started=start,
      user_factors_note="fitted (training-window row of the user)")


def peer_scorer(name: str, data: TrainingData, user_rows: np.ndarray,
                config: EvaluateConfig, *, seed: int = 0,
                progress: bool = False) -> Scorer:
  """The Scorer of peer ``name`` (one of ``config.PEERS``) with its flags.

  Args:
    name: the peer.
    data: the training data of the split.
    user_rows: evaluated users (sorted).
    config: the evaluation options (``knn_*``, ``ease_*``, ``als_*``,
      ``bpr_*``).
    seed: random_state of ALS and BPR.
    progress: show implicit's progress bars.

  Returns:
    The Scorer.

  Raises:
    ModelSkipped: the peer cannot run on this split (the reason).
    ValueError: ``name`` is not a peer.
  """
  if name == cfg.ITEM_KNN:
    return item_knn_scorer(data, user_rows, neighbours=config.knn_neighbours,
                           max_items=config.knn_max_items, name=name)
  if name == cfg.EASE:
    return ease_scorer(data, user_rows, lam=config.ease_lambda,
                       max_items=config.ease_max_items, name=name)
  if name == cfg.ALS:
    return als_scorer(data, user_rows, factors=config.als_factors,
                      regularization=config.als_regularization,
                      alpha=config.als_alpha,
                      iterations=config.als_iterations, seed=seed,
                      progress=progress, name=name)
  if name == cfg.BPR:
    return bpr_scorer(data, user_rows, factors=config.bpr_factors,
                      learning_rate=config.bpr_learning_rate,
                      regularization=config.bpr_regularization,
                      iterations=config.bpr_iterations, seed=seed,
                      progress=progress, name=name)
  raise ValueError(f"{name!r} is not a peer (peers: {', '.join(cfg.PEERS)})")
