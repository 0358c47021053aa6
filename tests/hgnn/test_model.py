"""Tests of the HGNN encoder, its training and its saved forms."""

import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_gnn as tfgnn

from tests.hgnn.planted import planted_graph
from tfgnn_gfm.hgnn import PretrainConfig
from tfgnn_gfm.hgnn.embedding import embed_new_items, embed_nodes
from tfgnn_gfm.hgnn.evaluation import link_prediction_report, sample_queries
from tfgnn_gfm.hgnn.export import (
  export_inference_model,
  load_encoder,
  save_encoder,
)
from tfgnn_gfm.hgnn.sampling import SubgraphSampler, graph_schema
from tfgnn_gfm.hgnn.trainer import train_link_prediction

# The sampled path (tests/hgnn/test_full_graph.py covers mode full_graph).
# The encoder alone: structure vectors (tests/hgnn/test_structure.py) off.
CONFIG = PretrainConfig(embedding_dim=16, hidden_dim=16, batch_size=32,
                        epochs=10, patience=10, fanouts=(6, 3),
                        mode="sampled", structure_dim=0)


@pytest.fixture(scope="module")
def planted():
  return planted_graph()


@pytest.fixture(scope="module")
def trained(planted):
  graph, _ = planted
  return train_link_prediction(graph, CONFIG, verbose=0)


def _separation(emb, comm):
  sim = emb @ emb.T
  same = comm[:, None] == comm[None, :]
  np.fill_diagonal(same, False)
  other = comm[:, None] != comm[None, :]
  return sim[same].mean() - sim[other].mean()


def test_loss_decreases_and_communities_separate(planted, trained):
  graph, comm = planted
  history = trained.history
  assert history["loss"][-1] < 0.7 * history["loss"][0]
  assert history["val_loss"][-1] < history["val_loss"][0]
  sampler = SubgraphSampler(graph, CONFIG.fanouts, seed=0)
  emb = embed_nodes(trained.encoder, sampler,
                    {n: graph.num_nodes(n) for n in graph.node_sets})
  for name in graph.node_sets:
    text = graph.node_features[name]["text_embedding"]
    # Embeddings separate the planted communities, better than text alone.
    assert _separation(emb[name], comm[name]) > 0.3
    assert _separation(emb[name], comm[name]) > _separation(text, comm[name])
    np.testing.assert_allclose(np.linalg.norm(emb[name], axis=1), 1.0,
                               rtol=1e-5)


def test_hgnn_beats_text_on_held_out_edges(planted, trained):
  graph, _ = planted
  sampler = SubgraphSampler(trained.split.train_graph, CONFIG.fanouts,
                            features=graph, seed=0)
  emb = embed_nodes(trained.encoder, sampler,
                    {n: graph.num_nodes(n) for n in graph.node_sets})
  report = link_prediction_report(emb, trained.split, graph)
  assert set(report) == set(graph.edge_sets)
  # Planted communities are uniform inside, so the ranking among members is
  # chance for any model; HR@10 measures finding the right community.
  for name, entry in report.items():
    assert entry["hgnn_hr@10"] > entry["text_hr@10"], (name, entry)
  # A sample of the queries: as many as asked, the same for a seed, and
  # the same figures as ranking those queries alone.
  small = link_prediction_report(emb, trained.split, graph, max_queries=7,
                                 seed=3)
  assert small == link_prediction_report(emb, trained.split, graph,
                                         max_queries=7, seed=3)
  for name, entry in small.items():
    assert entry["queries"] == 7
    assert entry["held_out_queries"] == report[name]["queries"] > 7
    assert "held_out_queries" not in report[name]


def test_sample_queries_keeps_order_and_pairs():
  src, tgt = np.arange(100), np.arange(100) + 1000
  a, b = sample_queries(src, tgt, 10, seed=1)
  assert len(a) == 10 and (np.diff(a) > 0).all()
  np.testing.assert_array_equal(b, a + 1000)
  c, _ = sample_queries(src, tgt, 10, seed=2)
  assert not np.array_equal(a, c)
  for limit in (0, 100, 500):
    np.testing.assert_array_equal(sample_queries(src, tgt, limit)[0], src)


def test_keras_savedmodel_round_trip_gives_identical_embeddings(
    planted, trained, tmp_path):
  graph, _ = planted
  sampler = SubgraphSampler(graph, CONFIG.fanouts, seed=5)
  sub, _ = sampler.sample(tf.constant([0, 1, 1], tf.int32),
                          tf.constant([1, 2, 3], tf.int64))
  save_encoder(trained.encoder, tmp_path / "encoder")
  loaded = load_encoder(tmp_path / "encoder")
  before, after = trained.encoder(sub), loaded(sub)
  for name in before:
    np.testing.assert_allclose(before[name].numpy(), after[name].numpy(),
                               atol=1e-6)
  config = json.loads(json.dumps(trained.encoder.get_config(), default=str))
  assert config["name"] == "hgnn_encoder"


