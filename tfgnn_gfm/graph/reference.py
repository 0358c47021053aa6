"""An independent in-memory computation of the graph, with a pandas self-join.

The Beam pipeline (``beam/build_graph.py``) is checked against this module in
tests and timed against it in ``bench/bench_build_graph.py``. It shares no
code with the pipeline's kernels (``tfgnn_gfm.graph.pairs``): it validates with
the project's whole-table reader (``tfgnn_gfm.data.read_dataset``), rolls up
items with pandas lookups and finds pairs with a plain self-join of the
per-user item table on ``user_id``; it resolves roots by its own walk, not
by ``tfgnn_gfm.catalog``, and computes its window itself. Only the definitions
are shared (config, cut parsing, set names), since they are what both must
agree on:

* nodes: valid items without ``parent_id`` published at or before the cut (or
  never), one node set per sanitized item type;
* interactions in ``[cut - train_days, cut)`` (optionally only some events),
  rolled up to their root item; those whose root is not a node are dropped;
* per user, items ranked by events, then last event, then item id; the top
  ``max_items_per_user`` form pairs;
* a pair's co-users are the distinct users with both items, its first/last
  day the min/max over them of the later of their first events with the two;
* pairs with at least ``min_co_users`` co-users are edges; an edge is kept
  when it is in the top ``max_edges_per_node`` (co-users desc, other item id)
  of either endpoint.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import numpy as np
import pandas as pd

from tfgnn_gfm.graph.config import GraphBuildConfig
from tfgnn_gfm.graph.schema import edge_set_name, node_set_names
from tfgnn_gfm.timesplit import SECONDS_PER_DAY, default_cut, parse_cut


@dataclasses.dataclass
class ReferenceGraph:
  """The graph as pandas frames.

  Attributes:
    cut: the cut in epoch seconds.
    nodes: one row per node: ``item_id``, ``node_set``, ``language``,
      ``genres``, ``degree``; sorted by (node_set, item_id).
    edges: one row per undirected edge with ``source_id`` < ``target_id``:
      ``source_set``, ``target_set``, ``co_users``, ``first_day``,
      ``last_day``; sorted by (source_id, target_id).
    dead_letters: every rejected row (from ``read_dataset``), or [] when the
      graph was built from frames.
  """

  cut: int
  nodes: pd.DataFrame
  edges: pd.DataFrame
  dead_letters: list[dict[str, Any]] = dataclasses.field(default_factory=list)

  def directed_edges(self) -> pd.DataFrame:
    """Both directions of every edge, with its edge set name."""
    forward = self.edges
    backward = self.edges.rename(columns={
        "source_id": "target_id", "target_id": "source_id",
        "source_set": "target_set", "target_set": "source_set"})
    both = pd.concat([forward, backward[forward.columns]], ignore_index=True)
    both["edge_set"] = [edge_set_name(s, t) for s, t in
                        zip(both["source_set"], both["target_set"])]
    return both.sort_values(["edge_set", "source_id", "target_id"],
                            ignore_index=True)

  def counts(self) -> dict[str, Any]:
    """Nodes per node set and (directed) edges per edge set."""
    directed = self.directed_edges()
    return {
        "nodes": {str(k): int(v) for k, v in
                  self.nodes["node_set"].value_counts().sort_index().items()},
        "edges": {str(k): int(v) for k, v in
                  directed["edge_set"].value_counts().sort_index().items()},
    }


def resolve_cut(interactions: pd.DataFrame, config: GraphBuildConfig) -> int:
  """The configured cut, or the default one from the last interaction."""
  if config.cut is not None:
    return parse_cut(config.cut)
  if not len(interactions):
    raise ValueError("no valid interactions to derive the cut from; pass "
                     "--cut")
  return default_cut(int(interactions["timestamp"].max()),
                     config.holdout_days)


def root_items(items: pd.DataFrame) -> pd.Series:
  """Maps every valid item id to its root item id (None when unresolvable).

  An item without ``parent_id`` is its own root; an item with one takes its
  parent's root when the parent is a valid item, else it has none. Members of
  a parent cycle have none either.
  """
  ids = items["item_id"].to_numpy(object)
  parent_of = pd.Series(items["parent_id"].to_numpy(object), index=ids)
  current = ids.copy()
  root = np.full(len(ids), None, dtype=object)
  pending = np.ones(len(ids), bool)
  for _ in range(len(ids) + 1):
    index = np.flatnonzero(pending)
    if not len(index):
      break
    parent = pd.Series(parent_of.reindex(current[index]).to_numpy(object))
    missing = parent.isna().to_numpy()
    top = ~missing & parent.eq("").to_numpy()
    root[index[top]] = current[index[top]]
    pending[index[missing | top]] = False
    step = ~missing & ~top
    current[index[step]] = parent.to_numpy(object)[step]
  return pd.Series(root, index=ids, dtype=object)


def reference_edges(items: pd.DataFrame, interactions: pd.DataFrame,
                    config: GraphBuildConfig, cut: int | None = None
                    ) -> ReferenceGraph:
  """Computes nodes and capped edges from validated frames.

  Args:
    items: the validated items frame (``read_dataset(...).items.frame``).
    interactions: the validated interactions frame.
    config: the graph config (window, caps, events, min co-users).
    cut: the cut in epoch seconds; default: ``resolve_cut``.

  Returns:
    The ReferenceGraph (without dead letters).
  """
  cut = resolve_cut(interactions, config) if cut is None else int(cut)
  published = items["published_at"]
  is_node = (items["parent_id"] == "") & (published.isna() |
                                          (published <= cut)).fillna(True)
  node_items = items[is_node.to_numpy(bool)]
  set_of_type = node_set_names(node_items["item_type"].unique())
  nodes = pd.DataFrame({
      "item_id": node_items["item_id"].astype(str).to_numpy(),
      "node_set": node_items["item_type"].map(set_of_type).to_numpy(),
      "language": node_items["language"].astype(str).to_numpy(),
      "genres": node_items["genres"].astype(str).to_numpy()})
  node_set_of = pd.Series(nodes["node_set"].to_numpy(),
                          index=nodes["item_id"].to_numpy())

  # Interactions in the window, rolled up to node items.
  ts = interactions["timestamp"]
  inter = interactions[((ts >= cut - config.train_days * SECONDS_PER_DAY)
                        & (ts < cut)).to_numpy(bool)]
  if config.events:
    inter = inter[inter["event"].isin(list(config.events)).to_numpy(bool)]
  roots = root_items(items)
  root = inter["item_id"].map(roots)
  keep = root.isin(node_set_of.index)
  inter = pd.DataFrame({"user_id": inter["user_id"].to_numpy()[keep],
                        "item_id": root.to_numpy()[keep],
                        "timestamp": inter["timestamp"].to_numpy()[keep]})

  # Per (user, item): events, first and last; then the per-user cap.
  per = inter.groupby(["user_id", "item_id"], sort=False)["timestamp"].agg(
      events="size", first="min", last="max").reset_index()
  per = per.sort_values(["user_id", "events", "last", "item_id"],
                        ascending=[True, False, False, True], kind="stable")
  if config.max_items_per_user > 0:
    per = per[per.groupby("user_id", sort=False).cumcount()
              < config.max_items_per_user]

  # The self-join: every two items of a user.
  left = per[["user_id", "item_id", "first"]]
  joined = left.merge(left, on="user_id", suffixes=("_a", "_b"))
  joined = joined[joined["item_id_a"] < joined["item_id_b"]]
  joined["day"] = (np.maximum(joined["first_a"], joined["first_b"])
                   // SECONDS_PER_DAY)
  edges = joined.groupby(["item_id_a", "item_id_b"], sort=True)["day"].agg(
      co_users="size", first_day="min", last_day="max").reset_index()
  edges = edges[edges["co_users"] >= config.min_co_users]
  edges = edges.rename(columns={"item_id_a": "source_id",
                                "item_id_b": "target_id"})

  # The edge cap: top-k of either endpoint.
  if config.max_edges_per_node > 0 and len(edges):
    incident = pd.concat([
        pd.DataFrame({"node": edges["source_id"], "other": edges["target_id"],
                      "co_users": edges["co_users"], "edge": edges.index}),
        pd.DataFrame({"node": edges["target_id"], "other": edges["source_id"],
                      "co_users": edges["co_users"], "edge": edges.index})])
    incident = incident.sort_values(["node", "co_users", "other"],
                                     ascending=[True, False, True])
    top = incident[incident.groupby("node", sort=False).cumcount()
                   < config.max_edges_per_node]
    edges = edges.loc[np.unique(top["edge"].to_numpy())]

  edges = edges.sort_values(["source_id", "target_id"], ignore_index=True)
  edges["source_set"] = edges["source_id"].map(node_set_of)
  edges["target_set"] = edges["target_id"].map(node_set_of)
  for column in ("co_users", "first_day", "last_day"):
    edges[column] = edges[column].astype(np.int64)
  degree = pd.concat([edges["source_id"], edges["target_id"]]).value_counts()
  nodes["degree"] = nodes["item_id"].map(degree).fillna(0).astype(np.int64)
  nodes = nodes.sort_values(["node_set", "item_id"], ignore_index=True)
  return ReferenceGraph(cut=cut, nodes=nodes, edges=edges[[
      "source_id", "target_id", "source_set", "target_set", "co_users",
      "first_day", "last_day"]])


def reference_graph(data_dir: str | pathlib.Path,
                    config: GraphBuildConfig | None = None) -> ReferenceGraph:
  """Reads and validates a dataset folder, then computes the graph.

  Args:
    data_dir: a dataset folder (items, interactions, optional users).
    config: the graph config; defaults to ``GraphBuildConfig()``.

  Returns:
    The ReferenceGraph, with the dataset's dead letters.
  """
  from tfgnn_gfm.data.dataset import read_dataset
  config = config or GraphBuildConfig()
  dataset = read_dataset(data_dir)
  graph = reference_edges(dataset.items.frame, dataset.interactions.frame,
                          config)
  graph.dead_letters = dataset.dead_letters()
  return graph
