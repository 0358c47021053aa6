"""Tower layers, the towers' SavedModel round trip and the TFRS model."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from tests.twotower.helpers import CUT, interactions, item_table, users
from tfgnn_gfm.evaluation.baselines import knn_scorer
from tfgnn_gfm.timesplit import TimeSplit
from tfgnn_gfm.twotower.config import TwoTowerConfig
from tfgnn_gfm.twotower.examples import build_training_data
from tfgnn_gfm.twotower.model import TwoTowerModel
from tfgnn_gfm.twotower.prior import log_popularity
from tfgnn_gfm.twotower.towers import (
  CompactHistory,
  ItemTypeTable,
  ItemVectorTable,
  MaskedEmbedding,
  SegmentTypedMeanPooling,
  TextMatch,
  TowerMLP,
  TypedMeanPooling,
  load_tower,
  save_tower,
)
from tfgnn_gfm.twotower.train import (
  build_towers,
  predict_in_batches,
  train_two_tower,
)

CONFIG = TwoTowerConfig(tower_units=(16, 8), categorical_dim=4,
                        id_embedding_dim=8, batch_size=8, epochs=2,
                        max_history=5, popularity_weights=(0.0,),
                        text_match_weight=0.0)


@pytest.fixture(scope="module")
def data():
  rng = np.random.default_rng(0)
  ids = ["p0", "p1", "p2", "p3", "p4", "a0", "a1", "a2", "e0", "e3"]
  rows = [(f"u{u}", ids[rng.integers(len(ids))], rng.uniform(12, 99))
          for u in range(4) for _ in range(6)]
  return build_training_data(interactions(rows), users(), item_table(),
                             TimeSplit(CUT, 90), event_weight={},
                             max_history=5)


def test_masked_embedding_zero_index_and_list_mean():
  layer = MaskedEmbedding(input_dim=4, output_dim=3)
  single = layer(tf.constant([0, 2, 9]))
  np.testing.assert_array_equal(single[0], 0)
  np.testing.assert_array_equal(single[2], 0)  # out of range -> unknown
  lists = layer(tf.constant([[1, 2, 0], [0, 0, 0]]))
  one = layer(tf.constant([1]))[0]
  np.testing.assert_allclose(lists[0], (one + single[1]) / 2, rtol=1e-6)
  np.testing.assert_array_equal(lists[1], 0)


def test_typed_mean_pooling_by_hand():
  vectors = tf.constant([[[1., 0.], [3., 0.], [0., 2.], [9., 9.]]])
  types = tf.constant([[0, 0, 1, -1]])
  out = TypedMeanPooling(num_types=3)([vectors, types]).numpy()
  # type 0: mean (2, 0); type 1: (0, 2); type 2: none -> zeros; flags 1 1 0.
  np.testing.assert_allclose(out, [[2, 0, 0, 2, 0, 0, 1, 1, 0]])


def test_segment_pooling_equals_the_padded_pooling():
  rng = np.random.default_rng(0)
  table = ItemVectorTable(num_items=30, dim=5)
  table.set_vectors(rng.normal(size=(30, 5)))
  known = np.ones(30)
  known[3] = 0  # An unknown item: a zero vector that still counts.
  table.set_known(known)
  types = ItemTypeTable(num_items=30)
  types.set_types(rng.integers(0, 3, 30))
  history = rng.integers(0, 32, (7, 9))  # Rows 30, 31: outside the table.
  history[rng.random((7, 9)) < 0.4] = -1
  history[2] = -1  # A user without history.
  history = tf.constant(history, tf.int32)
  padded = TypedMeanPooling(num_types=3)([table(history), types(history)])
  rows, users = CompactHistory()(history)
  assert rows.shape[0] == int(tf.reduce_sum(tf.cast(history >= 0, tf.int32)))
  segment = SegmentTypedMeanPooling(num_types=3)(
      [table(rows), types(rows), users, history])
  np.testing.assert_allclose(segment.numpy(), padded.numpy(), atol=1e-6)
  np.testing.assert_array_equal(segment.numpy()[2], 0)


def test_vector_and_type_tables():
  table = ItemVectorTable(num_items=3, dim=2)
  table.set_vectors(np.array([[1, 1], [2, 2], [3, 3]]))
  table.set_known(np.array([1, 0, 1]))
  np.testing.assert_array_equal(table(tf.constant([[2, 1, -1, 0]])),
                                [[[3, 3], [0, 0], [0, 0], [1, 1]]])
  types = ItemTypeTable(num_items=3)
  types.set_types(np.array([2, 0, 1]))
  np.testing.assert_array_equal(types(tf.constant([0, -1, 2])), [2, -1, 1])


def test_layers_serialize():
  for layer in (MaskedEmbedding(input_dim=3, output_dim=2),
                ItemVectorTable(num_items=4, dim=2, learned=True),
                ItemTypeTable(num_items=4), TypedMeanPooling(num_types=2),
                SegmentTypedMeanPooling(num_types=2), CompactHistory(),
                TowerMLP(units=[4, 2], dropout_rate=0.1),
                TextMatch(weight=0.3)):
    clone = type(layer).from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize("use_hgnn,item_ids,popularity",
                         [(True, False, False), (False, False, False),
                          (True, True, True)])
def test_towers_saved_model_round_trip(data, tmp_path, use_hgnn, item_ids,
                                       popularity):
  config = dataclasses.replace(CONFIG, item_ids=item_ids)
  if popularity:
    data = dataclasses.replace(data, items=dataclasses.replace(
        data.items, popularity=np.linspace(0, 1, len(data.items),
                                           dtype=np.float32)))
  user_tower, item_tower = build_towers(data, config, use_hgnn=use_hgnn)
  if item_ids:
    assert {"hgnn", "item_row"} <= set(item_tower.input_names)
  assert ("popularity" in item_tower.input_names) == popularity
  user_features = data.users.features()
  item_features = data.items.features(use_hgnn=use_hgnn)
  before_u = predict_in_batches(user_tower, user_features)
  before_i = predict_in_batches(item_tower, item_features)
  np.testing.assert_allclose(np.linalg.norm(before_u, axis=1), 1, rtol=1e-5)
  save_tower(user_tower, tmp_path / "user")
  save_tower(item_tower, tmp_path / "item")
  user_back, item_back = load_tower(tmp_path / "user"), load_tower(
      tmp_path / "item")
  np.testing.assert_allclose(predict_in_batches(user_back, user_features),
                             before_u, atol=1e-6)
  np.testing.assert_allclose(predict_in_batches(item_back, item_features),
                             before_i, atol=1e-6)
  # The plain TF loader works too (serving signatures).
  loaded = tf.saved_model.load(str(tmp_path / "item"))
  out = loaded.signatures["serving_default"](
      **{k: tf.constant(v) for k, v in item_features.items()
         if k in item_back.input_names})
  np.testing.assert_allclose(next(iter(out.values())).numpy(), before_i,
                             atol=1e-6)


def test_cold_user_with_metadata_only_gets_a_vector(data):
  user_tower, _ = build_towers(data, CONFIG)
  features = data.users.features(np.array([0, 1]))
  features["history"] = np.full_like(features["history"], -1)
  out = predict_in_batches(user_tower, features)
  assert np.isfinite(out).all()
  np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, rtol=1e-5)
  # Different metadata, different vectors.
  assert not np.allclose(out[0], out[1])


def _model(data, **kw):
  user_tower, item_tower = build_towers(data, CONFIG)
  return TwoTowerModel(user_tower, item_tower,
                       user_features=data.users.features(),
                       item_features=data.items.features(),
                       sampling_probability=data.examples.sampling_probability,
                       **kw)


def test_leave_one_out_removes_the_positive_from_the_history(data):
  model = _model(data)
  ex = data.examples
  users, items = tf.constant(ex.user[:8]), tf.constant(ex.item[:8])
  user_features, _ = model._features(users, items)
  history = user_features["history"].numpy()
  assert not (history == ex.item[:8, None]).any()
  original = data.users.history[ex.user[:8]]
  assert ((original == ex.item[:8, None]).any(axis=1)).all()


def test_vector_dropout_only_in_training(data):
  model = _model(data, vector_dropout=0.999)
  ex = data.examples
  users, items = tf.constant(ex.user), tf.constant(ex.item)
  _, train = model._features(users, items, training=True)
  _, infer = model._features(users, items, training=False)
  assert float(tf.reduce_sum(train["vector_known"])) == 0.0
  assert float(tf.reduce_sum(tf.abs(train["hgnn"]))) == 0.0
  assert float(tf.reduce_sum(infer["vector_known"])) > 0


def test_loss_decreases(data):
  model = _model(data, temperature=0.1)
  model.compile(optimizer=tf.keras.optimizers.Adam(0.01))
  ds = tf.data.Dataset.from_tensor_slices(
      {"user": data.examples.user, "item": data.examples.item,
       "weight": data.examples.weight}).batch(8)
  history = model.fit(ds, epochs=15, verbose=0).history["mean_batch_loss"]
  assert history[-1] < 0.8 * history[0]


def test_example_histories_replace_the_window_history(data):
  ex = data.examples
  assert ex.history is not None  # The default: per-example histories.
  model = _model(data, example_history=ex.history)
  pick = np.arange(8)
  users, items = tf.constant(ex.user[pick]), tf.constant(ex.item[pick])
  with_examples, _ = model._features(
      users, items, examples=tf.constant(pick))
  expected = np.where(ex.history[pick] == ex.item[pick, None], -1,
                      ex.history[pick])  # Leave-one-out still applies.
  np.testing.assert_array_equal(with_examples["history"], expected)
  # Without example indices (or without the table): the window history.
  window, _ = model._features(users, items)
  np.testing.assert_array_equal(
      window["history"], np.where(data.users.history[ex.user[pick]] ==
                                  ex.item[pick, None], -1,
                                  data.users.history[ex.user[pick]]))
  assert not np.array_equal(with_examples["history"], window["history"])


def test_item_ids_next_to_hgnn_share_one_table_and_reach_both_towers(data):
  """With item_ids, both towers read the same learned id table beside the
  fixed HGNN vectors; changing an item's id vector changes its item
  embedding and the embedding of a user whose history holds it."""
  config = dataclasses.replace(CONFIG, item_ids=True)
  user_tower, item_tower = build_towers(data, config, use_hgnn=True)
  item_tables = [layer for layer in item_tower.layers
                 if isinstance(layer, ItemVectorTable)]
  user_tables = [layer for layer in user_tower.layers
                 if isinstance(layer, ItemVectorTable)]
  assert len(item_tables) == 1 and item_tables[0].learned
  assert any(t is item_tables[0] for t in user_tables)
  assert any(not t.learned for t in user_tables)  # the HGNN vectors
  item_features = data.items.features()
  user_features = data.users.features()
  row = int(data.examples.item[0])
  holder = int(np.flatnonzero((data.users.history == row).any(axis=1))[0])
  before_i = predict_in_batches(item_tower, item_features)
  before_u = predict_in_batches(user_tower, user_features)
  table = item_tables[0]
  vectors = table.vectors.numpy()
  vectors[row] += 1.0
  table.vectors.assign(vectors)
  after_i = predict_in_batches(item_tower, item_features)
  after_u = predict_in_batches(user_tower, user_features)
  assert not np.allclose(after_i[row], before_i[row])
  others = np.arange(len(before_i)) != row
  np.testing.assert_allclose(after_i[others], before_i[others], atol=1e-6)
  assert not np.allclose(after_u[holder], before_u[holder])


def test_retrieval_vectors_add_the_prior_to_user_scores_only(data):
  model = train_two_tower(data, CONFIG, seed=0, verbose=0,
                          popularity_weight=1.5)
  rows = np.arange(len(data.users))
  users_, items_ = model.retrieval_vectors(data.users, rows, data.items)
  cosine = model.embed_users(data.users, rows) @ model.embed_items(
      data.items).T
  counts = np.bincount(data.examples.item, minlength=len(data.items))
  expected = cosine + 1.5 * CONFIG.temperature * log_popularity(counts)[None]
  np.testing.assert_allclose(users_ @ items_.T, expected, atol=1e-5)
  # Without a prior the vectors are the towers' own.
  plain = train_two_tower(data, CONFIG, seed=0, verbose=0,
                          popularity_weight=0.0)
  u, i = plain.retrieval_vectors(data.users, rows, data.items)
  assert u.shape[1] == i.shape[1] == CONFIG.embedding_dim


def test_text_match_by_hand_and_only_at_inference():
  layer = TextMatch(weight=0.5)
  np.testing.assert_allclose(layer(tf.constant([[3.0, 4.0]])).numpy(),
                             [[0.3, 0.4]], atol=1e-6)
  assert not layer(tf.constant([[3.0, 4.0]]), training=True).numpy().any()
  # A history of rows: its text vectors are normalised ([2, 0] -> [1, 0]),
  # pads (-1) do not count, and the sum of [1, 0] and [0, 1] has the
  # direction of their mean; an empty history gives zeros.
  user = TextMatch(weight=0.5, num_items=3, dim=2)
  user.set_vectors(np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
  history = tf.constant([[0, 1, -1], [-1, -1, -1]])
  np.testing.assert_allclose(user(history).numpy(),
                             [[0.5 / np.sqrt(2), 0.5 / np.sqrt(2)], [0, 0]],
                             atol=1e-6)
  assert user(history, training=True).numpy().shape == (2, 2)
  assert not user(history, training=True).numpy().any()
  clone = TextMatch.from_config(user.get_config())
  assert (clone.weight, clone.num_items, clone.dim) == (0.5, 3, 2)


def test_text_match_adds_beta_times_llm_knn_cosine(data, tmp_path):
  config = dataclasses.replace(CONFIG, text_match_weight=0.4)
  with_text = train_two_tower(data, config, seed=0, verbose=0)
  plain = train_two_tower(data, CONFIG, seed=0, verbose=0)
  rows = np.arange(len(data.users))
  u = with_text.embed_users(data.users, rows)
  i = with_text.embed_items(data.items)
  dim = CONFIG.embedding_dim
  assert u.shape[1] == i.shape[1] == dim + data.items.text.shape[1]
  # Training never sees the text part: the learned towers are the same.
  np.testing.assert_allclose(u[:, :dim], plain.embed_users(data.users, rows),
                             atol=1e-5)
  np.testing.assert_allclose(i[:, :dim], plain.embed_items(data.items),
                             atol=1e-5)
  # The text part scores 0.4 x LLM-kNN's cosine (users with a history), and
  # an item query 0.4 x the items' text cosine.
  knn = knn_scorer(data.users, rows, data.items.text, data.examples, "llm")
  has = (data.users.history >= 0).any(axis=1)
  cosine = knn.vectors_of(rows)[:, :-1] @ knn.item_vectors[:, :-1].T
  np.testing.assert_allclose((u[:, dim:] @ i[:, dim:].T)[has],
                             0.4 * cosine[has], atol=1e-5)
  assert not u[~has, dim:].any()
  text = data.items.text / np.linalg.norm(data.items.text, axis=1,
                                          keepdims=True)
  np.testing.assert_allclose(i[:, dim:] @ i[:, dim:].T, 0.4 * text @ text.T,
                             atol=1e-5)
  # And it survives the SavedModel round trip.
  save_tower(with_text.user_tower, tmp_path / "user")
  np.testing.assert_allclose(
      predict_in_batches(load_tower(tmp_path / "user"),
                         data.users.features()), u, atol=1e-6)


def test_auto_batch_size_leaves_every_epoch_enough_steps():
  auto = TwoTowerConfig()
  assert auto.batch_size == 0
  # The largest of 512/256/128 with at least 50 steps per epoch.
  assert auto.batch_size_for(330_000) == 512
  assert auto.batch_size_for(512 * 50) == 512
  assert auto.batch_size_for(512 * 50 - 1) == 256
  assert auto.batch_size_for(256 * 50) == 256
  assert auto.batch_size_for(256 * 50 - 1) == 128
  assert auto.batch_size_for(1_400) == 128  # Too small for 50: the smallest.
  assert auto.batch_size_for(3) == 128
  # A set size is used as it is.
  assert TwoTowerConfig(batch_size=64).batch_size_for(330_000) == 64
  TwoTowerConfig(batch_size=2).validate()
  for bad in (1, -1):
    with pytest.raises(ValueError, match="batch_size"):
      TwoTowerConfig(batch_size=bad).validate()


def test_training_reports_the_batch_size_it_used(data):
  n = len(data.examples)
  chosen = train_two_tower(data, CONFIG, use_hgnn=True, verbose=0)
  assert chosen.batch_size == 8
  auto = train_two_tower(data, dataclasses.replace(CONFIG, batch_size=0),
                         use_hgnn=True, verbose=0)
  assert auto.batch_size == 128 == TwoTowerConfig().batch_size_for(n)
