"""The ``pretrain`` and ``embed`` stages: from a graph directory to vectors."""

from __future__ import annotations

import json
import logging
import pathlib
import time
from typing import Any, Sequence

import numpy as np
import pandas as pd
import tensorflow_gnn as tfgnn

from tfgnn_gfm.artifacts import (EmbeddingsDir, GraphDir, HGNNDir,
                                 atomic_directory)
from tfgnn_gfm.catalog import NO_ROOT, read_items, root_positions
from tfgnn_gfm.config import config_to_dict
from tfgnn_gfm.hgnn.config import PretrainConfig
from tfgnn_gfm.hgnn.embedding import (embed_full_graph, embed_new_items,
                                      embed_nodes)
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
  for i, (model, label) in enumerate((("hgnn", "HGNN"), ("knn", "item-kNN"),
                                      ("text", "text only"))):
    ax2.bar(x + (i - 1) * 0.27,
            [report[n].get(hr.replace("hgnn", model), 0.0) for n in names],
            0.27, label=label)
  ax2.set_xticks(x, names, rotation=30, ha="right")
  ax2.set_ylabel(hr.replace("hgnn_", "").upper())
  ax2.set_title("held-out edges")
  ax2.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)


def pretrain_graph(graph: ItemGraph, out_dir: str | pathlib.Path,
                   config: PretrainConfig, *, inputs: dict[str, Any] | None = None,
                   verbose: int = 1,
                   graph_dir: str | pathlib.Path | None = None,
                   beam_args: Sequence[str] = ()) -> dict[str, Any]:
  """Trains, evaluates and saves the encoder into ``out_dir`` (atomically).

  The report's embeddings come as training saw the graph: from the in-memory
  sampler in both sampler modes (so reports of the two compare), and in one
  pass over the training graph after full-graph training.

  Args:
    graph: the full graph.
    out_dir: the HGNN output directory.
    config: model and training settings.
    inputs: input paths to fingerprint in the manifest.
    verbose: Keras verbosity.
    graph_dir: the GraphDir of ``graph`` (``sampler=beam`` samples its
      sharded files).
    beam_args: Beam pipeline options (``sampler=beam``).

  Returns:
    The metrics written to the manifest.
  """
  with atomic_directory(out_dir) as tmp:
    layout = HGNNDir(tmp)
    result = train_link_prediction(graph, config, out_dir=tmp, verbose=verbose,
                                   graph_dir=graph_dir, beam_args=beam_args)
    counts = {n: graph.num_nodes(n) for n in graph.node_sets}
    start = time.perf_counter()
    if result.mode == "full_graph":  # Embedded as trained: all neighbours.
      emb = embed_full_graph(result.encoder, result.split.train_graph)
    else:
      sampler = SubgraphSampler(result.split.train_graph,
                                tuple(config.fanouts), features=graph,
                                seed=config.seed)
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
        "hgnn_beats_knn_on_every_edge_set": bool(report) and all(
            r["hgnn_hr@10"] > r["knn_hr@10"] for r in report.values()),
        "mode": result.mode,
        "positives_per_step": result.positives_per_step or config.batch_size,
        "epochs_run": result.epochs_run,
        "best_val_loss": min(result.history.get("val_loss", [float("nan")])),
        "train_seconds": round(result.seconds, 2),
        "positive_edges_per_second": round(
            result.positives_seen / max(result.seconds, 1e-9), 1),
        "embed_items_per_second": round(
            sum(counts.values()) / max(embed_seconds, 1e-9), 1),
    }
    extra = {}
    if result.beam is not None:
      metrics["beam_sampling_seconds"] = result.beam["seconds"]
      extra["beam"] = result.beam
    layout.write_manifest(
        config=config_to_dict(config), inputs=inputs or {}, counts={
            "nodes": counts,
            "edges": {n: len(e) for n, e in graph.edge_sets.items()},
            "train_pairs": {"/".join(k): len(v[0]) for k, v in
                            result.split.train_pairs.items()},
            "validation_pairs": {"/".join(k): len(v[0]) for k, v in
                                 result.split.val_pairs.items()}},
        metrics=metrics, extra=extra)
  return metrics


