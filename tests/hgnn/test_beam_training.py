"""Training from TF-GNN's Beam sampler (``gfm pretrain --sampler beam``).

One module fixture builds a tiny graph with the Beam graph pipeline and runs
``gfm pretrain --sampler beam`` on it once (TF-GNN's sampling program takes
tens of seconds to build); the tests then read its Beam samples back. Fanouts
cover every neighbourhood, so both samplers keep all neighbours and must feed
the model the same structure.
"""

import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_gnn as tfgnn

from tests.hgnn.beam_pretrain import (
  EDGE_SET,
  FANOUTS,
  SET,
  pretrain_with_beam_sampler,
)
from tfgnn_gfm.artifacts import HGNNDir
from tfgnn_gfm.cli import main
from tfgnn_gfm.hgnn.beam_sample_store import BeamSampleStore, read_samples
from tfgnn_gfm.hgnn.beam_sampling import write_link_samples
from tfgnn_gfm.hgnn.config import PretrainConfig
from tfgnn_gfm.hgnn.embedding import embed_nodes
from tfgnn_gfm.hgnn.graph_data import (
  load_item_graph,
  removed_edges,
  split_links,
)
from tfgnn_gfm.hgnn.link_data import LinkBatcher, LinkBatchSpec, link_dataset
from tfgnn_gfm.hgnn.link_model import (
  LinkPredictionModel,
  link_scores,
  margin_loss,
)
from tfgnn_gfm.hgnn.model import build_encoder
from tfgnn_gfm.hgnn.sampling import SubgraphSampler

BATCH = 8


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  root = tmp_path_factory.mktemp("beam_training")
  # The encoder alone learns from Beam samples: no structure vectors
  # (tests/hgnn/test_structure.py), no text anchor
  # (tests/hgnn/test_text_anchor.py) and no features-alone term
  # (tests/hgnn/test_new_nodes.py): fixed shares of the embedding and a second
  # loss flatten the sum (here 2.11 -> 1.98 in 8 epochs with the last two,
  # 0.50 -> 0.46 with the anchor alone).
  pretrain_with_beam_sampler(root, epochs=8, batch_size=BATCH,
                             extra=["--learning-rate", "0.01",
                                    "--structure-dim", "0",
                                    "--text-anchor-weight", "0",
                                    "--new-item-loss-weight", "0"],
                             beam_args=["--direct_num_workers=1"])
  graph = load_item_graph(root / "graph")
  split = split_links(graph, PretrainConfig().validation_fraction,
                      PretrainConfig().seed)
  return root, graph, split


def _store(root, graph, split, exclude=True):
  return BeamSampleStore.load(
      HGNNDir(root / "hgnn"), graph, [SET], rounds=1,
      exclude=removed_edges(graph, split.train_graph) if exclude else None)


def _batch(graph, split, sampler):
  """A batch plan of the first positives (both endpoints and negatives)."""
  src, tgt = split.train_pairs[(SET, SET)]
  batcher = LinkBatcher(graph, sampler, LinkBatchSpec(BATCH, 1))
  return batcher.make_batch(SET, SET, src[:BATCH], tgt[:BATCH],
                            np.random.default_rng(3))


def _edge_ids(sub, name):
  """(source id, target id, component) of every edge of an edge set."""
  es = sub.edge_sets[name]
  a, b = es.adjacency.source_name, es.adjacency.target_name
  ids = {n: sub.node_sets[n]["#id"].numpy().astype(str) for n in (a, b)}
  return (ids[a][es.adjacency.source.numpy()],
          ids[b][es.adjacency.target.numpy()],
          np.repeat(np.arange(int(sub.num_components)), es.sizes.numpy()))


