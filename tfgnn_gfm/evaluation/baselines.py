"""Scorers: every model of the evaluation as (user vectors, item vectors).

Every model the protocol compares scores a user u and an item i by a dot
product ``user_vectors[u] . item_vectors[i]``, so one batched matrix top-K
serves them all:

* popularity: item vector = [training-window count], user vector = [1];
* LLM-kNN / HGNN-kNN: user vector = normalised mean of the text / HGNN
  vectors of the user's history, item vector = the item's normalised text /
  HGNN vector (cosine). A user with no history in the training window (every
  cold user) gets the popularity ranking: both matrices get one extra
  column, the item's normalised count, which only such users weigh (so warm
  users' rankings are exactly cosine, fallback users' exactly popularity);
* the peers (``peers``): item-kNN, EASE, ALS, BPR;
* two-tower models: the towers' embeddings.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse

from tfgnn_gfm.twotower.examples import TrainingExamples
from tfgnn_gfm.twotower.users import UserTable
from tfgnn_gfm.vectors import l2_normalize


@dataclasses.dataclass
class Scorer:
  """A model's user and item vectors; score = user . item.

  Attributes:
    name: model name.
    user_rows: [E] the user rows ``user_vectors`` belong to (sorted).
    user_vectors: [E, D], an ndarray or a scipy.sparse CSR matrix (the
      item-item peers' history indicators).
    item_vectors: [N, D] (rows = item rows), an ndarray or a scipy.sparse
      CSR matrix (sparse item-kNN's similarity columns).
    info: anything to report (training time, fallback users, ...).
  """

  name: str
  user_rows: np.ndarray
  user_vectors: np.ndarray
  item_vectors: np.ndarray
  info: dict = dataclasses.field(default_factory=dict)

  def vectors_of(self, user_rows: np.ndarray) -> np.ndarray:
    """User vectors of ``user_rows`` (each must be in ``self.user_rows``)."""
    position = np.searchsorted(self.user_rows, user_rows)
    if len(user_rows) and (
        position.max() >= len(self.user_rows) or
        not np.array_equal(self.user_rows[position], user_rows)):
      raise KeyError(f"{self.name}: some users have no vector")
    return self.user_vectors[position]

  def candidate_matrix(self, item_rows: np.ndarray):
    """[D, C] the item vectors of ``item_rows``, transposed: the right-hand
    side of ``scores`` (CSR when the item vectors are sparse)."""
    vectors = self.item_vectors[item_rows]
    if scipy.sparse.issparse(vectors):
      return scipy.sparse.csr_matrix(vectors.T)
    # Contiguous once here: a sparse user matrix times a transposed view
    # would copy the whole [D, C] matrix on every call.
    return np.ascontiguousarray(vectors.T)

  def scores(self, user_rows: np.ndarray, candidates) -> np.ndarray:
    """[len(user_rows), C] dense scores against ``candidate_matrix``'s
    result, whether either side is sparse or not."""
    scores = self.vectors_of(user_rows) @ candidates
    if scipy.sparse.issparse(scores):
      return scores.toarray()
    return np.asarray(scores)


def item_counts(examples: TrainingExamples, num_items: int) -> np.ndarray:
  """Training examples per item row (the popularity of the window)."""
  return np.bincount(examples.item, minlength=num_items).astype(np.float64)


def popularity_scorer(examples: TrainingExamples, num_items: int,
                      user_rows: np.ndarray, name: str = "popularity"
                      ) -> Scorer:
  """Everyone gets the items by training-window example count."""
  counts = item_counts(examples, num_items)
  return Scorer(name=name, user_rows=np.asarray(user_rows),
                user_vectors=np.ones((len(user_rows), 1), np.float32),
                item_vectors=counts[:, None].astype(np.float32))


def history_means(history: np.ndarray, vectors: np.ndarray) -> np.ndarray:
  """Mean vector of each history row (-1 pads ignored); zeros when empty."""
  valid = history >= 0
  gathered = vectors[np.maximum(history, 0)] * valid[..., None]
  count = valid.sum(axis=1, keepdims=True)
  return (gathered.sum(axis=1) / np.maximum(count, 1)).astype(np.float32)


def knn_scorer(users: UserTable, user_rows: np.ndarray,
               item_vectors: np.ndarray, examples: TrainingExamples,
               name: str, chunk: int = 8192) -> Scorer:
  """Cosine between a user's mean history vector and each item's vector.

  Args:
    users: the user table (its ``history`` is the training window's).
    user_rows: the users to score (sorted).
    item_vectors: [N, D] text or HGNN vectors.
    examples: training examples (popularity for users without history).
    name: model name.
    chunk: users per batch when averaging histories.

  Returns:
    The Scorer (D + 1 columns: cosine part and popularity fallback).
  """
  user_rows = np.asarray(user_rows)
  items = l2_normalize(item_vectors, np.float32)
  counts = item_counts(examples, len(items))
  pop = (counts / max(counts.max(), 1.0)).astype(np.float32)
  means = np.concatenate([
      history_means(users.history[user_rows[s:s + chunk]], items)
      for s in range(0, len(user_rows), chunk)] or
                         [np.zeros((0, items.shape[1]), np.float32)])
  has_history = (users.history[user_rows] >= 0).any(axis=1)
  user_vectors = np.concatenate(
      [l2_normalize(means, np.float32) * has_history[:, None],
       (~has_history)[:, None].astype(np.float32)], axis=1)
  return Scorer(name=name, user_rows=user_rows, user_vectors=user_vectors,
                item_vectors=np.concatenate([items, pop[:, None]], axis=1),
                info={"popularity_fallback_users": int((~has_history).sum())})
