"""Unit tests of the export's building blocks, against hand-computed cases."""

import numpy as np
import pytest
import tensorflow as tf

from tfgnn_gfm.export import config as cfg
from tfgnn_gfm.export.lookups import (
  ItemLookup,
  UserFeatureResolver,
  dedupe_and_pack,
)
from tfgnn_gfm.export.signatures import row_members
from tfgnn_gfm.export.topk import (
  BruteForceTopK,
  ScannIndex,
  ScannParameters,
  ScannTopK,
  exact_top_k,
  recall_at_k,
  scann_parameters,
)


def test_dedupe_and_pack_keeps_the_most_recent_of_each_item():
  rows = tf.constant([[3, -1, 3, 5, 1], [-1, -1, -1, -1, -1], [7, 7, 7, 2, 9]])
  got = dedupe_and_pack(rows, 4).numpy()
  np.testing.assert_array_equal(got, [[3, 5, 1, -1], [-1, -1, -1, -1],
                                      [7, 2, 9, -1]])
  np.testing.assert_array_equal(dedupe_and_pack(rows, 2).numpy(),
                                [[3, 5], [-1, -1], [7, 2]])


def _dedupe_reference(rows, length):
  out = np.full((len(rows), length), -1, np.int64)
  for b, row in enumerate(rows):
    kept = list(dict.fromkeys(int(r) for r in row if r >= 0))[:length]
    out[b, :len(kept)] = kept
  return out


def test_dedupe_and_pack_equals_the_python_rule_on_random_rows():
  rng = np.random.default_rng(0)
  for shape, length in (((7, 30), 5), ((3, 4), 10), ((1, 1), 2), ((0, 3), 4),
                        ((2, 0), 3)):
    rows = rng.integers(-1, 6, size=shape).astype(np.int32)
    np.testing.assert_array_equal(dedupe_and_pack(tf.constant(rows, tf.int32),
                                                  length).numpy(),
                                  _dedupe_reference(rows, length))


def test_dedupe_and_pack_is_linear_in_the_request():
  """100,000 ids in one row (a 10-billion-cell [B, L, L] tensor before):
  bounded time and memory (both measured, generous for a noisy machine)."""
  import resource
  import time
  rng = np.random.default_rng(1)
  rows = tf.constant(rng.integers(-1, 50, size=(1, 100_000)), tf.int32)
  dedupe_and_pack(rows[:, :10], 4)  # Warm up the ops.
  before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  start = time.perf_counter()
  got = dedupe_and_pack(rows, 100).numpy()
  seconds = time.perf_counter() - start
  peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  grown_mb = (peak - before) / 1024
  assert seconds < 5.0
  assert grown_mb < 200
  np.testing.assert_array_equal(got, _dedupe_reference(rows.numpy(), 100))


def _lookup():
  # Rows: 0 show_a, 1 show_b, 2 ep_a1 (of show_a), 3 book.
  return ItemLookup(["show_a", "show_b", "ep_a1", "book"],
                    np.array([0, 1, 0, 3]),
                    ["podcast", "podcast", "episode", "audiobook"])


def test_row_members_by_hand_and_against_the_python_rule():
  rows = tf.constant([[3, 1, -1, 7], [3, 0, 2, -1]], tf.int32)
  excluded = tf.constant([[7, 3, -1], [-1, -1, -1]], tf.int32)
  np.testing.assert_array_equal(row_members(rows, excluded).numpy(),
                                [[True, False, False, True],
                                 [False, False, False, False]])
  # Nothing excluded at all (width 0) is no member anywhere.
  assert not row_members(rows, tf.zeros([2, 0], tf.int32)).numpy().any()
  rng = np.random.default_rng(0)
  r = rng.integers(-1, 30, (20, 15))
  e = rng.integers(-1, 30, (20, 8))
  want = [[x >= 0 and x in set(e[b].tolist()) for x in r[b]]
          for b in range(20)]
  np.testing.assert_array_equal(
      row_members(tf.constant(r, tf.int32), tf.constant(e, tf.int32)), want)


def test_item_lookup_rows_roots_ids_and_types():
  lookup = _lookup()
  rows = lookup.rows(tf.constant([["ep_a1", "nope", ""]]))
  np.testing.assert_array_equal(rows.numpy(), [[2, -1, -1]])
  np.testing.assert_array_equal(lookup.roots(rows).numpy(), [[0, -1, -1]])
  assert lookup.ids_of(tf.constant([3, -1])).numpy().tolist() == [b"book",
                                                                   b""]
  assert lookup.types_of(tf.constant([2])).numpy().tolist() == [b"episode"]
  with pytest.raises(tf.errors.InvalidArgumentError, match="nope"):
    lookup.known_rows(tf.constant(["book", "nope"]))


def test_user_features_resolve_ids_and_count_unknown_items():
  spec = {"categorical_vocab": {"country": ["SE", "DE"]},
          "numeric_columns": ["age"], "numeric_mean": [30.0],
          "numeric_std": [10.0], "interest_dim": 2, "max_history": 3}
  inputs = ["history", "user_country", "user_numeric", "interest_vector",
            "interest_mask"]
  resolver = UserFeatureResolver(spec, inputs, _lookup())
  assert set(resolver.input_specs()) == {"recent_item_ids", "user_country",
                                         "user_age", "interest_vector"}
  out, unknown = resolver({
      "recent_item_ids": tf.constant([["ep_a1", "show_a", "zzz", "book"],
                                      ["", "", "", ""]]),
      "user_country": tf.constant(["DE", "FR"]),
      "user_age": tf.constant([50.0, float("nan")]),
      "interest_vector": tf.constant([[0.0, 0.0], [0.5, 1.0]])})
  # ep_a1 rolls up to show_a (row 0), then show_a repeats; zzz is unknown.
  np.testing.assert_array_equal(out["history"].numpy(), [[0, 3, -1],
                                                         [-1, -1, -1]])
  np.testing.assert_array_equal(unknown.numpy(), [1, 0])
  np.testing.assert_array_equal(out["user_country"].numpy(), [2, 0])
  np.testing.assert_allclose(out["user_numeric"].numpy(), [[2.0], [0.0]])
  np.testing.assert_array_equal(out["interest_mask"].numpy(), [[0.0], [1.0]])


