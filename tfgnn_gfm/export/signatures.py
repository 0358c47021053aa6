"""The exported modules and their serving signatures.

``RetrievalModule`` (models ``gfm_retrieval`` and ``gfm_retrieval_bf``)::

  serving_default  user columns + recent_item_ids + k + item_type
                   -> item_ids, scores, item_types [B, k];
                      unknown_recent_items [B]
                   (the recent items of types that drop repeats, per
                   ``features.json``'s ``repeats``, left out)
  similar_items    item_id + k + item_type -> item_ids, scores, item_types
                   (the item itself left out; an unknown id is an error)
  search           query (free text) + k + item_type -> item_ids, scores,
                   item_types (the query goes through the text encoder and
                   the item tower as a text-only item; a query of more than
                   ``config.MAX_QUERY_CHARS`` characters, or queries of more
                   than ``config.MAX_REQUEST_QUERY_CHARS`` in all, are an
                   error)
  embed_items      item_id -> embeddings [B, D], item_types

``UserTowerModule`` (model ``gfm_user_tower``)::

  serving_default  user columns + recent_item_ids
                   -> query_embedding [B, D], unknown_recent_items [B]

Every input is batched (TF Serving's row format needs a common 0-th
dimension). ``k`` is per example; a batch returns ``max(k)`` columns and
pads shorter results with item id ``""`` and score 0. ``item_type`` ``""``
means every type; another unknown type is an error naming the known ones.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np
import tensorflow as tf

from tfgnn_gfm.export.config import MAX_QUERY_CHARS, MAX_REQUEST_QUERY_CHARS
from tfgnn_gfm.export.lookups import (
    ItemLookup,
    UserFeatureResolver,
    dedupe_and_pack,
)

RESULT_KEYS = ("item_ids", "scores", "item_types")


def _batched(name: str, dtype: tf.DType) -> tf.TensorSpec:
  return tf.TensorSpec([None], dtype, name=name)


class _QueryBase(tf.Module):
  """Shared parts: the user tower and its feature resolver."""

  def __init__(self, *, user_tower: tf.keras.Model,
               resolver: UserFeatureResolver, name: str,
               score_offset: bool = False):
    super().__init__(name=name)
    self.user_tower = user_tower
    self.resolver = resolver
    self.score_offset = bool(score_offset)

  def _user_vectors(self, request: Mapping[str, tf.Tensor]
                    ) -> tuple[tf.Tensor, tf.Tensor]:
    """User queries in the index's layout (a trailing 1 with an offset)."""
    features, unknown = self.resolver(request)
    names = self.user_tower.input_names
    vectors = self.user_tower({n: features[n] for n in names},
                              training=False)
    return index_query(vectors, 1.0 if self.score_offset else None), unknown


def checked_queries(query: tf.Tensor) -> tf.Tensor:
  """``query`` [B], after refusing queries over the export's size limits.

  A query of over ``MAX_QUERY_CHARS`` characters, or queries of over
  ``MAX_REQUEST_QUERY_CHARS`` in all, are an InvalidArgumentError, which TF
  Serving (and ``gfm serve``) answer with a 400 naming the limit, before any
  query of the request reaches the text encoder.
  """
  length = tf.strings.length(query, unit="UTF8_CHAR")
  longest = tf.reduce_max(tf.concat([length, [0]], axis=0))
  total = tf.reduce_sum(length)
  checks = [
      tf.debugging.Assert(
          longest <= MAX_QUERY_CHARS,
          [f"a search query has at most {MAX_QUERY_CHARS} characters; the "
           "longest of this request has", longest], summarize=1),
      tf.debugging.Assert(
          total <= MAX_REQUEST_QUERY_CHARS,
          [f"the search queries of one request have at most "
           f"{MAX_REQUEST_QUERY_CHARS} characters in all; this request's "
           "have", total], summarize=1)]
  with tf.control_dependencies(checks):
    return tf.identity(query)


