"""The text anchor: principal components of the titles in the encoder's part."""

import numpy as np
import pytest

from tests.hgnn.planted import planted_graph
from tfgnn_gfm.hgnn import PretrainConfig
from tfgnn_gfm.hgnn.embedding import embed_new_items
from tfgnn_gfm.hgnn.export import load_encoder, save_encoder
from tfgnn_gfm.hgnn.model import text_principal_components
from tfgnn_gfm.hgnn.trainer import train_link_prediction


def test_principal_components_are_the_best_linear_summary():
  rng = np.random.default_rng(0)
  a = rng.normal(size=(50, 6)) @ rng.normal(size=(6, 6)) + 3.0
  b = rng.normal(size=(30, 6)) + 1.0
  mean, components = text_principal_components([a, b], 4)
  x = np.concatenate([a, b])
  np.testing.assert_allclose(mean, x.mean(axis=0), rtol=1e-5)
  assert components.shape == (6, 4)
  np.testing.assert_allclose(components.T @ components, np.eye(4), atol=1e-5)
  # The projection keeps the variance of the 4 largest eigenvalues.
  eig = np.sort(np.linalg.eigvalsh(np.cov((x - mean).T, bias=True)))[::-1]
  kept = ((x - mean) @ components).var(axis=0).sum()
  np.testing.assert_allclose(kept, eig[:4].sum(), rtol=1e-4)
  # More components than the text has: the rest are zero.
  _, wide = text_principal_components([b[:3]], 8)
  assert wide.shape == (6, 8) and not np.any(wide[:, 3:])


@pytest.fixture(scope="module")
def anchored():
  graph, _ = planted_graph()
  config = PretrainConfig(embedding_dim=8, hidden_dim=8, batch_size=32,
                          epochs=1, fanouts=(3, 2), mode="sampled",
                          positives_per_step=64, structure_dim=0,
                          text_anchor_weight=0.999)
  return graph, train_link_prediction(graph, config, verbose=0).encoder


def test_new_items_are_ranked_by_their_titles_components(anchored):
  graph, encoder = anchored
  text = graph.node_features["podcast"]["text_embedding"][:20]
  new = embed_new_items(encoder, "podcast", text)
  mean, components = text_principal_components(
      [graph.node_features[n]["text_embedding"] for n in graph.node_sets], 8)
  pca = (text - mean) @ components
  pca /= np.linalg.norm(pca, axis=1, keepdims=True)
  # With anchor weight 0.999 the encoder's part is (almost) the anchor.
  np.testing.assert_allclose(new @ new.T, pca @ pca.T, atol=0.1)


def test_an_anchored_encoder_round_trips_through_savedmodel(anchored,
                                                            tmp_path):
  graph, encoder = anchored
  text = graph.node_features["audiobook"]["text_embedding"][:5]
  save_encoder(encoder, tmp_path / "encoder")
  loaded = load_encoder(tmp_path / "encoder")
  np.testing.assert_allclose(embed_new_items(loaded, "audiobook", text),
                             embed_new_items(encoder, "audiobook", text),
                             atol=1e-6)


def test_text_anchor_weight_is_checked():
  with pytest.raises(ValueError, match="text_anchor_weight"):
    PretrainConfig(text_anchor_weight=1.0).validate()
