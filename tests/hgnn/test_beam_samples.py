"""The Beam-sampler path feeds the same encoder as the in-memory path.

With fanouts that cover every neighbourhood both samplers keep all
neighbours, so the encoder must give every seed the same embedding from TF-GNN
Beam sampler output as from the in-memory sampler.
"""

import numpy as np
import pytest
import tensorflow as tf

from tfgnn_gfm.hgnn.beam_samples import read_beam_samples, run_beam_sampler
from tfgnn_gfm.hgnn.config import PretrainConfig
from tfgnn_gfm.hgnn.embedding import embed_nodes
from tfgnn_gfm.hgnn.graph_data import load_item_graph
from tfgnn_gfm.hgnn.model import build_encoder
from tfgnn_gfm.hgnn.sampling import SubgraphSampler
from tests.synthetic import write_synthetic_graph


def test_beam_and_in_memory_samples_give_the_same_embeddings(tmp_path):
  write_synthetic_graph(tmp_path, encoder_dir="enc", users=False,
                        num_users=60, num_podcasts=12, num_audiobooks=8,
                        seed=2)
  graph = load_item_graph(tmp_path / "graph")
  fanouts = (1000, 1000)
  sampler = SubgraphSampler(graph, fanouts, seed=0)
  spec = sampler.sample(tf.constant([0], tf.int32),
                        tf.constant([0], tf.int64))[0].spec
  tf.keras.utils.set_random_seed(0)
  encoder = build_encoder(spec, PretrainConfig(embedding_dim=8, hidden_dim=8,
                                               fanouts=fanouts))
  in_memory = embed_nodes(encoder, sampler,
                          {n: graph.num_nodes(n) for n in graph.node_sets})
  name = "podcast"
  samples = run_beam_sampler(tmp_path / "graph", name, fanouts,
                             tmp_path / "samples" / "podcast.tfrecord")
  seen = {}
  for batch in read_beam_samples(tmp_path / "graph", samples, batch_size=5):
    out = encoder(batch)[name].numpy()
    sizes = batch.node_sets[name].sizes.numpy()
    ids = batch.node_sets[name]["#id"].numpy()
    starts = np.cumsum(sizes) - sizes
    for s in starts:
      seen[ids[s].decode()] = out[s]
  assert len(seen) == graph.num_nodes(name)
  for i, item_id in enumerate(graph.node_ids[name]):
    np.testing.assert_allclose(seen[item_id], in_memory[name][i], atol=1e-5)
  with pytest.raises(ValueError, match="unknown node set 'nope'"):
    run_beam_sampler(tmp_path / "graph", "nope", fanouts, tmp_path / "x")
