"""Benchmark: the Beam graph pipeline against a pandas self-join, same edges.

For each size (synthetic interactions from ``tfgnn_gfm.synth.generate``,
sized like ``bench/bench_synth.py``: users = n/10, shows = users/20,
audiobooks = users/40, written as CSV) it measures, each in a fresh
subprocess so that peak memory does not mix:

* ``reference``: the single-process pandas/numpy reference
  (``tfgnn_gfm.graph.reference``): ``read_dataset`` (read + validate), then
  the vectorised self-join that computes the capped edges;
* ``beam_edges``: the edge-building part of the pipeline alone
  (``beam.edges.CoInteractionEdges``: user shards, pair shards, both caps) on
  the DirectRunner, from the same validated frames; the time includes
  sharding the frames into batches, building the catalog and node index, and
  the pipeline with its start-up;
* ``beam_whole``: the whole pipeline (``beam.build_graph.build_graph``: read,
  validate, key checks, text, edges, every output) on the DirectRunner.

Both Beam runs use the classic DirectRunner engine in ``in_memory`` mode (one
process, as the reference); ``--modes`` adds ``multi_processing``. The whole
pipeline uses the hashed bag-of-words test encoder
(``tfgnn_gfm.graph.hashing_encoder``), not MiniLM: this benchmark measures
graph building; text encoding has its own benchmark
(``bench/bench_text_encoder.py``). Edges are checked to be identical
(``same_edges``) between the reference and each Beam run.

Prints one JSON line per size: interactions per second, seconds and peak RSS
of each part, and the ratios Beam / reference (the target: within 3x at 1M on
the DirectRunner, and near-linear growth from 1M to 5M).

usage: python bench/bench_build_graph.py [--sizes 1000000,5000000] [--quick]
           [--modes in_memory,multi_processing]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import time

_ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
  sys.path.insert(0, str(_ROOT))

TEXT_ENCODER_NOTE = ("hashed bag-of-words test encoder (16-d, "
                     "tfgnn_gfm.graph.hashing_encoder), not MiniLM")


def _peak_mb() -> float:
  own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
  return round(max(own, children) / 1024, 1)


def _edge_digest(source, target, co, first, last) -> str:
  """A digest of an undirected edge list given as item-id arrays."""
  import numpy as np
  order = np.lexsort((np.asarray(target, object).astype(str),
                      np.asarray(source, object).astype(str)))
  digest = hashlib.blake2b(digest_size=12)
  for column in (source, target, co, first, last):
    values = np.asarray(column)[order]
    digest.update("\x00".join(map(str, values.tolist())).encode())
  return digest.hexdigest()


def _generate(size: int, folder: pathlib.Path) -> dict:
  import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
  from tfgnn_gfm.data.writer import write_dataset
  from tfgnn_gfm.synth import SynthConfig, generate
  users = max(1000, size // 10)
  config = SynthConfig(num_users=users, num_interactions=size,
                       num_podcasts=max(300, users // 20),
                       num_audiobooks=max(200, users // 40))
  platform = generate(config, progress=False)
  write_dataset(folder, {"items": platform.items,
                         "interactions": platform.interactions,
                         "users": platform.users},
                stage="synth", config={}, fmt="csv")
  return {"interactions": len(platform.interactions),
          "items": len(platform.items), "users": users}


def _task_reference(data: str) -> dict:
  import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
  from tfgnn_gfm.data.dataset import read_dataset
  from tfgnn_gfm.graph.config import GraphBuildConfig
  from tfgnn_gfm.graph.reference import reference_edges
  start = time.perf_counter()
  dataset = read_dataset(data)
  read_s = time.perf_counter() - start
  start = time.perf_counter()
  graph = reference_edges(dataset.items.frame, dataset.interactions.frame,
                          GraphBuildConfig())
  edges_s = time.perf_counter() - start
  e = graph.edges
  return {"read_s": round(read_s, 3), "edges_s": round(edges_s, 3),
          "edges": len(e), "nodes": len(graph.nodes),
          "digest": _edge_digest(e.source_id, e.target_id, e.co_users,
                                 e.first_day, e.last_day),
          "peak_rss_mb": _peak_mb()}


def _task_beam_edges(data: str, mode: str) -> dict:
  """The pipeline's edge part alone, from validated frames."""
  import apache_beam as beam
  import numpy as np
  import pandas as pd

  import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
  from beam.edges import CoInteractionEdges
  from beam.elements import InteractionBatch
  from tfgnn_gfm import catalog as items_lib
  from tfgnn_gfm.data.dataset import read_dataset
  from tfgnn_gfm.graph import nodes as nodes_lib
  from tfgnn_gfm.graph import pairs as pairs_lib
  from tfgnn_gfm.graph.config import GraphBuildConfig
  from tfgnn_gfm.pipelines import options as options_lib
  from tfgnn_gfm.timesplit import NO_TIME, default_cut
  dataset = read_dataset(data)
  items, inter = dataset.items.frame, dataset.interactions.frame
  config = GraphBuildConfig()
  start = time.perf_counter()
  catalog = items_lib.build_item_catalog(
      items["item_id"].to_numpy(object), items["item_type"].to_numpy(object),
      items["parent_id"].to_numpy(object),
      items["published_at"].astype("Int64").fillna(NO_TIME).to_numpy(
          np.int64))
  cut = default_cut(int(inter["timestamp"].max()), config.holdout_days)
  node_index = nodes_lib.build_node_index(catalog, cut, config.num_shards)
  users = inter["user_id"].to_numpy(object)
  shards = nodes_lib.stable_shard(users, config.num_shards)
  item = catalog.lookup(inter["item_id"].to_numpy(object))
  ts = inter["timestamp"].to_numpy(np.int64)
  # Data enters the pipeline from files, as in the real one (beam.Create
  # would pickle and bz2-compress it into the pipeline graph).
  tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench_edges_"))
  inputs = []
  for s in range(config.num_shards):
    m = shards == s
    codes, _ = pd.factorize(users[m])
    path = tmp / f"shard_{s}.npz"
    np.savez(path, user=codes.astype(np.int64), item=item[m], ts=ts[m])
    inputs.append((s, str(path)))
  with open(tmp / "node_index.pkl", "wb") as fh:
    pickle.dump(node_index, fh, protocol=pickle.HIGHEST_PROTOCOL)
  result_path = str(tmp / "result.npz")

  def load_batch(element):
    shard, path = element
    with np.load(path) as z:
      return shard, InteractionBatch(z["user"], z["item"], z["ts"])

  def load_index(path):
    with open(path, "rb") as fh:
      return pickle.load(fh)

  def save(parts, path):
    stats = pairs_lib.concat_pairs([p for _, p in parts])
    np.savez(path, key=stats.key, co=stats.co_users, first=stats.first_day,
             last=stats.last_day)

  options = options_lib.pipeline_options(
      [f"--direct_running_mode={mode}"]
      + (["--direct_num_workers=2"] if mode != "in_memory" else []))
  with beam.Pipeline(runner=options_lib.create_runner(options),
                     options=options) as p:
    index_pc = (p | "IndexPath" >> beam.Create([str(tmp / "node_index.pkl")])
                | "LoadIndex" >> beam.Map(load_index))
    cut_pc = p | "Cut" >> beam.Create([cut])
    out = (p | "Shards" >> beam.Create(inputs)
           | "Reshuffle" >> beam.Reshuffle()
           | "Load" >> beam.Map(load_batch)
           | "Edges" >> CoInteractionEdges(config, index_pc, cut_pc))
    _ = (out["edges"] | beam.combiners.ToList()
         | beam.Map(save, result_path))
  seconds = time.perf_counter() - start
  r = dict(np.load(result_path))
  shutil.rmtree(tmp, ignore_errors=True)
  a, b = pairs_lib.split_key(r["key"], node_index.num_nodes)
  ids = node_index.node_id
  return {"seconds": round(seconds, 3), "edges": int(len(r["key"])),
          "digest": _edge_digest(ids[a], ids[b], r["co"], r["first"],
                                 r["last"]),
          "peak_rss_mb": _peak_mb()}


