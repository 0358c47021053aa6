"""Benchmark: HGNN pretraining and embedding throughput on 2 cores.

Training, in one run, on two random heterogeneous item graphs (two node sets,
four edge sets, power-law degrees, 384-d text features):

* the size of a 100k-rating dataset (--small-nodes 1700 items, about 275k
  directed edges, as MovieLens ml-latest-small's graph);
* the --nodes 100k-item / --degree 10 (1M directed edges) graph.

On each, positive edges/s of ``gfm pretrain``'s two paths: ``sampled`` (one
subgraph per root from TF-GNN's in-memory edge sampler inside tf.data, batch
256) and ``full_graph`` (one encoder pass over the whole graph per step, the
step's positives masked out, --positives-per-step positives); their ratio; and
two references of the same model size, whole graph every step, margin loss on
--positives-per-step positives: a minimal plain-TensorFlow GraphSAGE, and
PyG (HeteroConv of SAGEConv, max aggregation; bench/pyg_reference.py) when
``--torch-python PATH`` names a Python with torch and torch_geometric (e.g.
``python3.11 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install
torch==2.13.0 torch_geometric``). On the big graph also embedding items/s
from sampled neighbourhoods and with ``--full-graph``.

With ``--defaults``, instead: ``gfm pretrain`` as a user runs it, every flag
at its default (training, embedding, the held-out-edge report, saving), timed
end to end on a random graph of --defaults-nodes items and
--defaults-edges directed edges (40k and 3.5M: the size of the time target)
and on each built graph directory given with --graph (e.g. MovieLens and
amazon-food-kitchen graphs from ``gfm build-graph``): seconds, positive
edges/s, and the HR@10 ratio to item-kNN per edge set.

Prints one JSON line per figure ("graph", "figure", "value", details).

usage: python bench/bench_pretrain.py [--torch-python PATH] [--quick]
       python bench/bench_pretrain.py --defaults [--graph DIR ...]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import subprocess
import tempfile
import time

import numpy as np

import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS)

# isort: split
import tensorflow as tf

from tfgnn_gfm.hgnn.config import PretrainConfig
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


def train_speed(graph: ItemGraph, config: PretrainConfig) -> dict:
  """Positive edges/s of ``train_link_prediction`` (median step, after 2)."""
  timer = _StepTimer()
  result = train_link_prediction(graph, config, verbose=0, callbacks=[timer])
  step = float(np.median(timer.times))
  positives = result.positives_per_step or config.batch_size
  return {"value": round(positives / step, 1), "step_s": round(step, 4),
          "positives_per_step": positives, "mode": result.mode,
          "encoder": result.encoder}


def embed_speed(graph: ItemGraph, encoder, config: PretrainConfig,
                embed_items: int) -> tuple[float, float]:
  """Items/s embedded from sampled neighbourhoods, and with --full-graph."""
  embedder = NodeEmbedder(encoder, SubgraphSampler(graph, config.fanouts,
                                                   seed=0))
  counts = {n: min(graph.num_nodes(n), embed_items // 2)
            for n in graph.node_sets}
  embedder({n: 512 for n in graph.node_sets})  # trace once
  start = time.perf_counter()
  embedder(counts, batch_size=512)
  embed_s = time.perf_counter() - start
  embed_full_graph(encoder, graph)  # trace once
  start = time.perf_counter()
  embed_full_graph(encoder, graph)
  full_s = time.perf_counter() - start
  total = sum(graph.num_nodes(n) for n in graph.node_sets)
  return (round(sum(counts.values()) / embed_s, 1), round(total / full_s, 1))


def pyg_speed(python: str, graph: ItemGraph, config: PretrainConfig,
              steps: int) -> dict:
  """The PyG reference (bench/pyg_reference.py) in ``python``."""
  with tempfile.TemporaryDirectory() as tmp:
    path = pathlib.Path(tmp) / "graph.npz"
    arrays = {"node_sets": np.array(graph.node_sets),
              "edge_sets": np.array(sorted(graph.edge_sets))}
    for n in graph.node_sets:
      arrays[f"x/{n}"] = np.concatenate(
          [graph.node_features[n]["text_embedding"],
           graph.node_features[n]["log_degree"]], 1)
    for e, es in graph.edge_sets.items():
      arrays[f"ends/{e}"] = np.array([es.source_set, es.target_set])
      arrays[f"source/{e}"], arrays[f"target/{e}"] = es.source, es.target
    np.savez(path, **arrays)
    out = subprocess.run(
        [python, str(pathlib.Path(__file__).with_name("pyg_reference.py")),
         str(path), "--hidden", str(config.hidden_dim),
         "--dim", str(config.embedding_dim),
         "--layers", str(config.num_layers),
         "--positives", str(config.positives_per_step),
         "--steps", str(steps), "--threads", str(os.cpu_count() or 1)],
        capture_output=True, text=True, check=False)
  if out.returncode != 0:
    raise RuntimeError(f"PyG reference failed: {out.stderr[-2000:]}")
  return json.loads(out.stdout.strip().splitlines()[-1])


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
    pick = rng.integers(0, len(es), config.positives_per_step)
    return (tf.constant(es.source[pick]), tf.constant(es.target[pick]),
            tf.constant(rng.integers(0, graph.num_nodes(es.target_set),
                                     config.positives_per_step)))

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
  return {"train_positive_edges_per_s": round(
      config.positives_per_step / step, 1), "train_step_s": round(step, 4),
          "embed_items_per_s": round(total / forward_s, 1)}


def _emit(graph_name: str, figure: str, value, **details) -> None:
  print(json.dumps({"bench": "pretrain", "graph": graph_name,
                    "figure": figure, "value": value, **details}),
        flush=True)


def defaults_run(name: str, graph: ItemGraph) -> None:
  """Times ``gfm pretrain`` with every flag at its default on ``graph``."""
  from tfgnn_gfm.hgnn.stage import pretrain_graph
  edges = sum(len(e) for e in graph.edge_sets.values())
  shape = {"items": sum(graph.num_nodes(n) for n in graph.node_sets),
           "directed_edges": edges}
  with tempfile.TemporaryDirectory() as tmp:
    start = time.perf_counter()
    metrics = pretrain_graph(graph, pathlib.Path(tmp) / "hgnn",
                             PretrainConfig(), verbose=0)
    seconds = time.perf_counter() - start
  _emit(name, "pretrain_defaults_seconds", round(seconds, 1),
        train_seconds=metrics["train_seconds"], mode=metrics["mode"],
        epochs=metrics["epochs_run"], **shape)
  _emit(name, "pretrain_defaults_positive_edges_per_s",
        metrics["positive_edges_per_second"], **shape)
  _emit(name, "hgnn_over_knn_hr@10", {
      edge_set: r["hgnn_vs_knn_hr@10"]["ratio"]
      for edge_set, r in sorted(metrics["link_prediction"].items())},
        meets_target=metrics["hgnn_meets_knn_target"], **shape)
  _emit(name, "held_out_hr@10", {
      edge_set: {"hgnn": round(r["hgnn_hr@10"], 4),
                 "item_knn": round(r["knn_hr@10"], 4),
                 "queries": r["queries"]}
      for edge_set, r in sorted(metrics["link_prediction"].items())},
        **shape)


def main() -> None:
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--nodes", type=int, default=100_000)
  parser.add_argument("--degree", type=float, default=10.0,
                      help="average degree (undirected) of the big graph: "
                      "10 gives 1M directed edges at 100k items")
  parser.add_argument("--small-nodes", type=int, default=1_700)
  parser.add_argument("--small-edges", type=int, default=275_000,
                      help="directed edges of the 100k-rating-sized graph")
  parser.add_argument("--steps", type=int, default=20,
                      help="timed steps of the sampled path")
  parser.add_argument("--full-steps", type=int, default=8,
                      help="timed steps of the full-graph path")
  parser.add_argument("--reference-steps", type=int, default=4,
                      help="timed steps of the plain-TF and PyG references")
  parser.add_argument("--positives-per-step", type=int,
                      default=PretrainConfig().positives_per_step)
  parser.add_argument("--embed-items", type=int, default=20_000)
  parser.add_argument("--torch-python", default=os.environ.get(
      "TFGNN_GFM_TORCH_PYTHON"), help="a Python with torch and "
      "torch_geometric, for the PyG reference")
  parser.add_argument("--quick", action="store_true",
                      help="a 10k-item graph and few steps (smoke test)")
  parser.add_argument("--defaults", action="store_true",
                      help="time gfm pretrain with every flag at its default "
                      "(see above) instead of the throughput figures")
  parser.add_argument("--defaults-nodes", type=int, default=40_000)
  parser.add_argument("--defaults-edges", type=int, default=3_500_000)
  parser.add_argument("--graph", action="append", default=[],
                      help="with --defaults: a gfm build-graph output "
                      "directory to time too (repeatable)")
  args = parser.parse_args()
  if args.defaults:
    from tfgnn_gfm.hgnn.graph_data import load_item_graph
    for path in args.graph:
      defaults_run(pathlib.Path(path).name, load_item_graph(path))
    defaults_run(f"{args.defaults_nodes // 1000}k_items", random_graph(
        args.defaults_nodes, args.defaults_edges / args.defaults_nodes))
    return
  if args.quick:
    args.nodes, args.steps, args.full_steps = 10_000, 5, 4
    args.reference_steps, args.embed_items = 2, 2_000
  graphs = [("100k_ratings", random_graph(
      args.small_nodes, args.small_edges / args.small_nodes)),
            (f"{args.nodes // 1000}k_items",
             random_graph(args.nodes, args.degree))]
  for name, graph in graphs:
    edges = sum(len(e) for e in graph.edge_sets.values())
    shape = {"items": sum(graph.num_nodes(n) for n in graph.node_sets),
             "directed_edges": edges}
    base = PretrainConfig(epochs=1, max_validation_edges=512,
                          positives_per_step=args.positives_per_step)
    sampled = train_speed(graph, dataclasses.replace(
        base, mode="sampled", steps_per_epoch=args.steps))
    _emit(name, "sampled_positive_edges_per_s", sampled["value"],
          step_s=sampled["step_s"], batch_size=base.batch_size,
          fanouts=list(base.fanouts), **shape)
    full = train_speed(graph, dataclasses.replace(
        base, mode="full_graph", steps_per_epoch=args.full_steps + 2))
    _emit(name, "full_graph_positive_edges_per_s", full["value"],
          step_s=full["step_s"], positives_per_step=full["positives_per_step"],
          **shape)
    _emit(name, "ratio_full_graph_over_sampled",
          round(full["value"] / sampled["value"], 2), **shape)
    # References take the loss on as many positives per step.
    base = dataclasses.replace(base,
                               positives_per_step=full["positives_per_step"])
    ref = reference(graph, base, args.reference_steps)
    _emit(name, "plain_tf_full_graph_positive_edges_per_s",
          ref["train_positive_edges_per_s"], step_s=ref["train_step_s"],
          positives_per_step=base.positives_per_step, **shape)
    if args.torch_python:
      pyg = pyg_speed(args.torch_python, graph, base, args.reference_steps)
      pyg_value = pyg.pop("positive_edges_per_s")
      _emit(name, "pyg_full_graph_positive_edges_per_s", pyg_value, **pyg,
            **shape)
      _emit(name, "ratio_full_graph_over_pyg",
            round(full["value"] / pyg_value, 2), **shape)
    if name != graphs[0][0]:
      embed_s, embed_full = embed_speed(graph, sampled["encoder"], base,
                                        args.embed_items)
      _emit(name, "embed_sampled_items_per_s", embed_s, **shape)
      _emit(name, "embed_full_graph_items_per_s", embed_full, **shape)


if __name__ == "__main__":
  main()
