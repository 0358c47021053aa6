"""The time split (tfgnn_gfm/timesplit.py) and the one name of its window."""

import argparse
import json

import pytest

from tfgnn_gfm import timesplit
from tfgnn_gfm.config import (
  ConfigError,
  add_config_arguments,
  config_from_args,
  load_config,
)
from tfgnn_gfm.graph.config import GraphBuildConfig

DAY = timesplit.SECONDS_PER_DAY
MIDNIGHT = 1_711_843_200  # 2024-03-31T00:00:00Z


def test_constants():
  assert DAY == 86_400
  assert timesplit.NO_TIME < -2**62  # before every cut


def test_windows_by_hand():
  assert timesplit.window_start(100 * DAY, 90) == 10 * DAY
  assert timesplit.window_end(100 * DAY, 14) == 114 * DAY
  split = timesplit.TimeSplit(MIDNIGHT, train_days=90, holdout_days=14)
  assert split.train_start == MIDNIGHT - 90 * DAY
  assert split.holdout_end == MIDNIGHT + 14 * DAY
  assert split.to_dict() == {
      "cut": MIDNIGHT, "cut_utc": "2024-03-31T00:00:00Z",
      "train_start": MIDNIGHT - 90 * DAY,
      "train_start_utc": "2024-01-01T00:00:00Z", "train_days": 90,
      "holdout_days": 14, "holdout_end": MIDNIGHT + 14 * DAY,
      "holdout_end_utc": "2024-04-14T00:00:00Z"}


def test_format_time():
  assert timesplit.format_time(MIDNIGHT) == "2024-03-31T00:00:00Z"
  assert timesplit.format_time(None) is None


def _graph_args(argv):
  parser = argparse.ArgumentParser()
  add_config_arguments(parser, GraphBuildConfig)
  return config_from_args(GraphBuildConfig, parser.parse_args(argv))


def test_train_days_is_the_graph_window_and_window_days_its_alias():
  assert _graph_args([]).train_days == 90
  assert _graph_args(["--train-days", "30"]).train_days == 30
  assert _graph_args(["--window-days", "30"]).train_days == 30


@pytest.mark.parametrize("name", ["c.yaml", "c.json"])
def test_window_days_alias_in_config_files(tmp_path, name):
  path = tmp_path / name
  data = {"graph": {"window_days": 45}}
  path.write_text(json.dumps(data) if name.endswith(".json")
                  else "graph:\n  window-days: 45\n")
  assert load_config(GraphBuildConfig, path).train_days == 45
  path.write_text(json.dumps({"train_days": 46}) if name.endswith(".json")
                  else "train_days: 46\n")
  assert load_config(GraphBuildConfig, path).train_days == 46


def test_name_and_alias_together_is_an_error(tmp_path):
  path = tmp_path / "c.yaml"
  path.write_text("train_days: 30\nwindow_days: 40\n")
  with pytest.raises(ConfigError, match="both set 'train_days'"):
    load_config(GraphBuildConfig, path)


@pytest.mark.parametrize("value", ["-1.5", -1.5, " -1.5 "])
def test_parse_cut_floors_fractions_as_the_reader_does(value):
  import pandas as pd

  from tfgnn_gfm.data.reader import parse_timestamps
  seconds, bad, _ = parse_timestamps(pd.Series([value], dtype=object))
  assert not bad.iloc[0]
  assert timesplit.parse_cut(value) == int(seconds.iloc[0]) == -2


@pytest.mark.parametrize("value", ["1700000000000", 1_700_000_000_000,
                                   "+10000-01-01", "1799-12-31"])
def test_parse_cut_refuses_what_the_reader_refuses(value):
  with pytest.raises(ConfigError, match="outside the supported time range"):
    timesplit.parse_cut(value)


def test_parsed_cut_always_formats():
  for value in ("2199-12-31T23:59:59Z", "1800-01-01", "0", 1.7e9):
    assert timesplit.format_time(timesplit.parse_cut(value)).endswith("Z")
