"""Co-interaction edges in Beam: user shards -> pair shards -> capped edges.

Two items are linked when at least ``min_co_users`` users interacted with
both inside the training window ``[cut - train_days, cut)``
(``tfgnn_gfm.timesplit``). The work is sharded twice and every step is
vectorised (``tfgnn_gfm.graph.pairs``):

1. ``UserPairsFn``, per user shard (users were grouped by a stable hash of
   their id): keep the window, roll items up to their node (the ``NodeIndex``
   side input), aggregate to one row per (user, item), cap each user's items
   at ``max_items_per_user`` (most events, then most recent, then item id),
   generate every user's item pairs and pre-aggregate them; emit one partial
   table per pair shard (pairs encoded as int64 keys, sharded by a fixed hash).
2. ``CombinePairsFn``, per pair shard: sum co-users, min/max of the days over
   the partial tables, keep pairs with at least ``min_co_users``.
3. The edge cap, when ``max_edges_per_node`` > 0: ``IncidentFn`` sends each
   edge to the item shards of both endpoints, ``TopKFn`` marks each node's top
   k edges (co-users desc, other item id asc) and sends the kept keys back to
   their pair shard, ``FilterKeptFn`` keeps an edge marked by either endpoint.

The user and pair shards are the unit of parallelism: on Dataflow or Flink
each is processed by whichever worker gets it, and no step needs all pairs in
one place.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Iterator

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from beam.elements import METRICS_NAMESPACE, SUMMARY, Incident, InteractionBatch
from tfgnn_gfm.graph import pairs as pairs_lib
from tfgnn_gfm.graph.config import GraphBuildConfig
from tfgnn_gfm.graph.nodes import NodeIndex
from tfgnn_gfm.pipelines import workers
from tfgnn_gfm.timesplit import window_start

_LOG = logging.getLogger(__name__)


class UserPairsFn(beam.DoFn):
  """``(user shard, InteractionBatch)`` -> ``(pair shard, PairStats)``.

  Side inputs: ``node_index`` (NodeIndex) and ``cut`` (epoch seconds). The
  ``summary`` output counts interactions in the window, those whose item has
  no node, capped users and raw pairs.
  """

  def __init__(self, config: GraphBuildConfig):
    super().__init__()
    self._days = int(config.train_days)
    self._cap = int(config.max_items_per_user)
    self._num_shards = int(config.num_shards)
    self._pairs = Metrics.counter(METRICS_NAMESPACE, "user_pairs")
    self._in_window = Metrics.counter(METRICS_NAMESPACE,
                                      "interactions_in_window")

  def process(self, element: tuple[int, InteractionBatch],
              node_index: NodeIndex, cut: int) -> Iterator[Any]:
    shard, batch = element
    before = batch.timestamp < window_start(cut, self._days)
    after = batch.timestamp >= cut
    in_window = ~before & ~after
    node = node_index.item_node[batch.item[in_window]]
    has_node = node >= 0
    items = pairs_lib.aggregate_user_items(
        batch.user[in_window][has_node], node[has_node],
        batch.timestamp[in_window][has_node])
    events_before_cap = int(items.events.sum())
    items, capped = pairs_lib.cap_items_per_user(items, self._cap)
    alone = pairs_lib.single_item_users(items)
    by_shard: dict[int, list[pairs_lib.PairStats]] = {}
    raw_pairs = 0
    for part in pairs_lib.iter_user_pairs(items, node_index.num_nodes):
      raw_pairs += int(part.co_users.sum())
      shards = pairs_lib.pair_shard(part.key, self._num_shards)
      for s in np.unique(shards):
        by_shard.setdefault(int(s), []).append(part.take(shards == s))
    n_window = int(in_window.sum())
    self._in_window.inc(n_window)
    self._pairs.inc(raw_pairs)
    workers.count_elements(len(batch))
    _LOG.info("user shard %d: %s interactions in window, %s user-items, "
              "%s pairs", shard, f"{n_window:,}", f"{len(items):,}",
              f"{raw_pairs:,}")
    yield beam.pvalue.TaggedOutput(SUMMARY, {
        "interactions": {
            "in_window": n_window,
            "in_window_without_node": int((~has_node).sum()),
            "before_window": int(before.sum()),
            "at_or_after_cut": int(after.sum()),
            "dropped_by_user_cap": events_before_cap - int(
                items.events.sum()),
            "user_with_one_item": int(items.events[alone].sum()),
            "in_pairs": int(items.events[~alone].sum())},
        "users": {"in_window": int(len(np.unique(items.user))),
                  "capped": capped},
        "pairs": {"user_pairs": raw_pairs}})
    for s in sorted(by_shard):
      yield s, pairs_lib.merge_pairs(by_shard[s])


class CombinePairsFn(beam.DoFn):
  """``(pair shard, [PairStats])`` -> ``(pair shard, PairStats)`` of edges."""

  def __init__(self, min_co_users: int):
    super().__init__()
    self._min = int(min_co_users)

  def process(self, element: tuple[int, Iterable[pairs_lib.PairStats]]
              ) -> Iterator[Any]:
    shard, parts = element
    merged = pairs_lib.merge_pairs(list(parts))
    keep = merged.co_users >= self._min
    yield beam.pvalue.TaggedOutput(SUMMARY, {"pairs": {
        "distinct": len(merged), "below_min_co_users": int((~keep).sum())}})
    yield shard, merged.take(np.flatnonzero(keep))


class IncidentFn(beam.DoFn):
  """``(pair shard, PairStats)`` -> ``(item shard, Incident)`` per endpoint."""

  def process(self, element: tuple[int, pairs_lib.PairStats],
              node_index: NodeIndex) -> Iterator[tuple[int, Incident]]:
    _, stats = element
    a, b = pairs_lib.split_key(stats.key, node_index.num_nodes)
    node = np.concatenate([a, b])
    other = np.concatenate([b, a])
    co = np.concatenate([stats.co_users, stats.co_users])
    shards = node_index.shard[node]
    for s in np.unique(shards):
      m = shards == s
      yield int(s), Incident(node[m], other[m], co[m])


class TopKFn(beam.DoFn):
  """``(item shard, [Incident])`` -> ``(pair shard, kept keys)``."""

  def __init__(self, k: int, num_shards: int):
    super().__init__()
    self._k = int(k)
    self._num_shards = int(num_shards)

  def process(self, element: tuple[int, Iterable[Incident]],
              node_index: NodeIndex) -> Iterator[tuple[int, np.ndarray]]:
    _, parts = element
    parts = list(parts)
    node = np.concatenate([p.node for p in parts])
    other = np.concatenate([p.other for p in parts])
    co = np.concatenate([p.co_users for p in parts])
    mask = pairs_lib.top_k_mask(node, other, co, self._k)
    low = np.minimum(node[mask], other[mask])
    high = np.maximum(node[mask], other[mask])
    keys = np.unique(low * np.int64(node_index.num_nodes) + high)
    shards = pairs_lib.pair_shard(keys, self._num_shards)
    for s in np.unique(shards):
      yield int(s), keys[shards == s]


def filter_kept(element: tuple[int, dict[str, list[Any]]]
                ) -> Iterator[Any]:
  """Keeps the edges of a pair shard that either endpoint's top-k kept."""
  shard, grouped = element
  edges = list(grouped["edges"])
  if not edges:
    return
  (stats,) = edges
  kept = list(grouped["kept"])
  keys = np.concatenate(kept) if kept else np.zeros(0, np.int64)
  mask = np.isin(stats.key, keys)
  yield beam.pvalue.TaggedOutput(SUMMARY, {"edge_cap": {
      "edges_before": len(stats), "edges_removed": int((~mask).sum())}})
  yield shard, stats.take(np.flatnonzero(mask))


