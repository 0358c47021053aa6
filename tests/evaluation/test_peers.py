"""The strong simple peers: item-kNN, EASE (by hand), ALS and BPR (fitted)."""

import dataclasses
import inspect
import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from tests.synthetic import write_synthetic_dataset
from tests.twotower.test_stage import write_embeddings
from tfgnn_gfm.artifacts import EvaluationDir
from tfgnn_gfm.cli import main
from tfgnn_gfm.evaluation import peers
from tfgnn_gfm.timesplit import TimeSplit
from tfgnn_gfm.twotower import config as cfg
from tfgnn_gfm.twotower.examples import TrainingData, TrainingExamples
from tfgnn_gfm.twotower.items import item_table_from_arrays
from tfgnn_gfm.twotower.users import UserTable

# Items A, B, C sit at rows 1, 2 and 4 of a 5-row catalog (rows 0 and 3 have
# no training interaction). Training users: u0 {A, B}, u1 {A, B, C},
# u2 {B, C}, u3 {C}; u4 has nothing (popularity fallback); u5 and u6 are
# query users whose histories are {A} and {B}.
A, B, C = 1, 2, 4
TRAIN = [(0, A), (0, B), (1, A), (1, B), (1, C), (2, B), (2, C), (3, C)]
HISTORY = [[A, B, -1], [A, B, C], [B, C, -1], [C, -1, -1], [-1, -1, -1],
           [A, -1, -1], [B, -1, -1]]


def _data(pairs, history, num_items):
  """TrainingData of (user, item row) pairs and history rows."""
  user = np.array([p[0] for p in pairs], np.int32)
  item = np.array([p[1] for p in pairs], np.int32)
  num_users = len(history)
  ids = np.array([f"i{r}" for r in range(num_items)], dtype=object)
  items = item_table_from_arrays(
      ids, np.array(["t"] * num_items, dtype=object),
      np.zeros((num_items, 2), np.float32),
      np.zeros((num_items, 2), np.float32), pd.DataFrame({"item_id": ids}))
  users = UserTable(user_id=np.array([f"u{u}" for u in range(num_users)],
                                     dtype=object),
                    categorical={}, categorical_vocab={},
                    numeric=np.zeros((num_users, 0), np.float32),
                    numeric_columns=[], numeric_mean=[], numeric_std=[],
                    interest=None,
                    interest_mask=np.zeros((num_users, 1), np.float32),
                    history=np.array(history, np.int32))
  examples = TrainingExamples(
      user=user, item=item, weight=np.ones(len(user), np.float32),
      timestamp=np.zeros(len(user), np.int64),
      sampling_probability=np.zeros(num_items, np.float32))
  return TrainingData(items=items, users=users, examples=examples,
                      split=TimeSplit(0, 1), counts={})


def _scores(scorer, user_rows):
  return scorer.scores(np.asarray(user_rows),
                       scorer.candidate_matrix(np.arange(
                           scorer.item_vectors.shape[0])))


def test_ease_weights_by_hand():
  # X^T X over (A, B, C): counts 2, 3, 3; A&B 2, A&C 1, B&C 2. With lambda 1:
  # G = [[3, 2, 1], [2, 4, 2], [1, 2, 4]], det 24, and
  # P = G^-1 = [[12, -6, 0], [-6, 11, -4], [0, -4, 8]] / 24.
  # B_ij = -P_ij / P_jj (i != j), B_ii = 0:
  # B = [[0, 6/11, 0], [1/2, 0, 1/2], [0, 4/11, 0]].
  data = _data(TRAIN, HISTORY, 5)
  x, train_items = peers.training_matrix(data)
  np.testing.assert_array_equal(train_items, [A, B, C])
  expected = np.array([[0, 6 / 11, 0], [0.5, 0, 0.5], [0, 4 / 11, 0]])
  np.testing.assert_allclose(peers.ease_weights(x, 1.0), expected, atol=1e-6)
  # Gram columns and symmetrisation two at a time: the same.
  np.testing.assert_allclose(peers.ease_weights(x, 1.0, block=2), expected,
                             atol=1e-6)
  scorer = peers.ease_scorer(data, np.arange(7), lam=1.0)
  scores = _scores(scorer, [5, 6])
  # History {A}: row A of B; history {B}: row B. Rows 0 and 3 score 0.
  np.testing.assert_allclose(scores[0], [0, 0, 6 / 11, 0, 0], atol=1e-6)
  np.testing.assert_allclose(scores[1], [0, 0.5, 0, 0, 0.5], atol=1e-6)
  assert scorer.info["training_items"] == 3
  assert scorer.info["popularity_fallback_users"] == 1


