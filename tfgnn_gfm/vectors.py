"""Numpy helpers for embedding vectors, shared by every stage.

The towers normalise in TensorFlow (``tf.math.l2_normalize``); the numpy
side (kNN baselines, held-out-edge text baselines, a tower's fixed table)
uses ``l2_normalize`` here, with the same 1e-12 floor, so a zero vector
stays zero instead of becoming NaN.
"""

from __future__ import annotations

import numpy as np


def l2_normalize(x: np.ndarray, dtype: np.dtype | type | None = None
                 ) -> np.ndarray:
  """Each row (last axis) of ``x`` scaled to unit L2 norm.

  Args:
    x: [..., D] vectors.
    dtype: the result's dtype (default: numpy's result of ``x / norm``).

  Returns:
    [..., D] unit vectors; rows of zeros stay zeros.
  """
  x = np.asarray(x)
  out = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
  return out if dtype is None else out.astype(dtype, copy=False)
