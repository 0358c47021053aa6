"""Every command line reports user errors the same way: one line, exit 2."""

import pytest

from tfgnn_gfm.cli import main
from tfgnn_gfm.cli.errors import run_reporting_errors
from tfgnn_gfm.config import ConfigError


def test_user_errors_are_one_line_and_an_exit_code(capsys):
  def fail(error):
    def command():
      raise error
    return command

  assert run_reporting_errors("gfm x", fail(FileNotFoundError("no such"))) == 2
  assert capsys.readouterr().err == "gfm x: error: no such\n"
  empty = ConfigError("no rows")
  empty.exit_code = 3
  assert run_reporting_errors("gfm x", fail(empty)) == 3
  assert run_reporting_errors("gfm x", lambda: None) == 0
  assert run_reporting_errors("gfm x", lambda: 5) == 5
  with pytest.raises(FileNotFoundError):
    run_reporting_errors("gfm x", fail(FileNotFoundError("no")), verbose=True)
  # Anything else is a bug: its traceback stays.
  with pytest.raises(KeyError):
    run_reporting_errors("gfm x", fail(KeyError("bug")))


def test_gfm_and_beam_build_graph_report_a_missing_input_alike(tmp_path,
                                                               capsys):
  from beam.build_graph import main as beam_main
  missing = str(tmp_path / "no-such-dataset")
  assert main(["build-graph", missing, "--out", str(tmp_path / "g1")]) == 2
  gfm_err = capsys.readouterr().err.strip().splitlines()
  assert beam_main([missing, "--out", str(tmp_path / "g2")]) == 2
  beam_err = capsys.readouterr().err.strip().splitlines()
  assert gfm_err[-1].startswith("gfm build-graph: error: ")
  assert beam_err[-1].startswith("build-graph: error: ")
  assert (gfm_err[-1].split(": error: ", 1)[1] ==
          beam_err[-1].split(": error: ", 1)[1])
  assert not (tmp_path / "g1").exists() and not (tmp_path / "g2").exists()