def index_query(vectors: tf.Tensor, offset_weight: float | None) -> tf.Tensor:
  """Queries in the layout of an index with a score-offset column.

  An index over ``[item vector, score offset]`` scores a query
  ``[q, w]`` as ``q . item + w * offset``: user queries take the popularity
  prior (``w = 1``), item and text queries do not (``w = 0``).

  Args:
    vectors: [B, D] query vectors.
    offset_weight: ``w``; None: the index has no offset column.

  Returns:
    [B, D] or [B, D + 1].
  """
  if offset_weight is None:
    return vectors
  column = tf.fill([tf.shape(vectors)[0], 1],
                   tf.constant(offset_weight, vectors.dtype))
  return tf.concat([vectors, column], axis=1)


def row_members(rows: tf.Tensor, excluded: tf.Tensor) -> tf.Tensor:
  """[B, M] bool: ``rows[b, m]`` is one of ``excluded[b]`` (-1 pads).

  One sort of the (example, row) keys and a binary search: time and memory
  are O((M + E) log E) per example, never M x E.
  """
  batch = tf.shape(rows)[0]
  offset = tf.cast(tf.range(batch), tf.int64)[:, tf.newaxis] * (2 ** 32)
  keys = tf.where(excluded >= 0, offset + tf.cast(excluded, tf.int64),
                  tf.constant(-1, tf.int64))
  # A sentinel above every key keeps the gather valid when nothing is
  # excluded.
  keys = tf.concat([tf.sort(tf.reshape(keys, [-1])),
                    tf.constant([np.iinfo(np.int64).max], tf.int64)], 0)
  query = tf.reshape(offset + tf.cast(rows, tf.int64), [-1])
  found = tf.gather(keys, tf.searchsorted(keys, query)) == query
  return tf.reshape(found, tf.shape(rows)) & (rows >= 0)


class UserTowerModule(_QueryBase):
  """``gfm_user_tower``: the query embedding alone, for an external ANN index.

  Args:
    user_tower: the trained user tower.
    resolver: raw request values -> user tower inputs.
    score_offset: the model has a popularity prior: the query embedding
      ends with a 1 that meets each item's ``score_offset`` (items.csv of
      the two-tower output) appended to its vector in the index.
  """

  def __init__(self, *, user_tower: tf.keras.Model,
               resolver: UserFeatureResolver, score_offset: bool = False):
    super().__init__(user_tower=user_tower, resolver=resolver,
                     name="gfm_user_tower", score_offset=score_offset)

  def signatures(self) -> dict[str, Callable[..., Any]]:
    """``{"serving_default": concrete function}``."""
    specs = self.resolver.input_specs()

    @tf.function(input_signature=[specs])
    def serving_default(request):
      vectors, unknown = self._user_vectors(request)
      return {"query_embedding": vectors, "unknown_recent_items": unknown}

    self.serving_default = serving_default
    return {"serving_default": serving_default.get_concrete_function()}


