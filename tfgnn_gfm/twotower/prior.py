"""The popularity prior of user queries and the choice of its weight.

A two-tower model trained with the logQ-corrected in-batch softmax learns
cosine scores that under-express how popular an item is: the towers' cosine
must encode it and the correction removes it from every negative. The prior
adds it back at retrieval: a user query scores an item

    cosine(u, i) / temperature + w * log q(i)

where ``q`` is the item's add-one smoothed share of the training examples.
How much popularity helps depends on the platform (on MovieLens a large
``w`` wins; on data whose users follow topics, ``w = 0`` does), so ``w`` is
chosen per training window on an inner split that never reads at or after
the cut: a model trained on the window without its last days ranks the
users of those last days with every candidate weight, and the weight with
the best new-items MRR@K wins (ties: the smaller weight; MRR rather than
HR@10 because an inner split of a small platform has few users, and the
reciprocal rank tells weights apart where a top-10 hit ties them). The final
model is then trained on the whole window and served with that weight; item
and text queries (similar items, search) never get the prior.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from tfgnn_gfm.evaluation.baselines import Scorer, item_counts
from tfgnn_gfm.evaluation.holdout import Holdout, build_holdout
from tfgnn_gfm.evaluation.protocol import new_items_mrr
from tfgnn_gfm.timesplit import SECONDS_PER_DAY, TimeSplit
from tfgnn_gfm.twotower.config import TwoTowerConfig
from tfgnn_gfm.twotower.examples import TrainingData, training_data_for
from tfgnn_gfm.twotower.items import ItemTable

_LOG = logging.getLogger(__name__)
#: Most inner-split users scored after each epoch (``epoch_patience``).
EPOCH_CHECK_USERS = 10_000
#: Fewest inner-split users for the epoch choice (``epoch_patience``). On
#: fewer the MRR after each epoch is noise (MovieLens' weekly windows have
#: 6 or 7 inner users: choosing epochs on them cost 0.017 and 0.035 HR@10,
#: two seeds, against always training ``epochs``); the window then trains
#: ``config.epochs``.
EPOCH_CHOICE_MIN_USERS = 1_000


def log_popularity(counts: np.ndarray) -> np.ndarray:
  """log of each item's add-one smoothed share of the training examples.

  An item without a training example (a new item: its popularity is
  unknown, not low) gets the example-weighted mean of the others' values,
  ``sum_i p_i log q_i`` with ``p_i`` the items' shares of the examples: the
  log-popularity of the item of a random interaction. Ranking new items
  as the least popular would hide them from every user query (on the
  synthetic default that took cold-item HR@10 from 0.45 to 0.06).

  Args:
    counts: [N] training examples per item row.

  Returns:
    [N] float32, ``log((count + 1) / (examples + N))`` for seen items.
  """
  counts = np.asarray(counts, np.float64)
  values = np.log((counts + 1.0) / (counts.sum() + len(counts)))
  seen = counts > 0
  if seen.any():
    share = counts[seen] / counts[seen].sum()
    values[~seen] = float((share * values[seen]).sum())
  return values.astype(np.float32)


def popularity_offset(counts: np.ndarray, *, weight: float,
                      temperature: float) -> np.ndarray:
  """Per-item offset of user queries' dot product: ``w * T * log q``.

  In the towers' units (cosine), so that ``offset / temperature`` is
  ``w * log q`` in logits.

  Args:
    counts: [N] training examples per item row.
    weight: ``w`` (0: no prior, all zeros).
    temperature: the model's softmax temperature ``T``.

  Returns:
    [N] float32 offsets (<= 0).
  """
  if weight == 0 or not len(counts):
    return np.zeros(len(counts), np.float32)
  return (weight * temperature * log_popularity(counts)).astype(np.float32)


def offset_index(vectors: np.ndarray, offset: np.ndarray) -> np.ndarray:
  """Index vectors ``[item vector, offset]``: the layout of the prior.

  A user query ``offset_query(u)`` scores ``u . item + offset``; an item or
  text query ending with 0 scores without the prior.
  """
  return np.concatenate([vectors, np.asarray(offset, np.float32)[:, None]],
                        axis=1).astype(np.float32)


def offset_query(vectors: np.ndarray) -> np.ndarray:
  """User queries ``[user vector, 1]`` for an ``offset_index``."""
  return np.concatenate(
      [vectors, np.ones((len(vectors), 1), np.float32)], axis=1)


@dataclasses.dataclass
class InnerSplit:
  """The inner split of a training window, built once per window.

  Attributes:
    weights: the candidate weights (sorted, distinct).
    data: training data of the window without its last days (None with one
      candidate: nothing to choose).
    holdout: targets of those last days (None with one candidate).
    info: the inner split's times and users.
  """

  weights: list[float]
  data: TrainingData | None = None
  holdout: Holdout | None = None
  info: dict[str, Any] = dataclasses.field(default_factory=dict)

  def with_items(self, items: ItemTable) -> "InnerSplit":
    """The same split over another item table (e.g. retrained vectors)."""
    if self.data is None:
      return self
    return dataclasses.replace(self, data=dataclasses.replace(self.data,
                                                              items=items))


def inner_split(interactions: pd.DataFrame, users: pd.DataFrame | None,
                items: ItemTable, split: TimeSplit,
                config: TwoTowerConfig) -> InnerSplit:
  """The window's inner split, on which the prior's weight is chosen.

  Args:
    interactions: every interaction (nothing at or after ``split.cut`` is
      read).
    users: the users table or None.
    items: the catalog.
    split: the training window's split.
    config: the options; ``config.popularity_weights`` are the candidates
      (one value: nothing is built).

  Returns:
    The InnerSplit: training ``[start, cut - popularity_holdout_days)``,
    targets ``[cut - popularity_holdout_days, cut)``.
  """
  weights = sorted(set(float(w) for w in config.popularity_weights))
  if len(weights) == 1 and not config.epoch_patience:
    return InnerSplit(weights)
  inner_days = int(config.popularity_holdout_days)
  inner = TimeSplit(int(split.cut) - inner_days * SECONDS_PER_DAY,
                    max(int(split.train_days) - inner_days, 1), inner_days)
  before = interactions[interactions["timestamp"].to_numpy(np.int64) <
                        int(split.cut)]
  data = training_data_for(before, users, items, inner,
                           dataclasses.replace(config,
                                               popularity_weights=(0.0,)))
  holdout = build_holdout(before, items, data.users.user_id, inner)
  return InnerSplit(weights, data, holdout,
                    {"inner_split": inner.to_dict(),
                     "inner_users": int(len(np.unique(holdout.user)))})


class _EpochScores(tf.keras.callbacks.Callback):
  """After each epoch, the inner model's new-items MRR@K of every weight;
  stops the fit after ``patience`` epochs without a better one."""

  def __init__(self, data: TrainingData, holdout: Holdout,
               user_rows: np.ndarray, weights: list[float],
               config: TwoTowerConfig, counts: np.ndarray, *,
               use_hgnn: bool):
    super().__init__()
    from tfgnn_gfm.twotower.train import known_items
    self._data, self._users = data, user_rows
    self._holdout = holdout.of_users(user_rows)
    self._weights, self._config, self._counts = weights, config, counts
    self._use_hgnn = use_hgnn
    self._known = known_items(data, use_hgnn)
    self.scores: list[dict[float, float]] = []

  def best(self) -> tuple[int, float, float]:
    """(1-based epoch, weight, MRR) of the best score (ties: the earlier
    epoch, then the smaller weight)."""
    return max(((e + 1, w, m) for e, per in enumerate(self.scores)
                for w, m in per.items()),
               key=lambda x: (x[2], -x[0], -x[1]))

  def on_epoch_end(self, epoch, logs=None):
    from tfgnn_gfm.twotower.train import predict_in_batches
    model = self.model
    users = predict_in_batches(model.user_tower,
                               self._data.users.features(self._users))
    items = predict_in_batches(model.item_tower, self._data.items.features(
        use_hgnn=self._use_hgnn, known=self._known))
    self.scores.append(_weight_scores(
        users, items, self._users, self._counts, self._weights, self._data,
        self._holdout, self._config))
    best_epoch, _, best = self.best()
    _LOG.info("inner split, epoch %d: best MRR@%d %.4f (epoch %d)",
              epoch + 1, self._config.prior_k, best, best_epoch)
    if epoch + 1 - best_epoch >= self._config.epoch_patience:
      model.stop_training = True


def _weight_scores(user_vectors: np.ndarray, item_vectors: np.ndarray,
                   user_rows: np.ndarray, counts: np.ndarray,
                   weights: list[float], data: TrainingData,
                   holdout: Holdout, config: TwoTowerConfig
                   ) -> dict[float, float]:
  """New-items MRR@``prior_k`` over all types of each candidate weight (-1
  when nobody is ranked), from one score matrix per user chunk
  (``protocol.new_items_mrr``): the per-type rankings, the other slices and
  coverage would not change the figure."""
  scorer = Scorer(name="prior", user_rows=user_rows,
                  user_vectors=user_vectors, item_vectors=item_vectors)
  values = new_items_mrr(
      scorer, data.items, holdout,
      [popularity_offset(counts, weight=w, temperature=config.temperature)
       for w in weights], mrr_k=config.prior_k)
  return {w: -1.0 if v is None else float(v) for w, v in zip(weights, values)}


def choose_popularity_weight(inner: InnerSplit, config: TwoTowerConfig, *,
                             use_hgnn: bool, seed: int,
                             verbose: int | None = None
                             ) -> tuple[float, dict[str, Any]]:
  """The prior's weight (and the epochs) for a window, chosen on its inner
  split.

  With ``config.epoch_patience`` and at least ``EPOCH_CHOICE_MIN_USERS``
  inner users the inner model is scored after every epoch
  (``_EpochScores``: at most ``EPOCH_CHECK_USERS`` inner users, new-items
  MRR@K over all types, every weight) and stops after that many
  epochs without improvement; the best (epoch, weight) pair wins, and
  ``info["epochs"]`` holds the epoch count the window's models train
  (``with_chosen_epochs``). Without it the inner model trains ``config.epochs``
  and only the weight is chosen.

  Args:
    inner: the window's ``inner_split``.
    config: the options (tower sizes, training, ``prior_k``).
    use_hgnn: the model kind (see ``train_two_tower``).
    seed: the training seed.
    verbose: Keras verbosity.

  Returns:
    (the weight, what was measured: the inner split, its users and the
    new-items MRR@K of every candidate, or why the first candidate was
    kept; with the epoch choice also "epochs" and the MRR per epoch).
  """
  from tfgnn_gfm.twotower.train import train_two_tower
  weights = inner.weights
  info: dict[str, Any] = {"candidates": weights, **inner.info}
  if inner.data is None:
    info["chosen"] = weights[0]
    return weights[0], info
  data, holdout = inner.data, inner.holdout
  user_rows = np.unique(holdout.user)
  if not len(data.examples) or not len(user_rows):
    info["chosen"] = weights[0]
    info["reason"] = "no inner training example or hold-out user"
    return weights[0], info
  counts = item_counts(data.examples, len(data.items))
  if config.epoch_patience and len(user_rows) < EPOCH_CHOICE_MIN_USERS:
    info["epochs_not_chosen"] = (
        f"{len(user_rows)} inner users, fewer than {EPOCH_CHOICE_MIN_USERS}: "
        f"{config.epochs} epochs")
    _LOG.info("epochs not chosen: %s", info["epochs_not_chosen"])
    if len(weights) == 1:  # Nothing left to choose.
      info["chosen"] = weights[0]
      return weights[0], info
  elif config.epoch_patience:
    sample = user_rows
    if len(sample) > EPOCH_CHECK_USERS:
      sample = np.sort(np.random.default_rng(seed).choice(
          user_rows, EPOCH_CHECK_USERS, replace=False))
    scores = _EpochScores(data, holdout, sample, weights, config, counts,
                          use_hgnn=use_hgnn)
    train_two_tower(data, config, use_hgnn=use_hgnn, seed=seed,
                    verbose=verbose, popularity_weight=0.0,
                    callbacks=[scores])
    epoch, best, value = scores.best()
    info.update({
        "chosen": best, "epochs": epoch, "epoch_check_users": int(len(sample)),
        f"inner_mrr@{config.prior_k}_per_epoch": [
            {str(w): round(v, 4) for w, v in per.items()}
            for per in scores.scores]})
    _LOG.info("popularity weight %.2f and %d epoch(s) chosen on %d inner "
              "users (MRR@%d %.4f)", best, epoch, len(sample),
              config.prior_k, value)
    return best, info
  model = train_two_tower(data, config, use_hgnn=use_hgnn, seed=seed,
                          verbose=verbose, popularity_weight=0.0)
  user_vectors = model.embed_users(data.users, user_rows)
  item_vectors = model.embed_items(data.items)
  mrr = _weight_scores(user_vectors, item_vectors, user_rows, counts,
                       weights, data, holdout, config)
  best = max(weights, key=lambda w: (mrr[w], -w))
  info.update({"chosen": best, f"inner_mrr@{config.prior_k}":
               {str(w): round(v, 4) for w, v in mrr.items()}})
  _LOG.info("popularity weight %.2f chosen on %d inner users (MRR@%d %s)",
            best, len(user_rows), config.prior_k,
            {w: round(v, 3) for w, v in mrr.items()})
  return best, info


def with_chosen_epochs(info: dict[str, Any], config: TwoTowerConfig
                       ) -> TwoTowerConfig:
  """``config`` with the epochs a window's models train: the inner split's
  choice (``info`` of ``choose_popularity_weight``), else its own."""
  return dataclasses.replace(config,
                             epochs=int(info.get("epochs", config.epochs)))
