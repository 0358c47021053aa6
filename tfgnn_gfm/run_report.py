"""One report for a whole pipeline run (``gfm demo`` writes it).

It reads only the stages' manifests and outputs through ``RunLayout`` (it
never recomputes anything) and writes ``report/report.md`` with the plots
copied beside it, plus ``report/serving.json`` with the REST calls, so the
folder can be shared or opened on its own.
"""

from __future__ import annotations

import json
import pathlib
import shutil
from typing import Any, Mapping

from tfgnn_gfm.artifacts import (
  ArtifactError,
  ReportDir,
  RunLayout,
  atomic_directory,
)


def _manifest(stage_dir) -> dict[str, Any]:
  try:
    return stage_dir.read_manifest()
  except ArtifactError:
    return {}


def _table(header: list[str], rows: list[list[Any]]) -> str:
  lines = ["| " + " | ".join(header) + " |",
           "|" + "|".join("---" for _ in header) + "|"]
  lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
  return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
  return f"{value:.3f}" if isinstance(value, float) else str(value)


def _hgnn_section(layout: RunLayout) -> str:
  path = layout.hgnn.metrics_path
  if not path.exists():
    return ""
  metrics = json.loads(path.read_text(encoding="utf-8"))
  rows = [[name, m.get("queries"), _fmt(m.get("hgnn_hr@10")),
           _fmt(m.get("knn_hr@10", "-")), _fmt(m.get("text_hr@10")),
           _fmt(m.get("hgnn_mrr")), _fmt(m.get("knn_mrr", "-")),
           _fmt(m.get("text_mrr")), _paired(m.get("hgnn_vs_knn_hr@10"))]
          for name, m in sorted(metrics.items()) if isinstance(m, dict)]
  return ("## Static layer: link prediction on held-out edges\n\n" +
          _table(["edge set", "queries", "HR@10 HGNN", "HR@10 item-kNN",
                  "HR@10 text", "MRR HGNN", "MRR item-kNN", "MRR text",
                  "HGNN - item-kNN [95%], verdict"], rows) + "\n")


def _paired(vs: Mapping[str, Any] | None) -> str:
  if not vs or vs.get("difference") is None:
    return "-"
  return (f"{vs['difference']:+.3f} [{vs['low']:+.3f}, {vs['high']:+.3f}], "
          f"{vs['verdict']}")


