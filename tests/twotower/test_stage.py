"""A tiny end-to-end run: synthetic data -> gfm train-2t -> gfm evaluate.

The HGNN stage is replaced by a hand-made EmbeddingsDir (the two-tower stages
only read its files), so the test stays fast.
"""

import json

import numpy as np
import pandas as pd
import pytest

from tests.synthetic import write_synthetic_dataset
from tfgnn_gfm.artifacts import (
  Embeddings,
  EmbeddingsDir,
  EvaluationDir,
  TwoTowerDir,
  atomic_directory,
  write_manifest,
)
from tfgnn_gfm.cli import main
from tfgnn_gfm.data import write_dataset
from tfgnn_gfm.evaluation.holdout import build_holdout
from tfgnn_gfm.timesplit import TimeSplit
from tfgnn_gfm.twotower.items import load_item_table
from tfgnn_gfm.twotower.towers import load_tower
from tfgnn_gfm.twotower.train import predict_in_batches

SMALL = ["--tower-units", "32,16", "--categorical-dim", "4",
         "--id-embedding-dim", "16", "--epochs", "2", "--batch-size", "64",
         "--max-history", "20"]


def write_embeddings(out, platform, dim=16, text_dim=12, cut_shift=0):
  """An EmbeddingsDir as gfm embed writes it: topic-aware random vectors."""
  rng = np.random.default_rng(1)
  items = platform.items
  topics = platform.item_topics.set_index("item_id")["topic"].reindex(
      items["item_id"]).to_numpy()
  centers = rng.normal(size=(topics.max() + 1, dim))
  hgnn = centers[topics] + 0.5 * rng.normal(size=(len(items), dim))
  hgnn /= np.linalg.norm(hgnn, axis=1, keepdims=True)
  text = rng.normal(size=(len(items), text_dim))
  published = ((pd.to_datetime(items["published_at"], utc=True) -
                pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1))
  cut = platform.cut_timestamp - cut_shift
  has_parent = items["parent_id"].fillna("") != ""
  source = np.where(has_parent, "parent",
                    np.where(published.to_numpy() >= cut, "inductive",
                             "graph"))
  parent_row = pd.Index(items["item_id"]).get_indexer(items["parent_id"])
  hgnn[has_parent] = hgnn[parent_row[has_parent]]
  with atomic_directory(out) as tmp:
    EmbeddingsDir(tmp).write_embeddings(Embeddings(
        index=pd.DataFrame({"item_id": items["item_id"],
                            "item_type": items["item_type"],
                            "node_set": items["item_type"], "source": source,
                            "row": np.arange(len(items))}),
        vectors=hgnn, text=text))
    write_manifest(tmp, stage="embed", extra={"cut": int(cut)})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  root = tmp_path_factory.mktemp("twotower")
  platform = write_synthetic_dataset(
      root / "data", num_users=160, num_podcasts=30, num_audiobooks=20,
      cold_item_fraction=0.15, seed=3)
  write_embeddings(root / "emb", platform)
  write_embeddings(root / "emb_static", platform, cut_shift=7 * 86_400)
  write_embeddings(root / "emb_val", platform, cut_shift=14 * 86_400)
  assert main(["train-2t", str(root / "data"), "--embeddings",
               str(root / "emb"), "--out", str(root / "2t")] + SMALL) == 0
  assert main(["evaluate", str(root / "data"), "--embeddings",
               str(root / "emb_static"), "--retrained-embeddings",
               str(root / "emb"), "--out", str(root / "eval"),
               "--seeds", "2"] + SMALL) == 0
  return root, platform


