"""Tests of full-graph link-prediction training (PretrainConfig.mode)."""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf

from tests.hgnn.planted import planted_graph
from tests.synthetic import write_synthetic_graph
from tfgnn_gfm.artifacts import EmbeddingsDir, HGNNDir
from tfgnn_gfm.cli import main
from tfgnn_gfm.hgnn import PretrainConfig
from tfgnn_gfm.hgnn.embedding import embed_full_graph, whole_graph_tensor
from tfgnn_gfm.hgnn.full_graph import (
  FullGraphBatcher,
  FullGraphEncoder,
  FullGraphLinkModel,
  estimated_message_bytes,
  resolve_mode,
)
from tfgnn_gfm.hgnn.graph_data import EdgeSetData, ItemGraph
from tfgnn_gfm.hgnn.link_data import LinkBatchSpec
from tfgnn_gfm.hgnn.model import build_encoder
from tfgnn_gfm.hgnn.trainer import train_link_prediction

# The encoder alone: structure vectors (tests/hgnn/test_structure.py) off.
CONFIG = PretrainConfig(embedding_dim=16, hidden_dim=16, batch_size=32,
                        epochs=30, patience=30, fanouts=(6, 3),
                        mode="full_graph", positives_per_step=64,
                        structure_dim=0, positives_budget=0)


def _encoder(graph, config=CONFIG):
  spec = whole_graph_tensor(graph).spec.relax(
      num_components=True, num_nodes=True, num_edges=True)
  return build_encoder(spec, config)


def _tiny_graph():
  """Podcasts 0-1-2-0 (a triangle), 2-3, and the isolated pair 4-5."""
  rng = np.random.default_rng(3)
  pairs = np.array([[0, 1], [1, 2], [0, 2], [2, 3], [4, 5]])
  src = np.concatenate([pairs[:, 0], pairs[:, 1]])
  tgt = np.concatenate([pairs[:, 1], pairs[:, 0]])
  degree = np.bincount(src, minlength=6)
  features = {"podcast": {
      "text_embedding": rng.normal(size=(6, 8)).astype(np.float32),
      "log_degree": np.log1p(degree)[:, None].astype(np.float32)}}
  ids = {"podcast": np.array([f"p{i}" for i in range(6)], dtype=object)}
  return ItemGraph(ids, features, {
      "podcast_to_podcast": EdgeSetData("podcast", "podcast", src, tgt)})


def test_full_graph_pass_equals_the_encoder_on_the_whole_graph():
  graph, _ = planted_graph()
  encoder = _encoder(graph)
  full = FullGraphEncoder(encoder, graph)()
  expected = encoder(whole_graph_tensor(graph))
  for name in graph.node_sets:
    np.testing.assert_allclose(full[name].numpy(), expected[name].numpy(),
                               atol=1e-5)


def test_a_positive_edge_never_reaches_its_own_embedding():
  graph = _tiny_graph()
  encoder = _encoder(graph, dataclasses.replace(CONFIG, embedding_dim=8,
                                                hidden_dim=8))
  batcher = FullGraphBatcher(graph, graph, LinkBatchSpec(4, 1), 1)
  plan = [("podcast", "podcast", np.array([4, 0]), np.array([5, 1]))]
  (step,) = list(batcher.steps_of(plan, np.random.default_rng(0)))
  # Both directions of both positives are listed, and nothing else.
  es = graph.edge_sets["podcast_to_podcast"]
  dropped = {(es.source[i], es.target[i])
             for i in step["drop"]["podcast_to_podcast"]}
  assert dropped == {(4, 5), (5, 4), (0, 1), (1, 0)}
  model = FullGraphLinkModel(encoder=encoder, train_graph=graph)
  during_step = model(step).numpy()
  without = graph.without_pairs({("podcast", "podcast"): {(4, 5), (0, 1)}})
  expected = encoder(whole_graph_tensor(without))["podcast"].numpy()
  np.testing.assert_allclose(during_step, expected, atol=1e-6)
  # The pair 4-5 has no other edge: with its edge, 4's embedding differs.
  with_edge = encoder(whole_graph_tensor(graph))["podcast"].numpy()
  assert np.abs(with_edge[4] - expected[4]).max() > 1e-3
  # The step's rows point at the positives' ends.
  assert list(step["positions"][0, :2]) == [4, 0]
  assert list(step["positions"][0, 4:6]) == [5, 1]


def test_full_graph_training_reduces_loss_and_beats_text():
  from tfgnn_gfm.hgnn.evaluation import link_prediction_report
  graph, _ = planted_graph()
  result = train_link_prediction(graph, CONFIG, verbose=0)
  assert result.mode == "full_graph"
  history = result.history
  assert history["loss"][-1] < 0.85 * history["loss"][0]
  assert min(history["val_loss"]) < 0.8 * history["val_loss"][0]
  assert result.positives_seen > 0
  emb = embed_full_graph(result.encoder, result.split.train_graph)
  report = link_prediction_report(emb, result.split, graph)
  for name, entry in report.items():
    assert entry["hgnn_hr@10"] > entry["text_hr@10"], (name, entry)


