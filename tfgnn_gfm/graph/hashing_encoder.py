"""A tiny deterministic text encoder SavedModel, for tests and benchmarks.

It is a hashed bag of words: lower-cased whitespace tokens are hashed into
``dim`` buckets, counted, and the counts (plus a constant bias, so no vector
is zero) are L2-normalised. It is a legitimate TF-Hub-compatible SavedModel
(strings ``[N]`` in, float32 ``[N, dim]`` out; ``hub.KerasLayer`` and
``tfgnn_gfm.text.load_text_encoder`` load it), but it knows nothing of
meaning. The graph stage's tests and its benchmark use it where they measure
graph building, not text encoding (the text encoder has its own tests and
benchmark), and say so.
"""

from __future__ import annotations

import os
import pathlib

DEFAULT_DIM = 16


def build_hashing_encoder(export_dir: str | os.PathLike,
                          dim: int = DEFAULT_DIM) -> pathlib.Path:
  """Writes the hashed bag-of-words SavedModel (idempotent).

  Args:
    export_dir: the SavedModel directory to write (reused when present).
    dim: the embedding dimension.

  Returns:
    The SavedModel directory.
  """
  export_dir = pathlib.Path(export_dir)
  if (export_dir / "saved_model.pb").exists():
    return export_dir
  import tfgnn_gfm  # noqa: F401  Sets TF_USE_LEGACY_KERAS first.
  # isort: split
  import tensorflow as tf


  class HashingEncoder(tf.Module):
    """Hashed bag of words, L2-normalised."""

    def __init__(self):
      super().__init__()
      self.dim = dim

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, texts):
      tokens = tf.strings.split(tf.strings.lower(texts))
      buckets = tf.strings.to_hash_bucket_fast(tokens, dim)
      counts = tf.math.bincount(tf.cast(buckets, tf.int32), minlength=dim,
                                maxlength=dim, axis=-1, dtype=tf.float32)
      counts = counts + 0.5
      return tf.math.l2_normalize(counts, axis=-1)

  tmp = export_dir.parent / f".{export_dir.name}.tmp-{os.getpid()}"
  tf.saved_model.save(HashingEncoder(), str(tmp))
  os.replace(tmp, export_dir)
  return export_dir
