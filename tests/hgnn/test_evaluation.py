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


def test_item_knn_scores_and_ranks_by_hand():
  train_pairs = [(0, 1), (0, 2), (1, 3), (2, 4), (1, 4), (3, 5)]
  train = _graph(train_pairs)
  full = _graph(train_pairs + [(0, 3)])
  split = LinkSplit(train, {("a", "a"): (np.array([0, 0, 1, 2, 1, 3]),
                                         np.array([1, 2, 3, 4, 4, 5]))},
                    {("a", "a"): (np.array([0]), np.array([3]))})
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
