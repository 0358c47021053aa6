"""Tests of the ``gfm`` command line: help, subcommands and exit codes."""

import json
import subprocess
import sys

import pytest

from tfgnn_gfm.artifacts import DatasetDir, RunLayout
from tfgnn_gfm.cli import build_parser, main


def test_help_lists_every_stage(capsys):
  with pytest.raises(SystemExit) as e:
    main(["--help"])
  assert e.value.code == 0
  out = capsys.readouterr().out
  for command in ("synth", "import", "validate", "demo"):
    assert command in out


@pytest.mark.parametrize("command", [["synth"], ["import", "movielens"],
                                     ["validate"], ["demo"]])
def test_each_subcommand_has_help(command, capsys):
  with pytest.raises(SystemExit) as e:
    main(command + ["--help"])
  assert e.value.code == 0
  assert "usage: gfm" in capsys.readouterr().out


def test_a_missing_command_module_fails_loudly(monkeypatch):
  """A renamed or missing command module is an error, not a vanished command."""
  import importlib
  main_module = importlib.import_module("tfgnn_gfm.cli.gfm")
  monkeypatch.setattr(main_module, "COMMAND_MODULES",
                      (*main_module.COMMAND_MODULES, "tfgnn_gfm.cli.gone_cmd"))
  with pytest.raises(ModuleNotFoundError, match="gone_cmd"):
    main_module.build_parser()


def test_synth_then_validate(tmp_path, capsys):
  out = tmp_path / "data"
  assert main(["synth", "--out", str(out), "--seed", "3", "--num-users", "50",
               "--num-podcasts", "10", "--num-audiobooks", "10",
               "--format", "jsonl", "--compress"]) == 0
  layout = DatasetDir(out)
  assert layout.table_path("items").name == "items.jsonl.gz"
  manifest = layout.read_manifest()
  assert manifest["config"]["seed"] == 3 and manifest["counts"]["users"] == 50
  assert main(["validate", str(out), "--out", str(tmp_path / "v")]) == 0
  summary = json.loads((tmp_path / "v" / "summary.json").read_text())
  assert summary["bad_rows"] == 0


def test_config_file_is_used_and_flags_win(tmp_path):
  cfg = tmp_path / "synth.yaml"
  cfg.write_text("num_users: 40\nnum_podcasts: 5\nnum_audiobooks: 5\nseed: 9\n")
  assert main(["synth", "--out", str(tmp_path / "d"), "--config", str(cfg),
               "--seed", "4"]) == 0
  manifest = DatasetDir(tmp_path / "d").read_manifest()
  assert manifest["config"]["num_users"] == 40
  assert manifest["config"]["seed"] == 4


def test_user_errors_exit_2_with_one_line(tmp_path, capsys):
  assert main(["synth", "--out", str(tmp_path / "d"), "--num-topics", "0"]) == 2
  assert "num_topics" in capsys.readouterr().err
  assert main(["validate", str(tmp_path / "nothing"), "--out",
               str(tmp_path / "v")]) == 2
  assert "no items table" in capsys.readouterr().err


def test_validate_exit_3_when_mostly_bad(tmp_path):
  (tmp_path / "items.csv").write_text("item_id,item_type,title\na,podcast,A\n")
  (tmp_path / "interactions.csv").write_text(
      "user_id,item_id,timestamp\nu,zz,1\nu,a,2\nu,zz,3\n")
  assert main(["validate", str(tmp_path), "--out", str(tmp_path / "v")]) == 3


def test_demo_runs_every_stage_on_a_tiny_config(tmp_path):
  """The demo's stages on tiny sizes (the full-size run is `make demo`)."""
  from tfgnn_gfm.graph.hashing_encoder import build_hashing_encoder
  encoder = build_hashing_encoder(tmp_path / "encoder")
  config = tmp_path / "demo.yaml"
  config.write_text(
      "synth: {num_users: 120, num_podcasts: 16, num_audiobooks: 12}\n"
      f"graph: {{text_encoder: '{encoder}', num_shards: 2}}\n"
      "pretrain: {epochs: 1, batch_size: 32, embedding_dim: 8, hidden_dim: 8,"
      " fanouts: [2, 2]}\n"
      "two_tower: {epochs: 1, tower_units: [16, 8]}\n"
      "evaluate: {seeds: 1, models: [popularity, 2t_hgnn]}\n"
      "export: {recall_queries: 50}\n")
  assert main(["demo", "--out", str(tmp_path / "run"), "--config",
               str(config)]) == 0
  layout = RunLayout(tmp_path / "run")
  assert layout.data.read_manifest()["config"]["num_users"] == 120
  assert layout.validation.read_manifest()["counts"]["bad_rows"] == 0
  assert layout.graph.read_manifest()["stage"] == "build_graph"
  assert layout.hgnn.read_manifest()["config"]["epochs"] == 1
  assert layout.embeddings.read_manifest()["counts"]["items"] > 0
  assert layout.two_tower.read_manifest()["stage"] == "train_2t"
  assert layout.evaluation.read_manifest()["stage"] == "evaluate"
  assert layout.exports.read_manifest()["version"] == 1
  report = layout.report.report_path.read_text()
  for section in ("## Stages", "## Export", "## Serving",
                  "recommend (warm user)", "curl -s -X POST"):
    assert section in report
  tour = json.loads(layout.report.serving_path.read_text())
  assert [c["signature"] for c in tour["calls"]] == [
      "serving_default", "serving_default", "similar_items", "search"]
  assert all(len(c["answer"]["item_ids"]) == 10 for c in tour["calls"])
  assert (layout.report.root / layout.evaluation.hr_plot_path.name).exists()
  assert layout.report.stages_plot_path.stat().st_size > 1000
  assert f"]({layout.report.stages_plot_path.name})" in report


def test_console_script_runs():
  result = subprocess.run([sys.executable, "-m", "tfgnn_gfm.cli",
                           "--version"], capture_output=True, text=True,
                          check=True)
  assert result.stdout.startswith("tfgnn-gfm ")


def test_parser_builds_without_importing_tensorflow():
  code = ("import sys, tfgnn_gfm.cli as c; c.build_parser(); "
          "print('tensorflow' in sys.modules)")
  result = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, check=True)
  assert result.stdout.strip() == "False"
  assert build_parser().prog == "gfm"


def test_validate_help_names_every_dead_letter_reason(capsys):
  from tfgnn_gfm.data.reader import DEAD_LETTER_REASONS
  with pytest.raises(SystemExit):
    main(["validate", "--help"])
  text = " ".join(capsys.readouterr().out.split())
  for reason in DEAD_LETTER_REASONS:
    assert reason in text