def test_item_knn_scores_by_hand():
  # Cosine of the columns: s(A, B) = 2 / sqrt(2 * 3), s(A, C) = 1 / sqrt(6),
  # s(B, C) = 2 / 3; s(i, i) = 0.
  data = _data(TRAIN, HISTORY, 5)
  ab, ac, bc = 2 / np.sqrt(6), 1 / np.sqrt(6), 2 / 3
  scorer = peers.item_knn_scorer(data, np.arange(7), neighbours=0)
  scores = _scores(scorer, [0, 5])
  # History {A, B}: A <- s(B, A); B <- s(A, B); C <- s(A, C) + s(B, C).
  np.testing.assert_allclose(scores[0], [0, ab, ab, 0, ac + bc], rtol=1e-6)
  np.testing.assert_allclose(scores[1], [0, 0, ab, 0, ac], rtol=1e-6)
  # One neighbour per item: A -> B (ab), B -> A (ab > bc), C -> B (bc > ac).
  # History {A, B}: B gets s(A, B), A gets s(B, A), C gets nothing.
  top1 = peers.item_knn_scorer(data, np.arange(7), neighbours=1)
  scores = _scores(top1, [0, 3])
  np.testing.assert_allclose(scores[0], [0, ab, ab, 0, 0], rtol=1e-6)
  np.testing.assert_allclose(scores[1], [0, 0, bc, 0, 0], rtol=1e-6)
  # Ties at the k-th value keep the lower columns: item 0 is as close to
  # items 1 and 2 (one shared user each); k = 1 keeps item 1, k = 2 both.
  x = scipy.sparse.csr_matrix(np.array([[1, 1, 0], [1, 0, 1]], np.float32))
  half = 1 / np.sqrt(2)
  np.testing.assert_allclose(peers.cosine_weights(x, 1)[0], [0, half, 0],
                             rtol=1e-6)
  np.testing.assert_allclose(peers.cosine_weights(x, 2, block=1)[0],
                             [0, half, half], rtol=1e-6)


@pytest.mark.parametrize("name", ["item_knn", "ease", "als", "bpr"])
def test_user_without_history_gets_popularity(name):
  data = _data(TRAIN, HISTORY, 5)
  fit = {"item_knn": lambda: peers.item_knn_scorer(data, np.arange(7)),
         "ease": lambda: peers.ease_scorer(data, np.arange(7)),
         "als": lambda: peers.als_scorer(data, np.arange(7), factors=4),
         "bpr": lambda: peers.bpr_scorer(data, np.arange(7), factors=4,
                                         iterations=5)}[name]
  scorer = fit()
  # u4: training counts A 2, B 3, C 3 (normalised by the largest).
  np.testing.assert_allclose(_scores(scorer, [4])[0], [0, 2 / 3, 1, 0, 1],
                             rtol=1e-6)
  assert scorer.info["popularity_fallback_users"] == 1


