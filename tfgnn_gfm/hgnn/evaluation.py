"""Link-prediction quality on held-out edges: HR@K and MRR per edge set.

Each held-out pair (s, t) of edge set S->T is a query: s's embedding scores
every node of T; t's rank counts the nodes scored strictly higher, leaving out
s itself and s's training neighbours in T (the filtered setting: known links
are not errors). HR@K is the share of queries with rank <= K, MRR the mean
reciprocal rank. Ranks follow ``tfgnn_gfm.evaluation.ranking``, the rule of
every figure of the project: ties are broken at random and the expected rank
counts (a target tied with m other candidates ranks m/2 lower than the
strictly higher ones put it), which matters mostly for the count-based kNN
scores.

Beside the figures, the HGNN is compared with item-kNN query by query: the
paired difference of their hits with a 95% bootstrap interval that
resamples query nodes (a node of many held-out edges is one draw), the ratio
of their HR@K, and a verdict (``verdict``): ``"target"`` when the ratio is at
least ``TARGET_RATIO`` and the interval lies above 0, ``"win"`` when only the
interval does, ``"loss"`` when it lies below 0, else ``"tie"``.

The same queries are scored by two baselines the HGNN must beat:

* text: cosine similarity of the text embeddings alone;
* item-kNN: co-occurrence on the training edges, the cosine between the two
  items' rows of the binary training adjacency (all edge sets, every node
  set), i.e. common neighbours / sqrt(degree(s) * degree(t)).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Iterator

import numpy as np
import scipy.sparse

from tfgnn_gfm.evaluation import intervals, ranking
from tfgnn_gfm.hgnn.graph_data import (
  TEXT_FEATURE,
  ItemGraph,
  LinkSplit,
  NodeSplit,
)
from tfgnn_gfm.vectors import l2_normalize

#: HR@K of the HGNN over a baseline's that the foundation aims at.
TARGET_RATIO = 1.10


def paired_comparison(hgnn_ranks: np.ndarray, knn_ranks: np.ndarray,
                      query_nodes: np.ndarray, k: int, *,
                      num_resamples: int = 1000, seed: int = 0
                      ) -> dict[str, float | str | None]:
  """The HGNN against a baseline (item-kNN, or text for new nodes) on the
  same queries (see module docstring).

  Args:
    hgnn_ranks, knn_ranks: [q] 0-based ranks of each query's target, by
      the HGNN and by the baseline.
    query_nodes: [q] the query node of each query (the resampling unit).
    k: the K of HR@K.

  Returns:
    ``{"difference", "low", "high", "ratio", "verdict"}`` (HR@K of the HGNN
    minus the baseline's, its interval, their ratio, the verdict).
  """
  paired = intervals.paired_difference(
      ranking.hits_at(hgnn_ranks, k), ranking.hits_at(knn_ranks, k),
      query_nodes, num_resamples=num_resamples, seed=seed)
  knn = float(np.mean(ranking.hits_at(knn_ranks, k))) if len(knn_ranks) else 0
  hgnn = float(np.mean(ranking.hits_at(hgnn_ranks, k))) if len(
      hgnn_ranks) else 0
  ratio = hgnn / knn if knn > 0 else None
  if paired["sign"] > 0:
    verdict = ("target" if ratio is None or ratio >= TARGET_RATIO
               else "win")
  else:
    verdict = "loss" if paired["sign"] < 0 else "tie"
  return {"difference": paired["mean"], "low": paired["low"],
          "high": paired["high"], "ratio": ratio, "verdict": verdict}


def rank_queries(scorer: Callable[[int, int], np.ndarray], num_queries: int,
                 targets: np.ndarray, exclude_rows: np.ndarray,
                 exclude_cols: np.ndarray, chunk: int = 1024) -> np.ndarray:
  """1-based rank of each query's target among candidates, with exclusions.

  Args:
    scorer: (start, stop) -> float [stop - start, n] scores of queries
      start..stop-1 against every candidate.
    num_queries: q.
    targets: [q] index of each query's true candidate.
    exclude_rows, exclude_cols: (query row, candidate) pairs left out.
    chunk: queries per scorer call.

  Returns:
    float64 [q] 0-based ranks (``ranking.target_ranks``).
  """
  ranks = np.zeros(num_queries, np.float64)
  # Exclusions sorted by query row: each chunk takes its slice.
  order = np.argsort(exclude_rows, kind="stable")
  exclude_rows, exclude_cols = exclude_rows[order], exclude_cols[order]
  for start in range(0, num_queries, chunk):
    stop = min(num_queries, start + chunk)
    lo, hi = np.searchsorted(exclude_rows, [start, stop])
    # Excluded candidates are subtracted from the counts (``ranking.Ranker``),
    # not written into a float64 copy of the scores.
    ranks[start:stop] = ranking.Ranker(np.asarray(scorer(start, stop))).ranks(
        np.arange(stop - start), targets[start:stop],
        exclude_rows[lo:hi] - start, exclude_cols[lo:hi])
  return ranks


def _score(scorers: dict[str, Callable[[int, int], np.ndarray]],
           entry: dict[str, float], targets: np.ndarray,
           exclude_rows: np.ndarray, exclude_cols: np.ndarray, k: int
           ) -> dict[str, np.ndarray]:
  """Ranks the queries by each scorer; adds its HR@K and MRR to ``entry``.

  Returns:
    label -> [q] 0-based ranks (``_ranks``).
  """
  ranks = {}
  for label, scorer in scorers.items():
    ranks[label] = rank_queries(scorer, len(targets), targets, exclude_rows,
                                exclude_cols)
    entry[f"{label}_hr@{k}"] = float(np.mean(ranking.hits_at(
        ranks[label], k)))
    entry[f"{label}_mrr"] = float(np.mean(ranking.reciprocal_ranks(
        ranks[label])))
  return ranks


def _dot_scorer(query: np.ndarray, candidates: np.ndarray):
  return lambda start, stop: query[start:stop] @ candidates.T


def cooccurrence_vectors(graph: ItemGraph
                         ) -> dict[str, scipy.sparse.csr_matrix]:
  """Each node's L2-normalised row of the binary adjacency, per node set.

  Rows index the nodes of every node set (in ``graph.node_sets`` order), so
  the dot product of two rows is the item-kNN cosine of the two items.

  Returns:
    node set -> csr [n, total nodes].
  """
  offsets = graph.node_offsets()
  adjacency = graph.adjacency()
  norms = np.sqrt(np.asarray(adjacency.sum(axis=1)).ravel())
  adjacency = scipy.sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ adjacency
  adjacency = adjacency.tocsr()
  return {name: adjacency[offsets[name]:offsets[name] + graph.num_nodes(name)]
          for name in graph.node_sets}


def _sparse_scorer(query: scipy.sparse.csr_matrix,
                   candidates: scipy.sparse.csr_matrix):
  transposed = candidates.T.tocsc()
  return lambda start, stop: (query[start:stop] @ transposed).toarray()


def sample_queries(src: np.ndarray, tgt: np.ndarray, max_queries: int,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """At most ``max_queries`` of the (src, tgt) queries: a uniform sample
  without replacement, in their original order (0: all of them)."""
  if max_queries <= 0 or len(src) <= max_queries:
    return src, tgt
  keep = np.sort(np.random.default_rng(seed).choice(
      len(src), max_queries, replace=False))
  return src[keep], tgt[keep]


@dataclasses.dataclass
class HeldOutQueries:
  """The queries of one edge set's held-out pairs, one direction.

  Attributes:
    edge_set: the training edge set from ``source_set`` to ``target_set``.
    source_set, target_set: node sets of the query and of the candidates.
    source, target: [q] query node and its held-out partner (rows of their
      node sets).
    held_out: how many held-out queries there were before sampling.
    exclude_rows, exclude_cols: (query position, candidate) pairs left out
      of the ranking: the query's training neighbours, and itself.
  """

  edge_set: str
  source_set: str
  target_set: str
  source: np.ndarray
  target: np.ndarray
  held_out: int
  exclude_rows: np.ndarray
  exclude_cols: np.ndarray


def held_out_queries(split: LinkSplit, max_queries: int = 0, seed: int = 0
                     ) -> Iterator[HeldOutQueries]:
  """The held-out pairs of ``split`` as ranking queries, per edge set.

  A pair (a, b) of a link type between two node sets is a query both ways
  (a -> b and b -> a); within one node set the edge set holds both orders,
  so both are queries of that edge set. At most ``max_queries`` per edge
  set and direction (``sample_queries``; 0: all).
  """
  train = split.train_graph
  for (set_a, set_b), (a, b) in sorted(split.val_pairs.items()):
    if set_a == set_b:  # One edge set holds both orders: query both ways.
      directions = [(set_a, set_a, np.concatenate([a, b]),
                     np.concatenate([b, a]))]
    else:
      directions = [(set_a, set_b, a, b), (set_b, set_a, b, a)]
    for s_set, t_set, src, tgt in directions:
      name = train.edge_set_between(s_set, t_set)
      if name is None or len(src) == 0:
        continue
      held_out = len(src)
      src, tgt = sample_queries(src, tgt, max_queries, seed)
      es = train.edge_sets[name]
      # Exclusions: the query's training neighbours, and itself.
      by_source = np.argsort(es.source, kind="stable")
      sorted_sources = es.source[by_source]
      starts = np.searchsorted(sorted_sources, src, side="left")
      stops = np.searchsorted(sorted_sources, src, side="right")
      counts = stops - starts
      rows = np.repeat(np.arange(len(src)), counts)
      offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts,
                                                    counts)
      cols = es.target[by_source[np.repeat(starts, counts) + offsets]]
      if s_set == t_set:
        rows = np.concatenate([rows, np.arange(len(src))])
        cols = np.concatenate([cols, src])
      yield HeldOutQueries(name, s_set, t_set, src, tgt, held_out, rows, cols)


def link_prediction_report(embeddings: dict[str, np.ndarray], split: LinkSplit,
                           graph: ItemGraph, k: int = 10,
                           max_queries: int = 0, seed: int = 0
                           ) -> dict[str, dict[str, float]]:
  """HR@K and MRR per edge set: the HGNN, text-only and item-kNN baselines.

  Args:
    embeddings: node set -> [n, d] HGNN embeddings (computed on the training
      graph, so held-out edges were never seen).
    split: the link split of training.
    graph: the full graph (text features).
    k: the K of HR@K.
    max_queries: most queries ranked per edge set, a uniform sample without
      replacement drawn with ``seed`` (``sample_queries``); 0: all. Ranking
      costs queries x candidates per scorer, and tens of thousands of
      queries already give intervals of about +-0.01.
    seed: the sample's seed.

  Returns:
    edge set name -> {"queries", "hgnn_hr@K", "hgnn_mrr", "text_hr@K",
    "text_mrr", "knn_hr@K", "knn_mrr", "hgnn_vs_knn_hr@K"
    (``paired_comparison``); with a sample, also "held_out_queries" (how
    many there were)}.
  """
  knn = cooccurrence_vectors(split.train_graph)
  report = {}
  for q in held_out_queries(split, max_queries, seed):
    entry = {"queries": int(len(q.source))}
    if q.held_out > len(q.source):
      entry["held_out_queries"] = int(q.held_out)
    text = {n: l2_normalize(graph.node_features[n][TEXT_FEATURE])
            for n in (q.source_set, q.target_set)}
    src = q.source
    scorers = {
        "hgnn": _dot_scorer(embeddings[q.source_set][src],
                            embeddings[q.target_set]),
        "text": _dot_scorer(text[q.source_set][src], text[q.target_set]),
        "knn": _sparse_scorer(knn[q.source_set][src], knn[q.target_set])}
    ranks = _score(scorers, entry, q.target, q.exclude_rows, q.exclude_cols,
                   k)
    entry[f"hgnn_vs_knn_hr@{k}"] = paired_comparison(
        ranks["hgnn"], ranks["knn"], src, k)
    report[q.edge_set] = entry
  return report


def new_node_report(embeddings: dict[str, np.ndarray], split: NodeSplit,
                    graph: ItemGraph, k: int = 10
                    ) -> dict[str, dict[str, float]]:
  """HR@K and MRR of new nodes' edges, against the text-only baseline.

  Each edge (s, t) of a new node s (``split_new_nodes``) is a query: s's
  embedding scores every node of t's set, s itself left out (a new node has
  no known links to filter). The embeddings must come from the encoder run
  on ``split.train_graph``, where new nodes have no edges and no structure
  vectors: what a new item gets.

  Returns:
    edge set name -> {"queries", "hgnn_hr@K", "hgnn_mrr", "text_hr@K",
    "text_mrr", "hgnn_vs_text_hr@K" (``paired_comparison`` of the HGNN against
    text; its ``target`` needs 1.10x)}.
  """
  report = {}
  for name, (src, tgt) in sorted(split.queries.items()):
    if len(src) == 0:
      continue
    es = graph.edge_sets[name]
    s_set, t_set = es.source_set, es.target_set
    rows = np.arange(len(src)) if s_set == t_set else np.zeros(0, np.int64)
    cols = src if s_set == t_set else np.zeros(0, np.int64)
    text = {n: l2_normalize(graph.node_features[n][TEXT_FEATURE])
            for n in (s_set, t_set)}
    scorers = {
        "hgnn": _dot_scorer(embeddings[s_set][src], embeddings[t_set]),
        "text": _dot_scorer(text[s_set][src], text[t_set])}
    entry = {"queries": int(len(src))}
    ranks = _score(scorers, entry, tgt, rows, cols, k)
    entry[f"hgnn_vs_text_hr@{k}"] = paired_comparison(
        ranks["hgnn"], ranks["text"], src, k)
    report[name] = entry
  return report
