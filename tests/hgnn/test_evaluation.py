"""Tests of the held-out-edge report: ranks, ties and the item-kNN baseline."""

import numpy as np
import pytest

from tfgnn_gfm.hgnn.evaluation import link_prediction_report
from tfgnn_gfm.hgnn.graph_data import EdgeSetData, ItemGraph, LinkSplit


def _graph(pairs, n=6):
  pairs = np.asarray(pairs)
  src = np.concatenate([pairs[:, 0], pairs[:, 1]])
  tgt = np.concatenate([pairs[:, 1], pairs[:, 0]])
  feats = {"a": {"text_embedding": np.eye(n, 4, dtype=np.float32),
                 "log_degree": np.zeros((n, 1), np.float32)}}
  ids = {"a": np.array([str(i) for i in range(n)], dtype=object)}
  return ItemGraph(ids, feats, {"a_to_a": EdgeSetData("a", "a", src, tgt)})


def _hand_split():
  """Six nodes, six training edges and the held-out edge (0, 3)."""
  train_pairs = [(0, 1), (0, 2), (1, 3), (2, 4), (1, 4), (3, 5)]
  train = _graph(train_pairs)
  full = _graph(train_pairs + [(0, 3)])
  split = LinkSplit(train, {("a", "a"): (np.array([0, 0, 1, 2, 1, 3]),
                                         np.array([1, 2, 3, 4, 4, 5]))},
                    {("a", "a"): (np.array([0]), np.array([3]))})
  return split, full


def test_item_knn_scores_and_ranks_by_hand():
  split, full = _hand_split()
  # Neighbours: 0:{1,2} 1:{0,3,4} 2:{0,4} 3:{1,5} 4:{1,2} 5:{3}.
  # Query 0 -> 3 (0, 1, 2 excluded): cos(0,3) = 1/2, cos(0,4) = 2/2,
  # cos(0,5) = 0: rank 2. Query 3 -> 0 (3, 1, 5 excluded): cos(3,0) = 1/2,
  # cos(3,2) = 0, cos(3,4) = 1/2 (a tie, counted half): rank 1.5.
  emb = {"a": np.eye(6, dtype=np.float32)}
  at1 = link_prediction_report(emb, split, full, k=1)["a_to_a"]
  at2 = link_prediction_report(emb, split, full, k=2)["a_to_a"]
  assert at1["queries"] == 2
  assert at1["knn_hr@1"] == 0.0
  assert at2["knn_hr@2"] == 1.0
  assert at1["knn_mrr"] == pytest.approx((1 / 2 + 1 / 1.5) / 2)
  # One-hot embeddings tie every candidate at 0: ranks 1 + (3 - 1) / 2.
  assert at1["hgnn_mrr"] == pytest.approx(1 / 2)


def test_paired_comparison_interval_ratio_and_verdict():
  from tfgnn_gfm.hgnn.evaluation import paired_comparison
  rng = np.random.default_rng(0)
  nodes = rng.integers(0, 300, 3000)
  knn = np.where(rng.random(3000) < 0.3, 0.0, 50.0)   # HR@10 about 0.30
  better = np.where(rng.random(3000) < 0.45, 0.0, 50.0)  # about 0.45
  slightly = np.where(rng.random(3000) < 0.31, 0.0, 50.0)
  won = paired_comparison(better, knn, nodes, 10)
  assert won["verdict"] == "target" and won["low"] > 0
  assert won["ratio"] == pytest.approx(np.mean(better == 0) / np.mean(
      knn == 0))
  assert won["difference"] == pytest.approx(np.mean(better == 0) - np.mean(
      knn == 0))
  assert paired_comparison(knn, better, nodes, 10)["verdict"] == "loss"
  assert paired_comparison(knn, knn, nodes, 10)["verdict"] == "tie"
  same = paired_comparison(slightly, knn, nodes, 10)
  assert same["low"] <= same["difference"] <= same["high"]
  # One more hit on every query node's first query: above 0, below 1.10x.
  small = knn.copy()
  first = np.unique(nodes, return_index=True)[1]
  small[first] = 0.0
  assert paired_comparison(small, knn, nodes, 10)["verdict"] in ("win",
                                                              "target")


def test_report_carries_the_paired_comparison():
  split, full = _hand_split()
  entry = link_prediction_report({"a": np.eye(6, dtype=np.float32)}, split,
                                 full, k=2)["a_to_a"]
  vs = entry["hgnn_vs_knn_hr@2"]
  assert vs["difference"] == pytest.approx(entry["hgnn_hr@2"] -
                                           entry["knn_hr@2"])
  assert vs["verdict"] in ("target", "win", "tie", "loss")


def test_pretrain_report_prints_the_interval_and_the_verdict():
  from tfgnn_gfm.cli.pretrain_cmd import format_report
  entry = {"queries": 2000, "hgnn_hr@10": 0.4, "knn_hr@10": 0.3,
           "text_hr@10": 0.1, "hgnn_mrr": 0.2, "knn_mrr": 0.15,
           "text_mrr": 0.05,
           "hgnn_vs_knn_hr@10": {"difference": 0.1, "low": 0.08,
                                 "high": 0.12, "ratio": 4 / 3,
                                 "verdict": "target"}}
  text = format_report({"link_prediction": {"a_to_a": entry},
                        "hgnn_meets_knn_target": True, "epochs_run": 1,
                        "positive_edges_per_second": 1.0,
                        "embed_items_per_second": 1.0})
  assert "+0.100 [+0.080, +0.120]" in text and "target" in text
  assert "every edge set of 1,000+ queries): met" in text
