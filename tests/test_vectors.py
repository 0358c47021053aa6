"""The numpy vector helpers."""

import numpy as np

from tfgnn_gfm.vectors import l2_normalize


def test_l2_normalize_by_hand_keeps_zero_rows_and_casts():
  x = np.array([[3.0, 4.0], [0.0, 0.0]], np.float64)
  out = l2_normalize(x)
  np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
  assert out.dtype == np.float64
  assert l2_normalize(x, np.float32).dtype == np.float32
  # Any leading shape; the last axis is the vector.
  cube = np.arange(24, dtype=np.float32).reshape(2, 3, 4) + 1
  np.testing.assert_allclose(np.linalg.norm(l2_normalize(cube), axis=-1), 1,
                             rtol=1e-6)
