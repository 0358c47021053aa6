"""The pretraining budget rule (``--positives-budget``)."""

import dataclasses

import pytest
import tensorflow as tf

from tests.hgnn.planted import planted_graph
from tfgnn_gfm.hgnn.config import PretrainConfig
from tfgnn_gfm.hgnn.trainer import budget_schedule, train_link_prediction


@pytest.mark.parametrize("budget, expected", [
    (0, (30, 10)),          # No budget.
    (10**9, (30, 10)),      # The budget does not bind.
    (3000, (3, 10)),        # 30 steps: 3 whole epochs.
    (3050, (3, 10)),        # 31 steps: whole epochs only.
    (250, (1, 3)),          # Under one epoch: one shortened epoch.
    (1, (1, 1)),            # At least one step.
])
def test_budget_schedule(budget, expected):
  assert budget_schedule(30, 10, 100, budget) == expected


class _CountSteps(tf.keras.callbacks.Callback):

  def __init__(self):
    super().__init__()
    self.steps = 0

  def on_train_batch_end(self, batch, logs=None):
    self.steps += 1


@pytest.mark.parametrize("mode, positives_per_step", [
    ("full_graph", 64), ("sampled", 32)])
def test_training_stops_at_the_positives_budget(mode, positives_per_step):
  graph, _ = planted_graph()
  config = PretrainConfig(embedding_dim=8, hidden_dim=8, batch_size=32,
                          epochs=50, patience=50, fanouts=(3, 2), mode=mode,
                          positives_per_step=64, min_steps_per_epoch=1)
  one_epoch = _CountSteps()
  train_link_prediction(graph, dataclasses.replace(config, epochs=1),
                        verbose=0, callbacks=[one_epoch])
  budgeted = _CountSteps()
  budget = int(one_epoch.steps * 2.5 * positives_per_step)
  result = train_link_prediction(
      graph, dataclasses.replace(config, positives_budget=budget), verbose=0,
      callbacks=[budgeted])
  assert result.epochs_run == 2
  assert budgeted.steps == 2 * one_epoch.steps
