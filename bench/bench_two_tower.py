"""Benchmark: two-tower training and evaluation throughput.

For each size (synthetic interactions from ``tfgnn_gfm.synth.generate``,
sized like ``bench/bench_synth.py``: users = n/10, shows = users/20,
audiobooks = users/40), written as Parquet and read back with
``read_dataset``, with a hand-made EmbeddingsDir (random unit 128-d HGNN
vectors and 384-d text vectors: this measures the dynamic layer, not the
static one), it measures:

* ``examples``: building the training examples, histories (per example by
  default: the user's items strictly before the example) and user table of
  the 90-day window (numpy/pandas);
* ``train``: the unified 2T-HGNN at the default sizes (``TwoTowerConfig``:
  towers 256-128, the batch size chosen from the examples) for ``--epochs``
  epoch(s): training examples per second;
* ``evaluate``: the whole protocol for one scorer (per type and over all
  types; all items, new items and cold items; batched matrix top-K):
  evaluated users per second, without and with the user-tower inference.

Prints one JSON line per size. There is no external reference for these
numbers (the paper reports no CPU throughput), so no ratio is reported.

usage: python bench/bench_two_tower.py [--sizes 1000000] [--epochs 1]
           [--training-history before_example|window]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def _one(interactions: int, epochs: int, training_history: str) -> dict:
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  import numpy as np
  import pandas as pd

  import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
  from tfgnn_gfm.artifacts import (
    EmbeddingsDir,
    atomic_directory,
    write_manifest,
  )
  from tfgnn_gfm.data import read_dataset, write_dataset
  from tfgnn_gfm.evaluation.baselines import Scorer
  from tfgnn_gfm.evaluation.comparison import training_data_for
  from tfgnn_gfm.evaluation.holdout import build_holdout
  from tfgnn_gfm.evaluation.protocol import evaluate_scorer
  from tfgnn_gfm.synth import SynthConfig, generate
  from tfgnn_gfm.timesplit import TimeSplit
  from tfgnn_gfm.twotower.config import TwoTowerConfig
  from tfgnn_gfm.twotower.items import load_item_table
  from tfgnn_gfm.twotower.train import train_two_tower

  users = max(1000, interactions // 10)
  config = SynthConfig(num_users=users, num_interactions=interactions,
                       num_podcasts=max(300, users // 20),
                       num_audiobooks=max(200, users // 40))
  platform = generate(config, progress=False)
  rng = np.random.default_rng(0)
  with tempfile.TemporaryDirectory() as tmp:
    write_dataset(f"{tmp}/data", {"items": platform.items,
                                  "interactions": platform.interactions,
                                  "users": platform.users},
                  stage="synth", config={}, fmt="parquet")
    start = time.perf_counter()
    dataset = read_dataset(f"{tmp}/data")
    read_s = time.perf_counter() - start
    n_items = len(platform.items)
    hgnn = rng.normal(size=(n_items, 128)).astype(np.float32)
    hgnn /= np.linalg.norm(hgnn, axis=1, keepdims=True)
    text = rng.normal(size=(n_items, 384)).astype(np.float32)
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    with atomic_directory(f"{tmp}/emb") as emb:
      layout = EmbeddingsDir(emb)
      np.save(layout.vectors_path, hgnn)
      np.save(layout.text_vectors_path, text)
      pd.DataFrame({"item_id": platform.items["item_id"],
                    "item_type": platform.items["item_type"],
                    "source": "graph",
                    "row": np.arange(n_items)}).to_csv(layout.index_path,
                                                       index=False)
      write_manifest(emb, stage="embed",
                     extra={"cut": platform.cut_timestamp})
    cut = platform.cut_timestamp
    split = TimeSplit(cut, 90, 14)
    tt = TwoTowerConfig(epochs=epochs, training_history=training_history)
    start = time.perf_counter()
    items = load_item_table(f"{tmp}/emb", dataset.items.frame,
                            available_until=split.holdout_end)
    data = training_data_for(dataset.interactions.frame,
                             dataset.users.frame, items, split, tt)
    holdout = build_holdout(dataset.interactions.frame, items,
                            data.users.user_id, split)
    features_s = time.perf_counter() - start
  model = train_two_tower(data, tt, verbose=0, popularity_weight=0.0)
  user_rows = np.unique(holdout.user)
  start = time.perf_counter()
  user_vectors = model.embed_users(data.users, user_rows)
  item_vectors = model.embed_items(items)
  towers_s = time.perf_counter() - start
  scorer = Scorer("2t_hgnn", user_rows, user_vectors, item_vectors)
  start = time.perf_counter()
  result = evaluate_scorer(scorer, items, holdout)
  rank_s = time.perf_counter() - start
  peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  return {
      "bench": "two_tower", "target_interactions": interactions,
      "interactions": int(len(dataset.interactions.frame)),
      "users": int(len(data.users)), "items": int(n_items),
      "candidates": int(items.candidate.sum()),
      "training_examples": int(len(data.examples)),
      "training_history": tt.training_history,
      "example_history_mb": (
          0 if data.examples.history is None else
          round(data.examples.history.nbytes / 2**20)),
      "interaction_weight": tt.interaction_weight,
      "epochs": epochs, "batch_size": model.batch_size,
      "read_s": round(read_s, 2), "features_s": round(features_s, 2),
      "train_s": round(model.seconds, 2),
      "train_examples_per_s": round(model.examples_per_second),
      "evaluated_users": int(len(user_rows)),
      "tower_inference_s": round(towers_s, 2),
      "rank_s": round(rank_s, 2),
      "eval_users_per_s": round(len(user_rows) / rank_s),
      "eval_users_per_s_with_towers": round(len(user_rows) /
                                            (rank_s + towers_s)),
      "hr@10_random_vectors": {t: round(r["all_items"]["all_users"]["hr@10"], 3)
                               for t, r in result.items()},
      "cpus": os.cpu_count(),
      # Other processes share the machine: the 1-minute load average at the
      # end says how much (2 cores: above 2 means contention).
      "load_average_1m": round(os.getloadavg()[0], 2),
      "peak_rss_mb": round(peak_mb),
      "reference": None}


def main() -> None:
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--sizes", default="1000000",
                      help="comma-separated target interaction counts")
  parser.add_argument("--epochs", type=int, default=1,
                      help="training epochs to time")
  parser.add_argument("--training-history", default="before_example",
                      choices=("before_example", "window"),
                      help="user history of a training example")
  parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.one:
    print(json.dumps(_one(args.one, args.epochs, args.training_history)),
          flush=True)
    return
  for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
    # A fresh process per size, so peak memory does not mix.
    subprocess.run([sys.executable, __file__, "--one", str(size), "--epochs",
                    str(args.epochs), "--training-history",
                    args.training_history], check=True)


if __name__ == "__main__":
  main()
