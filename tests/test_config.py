"""Tests of stage configuration: defaults < file < flags."""

import argparse
import dataclasses
import json
from typing import ClassVar

import pytest

from tfgnn_gfm.config import (
  ConfigError,
  add_config_arguments,
  config_from_args,
  config_to_dict,
  load_config,
)


@dataclasses.dataclass
class _Cfg:
  section: ClassVar[str] = "stage"
  size: int = dataclasses.field(default=3, metadata={"help": "how big"})
  rate: float = 0.5
  name: str = "x"
  fast: bool = False
  fanouts: tuple[int, ...] = (10, 5)
  cut: str | None = None


def _parse(argv):
  parser = argparse.ArgumentParser()
  add_config_arguments(parser, _Cfg)
  return parser.parse_args(argv)


def test_defaults_file_and_flags_precedence(tmp_path):
  path = tmp_path / "c.yaml"
  path.write_text("size: 7\nrate: 0.25\nfanouts: [4, 2]\n")
  cfg = config_from_args(_Cfg, _parse(["--config", str(path), "--rate", "0.1",
                                       "--fast"]))
  assert cfg == _Cfg(size=7, rate=0.1, fast=True, fanouts=(4, 2))


def test_json_file_with_a_section_per_stage(tmp_path):
  path = tmp_path / "c.json"
  path.write_text(json.dumps({"stage": {"name": "y", "cut": "2024-01-01"},
                              "other": {"size": 1}}))
  assert load_config(_Cfg, path) == _Cfg(name="y", cut="2024-01-01")


def test_flags_parse_types():
  cfg = config_from_args(_Cfg, _parse(["--size", "9", "--fanouts", "3,2,1",
                                       "--no-fast"]))
  assert cfg.size == 9 and cfg.fanouts == (3, 2, 1) and cfg.fast is False


def test_unknown_key_and_bad_value_are_clear_errors(tmp_path):
  path = tmp_path / "c.yaml"
  path.write_text("sise: 7\n")
  with pytest.raises(ConfigError, match="unknown config key 'sise'.*size"):
    load_config(_Cfg, path)
  with pytest.raises(ConfigError, match="'size': cannot read 'big'"):
    config_from_args(_Cfg, _parse(["--size", "big"]))
  with pytest.raises(ConfigError, match="cannot read config file"):
    load_config(_Cfg, tmp_path / "missing.yaml")


def test_help_shows_defaults():
  parser = argparse.ArgumentParser()
  add_config_arguments(parser, _Cfg)
  text = parser.format_help()
  assert "how big (default: 3)" in text
  assert "(default: 10,5)" in text


def test_config_to_dict_is_json_ready():
  assert json.loads(json.dumps(config_to_dict(_Cfg()))) == {
      "size": 3, "rate": 0.5, "name": "x", "fast": False, "fanouts": [10, 5],
      "cut": None}


def test_a_file_of_sections_without_this_stage_gives_defaults(tmp_path):
  path = tmp_path / "run.yaml"
  path.write_text("other: {size: 1}\nmore: {x: 2}\n")
  assert load_config(_Cfg, path) == _Cfg()


def test_preset_file_and_flags_precedence(tmp_path):
  """defaults < preset < file < flags; a file value equal to the default
  still wins over the preset (gfm demo's `pretrain: {epochs: 30}` case)."""
  path = tmp_path / "c.yaml"
  path.write_text("stage: {size: 3, name: y}\n")  # size 3 is the default.
  preset = {"size": 6, "rate": 0.75, "name": "p"}
  cfg = load_config(_Cfg, path, {"name": "flag"}, preset=preset)
  assert cfg == _Cfg(size=3, rate=0.75, name="flag")
  assert load_config(_Cfg, None, preset=preset) == _Cfg(size=6, rate=0.75,
                                                        name="p")


def test_demo_stage_config_keeps_file_values_equal_to_defaults(tmp_path):
  from tfgnn_gfm.cli import demo_cmd
  from tfgnn_gfm.hgnn.config import PretrainConfig
  default_epochs = PretrainConfig().epochs
  assert demo_cmd.DEMO_PRESETS["pretrain"]["epochs"] != default_epochs
  path = tmp_path / "demo.yaml"
  path.write_text(f"pretrain: {{epochs: {default_epochs}}}\n")
  cfg = demo_cmd._stage_config(
      PretrainConfig, path, demo_cmd.DEMO_PRESETS["pretrain"])
  assert cfg.epochs == default_epochs
  assert cfg.patience == demo_cmd.DEMO_PRESETS["pretrain"]["patience"]
  assert demo_cmd._stage_config(
      PretrainConfig, None, demo_cmd.DEMO_PRESETS["pretrain"]).epochs == (
          demo_cmd.DEMO_PRESETS["pretrain"]["epochs"])
