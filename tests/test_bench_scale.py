"""bench/bench_scale.py takes a platform through every stage, one line each."""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
STAGES = ["platform", "synth", "validate", "build-graph", "pretrain", "embed",
          "train-2t", "evaluate", "export", "serve", "total"]


def test_bench_scale_quick_runs_every_stage(tmp_path):
  proc = subprocess.run(
      [sys.executable, str(ROOT / "bench" / "bench_scale.py"), "--quick",
       "--work", str(tmp_path), "--max-users", "50", "--requests", "5"],
      capture_output=True, text=True, cwd=ROOT, timeout=1500, check=False)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  rows = [json.loads(line) for line in proc.stdout.splitlines()
          if line.startswith("{")]
  by_stage = {r["stage"]: r for r in rows}
  assert list(by_stage) == STAGES
  platform = by_stage["platform"]
  assert platform["users"] == 2000 and platform["items"] == 400
  for stage in STAGES[1:-1]:
    assert "error" not in by_stage[stage]
    assert by_stage[stage]["seconds"] > 0
  for stage in STAGES[1:-2]:
    assert by_stage[stage]["peak_rss_mb"] > 50
  assert by_stage["synth"]["interactions"] > 0
  assert by_stage["build-graph"]["directed_edges"] > 0
  assert by_stage["train-2t"]["examples_per_s"] > 0
  # The evaluation ranked the sample, not every hold-out user.
  evaluate = by_stage["evaluate"]
  assert evaluate["evaluated_users"] == 50 < evaluate["holdout_users"]
  serve = by_stage["serve"]
  assert serve["requests"] == 10 and serve["failures"] == 0
  assert serve["gfm_retrieval_p50_ms"] > 0 and serve["server_peak_rss_mb"] > 50
  total = by_stage["total"]
  assert total["seconds"] >= max(by_stage[s]["seconds"] for s in STAGES[1:-1])
