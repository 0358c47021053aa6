"""The two towers: Keras layers and the functional tower builders.

Item tower (one for every item type)::

  concat(hgnn vector and/or learned item-id embedding, vector-known flag,
         text vector, emb(item type), emb(language), mean emb(genres))
  -> MLP -> L2 norm

The vector-known flag is 1 when the item's collaborative vector is real (an
HGNN vector from the graph, or an id embedding learned from examples) and 0
for items seen only by their text (new items: their vector input is zero);
training drops it at random (vector dropout) so the text path learns to
stand alone.

User tower::

  concat(per item type: mean vector of the history items of that type and a
         has-any flag; emb(each categorical user column); standardised
         numeric columns; interest vector and its flag) -> MLP -> L2 norm

With a text-match weight ``beta`` > 0 both towers end with a parameter-free
text part, at inference only (zeros in training, so the loss and the
learned MLPs are those of the towers without it)::

  user:  concat(MLP output, sqrt(beta) * l2n(sum of l2n(text) of the history))
  item:  concat(MLP output, sqrt(beta) * l2n(text))

so a user's score of an item gains ``beta`` x the cosine between the user's
mean history text and the item's text (LLM-kNN's score), and an item query
(similar items, search) scores ``beta`` x the text cosine too. It orders the
items that no one has interacted with yet, whose collaborative part is nearly
constant, as their text does.

History items are given as item rows (``-1`` pads); the tower looks up their
vectors in an ``ItemVectorTable`` (fixed HGNN vectors, or learned id
embeddings shared with the item tower in the without-GNN baseline) and their
types in an ``ItemTypeTable``, so a user with no history (a cold user) is
just all ``-1``. Every layer takes keyword arguments, has ``get_config`` and
is registered, so the towers round-trip through the Keras SavedModel format.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import tensorflow as tf

from tfgnn_gfm.layers import MaskedEmbedding
from tfgnn_gfm.vectors import l2_normalize

_PACKAGE = "tfgnn_gfm"


@tf.keras.utils.register_keras_serializable(package=_PACKAGE)
class ItemVectorTable(tf.keras.layers.Layer):
  """Item row -> vector, from a fixed matrix or a learned embedding.

  Rows ``< 0`` and rows whose ``known`` flag is 0 give the zero vector (a
  learned table marks the items it saw in training as known, so unseen
  items do not carry a random initialisation).

  Args:
    num_items: rows of the table.
    dim: vector size.
    learned: trainable (item-id embeddings) or fixed (HGNN vectors, set with
      ``set_vectors``).
  """

  def __init__(self, *, num_items: int, dim: int, learned: bool = False,
               **kwargs):
    super().__init__(**kwargs)
    self.num_items = int(num_items)
    self.dim = int(dim)
    self.learned = bool(learned)

  def build(self, input_shape):
    init = (tf.keras.initializers.RandomNormal(stddev=0.05) if self.learned
            else "zeros")
    self.vectors = self.add_weight(
        name="vectors", shape=(self.num_items, self.dim), initializer=init,
        trainable=self.learned)
    self.known = self.add_weight(name="known", shape=(self.num_items,),
                                 initializer="ones", trainable=False)
    super().build(input_shape)

  def get_config(self) -> dict[str, Any]:
    return dict(num_items=self.num_items, dim=self.dim, learned=self.learned,
                **super().get_config())

  def set_vectors(self, vectors: np.ndarray) -> None:
    """Sets the table (builds the layer first when needed)."""
    if not self.built:
      self.build(tf.TensorShape([None]))
    self.vectors.assign(np.asarray(vectors, np.float32))

  def set_known(self, known: np.ndarray) -> None:
    if not self.built:
      self.build(tf.TensorShape([None]))
    self.known.assign(np.asarray(known, np.float32))

  def call(self, rows: tf.Tensor) -> tf.Tensor:
    rows = tf.cast(rows, tf.int32)
    valid = (rows >= 0) & (rows < self.num_items)
    safe = tf.where(valid, rows, 0)
    weight = tf.cast(valid, self.compute_dtype) * tf.gather(self.known, safe)
    # Gather each distinct row once: a batch of histories repeats rows a
    # lot, and the gradient of a learned table then has one slice per row.
    unique, position = tf.unique(tf.reshape(safe, [-1]))
    vectors = tf.gather(tf.gather(self.vectors, unique), position)
    vectors = tf.reshape(vectors, tf.concat([tf.shape(safe), [self.dim]], 0))
    return vectors * weight[..., tf.newaxis]


@tf.keras.utils.register_keras_serializable(package=_PACKAGE)
class ItemTypeTable(tf.keras.layers.Layer):
  """Item row -> type index (``-1`` for rows ``< 0``).

  Args:
    num_items: rows of the table (set with ``set_types``).
  """

  def __init__(self, *, num_items: int, **kwargs):
    super().__init__(**kwargs)
    self.num_items = int(num_items)

  def build(self, input_shape):
    self.types = self.add_weight(name="types", shape=(self.num_items,),
                                 dtype=tf.int32, initializer="zeros",
                                 trainable=False)
    super().build(input_shape)

  def get_config(self) -> dict[str, Any]:
    return dict(num_items=self.num_items, **super().get_config())

  def set_types(self, types: np.ndarray) -> None:
    if not self.built:
      self.build(tf.TensorShape([None]))
    self.types.assign(np.asarray(types, np.int32))

  def call(self, rows: tf.Tensor) -> tf.Tensor:
    rows = tf.cast(rows, tf.int32)
    valid = (rows >= 0) & (rows < self.num_items)
    return tf.where(valid, tf.gather(self.types, tf.where(valid, rows, 0)), -1)


@tf.keras.utils.register_keras_serializable(package=_PACKAGE)
class TypedMeanPooling(tf.keras.layers.Layer):
  """Per item type, the mean of the history vectors of that type, plus flags.

  Inputs: ``[vectors [B, L, D], types [B, L]]`` (type ``-1`` = padding).
  Output: ``[B, T * D + T]``: T means (zeros when the user has no item of
  that type), then T has-any flags (1.0 / 0.0).

  Args:
    num_types: T.
  """

  def __init__(self, *, num_types: int, **kwargs):
    super().__init__(**kwargs)
    self.num_types = int(num_types)

  def get_config(self) -> dict[str, Any]:
    return dict(num_types=self.num_types, **super().get_config())

  def call(self, inputs: Sequence[tf.Tensor]) -> tf.Tensor:
    vectors, types = inputs
    one_hot = tf.one_hot(tf.cast(types, tf.int32), self.num_types,
                         dtype=vectors.dtype)  # -1 -> all zeros.
    sums = tf.einsum("blt,bld->btd", one_hot, vectors)
    counts = tf.reduce_sum(one_hot, axis=1)
    means = sums / tf.maximum(counts, 1.0)[..., tf.newaxis]
    flat = tf.reshape(means, [-1, self.num_types * vectors.shape[-1]])
    return tf.concat([flat, tf.cast(counts > 0, vectors.dtype)], axis=-1)


@tf.keras.utils.register_keras_serializable(package=_PACKAGE)
class CompactHistory(tf.keras.layers.Layer):
  """The non-padding entries of history rows, flattened.

  Input: ``[B, L]`` item rows (``-1`` pads). Output: ``[rows [n], users
  [n]]``, the n entries ``>= 0`` in row-major order and the batch row each
  belongs to. Real histories are short (median 6 of 100 places on a retail
  set), so looking up and pooling only these entries costs a fraction of
  the padded ``[B, L, D]`` gather (``SegmentTypedMeanPooling``).
  """

  def call(self, history: tf.Tensor) -> list[tf.Tensor]:
    history = tf.cast(history, tf.int32)
    where = tf.where(history >= 0)
    return [tf.gather_nd(history, where), tf.cast(where[:, 0], tf.int32)]


@tf.keras.utils.register_keras_serializable(package=_PACKAGE)
class SegmentTypedMeanPooling(TypedMeanPooling):
  """``TypedMeanPooling`` over ``CompactHistory``'s entries.

  Inputs: ``[vectors [n, D], types [n], users [n], history [B, L]]`` (the
  history only gives B). Output: as ``TypedMeanPooling``'s, ``[B, T * D +
  T]``: T per-type means (zeros without an item of the type), then T
  has-any flags.

  Args:
    num_types: T.
  """

  def call(self, inputs: Sequence[tf.Tensor]) -> tf.Tensor:
    vectors, types, users, history = inputs
    t = self.num_types
    batch = tf.shape(history)[0]
    types = tf.cast(types, tf.int32)
    valid = (types >= 0) & (types < t)
    segment = tf.where(valid, users * t + types, batch * t)  # Last: dropped.
    sums = tf.math.unsorted_segment_sum(vectors, segment, batch * t + 1)
    counts = tf.math.unsorted_segment_sum(
        tf.ones_like(segment, vectors.dtype), segment, batch * t + 1)
    sums, counts = sums[:batch * t], counts[:batch * t]
    means = sums / tf.maximum(counts, 1.0)[:, tf.newaxis]
    flat = tf.reshape(means, [batch, t * vectors.shape[-1]])
    flags = tf.reshape(tf.cast(counts > 0, vectors.dtype), [batch, t])
    return tf.concat([flat, flags], axis=-1)


@tf.keras.utils.register_keras_serializable(package=_PACKAGE)
class TextMatch(tf.keras.layers.Layer):
  """The text part of a tower's output: ``weight`` x an L2-normalised vector.

  Item side (``num_items`` 0): input ``[B, D]`` text vectors. User side
  (``num_items`` > 0): input ``[B, L]`` history rows (``-1`` pads), looked up
  in the layer's fixed table of L2-normalised text vectors (``set_vectors``)
  and summed (the sum of unit vectors has the direction of their mean). At
  inference the output is ``weight * l2n(x)`` (zeros for an empty history);
  in training it is zeros, and nothing is looked up, so the text match is a
  retrieval-time term that never changes what the towers learn or costs a
  training step anything.

  Args:
    weight: the factor.
    num_items: rows of the user side's text table (0: item side).
    dim: text vector size (user side).
  """

  def __init__(self, *, weight: float = 1.0, num_items: int = 0,
               dim: int = 0, **kwargs):
    super().__init__(**kwargs)
    self.weight = float(weight)
    self.num_items = int(num_items)
    self.dim = int(dim)
    self._table = (ItemVectorTable(num_items=self.num_items, dim=self.dim,
                                   learned=False, name="text_vectors")
                   if self.num_items else None)

  def get_config(self) -> dict[str, Any]:
    return dict(weight=self.weight, num_items=self.num_items, dim=self.dim,
                **super().get_config())

  def set_vectors(self, vectors: np.ndarray) -> None:
    """Sets the user side's table to the L2-normalised ``vectors``."""
    self._table.set_vectors(l2_normalize(np.asarray(vectors, np.float32)))

  def compute_output_shape(self, input_shape):
    input_shape = tf.TensorShape(input_shape)
    return input_shape[:1].concatenate([self.dim or input_shape[-1]])

  def call(self, inputs: tf.Tensor, training: bool | None = None
           ) -> tf.Tensor:
    if self._table is not None:
      if training:
        return tf.zeros([tf.shape(inputs)[0], self.dim], self.compute_dtype)
      vectors = tf.reduce_sum(self._table(inputs), axis=1)
    else:
      vectors = inputs
      if training:
        return tf.zeros_like(vectors)
    return self.weight * tf.math.l2_normalize(vectors, axis=-1)


