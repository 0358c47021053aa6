"""In-graph id and feature lookups of the serving signatures.

A client sends ids and raw values; these modules turn them into the towers'
inputs inside the SavedModel, with the vocabularies that ``gfm train-2t``
wrote to ``features.json`` and ``items.csv``:

* ``ItemLookup``: item id -> item row (every catalog item, episodes too),
  its root row (the show an episode rolls up to), its type name.
* ``UserFeatureResolver``: user column values (strings for categorical
  columns, numbers for numeric ones, an optional interest vector) and the
  recent item ids -> the user tower's inputs. Unknown categorical values map
  to index 0 (the zero embedding, as in training); unknown recent item ids
  are ignored and counted (docs/DESIGN.md section 5.4: a request for a user
  never fails because an id is unknown; a cold user is just an empty history).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import tensorflow as tf

#: Item id that pads a ragged list of recent items in a request.
PAD_ID = ""


def _string_table(keys: Sequence[str], values: np.ndarray,
                  default: int) -> tf.lookup.StaticHashTable:
  return tf.lookup.StaticHashTable(
      tf.lookup.KeyValueTensorInitializer(
          tf.constant([str(k) for k in keys], tf.string),
          tf.constant(np.asarray(values, np.int64))),
      default_value=tf.constant(default, tf.int64))


class ItemLookup(tf.Module):
  """Item id -> row, root row and type name.

  Args:
    item_ids: [N] every item id (row order of ``items.csv``).
    root_rows: [N] row of each item's root (itself unless it rolls up).
    item_types: [N] item type names.
  """

  def __init__(self, item_ids: Sequence[str], root_rows: np.ndarray,
               item_types: Sequence[str], name: str = "item_lookup"):
    super().__init__(name=name)
    item_ids = [str(i) for i in item_ids]
    if len(set(item_ids)) != len(item_ids):
      raise ValueError("item ids must be unique")
    self.num_items = len(item_ids)
    self.table = _string_table(item_ids, np.arange(len(item_ids)), -1)
    self.ids = tf.constant(np.asarray(item_ids + [PAD_ID], dtype=object),
                           tf.string)
    self.types = tf.constant(
        np.asarray([str(t) for t in item_types] + [PAD_ID], dtype=object),
        tf.string)
    self.root_rows = tf.constant(np.asarray(root_rows, np.int32))

  def rows(self, ids: tf.Tensor) -> tf.Tensor:
    """Rows of ``ids`` (any shape); -1 for unknown ids and padding."""
    return tf.cast(self.table.lookup(ids), tf.int32)

  def roots(self, rows: tf.Tensor) -> tf.Tensor:
    """Root rows of ``rows``; -1 stays -1."""
    return tf.where(rows >= 0, tf.gather(self.root_rows, tf.maximum(rows, 0)),
                    -1)

  def ids_of(self, rows: tf.Tensor) -> tf.Tensor:
    """Item ids of ``rows``; -1 gives the empty string."""
    return tf.gather(self.ids, tf.where(rows >= 0, rows, self.num_items))

  def types_of(self, rows: tf.Tensor) -> tf.Tensor:
    """Type names of ``rows``; -1 gives the empty string."""
    return tf.gather(self.types, tf.where(rows >= 0, rows, self.num_items))

  def known_rows(self, ids: tf.Tensor, what: str = "item id") -> tf.Tensor:
    """Rows of ``ids`` [B]; raises InvalidArgumentError naming unknown ids.

    TF Serving returns the message as a 400 error.
    """
    rows = self.rows(ids)
    unknown = rows < 0
    check = tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(unknown)),
        [f"unknown {what}(s):", tf.boolean_mask(ids, unknown)], summarize=20)
    with tf.control_dependencies([check]):
      return tf.identity(rows)


def dedupe_and_pack(rows: tf.Tensor, length: int) -> tf.Tensor:
  """Per row of ``rows`` [B, L]: the first ``length`` distinct valid items.

  Drops -1 and repeats (keeping the first, i.e. most recent, occurrence),
  packs the rest to the left and pads/cuts to ``length`` with -1. Time and
  memory are linear in B x L (a hash-based ``tf.unique`` over (row, item)
  keys, then one stable sort per row), so a request's cost grows with its
  size and never with its square: a history of 100,000 ids is cheap.
  """
  rows = tf.convert_to_tensor(rows)
  batch, num = tf.shape(rows)[0], tf.shape(rows)[1]
  # One key per (request row, item): distinct across request rows.
  keys = (tf.cast(tf.range(batch), tf.int64)[:, tf.newaxis] * (2 ** 32) +
          tf.cast(rows, tf.int64) + 1)
  flat = tf.reshape(keys, [-1])
  distinct, group = tf.unique(flat)
  position = tf.range(tf.size(flat))
  first = tf.math.unsorted_segment_min(position, group, tf.size(distinct))
  is_first = tf.equal(tf.gather(first, group), position)
  keep = (rows >= 0) & tf.reshape(is_first, tf.shape(rows))
  order = tf.argsort(tf.cast(tf.logical_not(keep), tf.int32), axis=1,
                     stable=True)
  packed = tf.where(tf.gather(keep, order, batch_dims=1),
                    tf.gather(rows, order, batch_dims=1), -1)
  missing = tf.maximum(length - num, 0)
  return tf.pad(packed, [[0, 0], [0, missing]], constant_values=-1)[:, :length]


class UserFeatureResolver(tf.Module):
  """Raw user values and recent item ids -> the user tower's inputs.

  Args:
    users_spec: the ``users`` section of ``features.json``
      (categorical_vocab, numeric_columns, numeric_mean, numeric_std,
      interest_dim, max_history).
    user_tower_inputs: the user tower's input names.
    items: the item lookup.
    rollup: map history items to their root (as training did).
  """

  def __init__(self, users_spec: Mapping[str, Any],
               user_tower_inputs: Sequence[str], items: ItemLookup,
               rollup: bool = True, name: str = "user_features"):
    super().__init__(name=name)
    self.items = items
    self.rollup = bool(rollup)
    self.max_history = int(users_spec["max_history"])
    inputs = set(user_tower_inputs)
    self.categorical = {}
    for column, vocab in sorted(users_spec.get("categorical_vocab",
                                               {}).items()):
      if f"user_{column}" in inputs:
        self.categorical[column] = _string_table(
            vocab, np.arange(1, len(vocab) + 1), 0)
    self.numeric_columns = (list(users_spec.get("numeric_columns", []))
                            if "user_numeric" in inputs else [])
    self.numeric_mean = tf.constant(
        np.asarray(users_spec.get("numeric_mean", []), np.float32)
        [:len(self.numeric_columns)])
    self.numeric_std = tf.constant(
        np.asarray(users_spec.get("numeric_std", []), np.float32)
        [:len(self.numeric_columns)])
    self.interest_dim = (int(users_spec.get("interest_dim", 0))
                         if "interest_vector" in inputs else 0)

  def input_specs(self) -> dict[str, tf.TensorSpec]:
    """The request inputs this resolver reads (name -> batched spec)."""
    specs = {"recent_item_ids": tf.TensorSpec([None, None], tf.string,
                                              name="recent_item_ids")}
    for column in self.categorical:
      specs[f"user_{column}"] = tf.TensorSpec([None], tf.string,
                                              name=f"user_{column}")
    for column in self.numeric_columns:
      specs[f"user_{column}"] = tf.TensorSpec([None], tf.float32,
                                              name=f"user_{column}")
    if self.interest_dim:
      specs["interest_vector"] = tf.TensorSpec(
          [None, self.interest_dim], tf.float32, name="interest_vector")
    return specs

  def recent_rows(self, request: Mapping[str, tf.Tensor]) -> tf.Tensor:
    """[B, L] item rows of the request's recent items, rolled up to their
    roots as in training; -1 for unknown ids and padding."""
    return self._rolled(self.items.rows(request["recent_item_ids"]))

  def _rolled(self, rows: tf.Tensor) -> tf.Tensor:
    return self.items.roots(rows) if self.rollup else rows

  def __call__(self, request: Mapping[str, tf.Tensor]
               ) -> tuple[dict[str, tf.Tensor], tf.Tensor]:
    """Returns (user tower inputs, [B] count of unknown recent item ids)."""
    ids = request["recent_item_ids"]
    rows = self.items.rows(ids)
    unknown = tf.reduce_sum(
        tf.cast((rows < 0) & tf.not_equal(ids, PAD_ID), tf.int32), axis=1)
    out = {"history": dedupe_and_pack(self._rolled(rows), self.max_history)}
    for column, table in self.categorical.items():
      out[f"user_{column}"] = tf.cast(table.lookup(request[f"user_{column}"]),
                                      tf.int32)
    if self.numeric_columns:
      values = tf.stack([tf.cast(request[f"user_{c}"], tf.float32)
                         for c in self.numeric_columns], axis=1)
      scaled = (values - self.numeric_mean) / self.numeric_std
      out["user_numeric"] = tf.where(tf.math.is_finite(scaled), scaled, 0.0)
    if self.interest_dim:
      vector = tf.cast(request["interest_vector"], tf.float32)
      vector = tf.where(tf.math.is_finite(vector), vector, 0.0)
      out["interest_vector"] = vector
      out["interest_mask"] = tf.cast(
          tf.reduce_any(tf.not_equal(vector, 0.0), axis=1, keepdims=True),
          tf.float32)
    return out, unknown
