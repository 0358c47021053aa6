"""LazyAdam (tfgnn_gfm/optimizers.py): Adam on looked-up rows only."""

import numpy as np
import pytest
import tensorflow as tf

from tfgnn_gfm.optimizers import LazyAdam


def _train(optimizer, batches, rows=5, dim=3):
  table = tf.Variable(np.arange(rows * dim, dtype=np.float32).reshape(
      rows, dim) / 10.0)
  dense = tf.Variable(np.ones((dim, 2), np.float32))
  for indices in batches:
    with tf.GradientTape() as tape:
      looked_up = tf.gather(table, tf.constant(indices))
      loss = tf.reduce_sum(tf.square(looked_up @ dense - 1.0))
    grads = tape.gradient(loss, [table, dense])
    assert isinstance(grads[0], tf.IndexedSlices)
    optimizer.apply_gradients(zip(grads, [table, dense]))
  return table.numpy(), dense.numpy()


def test_equals_adam_when_every_row_is_looked_up():
  batches = [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 1, 4, 3]]
  lazy = _train(LazyAdam(learning_rate=0.1), batches)
  adam = _train(tf.keras.optimizers.Adam(learning_rate=0.1), batches)
  for a, b in zip(lazy, adam):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_rows_not_looked_up_stay_and_repeats_sum():
  # Step 1 touches rows 0 and 1; step 2 only row 0 (twice).
  lazy_table, _ = _train(LazyAdam(learning_rate=0.1), [[0, 1], [0, 0]])
  adam_table, _ = _train(tf.keras.optimizers.Adam(learning_rate=0.1),
                         [[0, 1], [0, 0]])
  once_table, _ = _train(LazyAdam(learning_rate=0.1), [[0, 1]])
  start = np.arange(15, dtype=np.float32).reshape(5, 3) / 10.0
  # Rows 2-4 never move; row 1 moved in step 1 only (Adam's momentum keeps
  # moving it in step 2).
  np.testing.assert_array_equal(lazy_table[2:], start[2:])
  np.testing.assert_allclose(lazy_table[1], once_table[1])
  assert not np.allclose(adam_table[1], once_table[1])
  # A repeated index is one row whose gradient is the sum: the same as Adam
  # on that row (Adam sums repeats too) where no other row is involved.
  np.testing.assert_allclose(lazy_table[0], adam_table[0], rtol=1e-5)


def test_serializes_and_refuses_amsgrad():
  opt = LazyAdam(learning_rate=0.01)
  again = tf.keras.optimizers.deserialize(tf.keras.optimizers.serialize(opt))
  assert isinstance(again, LazyAdam)
  assert again.get_config()["learning_rate"] == pytest.approx(0.01)
  with pytest.raises(ValueError, match="amsgrad"):
    LazyAdam(amsgrad=True)
