"""New-node evaluation (``--new-node-fraction``): the inductive promise."""

import dataclasses

import numpy as np
import pytest

from tests.hgnn.planted import planted_graph
from tfgnn_gfm.hgnn.config import PretrainConfig
from tfgnn_gfm.hgnn.graph_data import NEW_ID_PREFIX, split_new_nodes
from tfgnn_gfm.hgnn.link_model import LinkLoss
from tfgnn_gfm.hgnn.stage import pretrain_graph
from tfgnn_gfm.hgnn.structure import structure_vectors
from tfgnn_gfm.hgnn.trainer import train_link_prediction


def _touches(graph, new):
  return sum(int(np.isin(es.source, new[es.source_set]).sum()
                 + np.isin(es.target, new[es.target_set]).sum())
             for es in graph.edge_sets.values())


def test_new_nodes_lose_every_edge_and_become_queries():
  graph, _ = planted_graph()
  split = split_new_nodes(graph, 0.1, seed=3)
  for name in graph.node_sets:
    with_edges = sum(1 for i in range(graph.num_nodes(name)) if any(
        np.any(es.source == i) for es in graph.edge_sets.values()
        if es.source_set == name))
    assert len(split.new_nodes[name]) == round(with_edges * 0.1) > 0
  assert _touches(graph, split.new_nodes) > 0
  assert _touches(split.train_graph, split.new_nodes) == 0
  for name, es in graph.edge_sets.items():
    src, tgt = split.queries[name]
    from_new = np.isin(es.source, split.new_nodes[es.source_set])
    np.testing.assert_array_equal(src, es.source[from_new])
    np.testing.assert_array_equal(tgt, es.target[from_new])
    kept = split.train_graph.edge_sets[name]
    assert len(kept) + np.sum(from_new | np.isin(
        es.target, split.new_nodes[es.target_set])) == len(es)
  # New nodes have no structure vector and, once masked, no known id.
  vectors = structure_vectors(split.train_graph, 8)
  masked = split.as_unknown(split.train_graph)
  for name, new in split.new_nodes.items():
    assert not np.any(vectors[name][new])
    assert all(str(i).startswith(NEW_ID_PREFIX)
               for i in masked.node_ids[name][new])
    others = np.setdiff1d(np.arange(graph.num_nodes(name)), new)
    np.testing.assert_array_equal(masked.node_ids[name][others],
                                  graph.node_ids[name][others])


def test_a_node_without_edges_is_never_drawn():
  graph, _ = planted_graph()
  split = split_new_nodes(graph, 0.5, seed=0)
  lonely = split.train_graph
  again = split_new_nodes(lonely, 0.5, seed=1)
  for name, new in again.new_nodes.items():
    assert not np.any(np.isin(new, split.new_nodes[name]))


@pytest.mark.parametrize("mode", ["full_graph", "sampled"])
def test_pretraining_reports_new_nodes_against_text(tmp_path, mode):
  graph, _ = planted_graph()
  config = PretrainConfig(embedding_dim=8, hidden_dim=8, batch_size=32,
                          epochs=2, fanouts=(3, 2), mode=mode,
                          positives_per_step=64, structure_dim=8,
                          new_node_fraction=0.2)
  metrics = pretrain_graph(graph, tmp_path / "hgnn", config, verbose=0)
  report = metrics["new_nodes"]
  assert set(report) == set(graph.edge_sets)
  for entry in report.values():
    assert entry["queries"] > 0
    assert 0.0 <= entry["hgnn_hr@10"] <= 1.0
    assert entry["hgnn_vs_text_hr@10"]["verdict"] in (
        "target", "win", "tie", "loss")


def test_no_new_node_reaches_training_or_validation():
  graph, _ = planted_graph()
  config = PretrainConfig(embedding_dim=8, hidden_dim=8, batch_size=32,
                          epochs=1, mode="full_graph", positives_per_step=64,
                          structure_dim=8, new_node_fraction=0.2)
  result = train_link_prediction(graph, config, verbose=0)
  new = result.node_split.new_nodes
  assert _touches(result.split.train_graph, new) == 0
  for (set_a, set_b), (a, b) in result.split.val_pairs.items():
    assert not np.any(np.isin(a, new[set_a]))
    assert not np.any(np.isin(b, new[set_b]))
  plain = train_link_prediction(
      graph, dataclasses.replace(config, new_node_fraction=0.0), verbose=0)
  assert plain.node_split is None


def test_new_node_fraction_is_checked():
  with pytest.raises(ValueError, match="new_node_fraction"):
    PretrainConfig(new_node_fraction=0.9).validate()
  with pytest.raises(ValueError, match="in_memory"):
    PretrainConfig(new_node_fraction=0.1, sampler="beam").validate()


@pytest.mark.parametrize("mode", ["full_graph", "sampled"])
def test_the_new_item_term_reaches_both_paths(mode, monkeypatch):
  """With ``new_item_loss_weight`` each training path embeds the roots a
  second time without edges and hands them to the loss (whose arithmetic
  tests/hgnn/test_link_loss.py checks)."""
  seen = []
  original = LinkLoss.of_embeddings

  def spy(self, z, *args, alone=None, **kwargs):
    seen.append((self.new_item_loss_weight, alone is not None))
    return original(self, z, *args, alone=alone, **kwargs)

  monkeypatch.setattr(LinkLoss, "of_embeddings", spy)
  graph, _ = planted_graph()
  config = PretrainConfig(embedding_dim=8, hidden_dim=8, batch_size=32,
                          epochs=1, fanouts=(3, 2), mode=mode,
                          positives_per_step=64, structure_dim=8,
                          new_item_loss_weight=2.0)
  train_link_prediction(graph, config, verbose=0)
  assert seen and all(entry == (2.0, True) for entry in seen)
  with pytest.raises(ValueError, match="new_item_loss_weight"):
    PretrainConfig(new_item_loss_weight=-1.0).validate()