def test_inference_export_takes_serialized_graph_tensors(planted, trained,
                                                         tmp_path):
  graph, _ = planted
  sampler = SubgraphSampler(graph, CONFIG.fanouts, seed=5)
  schema = graph_schema(graph)
  export_inference_model(trained.encoder, schema, tmp_path / "export")
  loaded = tf.saved_model.load(str(tmp_path / "export"))
  serve = loaded.signatures["serving_default"]
  examples = []
  for root in (0, 1):
    sub, _ = sampler.sample(tf.constant([1], tf.int32),
                            tf.constant([root], tf.int64))
    examples.append(tfgnn.write_example(sub).SerializeToString())
    direct = trained.encoder(sub)["podcast"].numpy()[0]
    out = serve(examples=tf.constant(examples[-1:]))
    np.testing.assert_allclose(out["podcast_embeddings"].numpy()[0], direct,
                               atol=1e-5)
    assert out["podcast_ids"].numpy()[0].decode() == graph.node_ids[
        "podcast"][root]
  both = serve(examples=tf.constant(examples))
  assert both["podcast_embeddings"].shape[1] == CONFIG.embedding_dim


def test_inductive_embedding_of_an_unseen_item(planted, trained):
  graph, comm = planted
  sampler = SubgraphSampler(graph, CONFIG.fanouts, seed=0)
  emb = embed_nodes(trained.encoder, sampler,
                    {n: graph.num_nodes(n) for n in graph.node_sets})
  # A new podcast whose text is the average text of community 0 podcasts.
  text = graph.node_features["podcast"]["text_embedding"]
  new_text = text[comm["podcast"] == 0].mean(axis=0, keepdims=True)
  new = embed_new_items(trained.encoder, "podcast", new_text)
  assert new.shape == (1, CONFIG.embedding_dim)
  np.testing.assert_allclose(np.linalg.norm(new), 1.0, rtol=1e-5)
  sims = emb["podcast"] @ new[0]
  by_comm = [sims[comm["podcast"] == c].mean() for c in range(4)]
  assert int(np.argmax(by_comm)) == 0


def test_new_items_embedded_together_equal_each_alone(planted, trained):
  """Items without ids are never merged: each keeps its own text (a batch of
  new items once all got the first one's vector)."""
  graph, comm = planted
  text = graph.node_features["podcast"]["text_embedding"]
  texts = np.stack([text[comm["podcast"] == c].mean(axis=0)
                    for c in range(4)])
  together = embed_new_items(trained.encoder, "podcast", texts)
  alone = np.concatenate([embed_new_items(trained.encoder, "podcast",
                                          texts[i:i + 1]) for i in range(4)])
  np.testing.assert_allclose(together, alone, atol=1e-5)
  assert np.abs(together[0] - together[1]).max() > 1e-3


def test_bad_configs_are_clear_errors(planted):
  graph, _ = planted
  with pytest.raises(ValueError, match="one entry per layer"):
    train_link_prediction(graph, PretrainConfig(fanouts=(5,)), verbose=0)
  with pytest.raises(ValueError, match="every fanout must be at least 1"):
    train_link_prediction(graph, PretrainConfig(fanouts=(5, 0)), verbose=0)


def test_unknown_edge_set_is_a_clear_error(planted):
  graph, _ = planted
  with pytest.raises(ValueError, match=r"unknown edge set\(s\) \['nope'\]"):
    train_link_prediction(graph, PretrainConfig(edge_sets=("nope",)),
                          verbose=0)


def test_full_graph_embedding_matches_sampling_when_fanouts_cover_all(planted,
                                                                       trained):
  """With fanouts above every degree, sampling keeps all neighbours: the
  sampled tree and the whole graph give each root the same embedding."""
  from tfgnn_gfm.hgnn.embedding import embed_full_graph
  graph, _ = planted
  full = embed_full_graph(trained.encoder, graph)
  sampler = SubgraphSampler(graph, (1000, 1000), seed=0)
  sampled = embed_nodes(trained.encoder, sampler,
                        {n: graph.num_nodes(n) for n in graph.node_sets})
  for name in graph.node_sets:
    np.testing.assert_allclose(full[name], sampled[name], atol=1e-4)