def _task_beam_whole(data: str, mode: str, encoder: str, out: str) -> dict:
  import logging

  import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
  from beam.build_graph import build_graph
  from tfgnn_gfm.graph.config import GraphBuildConfig
  logging.basicConfig(level=logging.WARNING)
  start = time.perf_counter()
  summary = build_graph(
      data, out, GraphBuildConfig(text_encoder=encoder),
      beam_args=[f"--direct_running_mode={mode}"]
      + (["--direct_num_workers=2"] if mode != "in_memory" else []))
  seconds = time.perf_counter() - start
  edges = sum(summary["edges"].values()) // 2
  return {"seconds": round(seconds, 3), "edges": edges,
          "nodes": summary["num_nodes"], "peak_rss_mb": _peak_mb()}


def _subprocess(*args: str) -> dict:
  env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
  result = subprocess.run([sys.executable, __file__, *args], check=True,
                          capture_output=True, text=True, env=env)
  return json.loads(result.stdout.strip().splitlines()[-1])


def _one_size(size: int, modes: list[str], work: pathlib.Path) -> dict:
  data = work / f"data_{size}"
  generated = _subprocess("--task", "generate", "--size", str(size),
                          "--data", str(data))
  encoder = str(work / "hashing_encoder")
  _subprocess("--task", "encoder", "--data", encoder)
  n = generated["interactions"]
  reference = _subprocess("--task", "reference", "--data", str(data))
  ref_total = reference["read_s"] + reference["edges_s"]
  line = {"bench": "build_graph", "target_interactions": size,
          "interactions": n, "items": generated["items"],
          "users": generated["users"], "text_encoder": TEXT_ENCODER_NOTE,
          "reference": {
              "what": "read_dataset + pandas self-join (one process)",
              "read_validate_s": reference["read_s"],
              "edges_s": reference["edges_s"],
              "total_s": round(ref_total, 3),
              "edges_interactions_per_s": round(n / reference["edges_s"]),
              "total_interactions_per_s": round(n / ref_total),
              "peak_rss_mb": reference["peak_rss_mb"],
              "undirected_edges": reference["edges"]}}
  for mode in modes:
    edges = _subprocess("--task", "beam_edges", "--data", str(data),
                        "--mode", mode)
    whole = _subprocess("--task", "beam_whole", "--data", str(data),
                        "--mode", mode, "--encoder", encoder, "--out",
                        str(work / f"graph_{size}_{mode}"))
    line[f"beam_{mode}"] = {
        "runner": f"DirectRunner (classic engine), {mode}",
        "edges_s": edges["seconds"],
        "edges_interactions_per_s": round(n / edges["seconds"]),
        "edges_ratio_vs_reference": round(
            edges["seconds"] / reference["edges_s"], 2),
        "edges_peak_rss_mb": edges["peak_rss_mb"],
        "same_edges": edges["digest"] == reference["digest"],
        "whole_s": whole["seconds"],
        "whole_interactions_per_s": round(n / whole["seconds"]),
        "whole_ratio_vs_reference": round(whole["seconds"] / ref_total, 2),
        "whole_peak_rss_mb": whole["peak_rss_mb"],
        "whole_same_edge_count": whole["edges"] == reference["edges"],
    }
  return line