def test_ease_fits_the_most_popular_items_and_scores_the_rest_0():
  # Users per item: A 2, B 3, C 3; a limit of 2 fits B and C. Over (B, C)
  # with lambda 1: G = [[4, 2], [2, 4]], P = [[4, -2], [-2, 4]] / 12, so
  # B(B, C) = B(C, B) = 2 / 4.
  data = _data(TRAIN, HISTORY, 5)
  scorer = peers.ease_scorer(data, np.arange(7), lam=1.0, max_items=2)
  assert scorer.info["training_items"] == 2
  assert scorer.info["items_left_out"] == 1
  scores = _scores(scorer, [6, 0, 5])
  # History {B}: C gets 0.5, A (left out) 0.
  np.testing.assert_allclose(scores[0], [0, 0, 0, 0, 0.5], atol=1e-6)
  # History {A, B}: A is not part of the query.
  np.testing.assert_allclose(scores[1], [0, 0, 0, 0, 0.5], atol=1e-6)
  # History {A} only: nothing fitted, so the popularity ranking.
  np.testing.assert_allclose(scores[2], [0, 2 / 3, 1, 0, 1], atol=1e-6)
  # u4 (no history) and u5 ({A}).
  assert scorer.info["popularity_fallback_users"] == 2
  np.testing.assert_array_equal(peers.most_popular_columns(
      scipy.sparse.csr_matrix(np.array([[1, 1, 0], [0, 1, 1]])), 1), [1])
  # Ties: the lower column.
  np.testing.assert_array_equal(peers.most_popular_columns(
      scipy.sparse.csr_matrix(np.array([[1, 1, 0], [1, 1, 1]])), 1), [0])
  assert peers.ease_scorer(data, np.arange(7), max_items=3).item_vectors.shape \
      == (5, 4)


def test_sparse_item_knn_equals_the_dense_one():
  rng = np.random.default_rng(3)
  x = scipy.sparse.csr_matrix(
      (rng.random((60, 40)) < 0.15).astype(np.float32))
  for k in (1, 5, 39):
    dense = peers.cosine_weights(x, k)
    # Blocks of one and of several rows.
    for block_values in (40, 7 * 40, 10 ** 6):
      sparse = peers.cosine_neighbours(x, k, block_values=block_values)
      assert sparse.shape == (40, 40)
      assert (np.diff(sparse.indptr) <= k).all()
      np.testing.assert_array_equal(sparse.toarray(), dense)
  # Scorers: the same scores, and the sparse one has no item bound.
  pairs = [(u, i) for u, i in zip(*np.nonzero(x.toarray()))]
  history = [[i for u2, i in pairs if u2 == u][:8] for u in range(60)]
  history = [h + [-1] * (8 - len(h)) for h in history]
  data = _data(pairs, history, 45)
  users = np.arange(60)
  dense_scorer = peers.item_knn_scorer(data, users, neighbours=0)
  np.testing.assert_allclose(
      _scores(dense_scorer, users),
      _scores(peers.item_knn_scorer(data, users, neighbours=39), users),
      rtol=1e-5, atol=1e-6)
  small = peers.item_knn_scorer(data, users, neighbours=5, max_items=3)
  assert scipy.sparse.issparse(small.item_vectors)
  np.testing.assert_allclose(
      _scores(small, users),
      _scores(dense_scorer.__class__(
          name="d", user_rows=users, user_vectors=small.user_vectors,
          item_vectors=small.item_vectors.toarray()), users), rtol=1e-6)
  with pytest.raises(peers.ModelSkipped, match="--knn-max-items 3"):
    peers.item_knn_scorer(data, users, neighbours=0, max_items=3)


def _blocks(seed=0):
  """Two planted blocks: users 0-19 use items 0-9, users 20-39 items 10-19;
  each user 6 of its block's 10 items. Query user 40 (history only): three
  block-0 items."""
  rng = np.random.default_rng(seed)
  pairs = []
  for u in range(40):
    block = 0 if u < 20 else 10
    pairs += [(u, block + i) for i in rng.choice(10, 6, replace=False)]
  history = np.full((41, 10), -1, np.int32)
  for u, i in pairs:
    row = history[u]
    row[np.argmax(row < 0)] = i
  history[40, :3] = [0, 1, 2]
  return _data(pairs, history, 20), pairs


@pytest.mark.parametrize("name", ["als", "bpr"])
def test_factor_models_rank_the_planted_block_first(name):
  data, pairs = _blocks()
  if name == "als":
    # Two factors for two blocks (more overfit 40 x 20 cells); ALS folds
    # the query user 40 in from its history alone.
    scorer = peers.als_scorer(data, np.arange(41), factors=2, iterations=15,
                              regularization=0.01, seed=0)
    users = [40, 3, 25]
  else:
    scorer = peers.bpr_scorer(data, np.arange(41), factors=8,
                              learning_rate=0.01, iterations=100, seed=0)
    users = [3, 25, 10, 30]
  assert scorer.info["popularity_fallback_users"] == 0
  scores = _scores(scorer, users)
  for row, u in zip(scores, users):
    own = set(data.users.history[u][data.users.history[u] >= 0].tolist())
    block = np.arange(10) if u < 20 or u == 40 else np.arange(10, 20)
    other = np.setdiff1d(np.arange(20), block)
    unseen = np.setdiff1d(block, list(own))
    assert len(unseen) > 0
    assert row[unseen].min() > row[other].max(), (name, u)


