"""Tiny SavedModels for the serving tests, written with TensorFlow.

- ``save_half_plus``: TF Serving's documented ``half_plus_two`` toy model
  (y = 0.5 x + 2; any shape) or its ``half_plus_three`` sibling.
- ``save_toolbox``: string inputs and a lookup table that raises on unknown
  ids, binary outputs, fixed and scalar shapes, every JSON dtype.
- ``save_scann``: a TFRS ScaNN retrieval layer, saved with the ``Scann`` op
  namespace allowed (it loads only in a process that imported ``scann``).
"""

from __future__ import annotations

import pathlib

import numpy as np
import tensorflow as tf

TOOLBOX_ITEMS = ("a", "b", "c")
TOOLBOX_TYPES = ("podcast", "audiobook", "podcast")


class _HalfPlus(tf.Module):

  def __init__(self, offset: float):
    super().__init__()
    self.offset = tf.Variable(offset, trainable=False)

  @tf.function(input_signature=[tf.TensorSpec(None, tf.float32, name="x")])
  def serve(self, x):
    return {"y": 0.5 * x + self.offset}


def save_half_plus(path: str | pathlib.Path, offset: float = 2.0) -> str:
  """Saves y = 0.5 x + offset (signature serving_default: x -> y)."""
  module = _HalfPlus(offset)
  tf.saved_model.save(module, str(path),
                      signatures={"serving_default": module.serve})
  return str(path)


class _Toolbox(tf.Module):

  def __init__(self):
    super().__init__()
    self.table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(
            tf.constant(TOOLBOX_ITEMS),
            tf.range(len(TOOLBOX_ITEMS), dtype=tf.int64)),
        default_value=tf.constant(-1, tf.int64))
    self.types = tf.constant(TOOLBOX_TYPES)

  @tf.function(input_signature=[{
      "item_id": tf.TensorSpec([None], tf.string, name="item_id"),
      "k": tf.TensorSpec([None], tf.int32, name="k")}])
  def lookup(self, request):
    rows = self.table.lookup(request["item_id"])
    check = tf.debugging.Assert(
        tf.reduce_all(rows >= 0),
        ["unknown item_id:", tf.boolean_mask(request["item_id"], rows < 0)])
    with tf.control_dependencies([check]):
      rows = tf.identity(rows)
    return {"item_type": tf.gather(self.types, rows),
            "score": tf.cast(rows, tf.float32) * tf.cast(request["k"],
                                                         tf.float32)}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string,
                                              name="data")])
  def echo(self, data):
    return {"data_bytes": data, "text": data,
            "length": tf.strings.length(data)}

  @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32,
                                              name="m")])
  def matrix(self, m):
    return {"sum": tf.reduce_sum(m, axis=1)}

  @tf.function(input_signature=[tf.TensorSpec([], tf.float32, name="x")])
  def scalar(self, x):
    return {"y": 2.0 * x}

  @tf.function(input_signature=[{
      "a": tf.TensorSpec([None], tf.int64, name="a"),
      "b": tf.TensorSpec([None], tf.bool, name="b"),
      "c": tf.TensorSpec([None], tf.float64, name="c")}])
  def mixed(self, request):
    return {"a": request["a"] + 1, "b": tf.logical_not(request["b"]),
            "c": request["c"] * 2.0}

  @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
  def uneven(self, x):
    return {"first": x, "total": tf.reduce_sum(x, keepdims=True)}


def save_toolbox(path: str | pathlib.Path) -> str:
  """Saves the toolbox model; ``serving_default`` is the lookup signature."""
  module = _Toolbox()
  tf.saved_model.save(module, str(path), signatures={
      "serving_default": module.lookup.get_concrete_function(),
      "echo": module.echo, "matrix": module.matrix, "scalar": module.scalar,
      "mixed": module.mixed.get_concrete_function(), "uneven": module.uneven,
  })
  return str(path)


def save_scann(path: str | pathlib.Path, num_items: int = 40,
               dim: int = 8) -> tuple[str, np.ndarray, list[str]]:
  """Saves a TFRS ScaNN index over random items.

  Returns:
    (path, item embeddings, item ids): serving_default takes ``query``
    [B, dim] and returns ``scores`` and ``item_ids`` [B, 3].
  """
  import tensorflow_recommenders as tfrs
  rng = np.random.default_rng(0)
  embeddings = rng.normal(size=(num_items, dim)).astype(np.float32)
  ids = [f"item{i}" for i in range(num_items)]
  layer = tfrs.layers.factorized_top_k.ScaNN(
      k=3, num_leaves=4, num_leaves_to_search=4,
      num_reordering_candidates=num_items)
  layer.index(tf.constant(embeddings), tf.constant(ids))

  class Retrieval(tf.Module):

    def __init__(self):
      super().__init__()
      self.layer = layer

    @tf.function(input_signature=[tf.TensorSpec([None, dim], tf.float32,
                                                name="query")])
    def serve(self, query):
      scores, item_ids = self.layer(query)
      return {"scores": scores, "item_ids": item_ids}

  module = Retrieval()
  tf.saved_model.save(
      module, str(path), signatures={"serving_default": module.serve},
      options=tf.saved_model.SaveOptions(namespace_whitelist=["Scann"]))
  return str(path), embeddings, ids