def test_pretrain_with_the_beam_sampler_runs_and_learns(trained):
  root, graph, _ = trained
  layout = HGNNDir(root / "hgnn")
  manifest = layout.read_manifest()
  assert manifest["config"]["sampler"] == "beam"
  beam = manifest["beam"]
  assert beam["runner"] == "DirectRunner"
  assert beam["args"] == ["--direct_num_workers=1"]
  assert beam["samples"] == {SET: [graph.num_nodes(SET)]}
  # Every held-out edge the sharded graph holds was removed before sampling.
  assert beam["held_out_edges"] > 0
  assert beam["held_out_edges_dropped"] == beam["held_out_edges"]
  history = json.loads(layout.history_path.read_text())
  assert history["loss"][-1] < 0.9 * history["loss"][0]
  assert min(history["val_loss"]) < history["val_loss"][0]
  assert any(layout.checkpoint_dir.iterdir())
  assert list(layout.beam_samples_prefix(0, SET).parent.glob("*.tfrecord-*"))
  assert layout.beam_sampling_spec_path(SET).exists()
  report = json.loads(layout.metrics_path.read_text())
  assert report and all(r["queries"] > 0 for r in report.values())


def test_beam_and_in_memory_batches_give_the_model_the_same_loss(trained):
  root, graph, split = trained
  store = _store(root, graph, split)
  in_memory = SubgraphSampler(split.train_graph, FANOUTS, features=graph,
                              seed=0)
  assert store.node_sets == in_memory.node_sets
  batch = _batch(graph, split, in_memory)
  args = [tf.constant(batch[k]) for k in ("root_set", "root_id",
                                          "partner_set", "partner_id")]
  mem_graph, mem_pos = in_memory.sample(*args)
  beam_graph, beam_pos = store.sample(*args, round_index=0)
  tf.keras.utils.set_random_seed(0)
  model = LinkPredictionModel(
      encoder=build_encoder(mem_graph.spec, PretrainConfig(
          embedding_dim=8, hidden_dim=8, fanouts=FANOUTS)),
      node_sets=in_memory.node_sets)
  z_mem = model.embed_roots(mem_graph, mem_pos).numpy()
  z_beam = model.embed_roots(beam_graph, beam_pos).numpy()
  np.testing.assert_allclose(z_beam, z_mem, atol=1e-5)
  losses = []
  for z in (z_mem, z_beam):
    pos, uniform, inbatch = link_scores(tf.constant(z), BATCH, 1)
    neg = tf.concat([uniform, inbatch], axis=1)
    valid = tf.concat([batch["neg_valid"], batch["inbatch_valid"]], axis=1)
    losses.append(float(margin_loss(pos, neg, valid, 0.5)))
  assert losses[0] == pytest.approx(losses[1], abs=1e-5)


def test_beam_and_in_memory_samples_embed_every_node_the_same(trained):
  # Inference from Beam samples: the store feeds ``embed_nodes`` as the
  # in-memory sampler does, and every seed node gets the same embedding.
  root, graph, split = trained
  store = _store(root, graph, split)
  in_memory = SubgraphSampler(split.train_graph, FANOUTS, features=graph,
                              seed=0)
  spec = in_memory.sample(tf.constant([0], tf.int32),
                          tf.constant([0], tf.int64))[0].spec
  tf.keras.utils.set_random_seed(0)
  encoder = build_encoder(spec, PretrainConfig(embedding_dim=8, hidden_dim=8,
                                               fanouts=FANOUTS))
  counts = {SET: graph.num_nodes(SET)}
  from_memory = embed_nodes(encoder, in_memory, counts, batch_size=5)[SET]
  from_beam = embed_nodes(encoder, store, counts, batch_size=5)[SET]
  assert from_beam.shape == (graph.num_nodes(SET), 8)
  np.testing.assert_allclose(from_beam, from_memory, atol=1e-5)


def test_beam_step_refuses_an_unknown_node_set(trained, tmp_path):
  root, _, _ = trained
  with pytest.raises(ValueError, match=r"unknown node set\(s\) \['nope'\]"):
    write_link_samples(root / "graph", HGNNDir(tmp_path / "hgnn"),
                       fanouts=FANOUTS, node_sets=["nope"])