def test_bpr_and_als_are_reproducible_by_seed():
  data, _ = _blocks()
  for fit in (peers.als_scorer, peers.bpr_scorer):
    a = fit(data, np.arange(41), factors=4, iterations=3, seed=1)
    b = fit(data, np.arange(41), factors=4, iterations=3, seed=1)
    c = fit(data, np.arange(41), factors=4, iterations=3, seed=2)
    np.testing.assert_array_equal(a.item_vectors, b.item_vectors)
    assert not np.array_equal(a.item_vectors, c.item_vectors)


def test_evaluate_runs_the_peers_and_reports_a_skip(tmp_path, capsys):
  """gfm evaluate with only the peers (no two-tower training): metrics in
  results.json, rows in results.md, the dense item-kNN's skip and its reason,
  EASE on the most popular items."""
  platform = write_synthetic_dataset(
      tmp_path / "data", num_users=120, num_podcasts=20, num_audiobooks=12,
      cold_item_fraction=0.15, seed=5)
  write_embeddings(tmp_path / "emb", platform)
  assert main(["evaluate", str(tmp_path / "data"), "--embeddings",
               str(tmp_path / "emb"), "--out", str(tmp_path / "eval"),
               "--models", "popularity,item_knn,ease,als,bpr", "--seeds", "2",
               "--knn-neighbours", "0", "--knn-max-items", "5",
               "--ease-max-items", "5", "--als-factors", "8",
               "--bpr-factors", "8", "--bpr-iterations", "20"]) == 0
  layout = EvaluationDir(tmp_path / "eval")
  result = json.loads(layout.results_path.read_text())
  models = result["models"]
  assert list(models) == ["popularity", "item_knn", "ease", "als", "bpr"]
  assert "--knn-max-items 5" in models["item_knn"]["skipped"]
  assert models["item_knn"]["metrics"] == {}
  assert models["ease"]["info"][0]["training_items"] == 5
  assert models["ease"]["info"][0]["items_left_out"] > 0
  assert models["als"]["seeds"] == [0, 1] and models["als"]["seeded"]
  assert models["ease"]["seeds"] == [None]
  cold = result["counts"]["evaluated_cold_users"]
  assert cold > 0
  pop = models["popularity"]["metrics"]["all_types"]["all_items"]
  for name in ("ease", "als", "bpr"):
    info = models[name]["info"][0]
    assert info["popularity_fallback_users"] >= cold
    assert info["train_seconds"] >= 0
    leaf = models[name]["metrics"]["all_types"]["all_items"]
    # Cold users have no history: each peer ranks them by popularity.
    assert leaf["cold_users"]["hr@10"]["values"][0] == pytest.approx(
        pop["cold_users"]["hr@10"]["mean"])
    assert 0 <= leaf["all_users"]["hr@10"]["mean"] <= 1
  # Wall time per model (fitting and ranking, every seed) and peak memory.
  for name in ("popularity", "ease", "als", "bpr"):
    entry = models[name]
    assert entry["wall_seconds"] >= sum(entry["eval_seconds"]) > 0
  assert models["als"]["wall_seconds"] >= sum(
      i["train_seconds"] for i in models["als"]["info"])
  assert result["peak_rss_mb"] > 100
  out = capsys.readouterr().out
  assert "Time per model (fitting and ranking, all seeds): Popularity " in out
  assert f"peak memory {result['peak_rss_mb'] / 1024:.1f} GiB" in out
  # Cross-type users: per type, never over all types.
  cross = {t: pop_t["all_items"]["cross_type_users"]["users"]
           for t, pop_t in models["popularity"]["metrics"].items()}
  assert cross["all_types"] == 0
  for t in ("podcast", "audiobook"):
    assert 0 <= cross[t] <= models["popularity"]["metrics"][t][
        "all_items"]["warm_users"]["users"]
  text = layout.table_path.read_text()
  assert "HR@10, cross-type users (training examples, none of the type)" \
      in text
  assert "item-kNN (cosine) was not run: " in text
  assert "--knn-max-items 5" in text
  for row in ("| EASE |", "| ALS (implicit) |",
              "| BPR (implicit) |", "| item-kNN (cosine) | - |"):
    assert row in text