def test_auto_mode_follows_the_documented_memory_rule():
  graph, _ = planted_graph()
  edges = sum(len(es) for es in graph.edge_sets.values())
  config = dataclasses.replace(CONFIG, mode="auto", hidden_dim=16,
                               num_layers=2)
  need = edges * 16 * 2 * 4 * 4
  assert estimated_message_bytes(graph, config) == need
  mib = need / 2**20
  fits = dataclasses.replace(config, memory_budget_mb=int(np.ceil(mib)))
  too_small = dataclasses.replace(config, memory_budget_mb=int(mib) - 1
                                  if mib >= 1 else 0)
  assert resolve_mode(graph, fits) == "full_graph"
  assert resolve_mode(graph, too_small) == "sampled"
  assert resolve_mode(graph, dataclasses.replace(fits, sampler="beam")) == (
      "sampled")
  assert resolve_mode(graph, dataclasses.replace(
      fits, distribute="mirrored")) == "sampled"
  assert resolve_mode(graph, dataclasses.replace(
      too_small, mode="full_graph")) == "full_graph"
  # The default budget takes the 100k-rating-sized graphs full-graph.
  assert PretrainConfig().memory_budget_mb * 2**20 >= 275_000 * 128 * 2 * 16


def test_full_graph_conflicts_are_clear_errors():
  graph, _ = planted_graph()
  with pytest.raises(ValueError, match="drop --sampler beam"):
    train_link_prediction(graph, dataclasses.replace(CONFIG, sampler="beam"),
                          verbose=0)
  with pytest.raises(ValueError, match="positives_per_step"):
    train_link_prediction(graph, dataclasses.replace(
        CONFIG, positives_per_step=16), verbose=0)


def test_cli_full_graph_writes_the_same_artifacts(tmp_path):
  write_synthetic_graph(tmp_path, num_users=120, num_podcasts=20,
                        num_audiobooks=14, cold_item_fraction=0.1, seed=2)
  assert main(["pretrain", str(tmp_path / "graph"), "--out",
               str(tmp_path / "hgnn"), "--full-graph", "--epochs", "3",
               "--batch-size", "16", "--positives-per-step", "64",
               "--embedding-dim", "16", "--hidden-dim", "16"]) == 0
  layout = HGNNDir(tmp_path / "hgnn")
  manifest = layout.read_manifest()
  assert manifest["config"]["mode"] == "full_graph"
  assert manifest["metrics"]["mode"] == "full_graph"
  assert manifest["metrics"]["epochs_run"] == 3
  report = json.loads(layout.metrics_path.read_text())
  assert set(report) == set(manifest["counts"]["edges"])
  for entry in report.values():
    assert {"hgnn_hr@10", "knn_hr@10", "text_hr@10"} <= set(entry)
    assert entry["hgnn_vs_knn_hr@10"]["verdict"] in ("target", "win", "tie",
                                                     "loss")
  assert isinstance(manifest["metrics"]["hgnn_meets_knn_target"], bool)
  for path in (layout.keras_model, layout.export_dir, layout.schema_path,
               layout.plot_path, layout.log_dir, layout.history_path):
    assert path.exists(), path
  assert any(layout.checkpoint_dir.iterdir())
  # gfm embed reads the full-graph encoder like a sampled one.
  assert main(["embed", str(tmp_path / "graph"), "--model",
               str(tmp_path / "hgnn"), "--out", str(tmp_path / "emb")]) == 0
  vectors = np.load(EmbeddingsDir(tmp_path / "emb").vectors_path)
  weight = manifest["config"]["structure_weight"]
  assert vectors.shape[1] == 16 + manifest["config"]["structure_dim"]
  np.testing.assert_allclose(np.linalg.norm(vectors[:, :16], axis=1),
                             np.sqrt(1 - weight), rtol=1e-4)


def test_full_graph_gradients_equal_the_encoders():
  graph, _ = planted_graph()
  encoder = _encoder(graph)
  forward = FullGraphEncoder(encoder, graph)
  rng = np.random.default_rng(1)
  weights = {n: tf.constant(rng.normal(size=(graph.num_nodes(n), 16)),
                            tf.float32) for n in graph.node_sets}

  def gradients(embed):
    with tf.GradientTape() as tape:
      out = embed()
      loss = sum(tf.reduce_sum(out[n] * weights[n]) for n in out)
    return tape.gradient(loss, encoder.trainable_variables)

  ours = gradients(forward)
  tfgnn_path = gradients(lambda: encoder(whole_graph_tensor(graph)))
  assert len(ours) == len(tfgnn_path) > 0
  for a, b in zip(ours, tfgnn_path):
    np.testing.assert_allclose(tf.convert_to_tensor(a).numpy(),
                               tf.convert_to_tensor(b).numpy(), atol=1e-4)


def test_small_graphs_get_min_steps_per_epoch():
  from tfgnn_gfm.hgnn.graph_data import split_links
  from tfgnn_gfm.hgnn.link_data import LinkBatcher, epoch_plan
  graph, _ = planted_graph()
  config = dataclasses.replace(CONFIG, positives_per_step=8192,
                               min_steps_per_epoch=4, epochs=1)
  split = split_links(graph, config.validation_fraction, config.seed)
  groups = len(LinkBatcher(graph, FullGraphBatcher(
      graph, graph, LinkBatchSpec(32, 1), 1), LinkBatchSpec(32, 1))
               .batch_chunks(epoch_plan(split.train_pairs, True,
                                        np.random.default_rng(0))))
  result = train_link_prediction(graph, config, verbose=0)
  assert groups >= 8
  assert result.positives_per_step == 32 * (groups // 4)