class RetrievalModule(_QueryBase):
  """``gfm_retrieval`` / ``gfm_retrieval_bf``: top-K items for users, items
  and text queries.

  Args:
    user_tower: the trained user tower.
    item_tower: the trained item tower (for text-only search queries).
    resolver: raw request values -> user tower inputs.
    items: id lookups over every catalog item.
    item_embeddings: [N, D] item tower output of every item (row order of
      ``items``).
    candidate_rows: rows of the items that may be recommended.
    retriever: ``BruteForceTopK`` or ``ScannTopK`` over the candidates (its
      rows index ``candidate_rows``).
    type_names: item type names; the retriever's type index refers to them.
    max_k: largest k a request may ask for.
    text_encoder: a callable (e.g. ``hub.KerasLayer``) strings -> [B, Dt].
    item_tower_spec: ``features.json``'s ``items`` section (for the shapes
      of a text-only item).
    name: module name.
    score_offset: the retriever's vectors end with a score-offset column
      (the popularity prior of user queries; see ``index_query``).
    drop_consumed: [N] bool per item row of ``items``: the item's type drops
      repeats (``tfgnn_gfm.twotower.repeats``), so ``serving_default``
      leaves it out when it is among the request's recent items. None:
      every type keeps them.
  """

  def __init__(self, *, user_tower: tf.keras.Model,
               item_tower: tf.keras.Model, resolver: UserFeatureResolver,
               items: ItemLookup, item_embeddings: np.ndarray,
               candidate_rows: np.ndarray, retriever: tf.Module,
               type_names: list[str], max_k: int, text_encoder: Any,
               item_tower_spec: Mapping[str, Any], name: str,
               score_offset: bool = False,
               drop_consumed: np.ndarray | None = None):
    super().__init__(user_tower=user_tower, resolver=resolver, name=name,
                     score_offset=score_offset)
    self.item_tower = item_tower
    self.items = items
    self.retriever = retriever
    self.text_encoder = text_encoder
    self.max_k = int(max_k)
    self.item_embeddings = tf.Variable(
        np.asarray(item_embeddings, np.float32), trainable=False,
        name="item_embeddings")
    self.candidate_rows = tf.constant(np.asarray(candidate_rows, np.int32))
    self.type_names = list(type_names)
    self.type_table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(self.type_names, tf.string),
            tf.range(len(self.type_names), dtype=tf.int64)),
        default_value=tf.constant(-2, tf.int64))
    self.text_dim = int(item_tower_spec["text_dim"])
    self.hgnn_dim = int(item_tower_spec.get("hgnn_dim", 0))
    self.max_genres = int(item_tower_spec["max_genres"])
    # [N] bool per item row: its type drops repeats (consumed items are not
    # recommended again); None when no type does.
    drop = (np.zeros(0, bool) if drop_consumed is None
            else np.asarray(drop_consumed, bool))
    self.drop_consumed = (tf.constant(drop) if drop.any() else None)

  # -- request parts -------------------------------------------------------

  def _k(self, k: tf.Tensor) -> tf.Tensor:
    k = tf.cast(k, tf.int32)
    check = tf.debugging.Assert(
        tf.reduce_all((k >= 1) & (k <= self.max_k)),
        [f"k must be between 1 and {self.max_k}, got", k], summarize=20)
    with tf.control_dependencies([check]):
      return tf.identity(k)

  def _type_filter(self, item_type: tf.Tensor) -> tf.Tensor:
    index = tf.cast(self.type_table.lookup(item_type), tf.int32)
    index = tf.where(tf.equal(item_type, ""), -1, index)
    check = tf.debugging.Assert(
        tf.reduce_all(index >= -1),
        ["unknown item_type (known: " + ", ".join(self.type_names) +
         ", or empty for all):", tf.boolean_mask(item_type, index < -1)],
        summarize=20)
    with tf.control_dependencies([check]):
      return tf.identity(index)

  def _top_k(self, queries: tf.Tensor, k: tf.Tensor, item_type: tf.Tensor,
             exclude_rows: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
    """Top-k item ids, scores and types; per example k, padded to max(k).

    ``exclude_rows`` [B, E] (item rows, -1 pads) are left out of each
    example's list: the retriever is asked for ``k + E`` and the excluded
    ones are removed, so every list still holds k items where the catalog
    has them.
    """
    k = self._k(k)
    k_max = tf.reduce_max(tf.concat([k, [1]], 0))
    extra = 0 if exclude_rows is None else tf.shape(exclude_rows)[1]
    scores, positions = self.retriever(queries, k_max + extra,
                                       self._type_filter(item_type))
    rows = tf.where(positions >= 0,
                    tf.gather(self.candidate_rows, tf.maximum(positions, 0)),
                    -1)
    if exclude_rows is not None:
      drop = row_members(rows, exclude_rows)
      order = tf.argsort(tf.cast(drop, tf.int32), axis=1, stable=True)
      rows = tf.where(tf.gather(drop, order, batch_dims=1), -1,
                      tf.gather(rows, order, batch_dims=1))[:, :k_max]
      scores = tf.gather(scores, order, batch_dims=1)[:, :k_max]
    wanted = tf.range(k_max)[tf.newaxis, :] < k[:, tf.newaxis]
    rows = tf.where(wanted & (rows >= 0), rows, -1)
    scores = tf.where(rows >= 0, scores, 0.0)
    return {"item_ids": self.items.ids_of(rows), "scores": scores,
            "item_types": self.items.types_of(rows)}

  def _consumed(self, request: Mapping[str, tf.Tensor]) -> tf.Tensor | None:
    """[B, E] the request's recent items of types that drop repeats (the
    distinct ones, -1 pads); None when every type keeps them."""
    if self.drop_consumed is None:
      return None
    rows = self.resolver.recent_rows(request)
    drop = tf.gather(self.drop_consumed, tf.maximum(rows, 0)) & (rows >= 0)
    packed = dedupe_and_pack(tf.where(drop, rows, -1), tf.shape(rows)[1])
    width = tf.reduce_max(tf.concat(
        [tf.reduce_sum(tf.cast(packed >= 0, tf.int32), axis=1), [0]], 0))
    return packed[:, :width]

  def _text_items(self, text: tf.Tensor) -> tf.Tensor:
    """Item tower vectors of text-only items (no metadata, no HGNN vector)."""
    text_vectors = tf.cast(self.text_encoder(text), tf.float32)
    batch = tf.shape(text)[0]
    inputs = {
        "text": tf.reshape(text_vectors, [batch, self.text_dim]),
        "item_type": tf.zeros([batch], tf.int32),
        "language": tf.zeros([batch], tf.int32),
        "genres": tf.zeros([batch, self.max_genres], tf.int32),
        "vector_known": tf.zeros([batch, 1], tf.float32),
    }
    if self.hgnn_dim:
      inputs["hgnn"] = tf.zeros([batch, self.hgnn_dim], tf.float32)
    # A learned item-id table (when the tower has one): row -1, no id vector.
    inputs["item_row"] = tf.fill([batch], -1)
    # A popularity prior (when the tower has one): a query is not popular.
    inputs["popularity"] = tf.zeros([batch, 1], tf.float32)
    names = self.item_tower.input_names
    return self.item_tower({n: inputs[n] for n in names}, training=False)

  # -- signatures ----------------------------------------------------------

  def signatures(self) -> dict[str, Callable[..., Any]]:
    """The four serving signatures as concrete functions."""
    user_specs = self.resolver.input_specs()
    k_spec = _batched("k", tf.int32)
    type_spec = _batched("item_type", tf.string)

    @tf.function(input_signature=[{**user_specs, "k": k_spec,
                                   "item_type": type_spec}])
    def serving_default(request):
      vectors, unknown = self._user_vectors(request)
      out = self._top_k(vectors, request["k"], request["item_type"],
                        exclude_rows=self._consumed(request))
      out["unknown_recent_items"] = unknown
      return out

    @tf.function(input_signature=[{"item_id": _batched("item_id", tf.string),
                                   "k": k_spec, "item_type": type_spec}])
    def similar_items(request):
      rows = self.items.known_rows(request["item_id"])
      vectors = index_query(tf.gather(self.item_embeddings, rows),
                            0.0 if self.score_offset else None)
      return self._top_k(vectors, request["k"], request["item_type"],
                         exclude_rows=rows[:, tf.newaxis])

    @tf.function(input_signature=[{"query": _batched("query", tf.string),
                                   "k": k_spec, "item_type": type_spec}])
    def search(request):
      query = checked_queries(request["query"])
      vectors = index_query(self._text_items(query),
                            0.0 if self.score_offset else None)
      return self._top_k(vectors, request["k"], request["item_type"])

    @tf.function(input_signature=[{"item_id": _batched("item_id",
                                                       tf.string)}])
    def embed_items(request):
      rows = self.items.known_rows(request["item_id"])
      return {"embeddings": tf.gather(self.item_embeddings, rows),
              "item_types": self.items.types_of(rows)}

    # Kept as attributes so the functions (and what they capture) are saved.
    self.serving_default = serving_default
    self.similar_items = similar_items
    self.search = search
    self.embed_items = embed_items
    return {"serving_default": serving_default.get_concrete_function(),
            "similar_items": similar_items.get_concrete_function(),
            "search": search.get_concrete_function(),
            "embed_items": embed_items.get_concrete_function()}