class CoInteractionEdges(beam.PTransform):
  """Clean interactions -> undirected edges, by pair shard.

  Input: ``(user shard, InteractionBatch)``. Output: ``{"edges": (pair
  shard, PairStats), "summary": dicts}``; each pair shard appears at most
  once in ``edges`` and its PairStats are sorted by key.
  """

  def __init__(self, config: GraphBuildConfig, node_index: Any, cut: Any):
    super().__init__()
    self._config = config
    self._node_index = node_index
    self._cut = cut

  def expand(self, interactions: Any) -> dict[str, Any]:
    config = self._config
    node_index = beam.pvalue.AsSingleton(self._node_index)
    user_pairs = interactions | "UserPairs" >> beam.ParDo(
        UserPairsFn(config), node_index=node_index,
        cut=beam.pvalue.AsSingleton(self._cut)).with_outputs(
            SUMMARY, main="pairs")
    combined = (user_pairs.pairs
                | "GroupByPairShard" >> beam.GroupByKey()
                | "CombinePairs" >> beam.ParDo(
                    CombinePairsFn(config.min_co_users)).with_outputs(
                        SUMMARY, main="edges"))
    summaries = [user_pairs[SUMMARY], combined[SUMMARY]]
    edges = combined.edges
    if config.max_edges_per_node > 0:
      kept = (edges
              | "Incident" >> beam.ParDo(IncidentFn(), node_index=node_index)
              | "GroupByNodeShard" >> beam.GroupByKey()
              | "TopK" >> beam.ParDo(
                  TopKFn(config.max_edges_per_node, config.num_shards),
                  node_index=node_index))
      capped = ({"edges": edges, "kept": kept}
                | "JoinKept" >> beam.CoGroupByKey()
                | "FilterKept" >> beam.FlatMap(filter_kept).with_outputs(
                    SUMMARY, main="edges"))
      summaries.append(capped[SUMMARY])
      edges = capped.edges
    summary = tuple(summaries) | "FlattenSummary" >> beam.Flatten()
    return {"edges": edges, "summary": summary}
