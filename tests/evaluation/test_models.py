"""The model registry: every model kind of gfm evaluate is one spec."""

import pytest

from tfgnn_gfm.evaluation import models, peers
from tfgnn_gfm.twotower import config as cfg


def test_the_registry_holds_every_model_of_the_cli_in_report_order():
  # --models choices come from the config (no TensorFlow at --help time);
  # the registry must hold the same names, in the same order, plus the
  # retrained ablation (added when retrained embeddings are given).
  assert list(models.MODELS) == [*cfg.ALL_MODELS,
                                 cfg.TWO_TOWER_HGNN_RETRAINED]
  assert all(spec.name == name for name, spec in models.MODELS.items())


def test_seeding_is_a_property_of_the_spec():
  seeded = {name for name, spec in models.MODELS.items() if spec.seeded}
  assert seeded == {cfg.ALS, cfg.BPR, cfg.TWO_TOWER_NO_GNN,
                    cfg.TWO_TOWER_TYPE_SPECIFIC, cfg.TWO_TOWER_HGNN,
                    cfg.TWO_TOWER_HGNN_RETRAINED}
  # The peers' specs say it for themselves.
  for name, spec in peers.PEERS.items():
    assert models.MODELS[name].seeded == spec.seeded


def test_the_retrained_model_needs_retrained_vectors():
  split_data = models.SplitData(
      interactions=None, users=None, items=None, split=None,
      config=cfg.EvaluateConfig(), data=None, user_rows=None)
  with pytest.raises(ValueError, match="--retrained-embeddings"):
    models.MODELS[cfg.TWO_TOWER_HGNN_RETRAINED].run(split_data, 0)