@tf.keras.utils.register_keras_serializable(package=_PACKAGE)
class TowerMLP(tf.keras.layers.Layer):
  """Dense ReLU layers, a linear last layer, then L2 normalisation.

  Args:
    units: layer sizes; the last is the embedding size.
    dropout_rate: dropout after each hidden layer.
    normalize: L2-normalise the output.
  """

  def __init__(self, *, units: Sequence[int], dropout_rate: float = 0.0,
               normalize: bool = True, **kwargs):
    super().__init__(**kwargs)
    self.units = [int(u) for u in units]
    self.dropout_rate = float(dropout_rate)
    self.normalize = bool(normalize)
    self._layers = []
    for i, u in enumerate(self.units):
      last = i == len(self.units) - 1
      self._layers.append(tf.keras.layers.Dense(
          u, activation=None if last else "relu", name=f"dense_{i}"))
      if not last and self.dropout_rate > 0:
        self._layers.append(tf.keras.layers.Dropout(self.dropout_rate))

  def get_config(self) -> dict[str, Any]:
    return dict(units=self.units, dropout_rate=self.dropout_rate,
                normalize=self.normalize, **super().get_config())

  def call(self, x: tf.Tensor, training: bool | None = None) -> tf.Tensor:
    for layer in self._layers:
      x = layer(x, training=training)
    return tf.math.l2_normalize(x, axis=-1) if self.normalize else x