def test_seed_edges_are_masked_in_beam_training_batches(trained):
  root, graph, split = trained
  store = _store(root, graph, split)
  batch = _batch(graph, split, store)
  batch["round_index"] = np.int32(0)
  # The tf.data path training uses, up to the model's input.
  element = next(iter(link_dataset(lambda: iter([batch]), store)))
  masked = element["graph"]
  raw, _ = store.sample(tf.constant(batch["root_set"]),
                        tf.constant(batch["root_id"]))
  ids = graph.node_ids[SET]
  src, tgt, comp = _edge_ids(masked, EDGE_SET)
  raw_src, raw_tgt, raw_comp = _edge_ids(raw, EDGE_SET)
  for c in range(int(raw.num_components)):
    raw_edges = list(zip(raw_src[raw_comp == c], raw_tgt[raw_comp == c]))
    seed = set()
    if c < 2 * BATCH:  # Sources, then targets; partners both ways.
      root_id = ids[batch["root_id"][c]]
      partner = ids[batch["partner_id"][c]]
      seed = {(root_id, partner), (partner, root_id)}
      # Beam sampled it (fanouts cover everything): the mask must remove it.
      assert (root_id, partner) in raw_edges
    # Exactly the seed edges are gone; negatives keep everything.
    assert list(zip(src[comp == c], tgt[comp == c])) == [
        e for e in raw_edges if e not in seed], c


def test_held_out_edges_never_reach_beam_samples(trained):
  root, graph, split = trained
  store = _store(root, graph, split, exclude=False)  # The raw Beam output.
  held = removed_edges(graph, split.train_graph)[EDGE_SET]
  ids = graph.node_ids[SET]
  held_ids = set(zip(ids[held[0]], ids[held[1]]))
  assert held_ids  # The sharded graph holds them ...
  roots = tf.constant(np.arange(graph.num_nodes(SET)), tf.int64)
  sets = tf.fill(tf.shape(roots), store.set_index(SET))
  sub, _ = store.sample(sets, roots)
  src, tgt, _ = _edge_ids(sub, EDGE_SET)
  sampled = set(zip(src, tgt))
  assert len(sampled) > len(held_ids)
  assert not sampled & held_ids  # ... but the sampler never saw them.
  # The store's second guard drops listed edges too.
  index = {item: i for i, item in enumerate(ids)}
  s, t = sorted(sampled)[0]
  guarded = BeamSampleStore.load(
      HGNNDir(root / "hgnn"), graph, [SET], rounds=1,
      exclude={EDGE_SET: (np.array([index[s]]), np.array([index[t]]))})
  before = list(zip(src, tgt))
  src, tgt, _ = _edge_ids(guarded.sample(sets, roots)[0], EDGE_SET)
  assert list(zip(src, tgt)) == [e for e in before if e != (s, t)]


def test_each_pass_reads_its_round_and_roots_are_found(trained):
  root, graph, _ = trained
  layout = HGNNDir(root / "hgnn")
  spec = tfgnn.create_graph_spec_from_schema_pb(
      tfgnn.read_schema(str(layout.beam_samples_schema_path)),
      indices_dtype=tf.int64)
  records = read_samples(layout, graph, [SET], rounds=1)[(0, SET)]
  swapped = records.copy()
  swapped[[0, 1]] = records[[1, 0]]
  store = BeamSampleStore(graph, {(0, SET): records, (1, SET): swapped}, spec)
  assert store.rounds == 2
  roots = tf.constant([0, 1, 2], tf.int64)
  sets = tf.fill([3], store.set_index(SET))
  ids = graph.node_ids[SET]
  for r, expected in ((0, [0, 1, 2]), (1, [1, 0, 2])):
    sub, positions = store.sample(sets, roots, round_index=r)
    rows = np.concatenate([sub.node_sets[n]["#id"].numpy().astype(str)
                           for n in store.node_sets])
    assert list(rows[positions.numpy()]) == list(ids[expected])
  with pytest.raises(ValueError, match="miss"):
    read_samples(layout, graph, ["audiobook"], rounds=1)  # Never sampled.


def test_beam_options_need_the_beam_sampler_and_are_checked(tmp_path,
                                                            capsys):
  out = str(tmp_path / "hgnn")
  assert main(["pretrain", str(tmp_path), "--out", out,
               "--direct_num_workers=2"]) == 2
  assert "only used with --sampler beam" in capsys.readouterr().err
  assert main(["pretrain", str(tmp_path), "--out", out, "--sampler", "beam",
               "--direct_num_wrokers=2"]) == 2
  assert "--direct_num_wrokers=2" in capsys.readouterr().err
  assert main(["pretrain", str(tmp_path), "--out", out, "--sampler", "beam",
               "--beam-rounds", "0"]) == 2
  assert "beam_rounds must be at least 1" in capsys.readouterr().err
