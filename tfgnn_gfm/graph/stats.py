"""Graph statistics of a built graph: JSON numbers and a PNG plot.

``graph_stats`` turns the pipeline's run summary into the statistics a reader
wants at a glance: nodes per node set, directed edges per edge set, degree
distribution per node set and overall (histogram, min/median/mean/max,
isolated nodes). ``plot_graph_stats`` draws them: bars of nodes and edges per
set and the degree distribution on log-log axes (isolated nodes are listed in
the title, since log 0 has no place on the axis).
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import numpy as np


def _describe(histogram: Mapping[int, int]) -> dict[str, Any]:
  if not histogram:
    return {"nodes": 0, "isolated": 0, "min": None, "median": None,
            "mean": None, "max": None}
  degrees = np.array(sorted(histogram), dtype=np.int64)
  counts = np.array([histogram[d] for d in degrees], dtype=np.int64)
  total = int(counts.sum())
  cumulative = np.cumsum(counts)
  median = int(degrees[np.searchsorted(cumulative, (total + 1) / 2)])
  return {"nodes": total, "isolated": int(histogram.get(0, 0)),
          "min": int(degrees[0]), "median": median,
          "mean": round(float((degrees * counts).sum() / total), 4),
          "max": int(degrees[-1])}


def graph_stats(summary: Mapping[str, Any]) -> dict[str, Any]:
  """Statistics of the graph from the run summary (``summary.json``).

  Args:
    summary: the merged run summary written by the pipeline.

  Returns:
    ``{"nodes": {set: n}, "edges": {set: n}, "num_nodes", "num_edges"
    (directed), "num_undirected_edges", "degree": {"all": {...}, set:
    {...}}, "degree_histogram": {"all": {deg: n}, set: {...}}}``; degree is
    the number of neighbours (summed over all edge sets).
  """
  nodes = {k: int(v) for k, v in sorted(summary.get("nodes", {}).items())}
  edges = {k: int(v) for k, v in sorted(summary.get("edges", {}).items())}
  histograms: dict[str, dict[int, int]] = {}
  overall: dict[int, int] = {}
  for name, hist in sorted(summary.get("degree_histogram", {}).items()):
    hist = {int(d): int(c) for d, c in hist.items()}
    histograms[name] = dict(sorted(hist.items()))
    for d, c in hist.items():
      overall[d] = overall.get(d, 0) + c
  overall = dict(sorted(overall.items()))
  num_edges = sum(edges.values())
  return {
      "nodes": nodes,
      "edges": edges,
      "num_nodes": sum(nodes.values()),
      "num_edges": num_edges,
      "num_undirected_edges": num_edges // 2,
      "degree": {"all": _describe(overall),
                 **{k: _describe(v) for k, v in histograms.items()}},
      "degree_histogram": {
          "all": {str(d): c for d, c in overall.items()},
          **{k: {str(d): c for d, c in v.items()}
             for k, v in histograms.items()}},
  }


def plot_graph_stats(stats: Mapping[str, Any],
                     path: str | os.PathLike) -> None:
  """Draws nodes/edges per set and the log-log degree distribution to PNG.

  Args:
    stats: the output of ``graph_stats``.
    path: the PNG file to write.
  """
  import matplotlib
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt
  fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
  ax = axes[0]
  names = list(stats["nodes"])
  ax.bar(names, [stats["nodes"][n] for n in names], color="tab:blue")
  ax.set_title(f"nodes per node set ({stats['num_nodes']:,} in all)")
  ax.tick_params(axis="x", rotation=30)
  ax = axes[1]
  names = list(stats["edges"])
  ax.bar(names, [stats["edges"][n] for n in names], color="tab:orange")
  ax.set_title(f"directed edges per edge set ({stats['num_edges']:,})")
  ax.tick_params(axis="x", rotation=30)
  ax = axes[2]
  plotted = False
  for name, hist in stats["degree_histogram"].items():
    points = sorted((int(d), c) for d, c in hist.items() if int(d) > 0)
    if points:
      x, y = zip(*points)
      ax.loglog(x, y, "o" if name != "all" else "-", markersize=3,
                label=name, alpha=0.8)
      plotted = True
  ax.set_xlabel("degree (neighbours)")
  ax.set_ylabel("nodes")
  isolated = stats["degree"]["all"]["isolated"]
  ax.set_title(f"degree distribution (isolated nodes: {isolated:,})")
  if plotted:
    ax.legend()
  fig.tight_layout()
  fig.savefig(os.fspath(path), dpi=90, metadata={"Software": None})
  plt.close(fig)