def build_item_tower(*, text_dim: int, num_types: int, num_languages: int,
                     num_genres: int, max_genres: int, units: Sequence[int],
                     categorical_dim: int = 16, hgnn_dim: int = 0,
                     id_table: ItemVectorTable | None = None,
                     popularity: bool = False,
                     text_match_weight: float = 0.0,
                     dropout_rate: float = 0.0,
                     name: str = "item_tower") -> tf.keras.Model:
  """The type-agnostic item tower (functional Keras model).

  Args:
    text_dim: size of the ``text`` input.
    num_types: item type vocabulary size (the ``item_type`` input is
      1-based: ``type index + 1``, 0 = unknown, like every categorical input).
    num_languages: language vocabulary size (index 0 = unknown).
    num_genres: genre vocabulary size (index 0 = padding).
    max_genres: length of the ``genres`` input.
    units: MLP sizes.
    categorical_dim: embedding size of type, language and genre.
    hgnn_dim: size of the ``hgnn`` input; 0 leaves it out.
    id_table: a learned item-id table; adds an ``item_row`` input.
    popularity: adds a ``popularity`` [B, 1] input (the recent-popularity
      prior).
    text_match_weight: ``beta`` > 0 appends the text part (``TextMatch``,
      factor ``sqrt(beta)``): the output is then ``[B, units[-1] +
      text_dim]``.
    dropout_rate: MLP dropout.
    name: model name.

  Returns:
    Model: dict of inputs -> [B, units[-1]] L2-normalised (then the text
    part).
  """
  inputs = {
      "text": tf.keras.Input((text_dim,), name="text", dtype=tf.float32),
      "item_type": tf.keras.Input((), name="item_type", dtype=tf.int32),
      "language": tf.keras.Input((), name="language", dtype=tf.int32),
      "genres": tf.keras.Input((max_genres,), name="genres", dtype=tf.int32),
      "vector_known": tf.keras.Input((1,), name="vector_known",
                                     dtype=tf.float32),
  }
  parts = [inputs["vector_known"], inputs["text"]]
  if hgnn_dim:
    inputs["hgnn"] = tf.keras.Input((hgnn_dim,), name="hgnn",
                                    dtype=tf.float32)
    parts.insert(0, inputs["hgnn"])
  parts.append(MaskedEmbedding(input_dim=num_types + 1,
                               output_dim=categorical_dim,
                               name="type_embedding")(inputs["item_type"]))
  parts.append(MaskedEmbedding(input_dim=num_languages + 1,
                               output_dim=categorical_dim,
                               name="language_embedding")(inputs["language"]))
  parts.append(MaskedEmbedding(input_dim=num_genres + 1,
                               output_dim=categorical_dim,
                               name="genre_embedding")(inputs["genres"]))
  if id_table is not None:
    inputs["item_row"] = tf.keras.Input((), name="item_row", dtype=tf.int32)
    parts.append(id_table(inputs["item_row"]))
  if popularity:
    inputs["popularity"] = tf.keras.Input((1,), name="popularity",
                                          dtype=tf.float32)
    parts.append(inputs["popularity"])
  x = tf.keras.layers.Concatenate(name="features")(parts)
  out = TowerMLP(units=units, dropout_rate=dropout_rate, name="mlp")(x)
  if text_match_weight > 0:
    out = tf.keras.layers.Concatenate(name="with_text_match")(
        [out, TextMatch(weight=float(np.sqrt(text_match_weight)),
                        name="text_match")(inputs["text"])])
  return tf.keras.Model(inputs, out, name=name)


