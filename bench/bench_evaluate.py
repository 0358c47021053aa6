"""Benchmark: `gfm evaluate` at the scale of a real catalog, seconds per model.

Runs `gfm evaluate` as a user runs it, every flag at its default unless
given after `--`, in its own process, and prints one JSON line per model
(wall seconds: fitting, inner-split choices and ranking over every seed;
ranking seconds; fitting seconds as the model reports them) and a last line
with the whole run's seconds and peak resident memory (`os.wait4`) against
the target of 20 minutes (the ratio is seconds / target; below 1 meets it).

Data: without `--data`, a synthetic stand-in shaped like the real two-type
set amazon-food-kitchen (`gfm synth`: 53,061 users, 27,637 + 8,661 items of
two types, 436,127 interactions, no episodes); its embeddings are random
unit vectors (640-d "HGNN" as the default pretraining's, 384-d text), since
this measures the evaluation, not the foundation. With `--data DIR
--embeddings EMB`, a real dataset and its `gfm embed` output, e.g.

  python bench/bench_evaluate.py --data ../shared/data/amazon-food-kitchen \\
      --embeddings out/afk_emb -- --validation --cut 2019-01-01 \\
      --holdout-days 1

`--quick` shrinks the stand-in to 2,000 users and 1 seed (a smoke test).
There is no external reference for these figures, so the only ratio is to
the target.

usage: python bench/bench_evaluate.py [--data DIR --embeddings EMB]
           [--work DIR] [--quick] [-- gfm evaluate flags]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import sys
import tempfile

from gfm_process import run_gfm

TARGET_SECONDS = 1200.0
#: amazon-food-kitchen's shape (its README).
SHAPE = {"users": 53_061, "podcasts": 27_637, "audiobooks": 8_661,
         "interactions": 436_127}
QUICK = {"users": 2_000, "podcasts": 600, "audiobooks": 200,
         "interactions": 20_000}


def random_embeddings(data: pathlib.Path, out: pathlib.Path,
                      hgnn_dim: int = 640, seed: int = 0) -> None:
  """An EmbeddingsDir of random unit vectors for every item of ``data``."""
  import numpy as np
  import pandas as pd

  from tfgnn_gfm.artifacts import (
    EmbeddingsDir,
    atomic_directory,
    write_manifest,
  )
  from tfgnn_gfm.data import read_dataset
  dataset = read_dataset(data)
  items = dataset.items.frame
  times = dataset.interactions.frame["timestamp"]
  rng = np.random.default_rng(seed)

  def unit(dim):
    x = rng.normal(size=(len(items), dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)

  with atomic_directory(out) as tmp:
    layout = EmbeddingsDir(tmp)
    np.save(layout.vectors_path, unit(hgnn_dim))
    np.save(layout.text_vectors_path, unit(384))
    pd.DataFrame({"item_id": items["item_id"],
                  "item_type": items["item_type"], "source": "graph",
                  "row": np.arange(len(items))}).to_csv(layout.index_path,
                                                        index=False)
    # The cut: gfm synth's (its manifest), else 14 days before the last
    # interaction.
    manifest = json.loads((pathlib.Path(data) / "manifest.json").read_text())
    cut = manifest.get("cut_timestamp", int(times.max()) - 14 * 86_400)
    write_manifest(tmp, stage="embed", extra={"cut": int(cut)})


def main(argv: list[str] | None = None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  extra = argv[argv.index("--") + 1:] if "--" in argv else []
  argv = argv[:argv.index("--")] if "--" in argv else argv
  parser = argparse.ArgumentParser(
      description=__doc__.split("\n\n")[0],
      formatter_class=argparse.RawTextHelpFormatter)
  parser.add_argument("--data", help="dataset folder (default: the "
                      "synthetic stand-in)")
  parser.add_argument("--embeddings", help="gfm embed output for --data")
  parser.add_argument("--work", help="folder for outputs and logs (default: "
                      "a temporary one, removed)")
  parser.add_argument("--quick", action="store_true",
                      help="a 2,000-user stand-in and 1 seed")
  args = parser.parse_args(argv)
  if bool(args.data) != bool(args.embeddings):
    parser.error("--data and --embeddings go together")
  work = pathlib.Path(args.work or tempfile.mkdtemp(prefix="bench_eval_"))
  work.mkdir(parents=True, exist_ok=True)
  try:
    data, emb = args.data, args.embeddings
    shape = QUICK if args.quick else SHAPE
    if data is None:
      data, emb = str(work / "data"), str(work / "emb")
      seconds, _, code = run_gfm(
          ["synth", "--out", data, "--num-users", str(shape["users"]),
           "--num-podcasts", str(shape["podcasts"]),
           "--num-audiobooks", str(shape["audiobooks"]),
           "--episodes-per-podcast", "0",
           "--num-interactions", str(shape["interactions"])],
          work / "synth.log")
      if code:
        print(json.dumps({"bench": "evaluate", "error": f"gfm synth: exit "
                          f"code {code}; see {work / 'synth.log'}"}))
        return 1
      random_embeddings(pathlib.Path(data), pathlib.Path(emb))
    if args.quick and "--seeds" not in extra:
      extra = ["--seeds", "1", *extra]
    out = work / "evaluation"
    seconds, peak_mb, code = run_gfm(
        ["evaluate", data, "--embeddings", emb, "--out", str(out), *extra],
        work / "evaluate.log")
    if code:
      print(json.dumps({"bench": "evaluate", "error": f"gfm evaluate: exit "
                        f"code {code}; see {work / 'evaluate.log'}"}))
      return 1
    result = json.loads((out / "results.json").read_text())
    for name, entry in result["models"].items():
      infos = entry.get("info") or []
      fit = [i.get("train_seconds") for i in infos
             if isinstance(i, dict) and "train_seconds" in i]
      print(json.dumps({
          "bench": "evaluate", "model": name,
          "wall_seconds": entry.get("wall_seconds"),
          "rank_seconds": round(sum(entry.get("eval_seconds") or []), 4),
          "fit_seconds": round(sum(fit), 4) if fit else None,
          "seeds": len(entry.get("seeds") or []),
          "skipped": entry.get("skipped")}), flush=True)
    counts = result["counts"]
    print(json.dumps({
        "bench": "evaluate", "model": "total",
        "data": args.data or ("synthetic-quick" if args.quick else
                              "synthetic-amazon-food-kitchen-shape"),
        "flags": extra, "users": counts.get("users"),
        "items": counts.get("items"),
        "evaluated_users": counts.get("evaluated_users"),
        "training_examples": counts.get("examples"),
        "seconds": round(seconds, 1), "target_seconds": TARGET_SECONDS,
        "ratio_to_target": round(seconds / TARGET_SECONDS, 3),
        "peak_rss_mb": peak_mb, "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2)}), flush=True)
    return 0
  finally:
    if args.work is None:
      shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
  sys.exit(main())
