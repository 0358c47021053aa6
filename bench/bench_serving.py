"""Benchmark: REST load test of the exports on loopback; a version-swap soak.

For each catalog size it writes a synthetic two-tower directory (clustered
unit 128-d item vectors, a user tower 256-128 over a 50-item history and a
country column, an item tower, the 16-d hashing text encoder: this measures
retrieval and serving, not model quality), runs the real ``gfm export``
(ScaNN with the size rules of docs/DESIGN.md section 5.5, recall measured),
starts
``gfm serve`` on the export's ``models.config`` in a subprocess, and sends
top-10 ``serving_default`` requests (one user per request: 5 recent item
ids, a country) from an aiohttp client at concurrency 1, 8 and 32 for
``--seconds`` each, to ``gfm_retrieval`` (ScaNN) and ``gfm_retrieval_bf``
(brute force). Each level prints one JSON line with p50/p99 latency and
throughput; a summary line per size gives ScaNN / brute-force throughput
ratios (the reference, measured in the same run).

The soak (smallest size) keeps concurrency 8 on ``gfm_retrieval`` while a
new version is exported into the served base path; the server polls, loads
the new version and swaps. It reports the requests sent, the failures (the
target is zero) and the versions that answered.

Client and server share this machine's cores, so the figures are a lower
bound for a dedicated server.

usage: python bench/bench_serving.py [--sizes 100000,1000000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time

LEVELS = (1, 8, 32)
MODELS = ("gfm_retrieval", "gfm_retrieval_bf")
COUNTRIES = ["US", "DE", "BR", "IN", "SE", "GB", "MX", "ES"]


def write_two_tower(out: pathlib.Path, num_items: int, seed: int = 0) -> None:
  """A synthetic TwoTowerDir of ``num_items`` candidates (half podcasts,
  half audiobooks) with untrained towers."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  import numpy as np
  import pandas as pd

  import tfgnn_gfm  # noqa: F401  Sets TF_USE_LEGACY_KERAS.
  from tfgnn_gfm.artifacts import TwoTowerDir, atomic_directory, write_manifest
  from tfgnn_gfm.twotower.towers import (
    ItemTypeTable,
    ItemVectorTable,
    build_item_tower,
    build_user_tower,
    save_tower,
  )
  rng = np.random.default_rng(seed)
  dim, clusters = 128, max(10, num_items // 1000)
  centers = rng.normal(size=(clusters, dim)).astype(np.float32)
  vectors = (centers[rng.integers(0, clusters, num_items)] +
             0.6 * rng.normal(size=(num_items, dim)).astype(np.float32))
  vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
  types = np.where(np.arange(num_items) % 2 == 0, "podcast", "audiobook")
  type_names = ["audiobook", "podcast"]
  history = ItemVectorTable(num_items=num_items, dim=dim,
                            name="history_vectors")
  history.set_vectors(vectors)
  type_table = ItemTypeTable(num_items=num_items, name="history_types")
  type_table.set_types((types == "podcast").astype(np.int32))
  user_tower = build_user_tower(
      history_table=history, type_table=type_table, num_types=2,
      max_history=50, units=[256, 128],
      categorical_vocab_sizes={"country": len(COUNTRIES)})
  item_tower = build_item_tower(text_dim=16, num_types=2, num_languages=2,
                                num_genres=4, max_genres=2, units=[128],
                                hgnn_dim=dim)
  with atomic_directory(out) as tmp:
    layout = TwoTowerDir(tmp)
    save_tower(user_tower, layout.user_tower)
    save_tower(item_tower, layout.item_tower)
    np.save(layout.item_embeddings_path, vectors)
    pd.DataFrame({"row": np.arange(num_items),
                  "item_id": [f"it_{i:07d}" for i in range(num_items)],
                  "item_type": types, "root_row": np.arange(num_items),
                  "candidate": True, "vector_known": True}).to_csv(
                      layout.items_path, index=False)
    features = {
        "items": {"type_names": type_names, "language_vocab": ["en", "de"],
                  "genre_vocab": ["a", "b", "c", "d"], "max_genres": 2,
                  "hgnn_dim": dim, "text_dim": 16, "num_items": num_items},
        "users": {"categorical_vocab": {"country": COUNTRIES},
                  "numeric_columns": [], "numeric_mean": [],
                  "numeric_std": [], "interest_dim": 0, "max_history": 50},
        "user_tower_inputs": list(user_tower.input_names),
        "item_tower_inputs": list(item_tower.input_names),
        "embedding_dim": dim,
    }
    layout.features_path.write_text(json.dumps(features), encoding="utf-8")
    write_manifest(tmp, stage="train_2t", config={"rollup_episodes": True},
                   counts={"items": num_items})


def export(two_tower: pathlib.Path, base: pathlib.Path,
           encoder: pathlib.Path) -> dict:
  from tfgnn_gfm.export.config import ExportConfig
  from tfgnn_gfm.export.stage import export as run_export
  return run_export(two_tower, base, ExportConfig(text_encoder=str(encoder)))


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def start_server(base: pathlib.Path, port: int) -> subprocess.Popen:
  return subprocess.Popen(
      [sys.executable, "-m", "tfgnn_gfm.cli.gfm", "serve",
       "--model-config-file", str(base / "models.config"),
       "--rest-api-port", str(port), "--file-system-poll-wait-seconds", "1"],
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _wait_ready(url: str, models, timeout: float = 600) -> None:
  import aiohttp
  deadline = time.monotonic() + timeout
  async with aiohttp.ClientSession() as session:
    while time.monotonic() < deadline:
      try:
        ready = True
        for model in models:
          async with session.get(f"{url}/v1/models/{model}") as r:
            body = await r.json()
            states = [v["state"] for v in body.get("model_version_status",
                                                   [])]
            ready &= r.status == 200 and "AVAILABLE" in states
        if ready:
          return
      except aiohttp.ClientError:
        pass
      await asyncio.sleep(0.5)
  raise TimeoutError(f"{url} did not become ready")


def _requests(num_items: int, count: int, seed: int):
  import numpy as np
  rng = np.random.default_rng(seed)
  for _ in range(count):
    recent = [f"it_{i:07d}" for i in rng.integers(0, num_items, 5)]
    yield json.dumps({"signature_name": "serving_default", "instances": [{
        "recent_item_ids": recent, "user_country": str(rng.choice(COUNTRIES)),
        "k": 10, "item_type": ""}]}).encode()


async def load(url: str, model: str, concurrency: int, seconds: float,
               bodies: list[bytes], stop: asyncio.Event | None = None
               ) -> dict:
  """Closed-loop load: ``concurrency`` workers send requests back to back
  for ``seconds`` (or until ``stop`` is set); returns latency percentiles,
  throughput and failures."""
  import aiohttp
  import numpy as np
  latencies, failures = [], []
  endpoint = f"{url}/v1/models/{model}:predict"
  deadline = time.perf_counter() + seconds
  connector = aiohttp.TCPConnector(limit=concurrency)
  async with aiohttp.ClientSession(connector=connector) as session:

    async def worker(offset: int) -> None:
      i = offset
      while time.perf_counter() < deadline and not (stop and stop.is_set()):
        body = bodies[i % len(bodies)]
        i += concurrency
        start = time.perf_counter()
        try:
          async with session.post(endpoint, data=body) as r:
            payload = await r.read()
            if r.status != 200:
              failures.append(f"{r.status}: {payload[:200]!r}")
              continue
            n = len(json.loads(payload)["predictions"][0]["item_ids"])
            if n != 10:
              failures.append(f"{n} items")
        except aiohttp.ClientError as e:
          failures.append(repr(e))
          continue
        latencies.append(time.perf_counter() - start)

    begin = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - begin
  ms = np.asarray(latencies) * 1000
  return {"model": model, "concurrency": concurrency,
          "requests": len(latencies), "failures": len(failures),
          "failure_examples": failures[:3],
          "p50_ms": round(float(np.percentile(ms, 50)), 2) if len(ms) else None,
          "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else None,
          "throughput_rps": round(len(latencies) / elapsed, 1)}


async def _served_version(url: str, model: str) -> list[str]:
  import aiohttp
  async with aiohttp.ClientSession() as session:
    async with session.get(f"{url}/v1/models/{model}") as r:
      body = await r.json()
  return [v["version"] for v in body["model_version_status"]
          if v["state"] == "AVAILABLE"]


async def soak(url: str, base: pathlib.Path, two_tower: pathlib.Path,
               encoder: pathlib.Path, bodies: list[bytes],
               seconds: float) -> dict:
  """Load at concurrency 8 while a new version is exported and swapped in;
  the load runs on for ``seconds`` after the new version answers (at most
  10 minutes in all)."""
  before = await _served_version(url, MODELS[0])
  stop = asyncio.Event()
  task = asyncio.create_task(load(url, MODELS[0], 8, 600, bodies, stop))
  await asyncio.sleep(2)
  start = time.perf_counter()
  manifest = await asyncio.to_thread(export, two_tower, base, encoder)
  export_seconds = time.perf_counter() - start
  new = str(manifest["version"])
  swap_seconds = None
  while not task.done():
    if new in await _served_version(url, MODELS[0]):
      swap_seconds = time.perf_counter() - start - export_seconds
      break
    await asyncio.sleep(0.2)
  await asyncio.sleep(seconds)
  stop.set()
  result = await task
  after = await _served_version(url, MODELS[0])
  return {"bench": "serving_soak", "new_version": manifest["version"],
          "served_before": before, "served_after": after,
          "swapped": new in after,
          "export_seconds_under_load": round(export_seconds, 1),
          "swap_seconds_after_export": (round(swap_seconds, 1)
                                        if swap_seconds is not None else None),
          **result}


def run_size(num_items: int, seconds: float, soak_seconds: float | None,
             work: pathlib.Path) -> None:
  from tfgnn_gfm.graph.hashing_encoder import build_hashing_encoder
  encoder = build_hashing_encoder(work / "encoder")
  two_tower, base = work / f"2t_{num_items}", work / f"exports_{num_items}"
  start = time.perf_counter()
  write_two_tower(two_tower, num_items)
  start = time.perf_counter()
  manifest = export(two_tower, base, encoder)
  export_line = {"bench": "serving_export", "items": num_items,
                 "export_seconds": round(time.perf_counter() - start, 1),
                 "scann": manifest["scann"]["all"],
                 "scann_recall@10": manifest["metrics"]["scann_recall@10"],
                 "tuning_rounds": len(manifest["scann_tuning"])}
  print(json.dumps(export_line), flush=True)
  port = _free_port()
  url = f"http://127.0.0.1:{port}"
  server = start_server(base, port)
  try:
    start = time.perf_counter()
    asyncio.run(_wait_ready(url, MODELS))
    load_seconds = time.perf_counter() - start
    bodies = list(_requests(num_items, 2000, seed=1))
    results = {}
    for model in MODELS:
      asyncio.run(load(url, model, 1, 3, bodies))  # Warm-up.
      for level in LEVELS:
        line = asyncio.run(load(url, model, level, seconds, bodies))
        results[(model, level)] = line
        print(json.dumps({"bench": "serving_load", "items": num_items,
                          "server_ready_seconds": round(load_seconds, 1),
                          **line}), flush=True)
    summary = {"bench": "serving_summary", "items": num_items}
    for level in LEVELS:
      scann = results[(MODELS[0], level)]["throughput_rps"]
      bf = results[(MODELS[1], level)]["throughput_rps"]
      summary[f"scann_vs_bf_throughput_c{level}"] = round(
          scann / max(bf, 1e-9), 2)
      summary[f"p99_ms_scann_c{level}"] = results[(MODELS[0], level)][
          "p99_ms"]
      summary[f"p99_ms_bf_c{level}"] = results[(MODELS[1], level)]["p99_ms"]
    summary["load_avg_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(summary), flush=True)
    if soak_seconds:
      print(json.dumps(asyncio.run(soak(url, base, two_tower, encoder, bodies,
                                        soak_seconds))), flush=True)
  finally:
    server.terminate()
    server.wait(timeout=60)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--sizes", default="100000,1000000",
                      help="catalog sizes, comma-separated")
  parser.add_argument("--seconds", type=float, default=20,
                      help="seconds per model and concurrency level")
  parser.add_argument("--soak-seconds", type=float, default=20,
                      help="load kept on after the new version answers in "
                           "the version-swap soak (0: skip the soak)")
  parser.add_argument("--work-dir", default=None,
                      help="where to write (default: a temporary folder)")
  args = parser.parse_args(argv)
  sizes = [int(s) for s in args.sizes.split(",")]
  with tempfile.TemporaryDirectory() as tmp:
    work = pathlib.Path(args.work_dir or tmp)
    for i, size in enumerate(sizes):
      run_size(size, args.seconds, args.soak_seconds if i == 0 else None,
               work)
  return 0


if __name__ == "__main__":
  sys.exit(main())
