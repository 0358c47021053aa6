"""The vectorised tf.Example writer produces what protobuf would."""

import numpy as np

import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)

# isort: split
import tensorflow as tf
from google.protobuf.internal import encoder as pb_encoder

from tfgnn_gfm.graph import example_codec as examples


def test_varints_match_protobuf():
  values = np.array([0, 1, 127, 128, 300, 16_383, 16_384, 2**31, 2**62, -1,
                     -300], dtype=np.int64)
  got = examples.varints(values)
  for v, b in zip(values, got):
    expected = pb_encoder._VarintBytes(int(v) & (2**64 - 1))
    assert b == expected, v


def test_examples_parse_back_exactly():
  ids = np.array(["a", "bé", "x" * 300, "a", ""], dtype=object)
  emb = np.random.default_rng(0).normal(size=(5, 40)).astype(np.float32)
  emb[1] = 0.0
  days = np.array([0, 127, 128, 19_800, -5], dtype=np.int64)
  co = np.array([1, 2, 3, 1, 0.5], dtype=np.float32)
  records = examples.serialize_examples(
      {"#id": ids, "emb": emb, "day": days, "co": co})
  for i, record in enumerate(records):
    expected = tf.train.Example()
    f = expected.features.feature
    f["#id"].bytes_list.value.append(ids[i].encode())
    f["emb"].float_list.value.extend(emb[i].tolist())
    f["day"].int64_list.value.append(int(days[i]))
    f["co"].float_list.value.append(float(co[i]))
    assert tf.train.Example.FromString(record) == expected
  parsed = tf.io.parse_example(list(records), {
      "#id": tf.io.FixedLenFeature([], tf.string),
      "emb": tf.io.FixedLenFeature([40], tf.float32),
      "day": tf.io.FixedLenFeature([], tf.int64)})
  np.testing.assert_array_equal(parsed["emb"].numpy(), emb)
  np.testing.assert_array_equal(parsed["day"].numpy(), days)


def test_serialization_is_deterministic_and_handles_empty():
  cols = {"b": np.array([1, 2]), "a": np.array(["x", "y"], dtype=object)}
  assert list(examples.serialize_examples(cols)) == list(
      examples.serialize_examples(dict(reversed(list(cols.items())))))
  assert len(examples.serialize_examples(
      {"a": np.zeros(0, object), "b": np.zeros(0, np.int64)})) == 0
