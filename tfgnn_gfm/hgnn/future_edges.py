"""Future edges: item pairs first co-interacted after the graph's cut.

Random held-out edges sit inside a user's clique of co-interactions, where
common-neighbour counting is strong; a recommender has to predict what comes
next. A future pair joins an item a user had before the cut (within the
graph's training window) or in the hold-out window with an item the same user
takes in the hold-out window ``[cut, cut + holdout_days)``, both items graph
nodes, the pair not an edge of the graph. The pretraining report ranks them
with the held-out-edge protocol (``evaluation.link_prediction_report``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tfgnn_gfm.hgnn.graph_data import ItemGraph, is_edge

_DAY = 86400


def future_pairs(graph: ItemGraph, interactions: pd.DataFrame, cut: int,
                 holdout_days: float, train_days: float | None = None, *,
                 max_items_per_user: int = 200, max_pairs: int = 10000,
                 seed: int = 0
                 ) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
  """The future pairs per link type (see module docstring).

  Args:
    graph: the graph (its edges are the known pairs).
    interactions: ``user_id``, ``item_id``, ``timestamp`` (epoch seconds).
    cut: the graph's cut (epoch seconds).
    holdout_days: length of the hold-out window after the cut.
    train_days: length of the graph's window before the cut (None: all).
    max_items_per_user: a user's most recent items before the cut that
      count, as the graph's cap.
    max_pairs: at most this many pairs per link type, drawn at random
      (seeded), so the report's cost stays bounded.
    seed: seed of that draw.

  Returns:
    (set_a, set_b) sorted -> (index in set_a, index in set_b), each
    unordered pair once (a < b within one set).
  """
  node_set = pd.Series({str(item): name for name in graph.node_sets
                        for item in graph.node_ids[name]}, dtype=object)
  node_index = pd.Series({str(item): i for name in graph.node_sets
                          for i, item in enumerate(graph.node_ids[name])},
                         dtype=np.int64)
  frame = interactions[["user_id", "item_id", "timestamp"]].astype(
      {"item_id": str})
  frame = frame[frame["item_id"].isin(node_set.index)]
  start = -np.inf if train_days is None else cut - train_days * _DAY
  stop = cut + holdout_days * _DAY
  frame = frame[(frame["timestamp"] >= start) & (frame["timestamp"] < stop)]
  after = frame[frame["timestamp"] >= cut]
  before = frame[(frame["timestamp"] < cut)
                 & frame["user_id"].isin(after["user_id"])]
  before = before.sort_values("timestamp").groupby("user_id").tail(
      max_items_per_user)
  sides = pd.concat([before.assign(late=False), after.assign(late=True)])
  pairs = sides.merge(after[["user_id", "item_id"]], on="user_id",
                      suffixes=("", "_next"))
  pairs = pairs[pairs["item_id"] != pairs["item_id_next"]]
  out = {}
  if pairs.empty:
    return out
  keyed = pd.DataFrame({
      "set_a": pairs["item_id"].map(node_set).to_numpy(),
      "a": pairs["item_id"].map(node_index).to_numpy(),
      "set_b": pairs["item_id_next"].map(node_set).to_numpy(),
      "b": pairs["item_id_next"].map(node_index).to_numpy()})
  # One order per unordered pair: sets sorted, then indices within a set.
  swap = (keyed["set_a"] > keyed["set_b"]) | (
      (keyed["set_a"] == keyed["set_b"]) & (keyed["a"] > keyed["b"]))
  keyed.loc[swap, ["set_a", "a", "set_b", "b"]] = keyed.loc[
      swap, ["set_b", "b", "set_a", "a"]].to_numpy()
  keyed = keyed.drop_duplicates()
  rng = np.random.default_rng(seed)
  for (set_a, set_b), group in keyed.groupby(["set_a", "set_b"]):
    a = group["a"].to_numpy(np.int64)
    b = group["b"].to_numpy(np.int64)
    known = is_edge(graph.neighbour_keys(set_a, set_b), a, b,
                    graph.num_nodes(set_b))
    a, b = a[~known], b[~known]
    if len(a) > max_pairs:
      keep = np.sort(rng.choice(len(a), max_pairs, replace=False))
      a, b = a[keep], b[keep]
    if len(a):
      out[(set_a, set_b)] = (a, b)
  return out
