"""End to end on tiny data: synth -> build-graph -> pretrain -> embed."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.synthetic import write_synthetic_graph
from tfgnn_gfm.artifacts import EmbeddingsDir, HGNNDir
from tfgnn_gfm.cli import main


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
  root = tmp_path_factory.mktemp("e2e")
  platform = write_synthetic_graph(
      root, num_users=150, num_podcasts=24, num_audiobooks=16,
      cold_item_fraction=0.15, seed=4)
  assert main(["pretrain", str(root / "graph"), "--out", str(root / "hgnn"),
               "--epochs", "2", "--batch-size", "32", "--embedding-dim", "16",
               "--hidden-dim", "16", "--fanouts", "3,2"]) == 0
  assert main(["embed", str(root / "graph"), "--model", str(root / "hgnn"),
               "--out", str(root / "emb")]) == 0
  return root, platform


def test_pretrain_writes_models_metrics_and_manifest(pipeline):
  root, _ = pipeline
  layout = HGNNDir(root / "hgnn")
  manifest = layout.read_manifest()
  assert manifest["stage"] == "pretrain"
  assert manifest["config"]["fanouts"] == [3, 2]
  assert "graph" in manifest["inputs"]
  report = json.loads(layout.metrics_path.read_text())
  assert set(report) == set(manifest["counts"]["edges"])
  for entry in report.values():
    assert 0.0 <= entry["hgnn_hr@10"] <= 1.0 and entry["queries"] > 0
  assert manifest["metrics"]["positive_edges_per_second"] > 0
  # The structure vectors' local share, chosen on an inner split among the
  # default candidates, each with its HR@10.
  structure = manifest["metrics"]["structure"]
  assert structure["chosen"] in (0.1, 0.25, 0.4, 0.6, 0.8)
  assert set(structure["hr@10"]) == {"0.1", "0.25", "0.4", "0.6", "0.8"}
  # Future edges: pairs first joined in the graph's hold-out window, ranked
  # with the same protocol (the synthetic data has a hold-out window).
  future = manifest["metrics"]["future_edges"]
  assert future and all(r["queries"] > 0 for r in future.values())
  assert set(future) <= set(manifest["counts"]["edges"])
  assert isinstance(
      manifest["metrics"]["hgnn_meets_knn_target_on_future_edges"], bool)
  for path in (layout.keras_model, layout.export_dir, layout.schema_path,
               layout.plot_path, layout.log_dir):
    assert path.exists(), path
  assert any(layout.checkpoint_dir.iterdir())


def test_embed_covers_every_item_by_the_documented_rule(pipeline):
  root, platform = pipeline
  layout = EmbeddingsDir(root / "emb")
  index = pd.read_csv(layout.index_path, keep_default_na=False)
  vectors = np.load(layout.vectors_path)
  text = np.load(layout.text_vectors_path)
  items = platform.items.set_index("item_id")
  assert set(index["item_id"]) == set(items.index)
  assert len(vectors) == len(text) == len(index)
  # The encoder's unit vector weighted by sqrt(1 - w), then the structure.
  config = HGNNDir(root / "hgnn").read_manifest()["config"]
  dim, weight = config["embedding_dim"], config["structure_weight"]
  assert vectors.shape[1] == dim + config["structure_dim"] > dim
  np.testing.assert_allclose(np.linalg.norm(vectors[:, :dim], axis=1),
                             np.sqrt(1 - weight), rtol=1e-4)
  by_id = index.set_index("item_id")
  # Episodes carry their show's vector.
  episodes = index[index["item_type"] == "episode"]
  assert len(episodes) and (episodes["source"] == "parent").all()
  for item_id, row in zip(episodes["item_id"], episodes["row"]):
    show = items.loc[item_id, "parent_id"]
    np.testing.assert_array_equal(vectors[row], vectors[by_id.loc[show, "row"]])
  # Shows and audiobooks published after the cut are embedded from text.
  cut = EmbeddingsDir(root / "emb").read_manifest()["cut"]
  published = (pd.to_datetime(items["published_at"], utc=True) -
               pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
  late = items[(published >= cut) &
               (items["item_type"] != "episode")].index
  assert len(late) > 0
  assert (by_id.loc[late, "source"] == "inductive").all()
  # New items have no structure vector; items of the graph have.
  rows = by_id["row"].to_numpy()
  inductive = (by_id["source"] == "inductive").to_numpy()
  assert not np.any(vectors[rows[inductive], dim:])
  assert np.any(vectors[rows[by_id["source"].to_numpy() == "graph"], dim:])
  assert set(by_id["source"]) == {"graph", "inductive", "parent"}