def build_user_tower(*, history_table: ItemVectorTable,
                     type_table: ItemTypeTable, num_types: int,
                     id_history_table: ItemVectorTable | None = None,
                     max_history: int, units: Sequence[int],
                     categorical_vocab_sizes: Mapping[str, int] | None = None,
                     numeric_dim: int = 0, interest_dim: int = 0,
                     categorical_dim: int = 16, dropout_rate: float = 0.0,
                     text_vectors: np.ndarray | None = None,
                     text_match_weight: float = 0.0,
                     name: str = "user_tower") -> tf.keras.Model:
  """The user tower (functional Keras model).

  Args:
    history_table: item row -> vector for the history means.
    type_table: item row -> type index.
    id_history_table: a second table (learned item ids, shared with the
      item tower) whose vectors are concatenated to ``history_table``'s
      before pooling; None: only ``history_table``.
    num_types: number of item types (one mean per type).
    max_history: length of the ``history`` input.
    units: MLP sizes.
    categorical_vocab_sizes: user column -> vocabulary size (without the
      reserved 0); one ``user_<column>`` int input each.
    numeric_dim: width of the ``user_numeric`` input (0: none).
    interest_dim: width of the ``interest_vector`` input (0: none); adds
      ``interest_mask`` [B, 1].
    categorical_dim: embedding size of each categorical column.
    dropout_rate: MLP dropout.
    text_vectors: [N, text_dim] text vector of each item row; with
      ``text_match_weight`` > 0 the output ends with the history's text part
      (``TextMatch``).
    text_match_weight: ``beta`` (0: no text part); the part's factor is
      ``sqrt(beta)``, as in the item tower.
    name: model name.

  Returns:
    Model: dict of inputs -> [B, units[-1]] L2-normalised (then the text
    part).
  """
  inputs = {"history": tf.keras.Input((max_history,), name="history",
                                      dtype=tf.int32)}
  rows, users = CompactHistory(name="history_entries")(inputs["history"])
  vectors = history_table(rows)
  if id_history_table is not None:
    vectors = tf.keras.layers.Concatenate(name="history_vectors")(
        [vectors, id_history_table(rows)])
  types = type_table(rows)
  parts = [SegmentTypedMeanPooling(num_types=num_types,
                                   name="history_pooling")(
      [vectors, types, users, inputs["history"]])]
  for column, size in sorted((categorical_vocab_sizes or {}).items()):
    key = f"user_{column}"
    inputs[key] = tf.keras.Input((), name=key, dtype=tf.int32)
    parts.append(MaskedEmbedding(input_dim=size + 1,
                                 output_dim=categorical_dim,
                                 name=f"{key}_embedding")(inputs[key]))
  if numeric_dim:
    inputs["user_numeric"] = tf.keras.Input((numeric_dim,),
                                            name="user_numeric",
                                            dtype=tf.float32)
    parts.append(inputs["user_numeric"])
  if interest_dim:
    inputs["interest_vector"] = tf.keras.Input(
        (interest_dim,), name="interest_vector", dtype=tf.float32)
    inputs["interest_mask"] = tf.keras.Input((1,), name="interest_mask",
                                             dtype=tf.float32)
    parts.extend([inputs["interest_vector"], inputs["interest_mask"]])
  x = (tf.keras.layers.Concatenate(name="features")(parts) if len(parts) > 1
       else parts[0])
  out = TowerMLP(units=units, dropout_rate=dropout_rate, name="mlp")(x)
  if text_match_weight > 0:
    if text_vectors is None:
      raise ValueError("text_match_weight > 0 needs text_vectors")
    match = TextMatch(weight=float(np.sqrt(text_match_weight)),
                      num_items=len(text_vectors),
                      dim=text_vectors.shape[1], name="text_match")
    match.set_vectors(text_vectors)
    out = tf.keras.layers.Concatenate(name="with_text_match")(
        [out, match(inputs["history"])])
  return tf.keras.Model(inputs, out, name=name)


def select_inputs(model: tf.keras.Model,
                  features: Mapping[str, Any]) -> dict[str, Any]:
  """The entries of ``features`` that ``model`` takes (by input name)."""
  names = model.input_names if isinstance(model.input_names, list) else list(
      model.input_names)
  missing = [n for n in names if n not in features]
  if missing:
    raise KeyError(f"{model.name} needs inputs {missing}")
  return {n: features[n] for n in names}


def save_tower(tower: tf.keras.Model, path: str) -> None:
  """Saves a tower as a Keras SavedModel (reload with ``load_tower``)."""
  tower.save(str(path), save_format="tf", include_optimizer=False)


def load_tower(path: str) -> tf.keras.Model:
  """Loads a tower saved by ``save_tower``."""
  return tf.keras.models.load_model(str(path), compile=False)