def test_train_2t_writes_towers_vectors_and_manifest(run):
  root, platform = run
  layout = TwoTowerDir(root / "2t")
  manifest = layout.read_manifest()
  assert manifest["stage"] == "train_2t"
  assert manifest["cut"] == platform.cut_timestamp
  assert manifest["counts"]["examples"] > 0
  assert set(manifest["inputs"]) >= {"items", "interactions", "users",
                                     "embeddings"}
  vectors = np.load(layout.item_embeddings_path)
  items = pd.read_csv(layout.items_path)
  # The MLP's 16 values (unit norm), then the text match (the default
  # weight 0.3: sqrt(0.3) x the unit text vector of the fixture's 12-d text).
  assert vectors.shape == (len(items), 16 + 12)
  np.testing.assert_allclose(np.linalg.norm(vectors[:, :16], axis=1), 1,
                             rtol=1e-5)
  np.testing.assert_allclose(np.linalg.norm(vectors[:, 16:], axis=1) ** 2,
                             0.3, rtol=1e-4)
  spec = json.loads(layout.features_path.read_text())
  assert spec["embedding_dim"] == 28
  assert spec["split"]["cut"] == platform.cut_timestamp
  assert "history" in spec["user_tower_inputs"]
  assert spec["training"]["training_history"] == "before_example"
  assert spec["training"]["interaction_weight"] == "saturating"
  # Synthetic streams carry seconds: their median is that of the data.
  assert spec["training"]["weight_medians"]["stream/podcast"] > 60
  assert json.loads(layout.history_path.read_text())["mean_batch_loss"]
  # The synthetic listeners come back to their shows and books: both root
  # types keep repeats (rates well above the 0.1 threshold).
  kept = spec["repeats"]["types"]
  assert kept["podcast"]["keep"] and kept["audiobook"]["keep"]
  assert kept["podcast"]["repeat_rate"] > 0.1
  assert manifest["metrics"]["repeats_dropped_types"] == []
  assert manifest["metrics"]["batch_size"] == 64  # SMALL's, used as it is.


def test_cold_start_end_to_end(run):
  """A user with metadata only gets recommendations; a new item (text only)
  can be retrieved."""
  root, platform = run
  layout = TwoTowerDir(root / "2t")
  user_tower = load_tower(layout.user_tower)
  vectors = np.load(layout.item_embeddings_path)
  items = pd.read_csv(layout.items_path)
  spec = json.loads(layout.features_path.read_text())
  vocab = spec["users"]["categorical_vocab"]
  cold = {"history": np.full((len(vocab["country"]), 20), -1, np.int32),
          "user_country": np.arange(1, len(vocab["country"]) + 1,
                                    dtype=np.int32),
          "user_age_bucket": np.ones(len(vocab["country"]), np.int32),
          "interest_vector": np.zeros((len(vocab["country"]), 16), np.float32),
          "interest_mask": np.zeros((len(vocab["country"]), 1), np.float32)}
  users = predict_in_batches(user_tower, cold)
  candidates = items["candidate"].to_numpy()
  scores = users @ vectors[candidates].T
  assert np.isfinite(scores).all()
  top = np.argsort(-scores, axis=1)[:, :10]
  assert len(np.unique(top)) > 10  # Metadata changes the recommendations.
  # New items (inductive: published after the cut, never a graph node) have
  # vectors in the same space and reach someone's top-10.
  new = ~items["vector_known"].to_numpy()[candidates]
  assert new.any()
  result = json.loads(EvaluationDir(root / "eval").results_path.read_text())
  cold_items = result["models"]["2t_hgnn"]["metrics"]["all_types"][
      "cold_items"]["all_users"]
  assert cold_items["users"] > 0
  assert cold_items["hr@10"]["mean"] > 0


def test_evaluate_writes_every_model_seeded_and_reports(run):
  root, _ = run
  layout = EvaluationDir(root / "eval")
  result = json.loads(layout.results_path.read_text())
  assert set(result["models"]) == {
      "popularity", "llm_knn", "hgnn_knn", "item_knn", "ease", "als", "bpr",
      "2t_no_gnn", "2t_type_specific", "2t_hgnn", "2t_hgnn_retrained"}
  assert result["types"] == ["audiobook", "podcast"]
  hgnn = result["models"]["2t_hgnn"]
  assert hgnn["seeds"] == [0, 1] and hgnn["seeded"]
  assert [info["batch_size"] for info in hgnn["info"]] == [64, 64]
  leaf = hgnn["metrics"]["podcast"]["all_items"]["all_users"]["hr@10"]
  assert len(leaf["values"]) == 2 and 0 <= leaf["mean"] <= 1
  assert not result["models"]["popularity"]["seeded"]
  spec = result["models"]["2t_type_specific"]["metrics"]
  assert set(spec) == {"audiobook", "podcast"}  # No all-types ranking.
  for group in ("all_users", "warm_users", "cold_users"):
    assert group in hgnn["metrics"]["audiobook"]["new_items"]
  assert "static_vs_retrained" in result["verdict"]
  assert result["counts"]["evaluated_cold_users"] > 0
  text = layout.table_path.read_text()
  assert "| 2T-HGNN unified |" in text and "±" in text
  assert "wins" in layout.summary_path.read_text()
  assert result["repeats"]["types"]["podcast"]["keep"]
  assert "Items a user consumed before the cut: audiobook ranked again" in (
      layout.summary_path.read_text())
  # The claims: every family checked (every model ran), one row each with
  # a verdict, in results.json, results.md and claims.png.
  families = {r["claim"] for r in result["claims"]["rows"]}
  assert families == {"a", "b", "c"}
  assert set(result["claims"]["verdicts"]) == {"a", "b", "c"}
  assert "## Claims" in text
  for png in (layout.hr_plot_path, layout.metrics_plot_path,
              layout.claims_plot_path):
    assert png.read_bytes()[:4] == b"\x89PNG"
  manifest = layout.read_manifest()
  assert manifest["stage"] == "evaluate"
  assert "retrained_embeddings" in manifest["inputs"]


