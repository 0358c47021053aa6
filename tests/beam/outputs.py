"""Loads a graph output directory into pandas frames for comparisons."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pandas as pd

import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)

# isort: split
import tensorflow as tf
import tensorflow_gnn as tfgnn
from tensorflow_gnn.data import unigraph

from tfgnn_gfm.artifacts import GraphDir

EDGE_COLUMNS = ["edge_set", "source_id", "target_id", "co_users", "first_day",
                "last_day"]


def parse_full_graph(out: pathlib.Path):
  """The whole graph, parsed against the written schema."""
  layout = GraphDir(out)
  schema = tfgnn.read_schema(str(layout.schema_path))
  spec = tfgnn.create_graph_spec_from_schema_pb(schema)
  (serialized,) = list(tf.data.TFRecordDataset(str(layout.full_graph_path)))
  return tfgnn.parse_single_example(spec, serialized)


def full_graph_frames(out: pathlib.Path) -> tuple[pd.DataFrame, pd.DataFrame]:
  """(nodes, directed edges) of graph.tfrecord, with item ids."""
  graph = parse_full_graph(out)
  nodes = []
  for name, ns in sorted(graph.node_sets.items()):
    nodes.append(pd.DataFrame({
        "node_set": name,
        "item_id": ns["#id"].numpy().astype(str),
        "log_degree": ns["log_degree"].numpy()[:, 0],
        "language": ns["language"].numpy().astype(str),
        "genres": ns["genres"].numpy().astype(str),
        "embedding": list(ns["text_embedding"].numpy())}))
  edges = []
  for name, es in sorted(graph.edge_sets.items()):
    src = graph.node_sets[es.adjacency.source_name]["#id"].numpy().astype(str)
    tgt = graph.node_sets[es.adjacency.target_name]["#id"].numpy().astype(str)
    edges.append(pd.DataFrame({
        "edge_set": name,
        "source_id": src[es.adjacency.source.numpy()],
        "target_id": tgt[es.adjacency.target.numpy()],
        "co_users": es["co_users"].numpy().astype(np.int64),
        "first_day": es["first_day"].numpy(),
        "last_day": es["last_day"].numpy()}))
  return (pd.concat(nodes, ignore_index=True),
          _sorted(pd.concat(edges, ignore_index=True)))


def sharded_frames(out: pathlib.Path) -> tuple[pd.DataFrame, pd.DataFrame]:
  """(nodes, directed edges) read back with TF-GNN's own unigraph reader."""
  schema_path = str(GraphDir(out).sharded_schema_path.absolute())
  graph = unigraph.DictStreams.iter_graph_via_path(schema_path)
  nodes = []
  for name, stream in sorted(graph[tfgnn.NODES].items()):
    for node_id, example in stream:
      f = example.features.feature
      nodes.append({"node_set": name, "item_id": node_id.decode(),
                    "log_degree": f["log_degree"].float_list.value[0],
                    "embedding": np.array(f["text_embedding"].float_list.value,
                                          np.float32)})
  edges = []
  for name, stream in sorted(graph[tfgnn.EDGES].items()):
    for source, target, example in stream:
      f = example.features.feature
      edges.append({"edge_set": name, "source_id": source.decode(),
                    "target_id": target.decode(),
                    "co_users": int(f["co_users"].float_list.value[0]),
                    "first_day": f["first_day"].int64_list.value[0],
                    "last_day": f["last_day"].int64_list.value[0]})
  return (pd.DataFrame(nodes).sort_values(["node_set", "item_id"],
                                          ignore_index=True),
          _sorted(pd.DataFrame(edges, columns=EDGE_COLUMNS)))


def reference_edge_frame(reference) -> pd.DataFrame:
  """The reference graph's directed edges in the same layout."""
  return _sorted(reference.directed_edges()[EDGE_COLUMNS])


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
  frame = frame[EDGE_COLUMNS].sort_values(
      ["edge_set", "source_id", "target_id"], ignore_index=True)
  return frame.astype({"co_users": np.int64, "first_day": np.int64,
                       "last_day": np.int64, "edge_set": object,
                       "source_id": object, "target_id": object})


def dead_letters(out: pathlib.Path) -> list[dict]:
  path = GraphDir(out).dead_letter_path
  return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def count_reasons(letters: list[dict]) -> dict[str, dict[str, int]]:
  counts: dict[str, dict[str, int]] = {}
  for d in letters:
    table = counts.setdefault(d["table"], {})
    table[d["reason"]] = table.get(d["reason"], 0) + 1
  return counts


def file_bytes(out: pathlib.Path, skip: tuple[str, ...] = ("manifest.json",)
               ) -> dict[str, bytes]:
  """Every output file's bytes, by relative path (minus ``skip``)."""
  return {str(p.relative_to(out)): p.read_bytes()
          for p in sorted(out.rglob("*"))
          if p.is_file() and p.name not in skip}
