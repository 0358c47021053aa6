"""The popularity prior: offsets by hand and the inner-split choice."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from tests.twotower.helpers import CUT, interactions, item_table, users
from tfgnn_gfm.timesplit import SECONDS_PER_DAY, TimeSplit
from tfgnn_gfm.twotower import prior
from tfgnn_gfm.twotower.config import TwoTowerConfig
from tfgnn_gfm.twotower.prior import (
  choose_popularity_weight,
  inner_split,
  log_popularity,
  popularity_offset,
  with_chosen_epochs,
)

CONFIG = TwoTowerConfig(tower_units=(16, 8), categorical_dim=4,
                        id_embedding_dim=8, batch_size=8, epochs=2,
                        max_history=5, popularity_weights=(0.0, 1.0, 4.0),
                        popularity_holdout_days=14, epoch_patience=0)


def test_log_popularity_and_offset_by_hand():
  # counts 3, 1, 0: 4 examples over 3 items, q = (c + 1) / 7 for seen
  # items; the unseen one gets the example-weighted mean 3/4 log(4/7) +
  # 1/4 log(2/7).
  unseen = 0.75 * np.log(4 / 7) + 0.25 * np.log(2 / 7)
  np.testing.assert_allclose(log_popularity(np.array([3, 1, 0])),
                             [np.log(4 / 7), np.log(2 / 7), unseen],
                             rtol=1e-6)
  np.testing.assert_allclose(
      popularity_offset(np.array([3, 1, 0]), weight=2.0, temperature=0.05),
      0.1 * np.array([np.log(4 / 7), np.log(2 / 7), unseen]), rtol=1e-6)
  assert not popularity_offset(np.array([3, 1]), weight=0.0,
                               temperature=0.05).any()


def _frame(seed=0):
  rng = np.random.default_rng(seed)
  ids = ["p0", "p1", "p2", "p3", "p4", "a0", "a1", "a2"]
  popular = ["p0", "p1"]
  rows = []
  for u in range(12):
    for _ in range(6):
      item = (popular[rng.integers(2)] if rng.random() < 0.7 else
              ids[rng.integers(len(ids))])
      rows.append((f"u{u}", item, rng.uniform(1, 99.9)))
  return interactions(rows)


def test_one_weight_is_taken_without_training():
  config = dataclasses.replace(CONFIG, popularity_weights=(2.5,))
  inner = inner_split(_frame(), users(), item_table(), TimeSplit(CUT, 90),
                      config)
  assert inner.data is None
  weight, info = choose_popularity_weight(inner, config, use_hgnn=True,
                                          seed=0, verbose=0)
  assert weight == 2.5 and "inner_split" not in info


def test_choice_is_a_candidate_measured_inside_the_window_only():
  frame = _frame()
  split = TimeSplit(CUT, 90)
  weight, info = choose_popularity_weight(
      inner_split(frame, users(), item_table(), split, CONFIG), CONFIG,
      use_hgnn=True, seed=0, verbose=0)
  assert weight in CONFIG.popularity_weights
  assert set(info["inner_mrr@100"]) == {"0.0", "1.0", "4.0"}
  assert info["inner_users"] > 0
  inner = info["inner_split"]
  assert inner["cut"] == CUT - 14 * SECONDS_PER_DAY
  assert inner["holdout_end"] == CUT
  assert inner["train_start"] >= split.train_start
  # Interactions at or after the cut never change the choice.
  later = frame.copy()
  later["timestamp"] = later["timestamp"] + 200 * SECONDS_PER_DAY
  again = choose_popularity_weight(
      inner_split(pd.concat([frame, later]), users(), item_table(), split,
                  CONFIG), CONFIG, use_hgnn=True, seed=0, verbose=0)
  assert again == (weight, info)


def test_compare_models_chooses_each_kind_once_for_every_seed(monkeypatch):
  from tfgnn_gfm.evaluation import comparison, models
  from tfgnn_gfm.twotower import train
  from tfgnn_gfm.twotower.config import EvaluateConfig
  calls = []
  real = train.train_two_tower

  def counting(*args, **kwargs):
    calls.append(kwargs.get("seed"))
    return real(*args, **kwargs)

  monkeypatch.setattr(train, "train_two_tower", counting)
  monkeypatch.setattr(models, "train_two_tower", counting)
  frame = _frame()
  holdout = frame.copy()
  holdout["timestamp"] = CUT + 3 * SECONDS_PER_DAY
  config = EvaluateConfig(
      models=("2t_hgnn",), seeds=2, tower_units=(16, 8), categorical_dim=4,
      batch_size=8, epochs=2, max_history=5, popularity_weights=(0.0, 1.0),
      popularity_holdout_days=14, bootstrap_resamples=10)
  result = comparison.compare_models(pd.concat([frame, holdout]), users(),
                                     item_table(), TimeSplit(CUT, 90),
                                     config, progress=False, verbose=0)
  # One inner model (seed 0) and one model per seed.
  assert calls == [0, 0, 1]
  infos = result.models["2t_hgnn"].info
  assert len(infos) == 2
  assert infos[0]["popularity_weight"] == infos[1]["popularity_weight"]
  assert all(i["popularity_prior"]["chosen_with_seed"] == 0 for i in infos)


@pytest.mark.parametrize("check_users", [10_000, 3])
def test_epochs_are_chosen_on_the_inner_split(monkeypatch, check_users):
  # 3: a sample of the inner users is scored after each epoch.
  monkeypatch.setattr(prior, "EPOCH_CHECK_USERS", check_users)
  monkeypatch.setattr(prior, "EPOCH_CHOICE_MIN_USERS", 1)
  frame = _frame()
  split = TimeSplit(CUT, 90)
  config = dataclasses.replace(CONFIG, epochs=6, epoch_patience=2)
  inner = inner_split(frame, users(), item_table(), split, config)
  weight, info = choose_popularity_weight(inner, config, use_hgnn=True,
                                          seed=0, verbose=0)
  per_epoch = info["inner_mrr@100_per_epoch"]
  # Every epoch scored every weight; training stopped two epochs after the
  # best one, or at --epochs.
  assert 1 <= len(per_epoch) <= 6
  assert all(set(p) == {"0.0", "1.0", "4.0"} for p in per_epoch)
  best = max((v, -(e + 1), -float(w)) for e, p in enumerate(per_epoch)
             for w, v in p.items())
  assert (info["epochs"], info["chosen"]) == (-best[1], -best[2])
  assert weight == info["chosen"]
  assert len(per_epoch) == 6 or len(per_epoch) == info["epochs"] + 2
  assert with_chosen_epochs(info, config).epochs == info["epochs"]
  assert info["epoch_check_users"] == min(check_users, info["inner_users"])
  if check_users == 3:
    return
  # Without the epoch choice: --epochs.
  _, plain = choose_popularity_weight(
      inner_split(frame, users(), item_table(), split, CONFIG), CONFIG,
      use_hgnn=True, seed=0, verbose=0)
  assert "epochs" not in plain and with_chosen_epochs(plain, CONFIG) == CONFIG
  # One weight still builds the inner split for the epochs.
  one = dataclasses.replace(config, popularity_weights=(1.0,))
  assert inner_split(frame, users(), item_table(), split, one).data \
      is not None


def test_a_small_inner_split_chooses_no_epochs(monkeypatch):
  """Fewer than EPOCH_CHOICE_MIN_USERS inner users: the weight is chosen, the
  epochs are --epochs, and the reason is recorded; with one weight nothing is
  trained."""
  frame, split = _frame(), TimeSplit(CUT, 90)
  config = dataclasses.replace(CONFIG, epochs=3, epoch_patience=2)
  inner = inner_split(frame, users(), item_table(), split, config)
  users_ = inner.info["inner_users"]
  assert 0 < users_ < prior.EPOCH_CHOICE_MIN_USERS
  weight, info = choose_popularity_weight(inner, config, use_hgnn=True,
                                          seed=0, verbose=0)
  assert "epochs" not in info and "inner_mrr@100_per_epoch" not in info
  assert info["epochs_not_chosen"] == (
      f"{users_} inner users, fewer than {prior.EPOCH_CHOICE_MIN_USERS}: "
      "3 epochs")
  assert weight == info["chosen"] and set(info["inner_mrr@100"]) == {
      "0.0", "1.0", "4.0"}
  assert with_chosen_epochs(info, config) == config
  # One weight: nothing to choose, no inner model is trained.
  from tfgnn_gfm.twotower import train
  monkeypatch.setattr(train, "train_two_tower", None)
  one = dataclasses.replace(config, popularity_weights=(1.5,))
  weight, info = choose_popularity_weight(
      inner_split(frame, users(), item_table(), split, one), one,
      use_hgnn=True, seed=0, verbose=0)
  assert weight == info["chosen"] == 1.5 and "epochs_not_chosen" in info
