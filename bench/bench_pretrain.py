"""Benchmark: HGNN pretraining and embedding throughput on 2 cores.

Ours: link-prediction training on subgraphs sampled by TF-GNN's in-memory edge
sampler inside tf.data (the production path), and embedding of items from
their sampled neighbourhoods. Reference, in the same run: a minimal
plain-TensorFlow full-graph GraphSAGE of the same size (one max-pooling
convolution per edge set, same dims), where every step runs both layers over
the whole graph with segment ops and takes the loss on a batch of positives.

Graphs are random heterogeneous item graphs (two node sets, four edge sets,
power-law degrees, 384-d text features) of --nodes items at two average
degrees, to show how training time scales with edges.

Prints one JSON line per graph size.

usage: python bench/bench_pretrain.py [--nodes 100000] [--degrees 10,20]
       [--steps 20] [--quick]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS)
import tensorflow as tf  # pylint: disable=g-import-not-at-top

from tfgnn_gfm.hgnn.config import PretrainConfig  # pylint: disable=g-import-not-at-top
from tfgnn_gfm.hgnn.embedding import NodeEmbedder, embed_full_graph
from tfgnn_gfm.hgnn.graph_data import EdgeSetData, ItemGraph
from tfgnn_gfm.hgnn.sampling import SubgraphSampler
from tfgnn_gfm.hgnn.trainer import train_link_prediction

TEXT_DIM = 384


def random_graph(nodes: int, degree: float, seed: int = 0) -> ItemGraph:
  """Two node sets (60/40), power-law endpoints, both directions stored."""
  rng = np.random.default_rng(seed)
  sizes = {"podcast": int(nodes * 0.6), "audiobook": nodes - int(nodes * 0.6)}
  ids = {n: np.array([f"{n[0]}{i}" for i in range(c)], dtype=object)
         for n, c in sizes.items()}
  feats = {n: {"text_embedding": rng.normal(size=(c, TEXT_DIM)).astype(
      np.float32), "log_degree": np.zeros((c, 1), np.float32)}
           for n, c in sizes.items()}
  undirected = int(nodes * degree / 2)
  names = sorted(sizes)
  edge_sets = {}
  pairs = [(a, b) for i, a in enumerate(names) for b in names[i:]]
  for a, b in pairs:
    m = undirected // len(pairs)
    src = (rng.pareto(1.5, m) * sizes[a] / 20).astype(np.int64) % sizes[a]
    tgt = rng.integers(0, sizes[b], m)
    if a == b:
      keep = src != tgt
      src, tgt = src[keep], tgt[keep]
      edge_sets[f"{a}_to_{a}"] = EdgeSetData(a, a, np.concatenate([src, tgt]),
                                             np.concatenate([tgt, src]))
    else:
      edge_sets[f"{a}_to_{b}"] = EdgeSetData(a, b, src, tgt)
      edge_sets[f"{b}_to_{a}"] = EdgeSetData(b, a, tgt, src)
  return ItemGraph(ids, feats, edge_sets)


class _StepTimer(tf.keras.callbacks.Callback):
  """Times training batches after the first (tracing) ones."""

  def __init__(self, skip: int = 2):
    super().__init__()
    self.skip, self.times, self._t = skip, [], None

  def on_train_batch_begin(self, batch, logs=None):
    self._t = time.perf_counter()

  def on_train_batch_end(self, batch, logs=None):
    if batch >= self.skip:
      self.times.append(time.perf_counter() - self._t)


def ours(graph: ItemGraph, config: PretrainConfig, embed_items: int):
  timer = _StepTimer()
  result = train_link_prediction(graph, config, verbose=0, callbacks=[timer])
  step = float(np.median(timer.times))
  embedder = NodeEmbedder(result.encoder,
                          SubgraphSampler(graph, config.fanouts, seed=0))
  counts = {n: min(graph.num_nodes(n), embed_items // 2)
            for n in graph.node_sets}
  embedder({n: 512 for n in graph.node_sets})  # trace once
  start = time.perf_counter()
  embedder(counts, batch_size=512)
  embed_s = time.perf_counter() - start
  embed_full_graph(result.encoder, graph)  # trace once
  start = time.perf_counter()
  embed_full_graph(result.encoder, graph)
  full_s = time.perf_counter() - start
  total = sum(graph.num_nodes(n) for n in graph.node_sets)
  return {"train_positive_edges_per_s": round(config.batch_size / step, 1),
          "train_step_s": round(step, 4),
          "embed_items_per_s": round(sum(counts.values()) / embed_s, 1),
          "embed_full_graph_items_per_s": round(total / full_s, 1)}


def reference(graph: ItemGraph, config: PretrainConfig, steps: int):
  """Plain-TF full-graph GraphSAGE (max pooling per edge set), same dims."""
  names = graph.node_sets
  hidden, dim = config.hidden_dim, config.embedding_dim
  feats = {n: tf.constant(np.concatenate(
      [graph.node_features[n]["text_embedding"],
       graph.node_features[n]["log_degree"]], 1)) for n in names}
  edges = {e: (es.source_set, es.target_set, tf.constant(es.source),
               tf.constant(es.target)) for e, es in graph.edge_sets.items()}
  proj = {n: tf.keras.layers.Dense(hidden) for n in names}
  layers = []
  for i in range(config.num_layers):
    units = dim if i == config.num_layers - 1 else hidden
    layers.append({"pool": {e: tf.keras.layers.Dense(hidden, activation="relu")
                            for e in edges},
                   "neigh": {e: tf.keras.layers.Dense(units, use_bias=False)
                             for e in edges},
                   "self": {n: tf.keras.layers.Dense(units) for n in names}})

  def forward():
    h = {n: proj[n](feats[n]) for n in names}
    for i, layer in enumerate(layers):
      new = {n: layer["self"][n](h[n]) for n in names}
      for e, (a, b, src, tgt) in edges.items():
        msg = layer["pool"][e](tf.gather(h[b], tgt))
        pooled = tf.math.unsorted_segment_max(msg, src, graph.num_nodes(a))
        pooled = tf.where(tf.math.is_finite(pooled), pooled, 0.0)
        new[a] += layer["neigh"][e](pooled)
      last = i == len(layers) - 1
      h = {n: tf.math.l2_normalize(v if last else tf.nn.relu(v), -1)
           for n, v in new.items()}
    return h

  es = graph.edge_sets[sorted(graph.edge_sets)[0]]
  rng = np.random.default_rng(0)
  optimizer = tf.keras.optimizers.Adam(config.learning_rate)

  @tf.function
  def train_step(src, tgt, neg):
    with tf.GradientTape() as tape:
      h = forward()
      zs = tf.gather(h[es.source_set], src)
      zt = tf.gather(h[es.target_set], tgt)
      zn = tf.gather(h[es.target_set], neg)
      loss = tf.reduce_mean(tf.nn.relu(
          tf.reduce_sum(zs * zn, -1) - tf.reduce_sum(zs * zt, -1) +
          config.margin))
    variables = tape.watched_variables()
    grads = tape.gradient(loss, variables)
    optimizer.apply_gradients([(g, v) for g, v in zip(grads, variables)
                               if g is not None])
    return loss

  def batch():
    pick = rng.integers(0, len(es), config.batch_size)
    return (tf.constant(es.source[pick]), tf.constant(es.target[pick]),
            tf.constant(rng.integers(0, graph.num_nodes(es.target_set),
                                     config.batch_size)))

  train_step(*batch())  # trace
  times = []
  for _ in range(steps):
    b = batch()
    start = time.perf_counter()
    train_step(*b).numpy()
    times.append(time.perf_counter() - start)
  step = float(np.median(times))
  f = tf.function(forward)
  f()
  start = time.perf_counter()
  f()
  forward_s = time.perf_counter() - start
  total = sum(graph.num_nodes(n) for n in names)
  return {"train_positive_edges_per_s": round(config.batch_size / step, 1),
          "train_step_s": round(step, 4),
          "embed_items_per_s": round(total / forward_s, 1)}


def main() -> None:
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--nodes", type=int, default=100_000)
  parser.add_argument("--degrees", default="10,20")
  parser.add_argument("--steps", type=int, default=20)
  parser.add_argument("--embed-items", type=int, default=20_000)
  parser.add_argument("--quick", action="store_true",
                      help="a 10k-item graph and few steps (smoke test)")
  args = parser.parse_args()
  if args.quick:
    args.nodes, args.steps, args.embed_items = 10_000, 5, 2_000
  for degree in (float(d) for d in args.degrees.split(",")):
    graph = random_graph(args.nodes, degree)
    config = PretrainConfig(epochs=1, steps_per_epoch=args.steps,
                            max_validation_edges=512)
    mine = ours(graph, config, args.embed_items)
    ref = reference(graph, config, max(3, args.steps // 4))
    edges = sum(len(e) for e in graph.edge_sets.values())
    print(json.dumps({
        "bench": "pretrain", "items": args.nodes, "directed_edges": edges,
        "avg_degree": degree, "fanouts": list(config.fanouts),
        "batch_size": config.batch_size, "ours": mine,
        "reference_full_graph_tf": ref,
        "ratio_train": round(mine["train_positive_edges_per_s"] /
                             ref["train_positive_edges_per_s"], 3),
        "ratio_embed": round(mine["embed_items_per_s"] /
                             ref["embed_items_per_s"], 3),
        "ratio_embed_full_graph": round(mine["embed_full_graph_items_per_s"] /
                                        ref["embed_items_per_s"], 3)}),
          flush=True)


if __name__ == "__main__":
  main()
