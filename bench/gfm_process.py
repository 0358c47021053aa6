"""Runs one ``gfm`` command in its own process, as the benchmarks time it.

Shared by the benchmarks that time whole stages (``bench_loop``,
``bench_evaluate``, ``bench_scale``): each stage is a fresh process, so its
peak resident memory (``os.wait4``) is its own.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import time

#: ``gfm`` through this interpreter (no reliance on the console script).
GFM = [sys.executable, "-c",
       "import sys; from tfgnn_gfm.cli import main; sys.exit(main())"]


def run_gfm(args: list[str], log: pathlib.Path) -> tuple[float, int, int]:
  """Runs ``gfm ARGS`` with its output in ``log``.

  Returns:
    (seconds, peak resident memory of the process in MiB, exit code).
  """
  start = time.perf_counter()
  with open(log, "wb") as out:
    proc = subprocess.Popen(GFM + args, stdout=out, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
  return (time.perf_counter() - start, round(usage.ru_maxrss / 1024),
          os.waitstatus_to_exitcode(status))


def stage_row(bench: str, stage: str, args: list[str],
              log: pathlib.Path) -> dict:
  """Runs one ``gfm`` stage: its JSON line (seconds, peak RSS in MiB, and
  ``error`` naming the log when it failed)."""
  seconds, peak_mb, code = run_gfm(args, log)
  row = {"bench": bench, "stage": stage, "seconds": round(seconds, 2),
         "peak_rss_mb": peak_mb}
  if code != 0:
    row["error"] = f"exit code {code}; see {log}"
  return row
