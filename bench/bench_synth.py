"""Benchmark: synthetic data generation time and peak memory.

Prints one JSON line per size with generation seconds, write seconds,
interactions per second and peak resident memory (each size runs in a fresh
subprocess so peaks do not mix). There is no external reference for this
generator, so no ratio is reported.

usage: python bench/bench_synth.py [--sizes 1000000,10000000] [--format csv]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time


def _one(interactions: int, fmt: str) -> dict:
  import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
  from tfgnn_gfm.data.writer import write_dataset
  from tfgnn_gfm.synth import SynthConfig, generate
  # About 10 interactions per user at these scales; catalog grows with users.
  users = max(1000, interactions // 10)
  config = SynthConfig(num_users=users, num_interactions=interactions,
                       num_podcasts=max(300, users // 20),
                       num_audiobooks=max(200, users // 40), format=fmt)
  start = time.perf_counter()
  platform = generate(config, progress=False)
  generated = time.perf_counter() - start
  with tempfile.TemporaryDirectory() as tmp:
    start = time.perf_counter()
    write_dataset(tmp, {"items": platform.items,
                        "interactions": platform.interactions,
                        "users": platform.users},
                  stage="synth", config={}, fmt=fmt)
    written = time.perf_counter() - start
  n = len(platform.interactions)
  peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  return {"bench": "synth", "target_interactions": interactions,
          "interactions": n, "users": users, "items": len(platform.items),
          "format": fmt, "generate_s": round(generated, 2),
          "write_s": round(written, 2),
          "interactions_per_s": round(n / generated),
          "peak_rss_mb": round(peak_mb), "reference": None}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--sizes", default="1000000",
                      help="comma-separated target interaction counts")
  parser.add_argument("--format", default="csv",
                      choices=("csv", "jsonl", "parquet"))
  parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
  args = parser.parse_args()
  if args.one:
    print(json.dumps(_one(args.one, args.format)))
    return
  for size in (int(s) for s in args.sizes.split(",")):
    subprocess.run([sys.executable, __file__, "--one", str(size), "--format",
                    args.format], check=True)


if __name__ == "__main__":
  main()
