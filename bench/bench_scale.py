"""Benchmark: every stage on a paper-scale synthetic platform, on one machine.

Generates a synthetic platform (``gfm synth``; default 1M users, 10M
interactions, 200k items: 65% podcasts, 35% audiobooks, no episodes) and runs
every stage as the real ``gfm`` command in its own subprocess, each flag at
its default except the budgets stated below:

  synth, validate, build-graph, pretrain (its default positives budget),
  embed, train-2t (--epochs 1: one pass over the examples), evaluate (on a
  --max-users sample of the hold-out's users; popularity, HGNN-kNN and
  item-kNN: the two-tower model is timed by train-2t), export (ScaNN and
  brute force), serve (``gfm serve`` on the export, --requests sequential
  top-10 requests of real item histories over REST on loopback).

Prints one JSON line per stage: seconds, the stage process's peak resident
memory (``os.wait4``; for serve, the server's high-water mark) and the
stage's rates (rows, edges, examples per second) read from its manifest, so
the README's projection to the paper's size (10M users, 3.5M podcasts, 250k
audiobooks) rests on figures measured in the same run. A last line sums the
stages. There is no external reference for a whole loop, so no ratio.

``--scale F`` multiplies users, interactions and items (``--quick``: a
2,000-user platform for the test suite).

usage: python bench/bench_scale.py [--scale 1.0] [--work DIR] [--keep]
       [--max-users 20000] [--requests 200] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from gfm_process import GFM, stage_row

USERS, INTERACTIONS, ITEMS = 1_000_000, 10_000_000, 200_000
PODCAST_SHARE = 0.65


def _manifest(path: pathlib.Path) -> dict:
  try:
    return json.loads((path / "manifest.json").read_text())
  except (OSError, ValueError):
    return {}


def _rates(stage: str, out: pathlib.Path, seconds: float) -> dict:
  """The stage's sizes and rates from its manifest (what the projection
  scales by)."""
  m = _manifest(out)
  counts = m.get("counts", {})
  metrics = m.get("metrics", {})
  per_s = lambda n: round(n / seconds, 1) if n and seconds else None  # noqa
  if stage == "synth":
    n = counts.get("interactions")
    return {"interactions": n, "interactions_per_s": per_s(n)}
  if stage == "build-graph":
    edges = counts.get("num_edges")
    return {"nodes": counts.get("num_nodes"), "directed_edges": edges,
            "user_pairs": counts.get("pairs", {}).get("user_pairs"),
            "edges_per_s": per_s(edges),
            "interactions_per_s": per_s(metrics.get("beam_counters", {}).get(
                "rows_read.interactions"))}
  if stage == "pretrain":
    return {"mode": metrics.get("mode"), "epochs": metrics.get("epochs_run"),
            "train_seconds": metrics.get("train_seconds"),
            "positive_edges_per_s": metrics.get("positive_edges_per_second"),
            "embed_items_per_s": metrics.get("embed_items_per_second")}
  if stage == "embed":
    n = counts.get("items")
    return {"items": n, "items_per_s": per_s(n),
            "graph_items_per_s": metrics.get("graph_items_per_second")}
  if stage == "train-2t":
    return {"examples": counts.get("examples"),
            "examples_per_s": metrics.get("examples_per_second"),
            "batch_size": metrics.get("batch_size")}
  if stage == "evaluate":
    return {"evaluated_users": counts.get("evaluated_users"),
            "holdout_users": counts.get("holdout_users")}
  return {}


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _serve(base: pathlib.Path, data: pathlib.Path, requests: int,
           log: pathlib.Path) -> dict:
  """Starts ``gfm serve`` on the export, waits until both models are served,
  sends ``requests`` top-10 requests (five recent items of a real user each)
  one after another, and stops the server."""
  import numpy as np
  import pandas as pd

  from tfgnn_gfm.serving.client import ServingClient, ServingError
  from tfgnn_gfm.serving.tour import user_instance
  port = _free_port()
  url = f"http://127.0.0.1:{port}"
  start = time.perf_counter()
  with open(log, "wb") as out:
    server = subprocess.Popen(
        GFM + ["serve", "--model-config-file", str(base / "models.config"),
                "--rest-api-port", str(port)], stdout=out,
        stderr=subprocess.STDOUT)
  row = {"bench": "scale", "stage": "serve"}
  try:
    client = ServingClient(url, "gfm_retrieval")
    deadline = time.monotonic() + 1800
    while True:
      try:
        if all(client.served_versions(m) for m in
               ("gfm_retrieval", "gfm_retrieval_bf")):
          break
      except ServingError:
        pass
      if server.poll() is not None or time.monotonic() > deadline:
        row["error"] = f"the server did not serve the export; see {log}"
        return row
      time.sleep(0.5)
    row["ready_seconds"] = round(time.perf_counter() - start, 2)
    frame = pd.read_csv(data / "interactions.csv",
                        usecols=["user_id", "item_id", "timestamp"],
                        nrows=200_000).sort_values("timestamp")
    histories = frame.groupby("user_id")["item_id"].apply(list)
    users = (pd.read_csv(data / "users.csv").set_index("user_id")
             if (data / "users.csv").exists() else None)
    inputs = client.signatures()["serving_default"]["inputs"]
    rng = np.random.default_rng(0)
    latencies, failures = [], []
    for model in ("gfm_retrieval", "gfm_retrieval_bf"):
      for _ in range(requests):
        user_id = histories.index[int(rng.integers(len(histories)))]
        user = (users.loc[user_id].to_dict()
                if users is not None and user_id in users.index else {})
        instance = user_instance(inputs, user,
                                 histories[user_id][::-1][:5], k=10)
        t = time.perf_counter()
        try:
          client.predict(instances=[instance], model=model)
          latencies.append((model, (time.perf_counter() - t) * 1000))
        except ServingError as e:
          failures.append(str(e))
    for model in ("gfm_retrieval", "gfm_retrieval_bf"):
      ms = np.array([v for m, v in latencies if m == model])
      if len(ms):
        row[f"{model}_p50_ms"] = round(float(np.percentile(ms, 50)), 2)
        row[f"{model}_p99_ms"] = round(float(np.percentile(ms, 99)), 2)
    row["requests"] = 2 * requests
    row["failures"] = len(failures)
    if failures:
      row["first_failure"] = failures[0][:300]
    row["server_peak_rss_mb"] = _high_water_mb(server.pid)
  finally:
    server.terminate()
    try:
      server.wait(timeout=60)
    except subprocess.TimeoutExpired:
      server.kill()
  row["seconds"] = round(time.perf_counter() - start, 2)
  return row


def _high_water_mb(pid: int) -> int | None:
  """VmHWM of a live process (Linux), MiB."""
  try:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
      if line.startswith("VmHWM:"):
        return round(int(line.split()[1]) / 1024)
  except OSError:
    pass
  return None


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(
      description=__doc__.split("\n\n")[0],
      formatter_class=argparse.RawTextHelpFormatter)
  parser.add_argument("--scale", type=float, default=1.0, help=(
      f"multiplies users ({USERS:,}), interactions ({INTERACTIONS:,}) and "
      f"items ({ITEMS:,}) (default: 1.0)"))
  parser.add_argument("--quick", action="store_true", help=(
      "a 2,000-user platform (the test suite's size)"))
  parser.add_argument("--max-users", type=int, default=20_000, help=(
      "hold-out users ranked by gfm evaluate (default: 20,000)"))
  parser.add_argument("--requests", type=int, default=200, help=(
      "sequential REST requests per served model (default: 200)"))
  parser.add_argument("--work", default=None, help=(
      "folder for the stages' outputs and logs (default: a temporary one, "
      "removed at the end unless --keep)"))
  parser.add_argument("--keep", action="store_true",
                      help="keep the temporary work folder")
  args = parser.parse_args(argv)
  scale = 0.002 if args.quick else args.scale
  users = max(200, int(USERS * scale))
  interactions = max(2_000, int(INTERACTIONS * scale))
  items = max(60, int(ITEMS * scale))
  podcasts = int(items * PODCAST_SHARE)
  work = pathlib.Path(args.work or tempfile.mkdtemp(prefix="bench_scale_"))
  work.mkdir(parents=True, exist_ok=True)
  d = {name: work / name for name in (
      "data", "validated", "graph", "hgnn", "embeddings", "two_tower",
      "evaluation", "exports")}
  stages = [
      ("synth", ["synth", "--out", str(d["data"]), "--num-users", str(users),
                 "--num-podcasts", str(podcasts), "--num-audiobooks",
                 str(items - podcasts), "--episodes-per-podcast", "0",
                 "--num-interactions", str(interactions)]),
      ("validate", ["validate", str(d["data"]), "--out",
                    str(d["validated"])]),
      ("build-graph", ["build-graph", str(d["data"]), "--out",
                       str(d["graph"])]),
      ("pretrain", ["pretrain", str(d["graph"]), "--out", str(d["hgnn"])]),
      ("embed", ["embed", str(d["graph"]), "--model", str(d["hgnn"]),
                 "--out", str(d["embeddings"])]),
      ("train-2t", ["train-2t", str(d["data"]), "--embeddings",
                    str(d["embeddings"]), "--out", str(d["two_tower"]),
                    "--epochs", "1"]),
      ("evaluate", ["evaluate", str(d["data"]), "--embeddings",
                    str(d["embeddings"]), "--out", str(d["evaluation"]),
                    "--models", "popularity,hgnn_knn,item_knn",
                    "--max-users", str(args.max_users)]),
      ("export", ["export", str(d["two_tower"]), "--out",
                  str(d["exports"])]),
  ]
  print(json.dumps({"bench": "scale", "stage": "platform", "users": users,
                    "interactions": interactions, "items": items,
                    "podcasts": podcasts, "audiobooks": items - podcasts,
                    "cpus": os.cpu_count()}), flush=True)
  rows = []
  try:
    for stage, stage_args in stages:
      row = stage_row("scale", stage, stage_args, work / f"{stage}.log")
      out = pathlib.Path(stage_args[stage_args.index("--out") + 1])
      row.update(_rates(stage, out, row["seconds"]))
      rows.append(row)
      print(json.dumps(row), flush=True)
      if "error" in row:
        return 1
    row = _serve(d["exports"], d["data"], args.requests, work / "serve.log")
    rows.append(row)
    print(json.dumps(row), flush=True)
    if "error" in row:
      return 1
    print(json.dumps({
        "bench": "scale", "stage": "total",
        "seconds": round(sum(r["seconds"] for r in rows), 2),
        "peak_rss_mb": max(r.get("peak_rss_mb") or r.get(
            "server_peak_rss_mb") or 0 for r in rows),
        "slowest": max(rows, key=lambda r: r["seconds"])["stage"]}),
          flush=True)
    return 0
  finally:
    if args.work is None and not args.keep:
      shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
  sys.exit(main())
