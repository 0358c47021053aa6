"""The real MiniLM encoder inside the pipeline; CLI and option errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from tests.beam import outputs
from tests.graph import tiny
from tfgnn_gfm.config import ConfigError
from tfgnn_gfm.graph.config import GraphBuildConfig


def test_builtin_minilm_embeds_node_text(builtin_encoder_cache, tiny_dataset,
                                         tmp_path):
  from beam.build_graph import build_graph
  from tfgnn_gfm.text import compose_item_texts, encode_texts, load_text_encoder
  out = tmp_path / "graph"
  summary = build_graph(tiny_dataset, out, GraphBuildConfig(
      cut=tiny.CUT, num_shards=2, text_batch_size=2))
  assert summary["embedding_dims"] == {"384": 5}
  nodes, _ = outputs.full_graph_frames(out)
  items = pd.read_csv(tiny_dataset / "items.csv", keep_default_na=False)
  items = items.set_index("item_id").loc[nodes["item_id"]].reset_index()
  expected = encode_texts(load_text_encoder(), compose_item_texts(items),
                          batch_size=8)
  got = np.stack(nodes["embedding"])
  assert got.shape == (5, 384)
  np.testing.assert_allclose(got, expected, atol=2e-5)
  np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
  # Related texts are closer than unrelated ones (a sanity check of meaning).
  by_id = dict(zip(nodes["item_id"], got))
  assert by_id["a1"] @ by_id["p1"] > by_id["a1"] @ by_id["p2"]


@pytest.mark.parametrize("args,message", [
    (["--window-days", "0"], "train_days must be a positive integer"),
    (["--train-days", "0"], "train_days must be a positive integer"),
    (["--max-items-per-user", "many"], "cannot read 'many'"),
    (["--cut", "someday"], "cut 'someday' is not a date"),
    (["--direct_running_mode=fast"], "bad Beam pipeline option"),
    (["--windows-days", "5"], "unknown option(s) --windows-days"),
    (["--runner=DirectRunner", "--no_such_beam_flag=1"],
     "unknown option(s) --no_such_beam_flag=1"),
])
def test_bad_options_are_clear_errors(tiny_dataset, tmp_path, capsys, args,
                                      message):
  from tfgnn_gfm.cli.gfm import main
  out = tmp_path / "graph"
  code = main(["build-graph", str(tiny_dataset), "--out", str(out)] + args)
  assert code == 2
  err = capsys.readouterr().err
  assert message in err, err
  assert not out.exists()


def test_missing_inputs_are_clear_errors(tmp_path, capsys):
  from tfgnn_gfm.cli.gfm import main
  assert main(["build-graph", "--out", str(tmp_path / "g")]) == 2
  assert "give DATA" in capsys.readouterr().err
  assert main(["build-graph", str(tmp_path), "--out", str(tmp_path / "g")]) == 2
  assert "no items table" in capsys.readouterr().err
  assert main(["build-graph", "--items", str(tmp_path / "nope*.csv"),
               "--interactions", str(tmp_path / "x.csv"), "--out",
               str(tmp_path / "g")]) == 2
  assert "no input file matches" in capsys.readouterr().err


def test_pipeline_options_are_checked():
  from tfgnn_gfm.pipelines import options as options_lib
  opts = options_lib.pipeline_options(
      ["--direct_num_workers=2", "--direct_running_mode=multi_processing",
       "--temp_location=/tmp/x", "--setup_file=./setup.py"])
  assert options_lib.runner_name(opts) == "DirectRunner"
  assert options_lib.create_runner(opts) is not None
  dataflow = options_lib.pipeline_options(
      ["--runner=DataflowRunner", "--project=p", "--region=europe-west1"])
  assert options_lib.runner_name(dataflow) == "DataflowRunner"
  assert options_lib.create_runner(dataflow) is None
  with pytest.raises(ConfigError, match="unknown option"):
    options_lib.pipeline_options(["--frobnicate"])


def test_python_m_entry_point_help():
  result = subprocess.run(
      [sys.executable, "-m", "beam.build_graph", "--help"], check=True,
      capture_output=True, text=True)
  assert "Beam pipeline option" in result.stdout
  assert "--max-edges-per-node" in result.stdout
  assert "--direct_running_mode=multi_processing" in result.stdout
