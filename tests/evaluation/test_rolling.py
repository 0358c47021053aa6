"""Rolling-origin windows, pooling over user-windows, and per-window leakage."""

import json

import numpy as np
import pytest

from tests.twotower import helpers
from tfgnn_gfm import timesplit
from tfgnn_gfm.artifacts import EvaluationDir
from tfgnn_gfm.cli import main
from tfgnn_gfm.evaluation import rolling
from tfgnn_gfm.evaluation.comparison import Comparison, ModelResult
from tfgnn_gfm.evaluation.holdout import build_holdout
from tfgnn_gfm.twotower.examples import build_training_data

DAY = helpers.DAY


def test_window_splits_test_and_validation_by_hand():
  test = timesplit.window_splits(100 * DAY, cuts=3, step_days=14,
                                 train_days=90, holdout_days=14,
                                 validation=False)
  assert [s.cut for s in test] == [100 * DAY, 114 * DAY, 128 * DAY]
  assert test[-1].holdout_end == 142 * DAY
  assert test[0].train_start == 10 * DAY
  val = timesplit.window_splits(100 * DAY, cuts=3, step_days=14,
                                train_days=90, holdout_days=14,
                                validation=True)
  # The last validation window ends exactly at the test cut.
  assert [s.cut for s in val] == [58 * DAY, 72 * DAY, 86 * DAY]
  assert val[-1].holdout_end == 100 * DAY
  one = timesplit.window_splits(100 * DAY, cuts=1, step_days=14,
                                train_days=90, holdout_days=14,
                                validation=True)
  assert [s.cut for s in one] == [86 * DAY]
  with pytest.raises(ValueError):
    timesplit.window_splits(0, cuts=0, step_days=14, train_days=1,
                            holdout_days=1, validation=False)


def _comparison(per_model, warm):
  """per_model: name -> list over seeds of (users, ranks)."""
  models = {}
  for name, seeds in per_model.items():
    runs = [{"movie": {"candidates": 50, "all_items": {
        g: {"coverage@100": 0.5} for g in
        ("all_users", "warm_users", "cold_users")}}} for _ in seeds]
    models[name] = ModelResult(
        seeded=len(seeds) > 1, seeds=list(range(len(seeds))), runs=runs,
        per_user=[{("movie", s): (np.array(u), np.array(r))
                   for s in ("all_items", "new_items", "cold_items")}
                  for u, r in seeds])
  return Comparison(models=models, counts={}, types=["movie"],
                    warm=np.asarray(warm))


def test_pool_counts_user_windows_and_pairs_by_user_and_window():
  # Window 1: users 0, 1, 2; window 2: users 1, 3. Ranks 0-based; K = 10.
  w1 = _comparison({"popularity": [([0, 1, 2], [0, 50, 3])],
                    "2t_hgnn": [([0, 1, 2], [0, 2, 3]),
                                ([0, 1, 2], [20, 2, 3])]},
                   warm=[True, True, False, True])
  w2 = _comparison({"popularity": [([1, 3], [99, 5])],
                    "2t_hgnn": [([1, 3], [1, 5]), ([1, 3], [1, 50])]},
                   warm=[True, True, True, False])
  metrics, paired = rolling.pool([w1, w2], k=10, mrr_k=100, coverage_k=100,
                                 num_resamples=200)
  pop = metrics["popularity"]["movie"]["all_items"]["all_users"]
  assert pop["users"] == 5
  assert pop["hr@10"]["mean"] == pytest.approx(3 / 5)
  assert pop["mrr@100"]["mean"] == pytest.approx(
      (1 + 1 / 51 + 1 / 4 + 1 / 100 + 1 / 6) / 5)
  uni = metrics["2t_hgnn"]["movie"]["all_items"]["all_users"]["hr@10"]
  # Seed 1 hits 5/5, seed 2 hits 3/5.
  assert uni["values"] == pytest.approx([1.0, 0.6])
  assert uni["mean"] == pytest.approx(0.8)
  assert uni["ci_low"] <= 0.8 <= uni["ci_high"]
  # Warm per window: w1 user 2 is cold, w2 user 3 is cold.
  cold = metrics["popularity"]["movie"]["all_items"]["cold_users"]
  assert cold["users"] == 2
  assert cold["hr@10"]["mean"] == pytest.approx(1.0)
  diff = paired["popularity"]["movie"]["all_items"]["all_users"]["hr@10"]
  # Seed-averaged unified hits: 0.5, 1, 1, 1, 0.5; popularity 1, 0, 1, 0, 1.
  assert diff["mean"] == pytest.approx((4.0 - 3.0) / 5)
  assert diff["n"] == 5 and diff["clusters"] == 4
  cov = metrics["popularity"]["movie"]["all_items"]["all_users"][
      "coverage@100"]
  assert cov["mean"] == pytest.approx(0.5)
  assert metrics["popularity"]["movie"]["candidates"] == 50