def plot_stage_seconds(timings: Mapping[str, float],
                       path: pathlib.Path) -> None:
  """A horizontal bar chart of seconds per stage, in pipeline order."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  names = list(timings)
  seconds = [float(timings[n]) for n in names]
  fig, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.2))
  bars = ax.barh(names, seconds, color="C0")
  ax.invert_yaxis()
  ax.bar_label(bars, labels=[f"{s:.1f} s" for s in seconds], padding=3,
               fontsize=8)
  ax.set_xlabel("seconds")
  ax.set_title(f"Seconds per stage (total {sum(seconds):.1f} s)",
               fontsize=10)
  ax.set_xlim(right=max(seconds + [1.0]) * 1.2)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def _serving_section(tour: Mapping[str, Any]) -> str:
  out = ["## Serving: REST calls to `gfm serve`\n",
         f"Model `{tour['model']}` at {tour['url']} (TF Serving's REST API; "
         "the same requests work against TF Serving).\n",
         "Try it (while the server runs):\n",
         "```bash", tour["curl"], "```\n"]
  for call in tour["calls"]:
    answer = call["answer"]
    out.append(f"### {call['name']} (`{call['signature']}`, "
               f"{call['latency_ms']} ms; p50 "
               f"{tour['latency_p50_ms'].get(call['name'])} ms)\n")
    out.append("```json\n" + json.dumps(call["request"]) + "\n```\n")
    rows = []
    for i, item in enumerate(answer.get("item_ids", [])[:10]):
      rows.append([i + 1, item, answer.get("item_types", [""] * 10)[i],
                   _fmt(answer.get("scores", [0.0] * 10)[i]),
                   call["titles"][i] if i < len(call["titles"]) else ""])
    if rows:
      out.append(_table(["rank", "item", "type", "score", "title"], rows))
    if "unknown_recent_items" in answer:
      out.append(f"unknown recent item ids: {answer['unknown_recent_items']}"
                 "\n")
  return "\n".join(out) + "\n"


def write_run_report(layout: RunLayout, *, timings: Mapping[str, float],
                     tour: Mapping[str, Any] | None = None) -> pathlib.Path:
  """Writes ``report/`` for a run.

  Args:
    layout: the run's folders.
    timings: stage name -> seconds.
    tour: the result of ``tfgnn_gfm.serving.walkthrough`` (None: no
      serving section).

  Returns:
    The path of ``report.md``.
  """
  data = _manifest(layout.data)
  validation = _manifest(layout.validation)
  graph = _manifest(layout.graph)
  exports = _manifest(layout.exports)
  parts = ["# tfgnn-gfm run report\n",
           f"Run folder: `{layout.root}`. Every number below is read from the "
           "stages' manifests and outputs.\n",
           "## Stages\n",
           _table(["stage", "seconds"],
                  [[k, round(v, 1)] for k, v in timings.items()] +
                  [["total", round(sum(timings.values()), 1)]]),
           f"![seconds per stage]({layout.report.stages_plot_path.name})\n"
           if timings else ""]
  counts = data.get("counts", {})
  parts.append("## Data and graph\n")
  parts.append(_table(["what", "count"], [
      ["items", counts.get("items")], ["users", counts.get("users")],
      ["interactions", counts.get("interactions")],
      ["bad rows (dead letters)", validation.get("counts", {}).get(
          "bad_rows")],
      ["graph nodes", graph.get("counts", {}).get("num_nodes")],
      ["graph edges (directed)", graph.get("counts", {}).get("num_edges")]]))
  parts.append(f"![graph]({layout.graph.stats_plot_path.name})\n")
  parts.append(_hgnn_section(layout))
  parts.append(f"![pretraining]({layout.hgnn.plot_path.name})\n")
  if layout.evaluation.table_path.exists():
    tables = layout.evaluation.table_path.read_text(encoding="utf-8")
    parts.append("## Dynamic layer: evaluation on the time split\n")
    if layout.evaluation.summary_path.exists():
      parts.append(layout.evaluation.summary_path.read_text(encoding="utf-8")
                   + "\n")
    parts.append(tables.replace("\n# ", "\n### ").replace("\n## ", "\n### ")
                 .split("\n", 1)[1] + "\n")
    parts.append(f"![HR@10]({layout.evaluation.hr_plot_path.name})\n\n"
                 "![MRR and coverage]"
                 f"({layout.evaluation.metrics_plot_path.name})\n")
  if exports:
    summary = layout.exports.summary()
    parts.append("## Export\n")
    parts.append(f"Version {summary.version} of "
                 f"{', '.join(summary.models)} under "
                 f"`{layout.exports.root}`.\n")
    parts.append(_table(
        ["index", "ScaNN mode", "recall@10 vs brute force"],
        [[name, mode, summary.scann_recall.get(name)]
         for name, mode in summary.scann_modes.items()]))
  if tour:
    parts.append(_serving_section(tour))
  plots = [layout.graph.stats_plot_path, layout.hgnn.plot_path,
           layout.evaluation.hr_plot_path, layout.evaluation.metrics_plot_path]
  with atomic_directory(layout.report.root) as tmp:
    report = ReportDir(tmp)
    for plot in plots:
      if plot.exists():
        shutil.copy(plot, tmp / plot.name)
    if timings:
      plot_stage_seconds(timings, report.stages_plot_path)
    text = "\n".join(p for p in parts if p)
    report.report_path.write_text(text, encoding="utf-8")
    if tour:
      report.serving_path.write_text(json.dumps(tour, indent=2) + "\n",
                                     encoding="utf-8")
  return layout.report.report_path