def pretrain(graph_dir: str | pathlib.Path, out_dir: str | pathlib.Path,
             config: PretrainConfig, verbose: int = 1,
             beam_args: Sequence[str] = ()) -> dict[str, Any]:
  """``gfm pretrain``: trains the HGNN on the graph of a GraphDir.

  Args:
    graph_dir: output of ``gfm build-graph``.
    out_dir: the HGNN output directory (replaced atomically).
    config: model and training settings.
    verbose: Keras verbosity.
    beam_args: Beam pipeline options, only with ``config.sampler == "beam"``.

  Returns:
    The metrics written to the manifest.
  """
  config.validate()
  if beam_args and config.sampler != "beam":
    raise ValueError(f"unrecognized arguments: {' '.join(beam_args)} (Beam "
                     "pipeline options are only used with --sampler beam)")
  if config.sampler == "beam":
    from tfgnn_gfm.hgnn.beam_link_samples import check_beam_args  # pylint: disable=g-import-not-at-top
    check_beam_args(beam_args)
  graph = load_item_graph(graph_dir)
  return pretrain_graph(graph, out_dir, config,
                        inputs={"graph": GraphDir(pathlib.Path(graph_dir)).root},
                        verbose=verbose, graph_dir=graph_dir,
                        beam_args=beam_args)


def _read_items(graph: GraphDir) -> tuple[pd.DataFrame, int]:
  """The valid items of the dataset the graph was built from."""
  files = graph.item_files()
  if not files:
    raise ValueError("the graph manifest names no items file; rebuild the "
                     "graph with gfm build-graph")
  return read_items(files)


