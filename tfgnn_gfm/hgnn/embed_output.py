"""The ``embed`` stage's output: which items get which vector, and the files.

Shared by the in-process ``gfm embed`` (``tfgnn_gfm/hgnn/stage.py``) and its
Beam job (``tfgnn_gfm/hgnn/beam_embed.py``), so both write the same
``EmbeddingsDir``:

* ``plan_items`` decides, from the items and the graph alone, how each item
  is embedded: ``graph`` (a node: from its neighbourhood), ``inductive`` (not
  a node, no parent, a known type: from its text as an isolated node),
  ``parent`` (an episode: its root's vector, ``tfgnn_gfm.catalog``'s root
  rule), or not at all (a type the encoder never saw, an item without a
  root, or a root that cannot be embedded);
* ``assemble`` puts the computed vectors (``ComputedVectors``) into item
  rows;
* ``write_embeddings`` writes ``embeddings.npy``, ``text_embeddings.npy``,
  ``index.csv`` and the manifest, atomically.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
from typing import Any

import numpy as np
import pandas as pd

from tfgnn_gfm.artifacts import Embeddings, EmbeddingsDir, atomic_directory
from tfgnn_gfm.catalog import NO_ROOT, root_positions
from tfgnn_gfm.hgnn.graph_data import TEXT_FEATURE, ItemGraph

_LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class EmbedPlan:
  """How every item is embedded.

  Attributes:
    items: the valid items (one row each), in output order before dropping
      the unembeddable ones.
    graph_rows: rows of items that are graph nodes.
    graph_nodes: (node set, node index) of each of ``graph_rows``.
    outside: rows of items that are not nodes (their text is encoded).
    inductive: node set -> rows (a subset of ``outside``) embedded from text.
    parents: (row, row whose vector it takes) of items with a parent.
    unknown: rows that cannot be embedded.
    source: per row ``graph``, ``inductive``, ``parent`` or ``""``.
    node_sets: per row the node set its vector comes from (or ``""``).
  """

  items: pd.DataFrame
  graph_rows: np.ndarray
  graph_nodes: list[tuple[str, int]]
  outside: np.ndarray
  inductive: dict[str, np.ndarray]
  parents: list[tuple[int, int]]
  unknown: list[int]
  source: np.ndarray
  node_sets: np.ndarray


@dataclasses.dataclass
class ComputedVectors:
  """The vectors a plan needs, however computed (``assemble``'s input).

  Attributes:
    node_vectors: node set -> float32 [n, dim] node embeddings, node order.
    outside_text: float32 [len(plan.outside), text dim] text vectors of the
      items outside the graph, in ``plan.outside`` order.
    inductive_vectors: node set -> float32 embeddings of
      ``plan.inductive[node set]``, in that order.
    beam: the Beam job's summary (runner, options, worker processes), or
      None in process.
  """

  node_vectors: dict[str, np.ndarray]
  outside_text: np.ndarray
  inductive_vectors: dict[str, np.ndarray]
  beam: dict[str, Any] | None = None


def plan_items(items: pd.DataFrame, graph: ItemGraph) -> EmbedPlan:
  """Decides how each item is embedded (see the module docstring).

  Args:
    items: the valid items of the dataset the graph was built from.
    graph: the graph.

  Returns:
    The plan.
  """
  from tfgnn_gfm.graph.schema import node_set_name
  n = len(items)
  source = np.full(n, "", dtype=object)
  node_sets = np.full(n, "", dtype=object)
  position = {}
  for name in graph.node_sets:
    for i, item_id in enumerate(graph.node_ids[name]):
      position[item_id] = (name, i)
  ids = items["item_id"].to_numpy()
  in_graph = np.array([x in position for x in ids], dtype=bool)
  graph_rows = np.nonzero(in_graph)[0]
  graph_nodes = [position[ids[row]] for row in graph_rows]
  for row, (name, _) in zip(graph_rows, graph_nodes):
    source[row], node_sets[row] = "graph", name
  outside = np.nonzero(~in_graph)[0]
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
      unknown.append(int(row))
      continue
    node_sets[row], source[row] = name, "inductive"
  inductive = {}
  for name in graph.node_sets:
    rows = np.array([r for r in outside if node_sets[r] == name and
                     source[r] == "inductive"], dtype=np.int64)
    if len(rows):
      inductive[name] = rows
  # Episodes inherit their root's vector (tfgnn_gfm.catalog's rule; an item
  # without a root gets none).
  root = root_positions(items["item_id"].to_numpy(object),
                        items["parent_id"].to_numpy(object))
  parents = []
  for row in np.nonzero(has_parent & ~in_graph)[0]:
    r = int(root[row])
    if r != NO_ROOT and source[r] in ("graph", "inductive"):
      parents.append((int(row), int(r)))
      source[row], node_sets[row] = "parent", node_sets[r]
    else:
      unknown.append(int(row))
  return EmbedPlan(items=items, graph_rows=graph_rows, graph_nodes=graph_nodes,
                   outside=outside, inductive=inductive, parents=parents,
                   unknown=unknown, source=source, node_sets=node_sets)


def assemble(plan: EmbedPlan, graph: ItemGraph,
             node_vectors: dict[str, np.ndarray], outside_text: np.ndarray,
             inductive_vectors: dict[str, np.ndarray]
             ) -> tuple[np.ndarray, np.ndarray]:
  """Every item row's vector and text vector.

  Args:
    plan: the plan.
    graph: the graph (gives the nodes' text vectors).
    node_vectors: node set -> float32 [n, dim] node embeddings, node order.
    outside_text: float32 [len(plan.outside), text dim] text vectors of the
      items outside the graph, in ``plan.outside`` order.
    inductive_vectors: node set -> float32 embeddings of
      ``plan.inductive[node set]``, in that order.

  Returns:
    (vectors [items, dim], text vectors [items, text dim]), float32, every
    row of ``plan.items`` (unembeddable rows are zeros).
  """
  dim = next(iter(node_vectors.values())).shape[1]
  n = len(plan.items)
  vectors = np.zeros((n, dim), np.float32)
  text_vectors = np.zeros((n, graph.text_dim), np.float32)
  for row, (name, i) in zip(plan.graph_rows, plan.graph_nodes):
    vectors[row] = node_vectors[name][i]
    text_vectors[row] = graph.node_features[name][TEXT_FEATURE][i]
  if len(plan.outside):
    text_vectors[plan.outside] = outside_text
  for name, rows in plan.inductive.items():
    vectors[rows] = inductive_vectors[name]
  for row, r in plan.parents:
    vectors[row] = vectors[r]
  return vectors, text_vectors


def write_embeddings(out_dir: str | pathlib.Path, plan: EmbedPlan,
                     vectors: np.ndarray, text_vectors: np.ndarray, *,
                     invalid: int, config: dict[str, Any],
                     graph: str | pathlib.Path, hgnn: str | pathlib.Path,
                     cut: int | None, metrics: dict[str, Any],
                     extra: dict[str, Any]) -> dict[str, Any]:
  """Writes the ``EmbeddingsDir`` (replaced atomically).

  Args:
    out_dir: the output directory.
    plan: the plan.
    vectors: ``assemble``'s vectors.
    text_vectors: ``assemble``'s text vectors.
    invalid: rows of the items table that were not valid items.
    config: the stage config, for the manifest.
    graph: the GraphDir embedded (fingerprinted).
    hgnn: the encoder used (``HGNNDir.keras_model``, fingerprinted).
    cut: the graph's cut (``GraphDir.cut()``).
    metrics: for the manifest.
    extra: more manifest entries.

  Returns:
    The counts written to the manifest.
  """
  items = plan.items
  keep = plan.source != ""
  if plan.unknown:
    _LOG.warning("%d items could not be embedded (type unknown to the "
                 "encoder, or a parent that cannot be): e.g. %s",
                 len(plan.unknown),
                 list(items["item_id"].iloc[plan.unknown[:5]]))
  index = pd.DataFrame({"item_id": items["item_id"].to_numpy()[keep],
                        "item_type": items["item_type"].to_numpy()[keep],
                        "node_set": plan.node_sets[keep],
                        "source": plan.source[keep]})
  index["row"] = np.arange(len(index))
  counts = {"items": int(keep.sum()),
            "by_source": {k: int(v) for k, v in
                          index["source"].value_counts().sort_index().items()},
            "by_type": {k: int(v) for k, v in
                        index["item_type"].value_counts().sort_index().items()},
            "unknown_type": len(plan.unknown), "invalid_items": invalid}
  with atomic_directory(out_dir) as tmp:
    layout = EmbeddingsDir(tmp)
    layout.write_embeddings(Embeddings(index=index, vectors=vectors[keep],
                                       text=text_vectors[keep]))
    layout.write_manifest(config=config, graph=graph, hgnn=hgnn, cut=cut,
                          counts=counts, metrics=metrics, extra=extra)
  return counts