def test_evaluate_refuses_embeddings_that_saw_the_holdout(run, tmp_path):
  root, _ = run
  # An evaluation cut a week before the embeddings' graph cut leaks.
  code = main(["evaluate", str(root / "data"), "--embeddings",
               str(root / "emb"), "--out", str(tmp_path / "e"),
               "--cut", "2024-03-24", "--seeds", "1"] + SMALL)
  assert code == 2
  assert not (tmp_path / "e").exists()


def test_evaluation_targets_are_after_the_cut(run):
  root, platform = run
  from tfgnn_gfm.data import read_dataset
  ds = read_dataset(root / "data")
  split = TimeSplit(platform.cut_timestamp, 90, 14)
  items = load_item_table(root / "emb", ds.items.frame,
                          available_until=split.holdout_end)
  users = np.unique(ds.interactions.frame["user_id"].to_numpy(object))
  h = build_holdout(ds.interactions.frame, items, users, split)
  frame = ds.interactions.frame
  after = frame[frame["timestamp"] >= platform.cut_timestamp]
  assert set(users[h.user]) <= set(after["user_id"])


def _cut_date(platform) -> str:
  return pd.Timestamp(platform.cut_timestamp, unit="s").strftime("%Y-%m-%d")


def test_validation_mode_never_reads_the_test_holdout(run, tmp_path):
  """--validation: the split moves back by the hold-out length and nothing
  at or after the test cut matters (popularity is deterministic, so the
  results of the full data and of the data cut at the test cut are equal)."""
  root, platform = run
  cut, day = platform.cut_timestamp, 86_400
  frame = platform.interactions
  times = pd.to_datetime(frame["timestamp"], utc=True)
  before = frame[times < pd.Timestamp(cut, unit="s", tz="UTC")]
  assert len(before) < len(frame)
  write_dataset(tmp_path / "data_before", {
      "items": platform.items, "interactions": before,
      "users": platform.users}, stage="synth", config={})
  args = ["--embeddings", str(root / "emb_val"), "--validation", "--cut",
          _cut_date(platform), "--models", "popularity,2t_hgnn", "--seeds",
          "1"] + SMALL + ["--epochs", "1"]
  results = []
  for name, data in (("full", root / "data"),
                     ("before", tmp_path / "data_before")):
    assert main(["evaluate", str(data), "--out", str(tmp_path / name)]
                + args) == 0
    results.append(json.loads(
        EvaluationDir(tmp_path / name).results_path.read_text()))
  full, cut_data = results
  assert full["mode"] == "validation"
  assert full["split"]["cut"] == cut - 14 * day
  assert full["split"]["holdout_end"] == cut
  assert full["validation"]["test_cut"] == cut
  assert full["validation"]["dropped_interactions"] == len(frame) - len(
      before)
  assert cut_data["validation"]["dropped_interactions"] == 0
  assert (full["models"]["popularity"]["metrics"] ==
          cut_data["models"]["popularity"]["metrics"])
  full["counts"].pop("dead_letters")
  cut_data["counts"].pop("dead_letters")
  assert full["counts"] == cut_data["counts"]
  assert full["counts"]["evaluated_users"] > 0
  assert "validation window" in (tmp_path / "full" / "summary.txt").read_text()
  # The test embeddings' graph saw the validation window: refused.
  assert main(["evaluate", str(root / "data"), "--out",
               str(tmp_path / "leak"), "--embeddings", str(root / "emb"),
               "--validation", "--cut", _cut_date(platform), "--models",
               "popularity"]) == 2
  # Without --cut the validation window could be the test hold-out.
  assert main(["evaluate", str(root / "data"), "--out",
               str(tmp_path / "nocut"), "--embeddings", str(root / "emb_val"),
               "--validation", "--models", "popularity"]) == 2
  assert not (tmp_path / "leak").exists()
  assert not (tmp_path / "nocut").exists()