def embed(graph_dir: str | pathlib.Path, hgnn_dir: str | pathlib.Path,
          out_dir: str | pathlib.Path, config: "EmbedConfig | None" = None,
          progress: bool = True) -> dict[str, Any]:
  """``gfm embed``: one HGNN embedding per item, every item type.

  * items that are graph nodes: from their sampled neighbourhood;
  * items with a parent (episodes): their show's embedding (zero-shot);
  * other items outside the graph (published after the cut, or never seen):
    inductively from their text, as isolated nodes of their type.

  Items of a type the encoder has never seen cannot be embedded: they are
  counted in the manifest (``unknown_type``) and listed with a warning.

  Returns:
    The counts written to the manifest.
  """
  from tfgnn_gfm.graph.schema import node_set_name  # pylint: disable=g-import-not-at-top
  from tfgnn_gfm.hgnn.config import EmbedConfig  # pylint: disable=g-import-not-at-top
  from tfgnn_gfm.text.encoder import encode_texts, load_text_encoder  # pylint: disable=g-import-not-at-top
  from tfgnn_gfm.text.item_text import compose_item_texts  # pylint: disable=g-import-not-at-top
  config = config or EmbedConfig()
  graph_layout = GraphDir(pathlib.Path(graph_dir))
  hgnn_layout = HGNNDir(pathlib.Path(hgnn_dir))
  fanouts = hgnn_layout.fanouts()
  graph = load_item_graph(graph_layout.root)
  encoder = load_encoder(hgnn_layout.keras_model)
  items, invalid = _read_items(graph_layout)

  start = time.perf_counter()
  if config.full_graph:
    node_emb = embed_full_graph(encoder, graph)
  else:
    sampler = SubgraphSampler(graph, fanouts, seed=config.seed)
    node_emb = embed_nodes(encoder, sampler,
                           {n: graph.num_nodes(n) for n in graph.node_sets},
                           config.batch_size, progress=progress)
  graph_seconds = time.perf_counter() - start
  dim = next(iter(node_emb.values())).shape[1]
  text_dim = graph.text_dim

  n = len(items)
  vectors = np.zeros((n, dim), np.float32)
  text_vectors = np.zeros((n, text_dim), np.float32)
  source = np.full(n, "", dtype=object)
  node_sets = np.full(n, "", dtype=object)
  position = {}
  for name in graph.node_sets:
    for i, item_id in enumerate(graph.node_ids[name]):
      position[item_id] = (name, i)
  in_graph = items["item_id"].map(lambda x: x in position).to_numpy()
  for row in np.nonzero(in_graph)[0]:
    name, i = position[items["item_id"].iat[row]]
    vectors[row] = node_emb[name][i]
    text_vectors[row] = graph.node_features[name][TEXT_FEATURE][i]
    source[row], node_sets[row] = "graph", name

  outside = np.nonzero(~in_graph)[0]
  if len(outside):
    layer = load_text_encoder(graph_layout.text_encoder())
    texts = compose_item_texts(items.iloc[outside])
    text_vectors[outside] = encode_texts(layer, texts.tolist(),
                                         config.text_batch_size,
                                         progress=progress)
  has_parent = items["parent_id"].fillna("").to_numpy() != ""
  unknown = []
  for row in outside:
    if has_parent[row]:
      continue
    try:
      name = node_set_name(items["item_type"].iat[row])
    except ValueError:
      name = None
    if name not in graph.node_sets:
      unknown.append(row)
      continue
    node_sets[row], source[row] = name, "inductive"
  for name in graph.node_sets:
    rows = np.array([r for r in outside if node_sets[r] == name and
                     source[r] == "inductive"], dtype=np.int64)
    for chunk in np.array_split(rows, max(1, len(rows) // 4096 + 1)):
      if len(chunk):
        vectors[chunk] = embed_new_items(encoder, name, text_vectors[chunk])
  # Episodes inherit their root's vector (tfgnn_gfm.catalog's rule; an item
  # without a root gets none).
  root = root_positions(items["item_id"].to_numpy(object),
                        items["parent_id"].to_numpy(object))
  for row in np.nonzero(has_parent & ~in_graph)[0]:
    r = root[row]
    if r != NO_ROOT and source[r] in ("graph", "inductive"):
      vectors[row], source[row], node_sets[row] = vectors[r], "parent", (
          node_sets[r])
    else:
      unknown.append(row)
  keep = source != ""
  if unknown:
    _LOG.warning("%d items could not be embedded (type unknown to the "
                 "encoder, or a parent that cannot be): e.g. %s", len(unknown),
                 list(items["item_id"].iloc[unknown[:5]]))
  index = pd.DataFrame({"item_id": items["item_id"].to_numpy()[keep],
                        "item_type": items["item_type"].to_numpy()[keep],
                        "node_set": node_sets[keep],
                        "source": source[keep]})
  index["row"] = np.arange(len(index))
  counts = {"items": int(keep.sum()),
            "by_source": {k: int(v) for k, v in
                          index["source"].value_counts().sort_index().items()},
            "by_type": {k: int(v) for k, v in
                        index["item_type"].value_counts().sort_index().items()},
            "unknown_type": len(unknown), "invalid_items": invalid}
  with atomic_directory(out_dir) as tmp:
    layout = EmbeddingsDir(tmp)
    np.save(layout.vectors_path, vectors[keep])
    np.save(layout.text_vectors_path, text_vectors[keep])
    index.to_csv(layout.index_path, index=False)
    layout.write_manifest(
        config=config_to_dict(config), graph=graph_layout.root,
        hgnn=hgnn_layout.keras_model, cut=graph_layout.cut(), counts=counts,
        metrics={"graph_items_per_second": round(
            sum(graph.num_nodes(x) for x in graph.node_sets) /
            max(graph_seconds, 1e-9), 1)},
        extra={"embedding_dim": dim, "text_dim": text_dim})
  return counts
