"""bench/bench_evaluate.py runs and reports every model it evaluated."""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_bench_evaluate_quick_prints_a_line_per_model(tmp_path):
  proc = subprocess.run(
      [sys.executable, str(ROOT / "bench" / "bench_evaluate.py"), "--quick",
       "--work", str(tmp_path), "--", "--models", "popularity,item_knn,ease"],
      capture_output=True, text=True, cwd=ROOT, timeout=900, check=False)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  rows = [json.loads(line) for line in proc.stdout.splitlines()
          if line.startswith("{")]
  by_model = {r["model"]: r for r in rows}
  assert list(by_model) == ["popularity", "item_knn", "ease", "total"]
  for name in ("popularity", "item_knn", "ease"):
    assert by_model[name]["wall_seconds"] >= by_model[name]["rank_seconds"] > 0
  assert by_model["item_knn"]["fit_seconds"] >= 0
  total = by_model["total"]
  assert total["flags"] == ["--seeds", "1", "--models",
                            "popularity,item_knn,ease"]
  assert total["evaluated_users"] > 0 and total["peak_rss_mb"] > 100
  assert total["ratio_to_target"] == round(total["seconds"] / 1200.0, 3)
  assert (tmp_path / "evaluation" / "results.json").exists()