def test_user_features_without_rollup_keep_episodes():
  spec = {"max_history": 2}
  resolver = UserFeatureResolver(spec, ["history"], _lookup(), rollup=False)
  out, _ = resolver({"recent_item_ids": tf.constant([["ep_a1", "show_a"]])})
  np.testing.assert_array_equal(out["history"].numpy(), [[2, 0]])


def test_brute_force_top_k_filters_types_and_pads():
  vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.5, 0.5]], np.float32)
  types = np.array([0, 1, 1, 0])
  top = BruteForceTopK(vectors, types, 2)
  queries = tf.constant([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
  scores, rows = top(queries, tf.constant(3), tf.constant([-1, 1, 0]))
  # Query 0: scores 1, .9, 0, .5 -> rows 0, 1, 3. Query 1 (type 1 only):
  # rows 1 (.9), 2 (0). Query 2 (type 0): rows 3 (.5), 0 (0).
  np.testing.assert_array_equal(rows.numpy(), [[0, 1, 3], [1, 2, -1],
                                               [3, 0, -1]])
  np.testing.assert_allclose(scores.numpy(), [[1, .9, .5], [.9, 0, 0],
                                              [.5, 0, 0]], atol=1e-6)


def test_scann_parameters_follow_the_size_rules():
  config = cfg.ExportConfig()
  assert scann_parameters(19_999, config).mode == "brute_force"
  ah = scann_parameters(50_000, config)
  assert (ah.mode, ah.reorder) == ("ah", 250)
  tree = scann_parameters(1_000_000, config)
  assert (tree.mode, tree.num_leaves, tree.leaves_to_search) == ("tree",
                                                                 1000, 50)
  forced = scann_parameters(100, cfg.ExportConfig(scann_mode="tree"))
  assert forced.num_leaves == 10 and forced.leaves_to_search == 10
  assert forced.widened(100).reorder == 100  # Capped at the index size.


def test_exact_top_k_breaks_ties_by_the_lower_row_as_the_protocol_does():
  vectors = np.ones((40, 3), np.float32)
  vectors[[7, 30]] = 2.0
  top = exact_top_k(np.ones((2, 3), np.float32), vectors, 5)
  np.testing.assert_array_equal(top, [[7, 30, 0, 1, 2]] * 2)


def test_exact_top_k_and_recall():
  vectors = np.eye(4, dtype=np.float32)
  queries = np.array([[0.1, 0.9, 0.3, 0.0]], np.float32)
  np.testing.assert_array_equal(exact_top_k(queries, vectors, 2), [[1, 2]])
  assert recall_at_k(np.array([[1, 3]]), np.array([[1, 2]])) == 0.5
  assert recall_at_k(np.array([[2, 1]]), np.array([[1, 2]])) == 1.0


def test_scann_top_k_per_type_indexes_survive_a_savedmodel(tmp_path):
  """Several ScaNN indexes in one SavedModel each answer from their own
  rows after loading (TFRS's own layer shares one searcher there)."""
  rng = np.random.default_rng(0)
  vectors = rng.normal(size=(60, 8)).astype(np.float32)
  types = np.array([0] * 25 + [1] * 35)
  params = {None: ScannParameters("brute_force"),
            0: ScannParameters("brute_force"),
            1: ScannParameters("ah", dimensions_per_block=2, reorder=35)}
  module = tf.Module()
  module.top = ScannTopK(vectors, types, 2, params)

  @tf.function(input_signature=[tf.TensorSpec([None, 8]),
                                tf.TensorSpec([None], tf.int32)])
  def search(queries, type_filter):
    return module.top(queries, tf.constant(5), type_filter)[1]

  module.search = search
  tf.saved_model.save(module, str(tmp_path / "m"),
                      options=tf.saved_model.SaveOptions(
                          namespace_whitelist=["Scann"]))
  loaded = tf.saved_model.load(str(tmp_path / "m"))
  queries = vectors[[0, 30, 40]]
  got = loaded.search(tf.constant(queries), tf.constant([-1, 0, 1])).numpy()
  exact_all = exact_top_k(queries[:1], vectors, 5)[0]
  exact_0 = exact_top_k(queries[1:2], vectors[:25], 5)[0]
  exact_1 = 25 + exact_top_k(queries[2:], vectors[25:], 5)[0]
  np.testing.assert_array_equal(got[0], exact_all)
  np.testing.assert_array_equal(got[1], exact_0)
  assert set(got[2]) <= set(range(25, 60))
  assert recall_at_k(got[2:], exact_1[None]) >= 0.8


def test_scann_index_is_a_tfrs_scann_layer():
  import tensorflow_recommenders as tfrs
  layer = ScannIndex(parameters=ScannParameters("brute_force"))
  assert isinstance(layer, tfrs.layers.factorized_top_k.ScaNN)
