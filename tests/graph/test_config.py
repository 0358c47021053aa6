"""Graph config and the time split: cut parsing, the default cut, validation."""

import pytest

from tfgnn_gfm import timesplit
from tfgnn_gfm.config import ConfigError
from tfgnn_gfm.graph import config as config_lib

MIDNIGHT = 1_711_843_200  # 2024-03-31T00:00:00Z


@pytest.mark.parametrize("value", [
    "2024-03-31", "2024-03-31T00:00:00Z", "2024-03-31T02:00:00+02:00",
    "2024-03-31T00:00:00", str(MIDNIGHT), MIDNIGHT])
def test_parse_cut(value):
  assert timesplit.parse_cut(value) == MIDNIGHT


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01", True])
def test_parse_cut_rejects(value):
  with pytest.raises(ConfigError, match="cut"):
    timesplit.parse_cut(value)


def test_default_cut_is_midnight_after_last_day_minus_holdout():
  last = MIDNIGHT + 14 * 86_400 - 1  # the last second of the hold-out
  assert timesplit.default_cut(last, 14) == MIDNIGHT
  assert timesplit.default_cut(MIDNIGHT + 13 * 86_400, 14) == MIDNIGHT


@pytest.mark.parametrize("changes,message", [
    ({"train_days": 0}, "train_days"),
    ({"min_co_users": 0}, "min_co_users"),
    ({"max_items_per_user": -1}, "max_items_per_user"),
    ({"max_items_per_user": 1}, "no pairs"),
    ({"num_shards": 0}, "num_shards"),
    ({"events": ("stream", " ")}, "events"),
    ({"cut": "soon"}, "cut"),
])
def test_validate_rejects(changes, message):
  config = config_lib.GraphBuildConfig(**changes)
  with pytest.raises(ConfigError, match=message):
    config.validate()


def test_defaults_follow_the_design():
  config = config_lib.GraphBuildConfig()
  config.validate()
  assert (config.train_days, config.min_co_users, config.max_items_per_user,
          config.max_edges_per_node, config.events) == (90, 1, 200, 100, ())
