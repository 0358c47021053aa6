"""The retrieval model: two towers joined by ``tfrs.tasks.Retrieval``.

Each training batch holds (user row, positive item row, weight, example
index). The model gathers both towers' features from in-memory tables (so a
step is one graph, no Python per example), and scores every user of the
batch against every positive of the batch (in-batch negatives), with:

* per-example histories (when given): the user's history input is the
  example's own (the user's items strictly before the example's time) instead
  of the user table's whole-window history;
* logQ correction: ``candidate_sampling_probability`` is each positive's share
  of the training examples, the probability of meeting it as a negative;
* accidental-hit removal: a negative that is the row's own positive item is
  masked (``candidate_ids`` = item rows);
* leave-one-out histories: the positive item is removed from the user's
  history features, so the model learns to predict an item from the user's
  *other* items rather than to find it in its own input;
* in-batch negatives over the global batch: split across replicas
  (``--distribute``), each replica's users meet every replica's positives
  (``distribute.global_batch``);
* vector dropout (after DropoutNet, Volkovs et al., NeurIPS 2017): in
  training, each batch item loses its collaborative vector (HGNN vector or
  learned id embedding, and its ``vector_known`` flag) with probability
  ``vector_dropout``, so the item tower learns to score items that have only
  text and metadata: the new items of the hold-out.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfgnn_gfm.distribute import global_batch
from tfgnn_gfm.twotower.towers import select_inputs


class TwoTowerModel(tfrs.Model):
  """A TFRS retrieval model over feature tables.

  Args:
    user_tower: user features -> L2-normalised embedding.
    item_tower: item features -> L2-normalised embedding.
    user_features: input name -> [U, ...] table (rows = user rows).
    item_features: input name -> [N, ...] table (rows = item rows).
    sampling_probability: [N] in-batch sampling probability per item, or
      None for no logQ correction.
    temperature: softmax temperature.
    remove_accidental_hits: mask negatives equal to the positive.
    leave_one_out: drop the positive from the user's history features.
    vector_dropout: probability of dropping a training item's collaborative
      vector.
    example_history: [n, L] int32 history of each training example (rows =
      the ``example`` index of a batch), or None: the user table's history.
  """

  def __init__(self, user_tower: tf.keras.Model, item_tower: tf.keras.Model,
               *, user_features: Mapping[str, np.ndarray],
               item_features: Mapping[str, np.ndarray],
               sampling_probability: np.ndarray | None = None,
               temperature: float = 0.05,
               remove_accidental_hits: bool = True,
               leave_one_out: bool = True, vector_dropout: float = 0.0,
               example_history: np.ndarray | None = None, **kwargs):
    super().__init__(**kwargs)
    self.user_tower = user_tower
    self.item_tower = item_tower
    # Plain dicts of constants: captured by the train step, never saved.
    self._user_tables = {k: tf.constant(v) for k, v in
                         select_inputs(user_tower, user_features).items()}
    self._item_tables = {k: tf.constant(v) for k, v in
                         select_inputs(item_tower, item_features).items()}
    self._probability = (None if sampling_probability is None else
                         tf.constant(np.asarray(sampling_probability,
                                                np.float32)))
    self._example_history = (
        None if example_history is None else
        tf.constant(np.asarray(example_history, np.int32)))
    self._leave_one_out = leave_one_out
    self._vector_dropout = float(vector_dropout)
    self._remove_accidental_hits = remove_accidental_hits
    self.task = tfrs.tasks.Retrieval(
        temperature=temperature,
        remove_accidental_hits=remove_accidental_hits,
        loss_metrics=[tf.keras.metrics.Mean(name="mean_batch_loss")])

  def _features(self, users: tf.Tensor, items: tf.Tensor,
                training: bool = False, examples: tf.Tensor | None = None
                ) -> tuple[dict[str, tf.Tensor], dict[str, tf.Tensor]]:
    """Both towers' inputs of a batch.

    Args:
      users: [B] user rows.
      items: [B] positive item rows.
      training: apply vector dropout.
      examples: [B] example indices (for per-example histories).

    Returns:
      (user features, item features).
    """
    user_features = {k: tf.gather(t, users) for k, t in
                     self._user_tables.items()}
    if (self._example_history is not None and examples is not None and
        "history" in user_features):
      user_features["history"] = tf.cast(
          tf.gather(self._example_history, tf.cast(examples, tf.int32)),
          user_features["history"].dtype)
    if self._leave_one_out and "history" in user_features:
      history = user_features["history"]
      user_features["history"] = tf.where(
          history == tf.cast(items, history.dtype)[:, tf.newaxis],
          tf.constant(-1, history.dtype), history)
    item_features = {k: tf.gather(t, items) for k, t in
                     self._item_tables.items()}
    if training and self._vector_dropout > 0:
      keep = tf.random.uniform(tf.shape(items)) >= self._vector_dropout
      if "hgnn" in item_features:
        item_features["hgnn"] *= tf.cast(keep, tf.float32)[:, tf.newaxis]
      if "item_row" in item_features:  # Row -1: the zero id vector.
        item_features["item_row"] = tf.where(
            keep, item_features["item_row"],
            tf.constant(-1, item_features["item_row"].dtype))
      item_features["vector_known"] *= tf.cast(keep, tf.float32)[:, tf.newaxis]
    return user_features, item_features

  def compute_loss(self, inputs: Mapping[str, tf.Tensor],
                   training: bool = False) -> tf.Tensor:
    """In-batch softmax loss of a batch of (user, item, weight, example)."""
    users = tf.cast(inputs["user"], tf.int32)
    items = tf.cast(inputs["item"], tf.int32)
    user_features, item_features = self._features(
        users, items, training, inputs.get("example"))
    query = self.user_tower(user_features, training=training)
    candidate = self.item_tower(item_features, training=training)
    probability = (tf.ones(tf.shape(items)) if self._probability is None
                   else tf.gather(self._probability, items))
    # Split across replicas, a query still meets every candidate of the
    # global batch.
    candidate, probability, ids = global_batch(candidate, probability, items)
    return self.task(
        query, candidate, sample_weight=inputs.get("weight"),
        candidate_sampling_probability=(
            None if self._probability is None else probability),
        candidate_ids=ids if self._remove_accidental_hits else None,
        compute_metrics=False, compute_batch_metrics=False)