def main() -> None:
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--sizes", default="1000000,5000000",
                      help="comma-separated target interaction counts")
  parser.add_argument("--quick", action="store_true",
                      help="one small size (50k interactions)")
  parser.add_argument("--modes", default="in_memory",
                      help="DirectRunner modes: in_memory, multi_processing")
  parser.add_argument("--task", help=argparse.SUPPRESS)
  parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
  parser.add_argument("--data", help=argparse.SUPPRESS)
  parser.add_argument("--mode", help=argparse.SUPPRESS)
  parser.add_argument("--encoder", help=argparse.SUPPRESS)
  parser.add_argument("--out", help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.task:
    if args.task == "generate":
      result = _generate(args.size, pathlib.Path(args.data))
    elif args.task == "encoder":
      from tfgnn_gfm.graph.hashing_encoder import build_hashing_encoder
      result = {"path": str(build_hashing_encoder(args.data))}
    elif args.task == "reference":
      result = _task_reference(args.data)
    elif args.task == "beam_edges":
      result = _task_beam_edges(args.data, args.mode)
    else:
      result = _task_beam_whole(args.data, args.mode, args.encoder, args.out)
    print(json.dumps(result))
    return
  sizes = [50_000] if args.quick else [int(s) for s in args.sizes.split(",")]
  modes = [m.strip() for m in args.modes.split(",") if m.strip()]
  with tempfile.TemporaryDirectory(prefix="bench_build_graph_") as tmp:
    for size in sizes:
      print(json.dumps(_one_size(size, modes, pathlib.Path(tmp))), flush=True)


if __name__ == "__main__":
  main()
