"""``gfm embed`` as a Beam job on the portable path, against the in-process one.

One module fixture pretrains a small encoder on a synthetic graph (with
items published after the cut and episodes, so every embedding source is
exercised), runs the in-process ``gfm embed --full-graph`` and the same
command with Beam options for the module's ``portable_runner`` (a job
service and an SDK worker pool on loopback, ``tests/portable.py``): the
workers load the graph, the HGNN inference export and the text encoder from
their paths. Both outputs must be the same directory: same files, index and
manifest, vectors within 1e-5.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tests.synthetic import write_synthetic_graph
from tfgnn_gfm.artifacts import EmbeddingsDir, HGNNDir
from tfgnn_gfm.cli import main
from tfgnn_gfm.hgnn.embedding import embed_full_graph
from tfgnn_gfm.hgnn.export import load_encoder
from tfgnn_gfm.hgnn.graph_data import load_item_graph
from tfgnn_gfm.hgnn.receptive_field import ReceptiveFields

ATOL = 1e-5


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  root = tmp_path_factory.mktemp("beam_embed")
  write_synthetic_graph(root, num_users=150, num_podcasts=24,
                        num_audiobooks=16, cold_item_fraction=0.15, seed=4)
  assert main(["pretrain", str(root / "graph"), "--out", str(root / "hgnn"),
               "--epochs", "1", "--batch-size", "32", "--embedding-dim", "8",
               "--hidden-dim", "8", "--fanouts", "3,2"]) == 0
  return root


@pytest.fixture(scope="module")
def outputs(trained, portable_runner):
  root = trained
  common = [str(root / "graph"), "--model", str(root / "hgnn"),
            "--full-graph", "--batch-size", "7", "--text-batch-size", "5"]
  assert main(["embed", *common, "--out", str(root / "local")]) == 0
  assert main(["embed", *common, "--out", str(root / "portable"),
               *portable_runner.beam_args]) == 0
  return root, EmbeddingsDir(root / "local"), EmbeddingsDir(root / "portable")


def test_receptive_fields_give_the_full_graph_embeddings(trained):
  # The math the Beam job relies on, in process: every root embedded by the
  # inference export on its own receptive field equals the whole-graph pass.
  graph = load_item_graph(trained / "graph")
  layout = HGNNDir(trained / "hgnn")
  full = embed_full_graph(load_encoder(layout.keras_model), graph)
  serve = tf.saved_model.load(str(layout.export_dir)).signatures[
      "serving_default"]
  fields = ReceptiveFields(graph, num_layers=2)
  for name in graph.node_sets:
    roots = np.arange(graph.num_nodes(name))
    examples, positions = fields.examples(name, roots)
    out = serve(examples=tf.constant(examples))
    np.testing.assert_array_equal(
        out[f"{name}_ids"].numpy()[positions].astype(str),
        np.asarray(graph.node_ids[name]).astype(str))
    np.testing.assert_allclose(out[f"{name}_embeddings"].numpy()[positions],
                               full[name], atol=ATOL)
  # A receptive field is smaller than the graph (else nothing is gained).
  sizes = [sum(len(v) for v in fields.nodes(n, 0).values())
           for n in graph.node_sets]
  assert min(sizes) < sum(graph.num_nodes(n) for n in graph.node_sets)


@pytest.mark.timeout(900)
def test_portable_embed_equals_the_in_process_embed(outputs):
  _, local, portable = outputs
  assert sorted(p.name for p in local.root.iterdir()) == sorted(
      p.name for p in portable.root.iterdir())
  pd.testing.assert_frame_equal(
      pd.read_csv(portable.index_path, keep_default_na=False),
      pd.read_csv(local.index_path, keep_default_na=False))
  want, got = np.load(local.vectors_path), np.load(portable.vectors_path)
  assert got.dtype == want.dtype == np.float32 and got.shape == want.shape
  np.testing.assert_allclose(got, want, atol=ATOL)
  np.testing.assert_allclose(np.load(portable.text_vectors_path),
                             np.load(local.text_vectors_path), atol=ATOL)
  index = pd.read_csv(local.index_path, keep_default_na=False)
  assert set(index["source"]) == {"graph", "inductive", "parent"}
  m_local, m_portable = local.read_manifest(), portable.read_manifest()
  for key in ("stage", "config", "counts", "embedding_dim", "text_dim",
              "cut"):
    assert m_portable[key] == m_local[key], key
  assert set(m_portable) - set(m_local) == {"beam"}
  assert set(m_portable["metrics"]) == set(m_local["metrics"])


@pytest.mark.timeout(900)
def test_portable_embed_ran_in_worker_processes(outputs, portable_runner):
  root, _, portable = outputs
  beam = portable.read_manifest()["beam"]
  assert beam["runner"] == "PortableRunner"
  assert beam["args"] == portable_runner.beam_args
  graph = load_item_graph(root / "graph")
  nodes = sum(graph.num_nodes(n) for n in graph.node_sets)
  assert beam["node_batches"] == sum(-(-graph.num_nodes(n) // 7)
                                     for n in graph.node_sets)
  processes = beam["worker_processes"]
  index = pd.read_csv(portable.index_path, keep_default_na=False)
  outside = int((index["source"] != "graph").sum())
  assert sum(processes.values()) >= nodes + outside
  pids = {int(key.rsplit("/", 1)[1]) for key in processes}
  assert pids.isdisjoint({os.getpid(), portable_runner.job_service_pid,
                          portable_runner.worker_pool_pid})
  # The workers' parts were removed; only the two outputs remain.
  leftovers = [p.name for p in root.iterdir() if p.name.startswith(".gfm")]
  assert leftovers == []


def test_beam_embed_needs_whole_neighbourhoods_and_checks_options(
    trained, capsys):
  base = [str(trained / "graph"), "--model", str(trained / "hgnn"), "--out",
          str(trained / "refused")]
  assert main(["embed", *base, "--direct_num_workers=1"]) == 2
  assert "add --full-graph" in capsys.readouterr().err
  assert main(["embed", *base, "--full-graph", "--direct_num_wrokers=1"]) == 2
  assert "--direct_num_wrokers=1" in capsys.readouterr().err
  assert not (trained / "refused").exists()