def test_every_window_trains_strictly_before_its_holdout():
  """No window's training examples or histories reach its hold-out."""
  items = helpers.item_table()
  rows = []
  rng = np.random.default_rng(0)
  ids = ["p0", "p1", "p2", "a0", "a1", "a2"]
  for day in range(40, 170):
    for u in range(6):
      if rng.random() < 0.5:
        rows.append((f"u{u}", ids[rng.integers(len(ids))], day + 0.5))
  frame = helpers.interactions(rows)
  splits = timesplit.window_splits(120 * DAY, cuts=3, step_days=14,
                                   train_days=60, holdout_days=14,
                                   validation=False)
  for split in splits:
    data = build_training_data(frame, None, items, split,
                               event_weight={"stream": 1.0})
    assert data.examples.timestamp.max() < split.cut
    assert data.examples.timestamp.min() >= split.train_start
    holdout = build_holdout(frame, items, data.users.user_id, split)
    assert len(holdout.user)
    # Every target pair has an event inside the window, none before it
    # counted as a target.
    ts = frame["timestamp"].to_numpy()
    inside = frame[(ts >= split.cut) & (ts < split.holdout_end)]
    target_pairs = set(zip(data.users.user_id[holdout.user],
                           items.item_id[holdout.item]))
    assert target_pairs <= set(zip(inside["user_id"], inside["item_id"]))
    # Changing everything at or after the cut leaves the training data as
    # it is.
    shuffled = frame.copy()
    late = shuffled["timestamp"] >= split.cut
    shuffled.loc[late, "item_id"] = "p0"
    again = build_training_data(shuffled, None, items, split,
                                event_weight={"stream": 1.0})
    np.testing.assert_array_equal(again.examples.item, data.examples.item)
    np.testing.assert_array_equal(again.users.history, data.users.history)


def test_evaluate_with_cuts_pools_windows_with_intervals(tmp_path):
  from tests.synthetic import write_synthetic_dataset
  from tests.twotower.test_stage import write_embeddings
  platform = write_synthetic_dataset(
      tmp_path / "data", num_users=160, num_podcasts=30, num_audiobooks=20,
      cold_item_fraction=0.15, seed=3)
  # Embeddings cut two weeks before the synthetic cut: two 7-day windows
  # fit between the graph's cut and the end of the data.
  write_embeddings(tmp_path / "emb", platform, cut_shift=14 * DAY)
  cut = platform.cut_timestamp - 14 * DAY
  args = ["evaluate", str(tmp_path / "data"), "--embeddings",
          str(tmp_path / "emb"), "--models", "popularity,llm_knn",
          "--holdout-days", "7", "--cut", str(cut)]
  assert main(args + ["--cuts", "2", "--out", str(tmp_path / "two")]) == 0
  two = json.loads(EvaluationDir(tmp_path / "two").results_path.read_text())
  assert [w["split"]["cut"] for w in two["windows"]] == [cut, cut + 7 * DAY]
  singles = []
  for i, c in enumerate((cut, cut + 7 * DAY)):
    out = tmp_path / f"one{i}"
    assert main(args[:-1] + [str(c), "--out", str(out)]) == 0
    singles.append(json.loads(EvaluationDir(out).results_path.read_text()))
  # Pooled = user-weighted mean of the windows.

  def leaf(r):
    return r["models"]["popularity"]["metrics"]["all_types"][
        "all_items"]["all_users"]

  n = [leaf(r)["users"] for r in singles]
  hr = [leaf(r)["hr@10"]["mean"] for r in singles]
  assert leaf(two)["users"] == sum(n)
  assert leaf(two)["hr@10"]["mean"] == pytest.approx(
      (n[0] * hr[0] + n[1] * hr[1]) / sum(n))
  assert leaf(two)["hr@10"]["ci_low"] <= leaf(two)["hr@10"]["mean"]
  assert two["counts"]["windows"] == 2
  text = (tmp_path / "two" / "results.md").read_text()
  assert "Window 2" in text and "[" in text
  # Windows past the end of the data are refused with a clear error.
  assert main(args + ["--cuts", "9", "--out", str(tmp_path / "far")]) == 2
  assert not (tmp_path / "far").exists()