@pytest.mark.parametrize("dense_values", [16_000_000, 0])
def test_ease_through_the_protocol_dense_or_sparse_users(dense_values,
                                                         monkeypatch):
  """evaluate_scorer on EASE, with dense and with sparse (CSR) user vectors:
  u5 (history {A}) scores B 6/11 first; u6 (history {B}) scores A and C 1/2
  each, so its target C ranks second (ties: lower row first)."""
  from tfgnn_gfm.evaluation.holdout import Holdout
  from tfgnn_gfm.evaluation.protocol import evaluate_scorer
  monkeypatch.setattr(peers.matrices, "_DENSE_USER_VALUES", dense_values)
  data = _data(TRAIN, HISTORY, 5)
  scorer = peers.ease_scorer(data, np.array([5, 6]), lam=1.0)
  assert scipy.sparse.issparse(scorer.user_vectors) == (dense_values == 0)
  holdout = Holdout(user=np.array([5, 6]), item=np.array([B, C]),
                    warm=np.ones(7, bool), seen_user=np.zeros(0, np.int64),
                    seen_item=np.zeros(0, np.int64),
                    item_seen_before_cut=np.ones(5, bool), counts={})
  out = evaluate_scorer(scorer, data.items, holdout, workers=1)
  leaf = out["t"]["all_items"]["all_users"]
  assert leaf["users"] == 2
  assert leaf["hr@10"] == pytest.approx(1.0)
  assert leaf["mrr@100"] == pytest.approx((1 + 1 / 2) / 2)


@pytest.mark.parametrize("field,value,message", [
    ("knn_neighbours", -1, "knn_neighbours must be >= 0"),
    ("ease_lambda", 0.0, "ease_lambda must be > 0"),
    ("ease_max_items", 0, "ease_max_items must be at least 1"),
    ("als_factors", 0, "als_factors must be at least 1"),
    ("bpr_learning_rate", -0.1, "bpr_learning_rate must be > 0"),
    ("als_regularization", -1.0, "als_regularization must be >= 0"),
])
def test_peer_flags_are_validated(field, value, message):
  from tfgnn_gfm.twotower.config import EvaluateConfig
  EvaluateConfig().validate()
  with pytest.raises(ValueError, match=message):
    EvaluateConfig(**{field: value}).validate()


def test_the_registry_holds_every_peer_of_the_config_with_its_seeding():
  # --models choices come from the config (no scipy at --help time); the
  # registry must name the same peers and seed the same ones.
  assert list(peers.PEERS) == list(cfg.PEERS)
  config = cfg.EvaluateConfig()
  for name, spec in peers.PEERS.items():
    assert spec.name == name
    # Every option is a keyword of the scorer and a field (flag) of the
    # config; every field with the peer's prefix is an option.
    parameters = inspect.signature(spec.scorer).parameters
    assert set(spec.options) <= set(parameters)
    assert all(hasattr(config, f) for f in spec.options.values())
    prefix = {"item_knn": "knn_"}.get(name, name + "_")
    assert {f.name for f in dataclasses.fields(config)
            if f.name.startswith(prefix)} == set(spec.options.values())


def test_peer_scorer_fits_through_the_registry_with_the_peer_flags():
  data = _data(TRAIN, HISTORY, 5)
  config = cfg.EvaluateConfig(ease_lambda=1.0, ease_max_items=2)
  via_registry = peers.peer_scorer(cfg.EASE, data, np.arange(7), config)
  direct = peers.ease_scorer(data, np.arange(7), lam=1.0, max_items=2)
  np.testing.assert_allclose(via_registry.item_vectors, direct.item_vectors)
  assert via_registry.info["items_left_out"] == 1
  with pytest.raises(ValueError, match="not a peer"):
    peers.peer_scorer("lightgcn", data, np.arange(7), config)
