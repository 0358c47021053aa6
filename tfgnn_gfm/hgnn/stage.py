"""The ``pretrain`` and ``embed`` stages: from a graph directory to vectors."""

from __future__ import annotations

import json
import logging
import pathlib
import time
from typing import Any

import numpy as np
import pandas as pd
import tensorflow_gnn as tfgnn

from tfgnn_gfm.artifacts import (EmbeddingsDir, GraphDir, HGNNDir,
                                 atomic_directory, write_manifest)
from tfgnn_gfm.config import config_to_dict
from tfgnn_gfm.hgnn.config import PretrainConfig
from tfgnn_gfm.hgnn.embedding import embed_new_items, embed_nodes
from tfgnn_gfm.hgnn.evaluation import link_prediction_report
from tfgnn_gfm.hgnn.export import (export_inference_model, load_encoder,
                                   save_encoder)
from tfgnn_gfm.hgnn.graph_data import TEXT_FEATURE, ItemGraph, load_item_graph
from tfgnn_gfm.hgnn.sampling import SubgraphSampler, graph_schema
from tfgnn_gfm.hgnn.trainer import train_link_prediction

_LOG = logging.getLogger(__name__)


def _plot(history: dict[str, list[float]], report: dict[str, dict[str, Any]],
          path: pathlib.Path) -> None:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
  ax1.plot(history.get("loss", []), label="train")
  ax1.plot(history.get("val_loss", []), label="validation")
  ax1.set_xlabel("epoch")
  ax1.set_ylabel("loss")
  ax1.set_title("link-prediction loss")
  ax1.legend()
  names = sorted(report)
  x = np.arange(len(names))
  hr = next((k for k in next(iter(report.values()), {}) if
             k.startswith("hgnn_hr@")), "hgnn_hr@10")
  ax2.bar(x - 0.2, [report[n][hr] for n in names], 0.4, label="HGNN")
  ax2.bar(x + 0.2, [report[n][hr.replace("hgnn", "text")] for n in names], 0.4,
          label="text only")
  ax2.set_xticks(x, names, rotation=30, ha="right")
  ax2.set_ylabel(hr.replace("hgnn_", "").upper())
  ax2.set_title("held-out edges")
  ax2.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def pretrain_graph(graph: ItemGraph, out_dir: str | pathlib.Path,
                   config: PretrainConfig, *, inputs: dict[str, Any] | None = None,
                   verbose: int = 1) -> dict[str, Any]:
  """Trains, evaluates and saves the encoder into ``out_dir`` (atomically).

  Returns:
    The metrics written to the manifest.
  """
  with atomic_directory(out_dir) as tmp:
    layout = HGNNDir(tmp)
    result = train_link_prediction(graph, config, out_dir=tmp, verbose=verbose)
    counts = {n: graph.num_nodes(n) for n in graph.node_sets}
    start = time.perf_counter()
    sampler = SubgraphSampler(result.split.train_graph, tuple(config.fanouts),
                              features=graph, seed=config.seed)
    emb = embed_nodes(result.encoder, sampler, counts,
                      config.embed_batch_size, progress=verbose > 0)
    embed_seconds = time.perf_counter() - start
    report = link_prediction_report(emb, result.split, graph)
    schema = graph_schema(graph)
    save_encoder(result.encoder, layout.keras_model)
    export_inference_model(result.encoder, schema, layout.export_dir)
    tfgnn.write_schema(schema, str(layout.schema_path))
    layout.history_path.write_text(json.dumps(result.history, indent=2))
    layout.metrics_path.write_text(json.dumps(report, indent=2))
    _plot(result.history, report, layout.plot_path)
    metrics = {
        "link_prediction": report,
        "hgnn_beats_text_on_every_edge_set": bool(report) and all(
            r["hgnn_hr@10"] > r["text_hr@10"] for r in report.values()),
        "epochs_run": result.epochs_run,
        "best_val_loss": min(result.history.get("val_loss", [float("nan")])),
        "train_seconds": round(result.seconds, 2),
        "positive_edges_per_second": round(
            result.positives_seen / max(result.seconds, 1e-9), 1),
        "embed_items_per_second": round(
            sum(counts.values()) / max(embed_seconds, 1e-9), 1),
    }
    write_manifest(tmp, stage="pretrain", config=config_to_dict(config),
                   inputs=inputs or {}, counts={
                       "nodes": counts,
                       "edges": {n: len(e) for n, e in graph.edge_sets.items()},
                       "train_pairs": {"/".join(k): len(v[0]) for k, v in
                                       result.split.train_pairs.items()},
                       "validation_pairs": {"/".join(k): len(v[0]) for k, v in
                                            result.split.val_pairs.items()}},
                   metrics=metrics)
  return metrics


def pretrain(graph_dir: str | pathlib.Path, out_dir: str | pathlib.Path,
             config: PretrainConfig, verbose: int = 1) -> dict[str, Any]:
  """``gfm pretrain``: trains the HGNN on the graph of a GraphDir."""
  graph = load_item_graph(graph_dir)
  config.validate()
  return pretrain_graph(graph, out_dir, config,
                        inputs={"graph": GraphDir(pathlib.Path(graph_dir)).root},
                        verbose=verbose)
