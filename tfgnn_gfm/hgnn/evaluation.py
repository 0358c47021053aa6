"""Link-prediction quality on held-out edges: HR@K and MRR per edge set.

Each held-out pair (s, t) of edge set S->T is a query: s's embedding scores
every node of T; t's rank counts the nodes scored strictly higher, leaving out
s itself and s's training neighbours in T (the filtered setting: known links
are not errors). HR@K is the share of queries with rank <= K, MRR the mean
reciprocal rank. The same queries are scored by cosine similarity of the text
embeddings alone, the baseline the HGNN must beat.
"""

from __future__ import annotations

import numpy as np

from tfgnn_gfm.hgnn.graph_data import TEXT_FEATURE, ItemGraph, LinkSplit


def _ranks(query: np.ndarray, candidates: np.ndarray, targets: np.ndarray,
           exclude_rows: np.ndarray, exclude_cols: np.ndarray,
           chunk: int = 1024) -> np.ndarray:
  """1-based rank of each query's target among candidates, with exclusions.

  Args:
    query: [q, d] query vectors.
    candidates: [n, d] candidate vectors.
    targets: [q] index of each query's true candidate.
    exclude_rows, exclude_cols: (query row, candidate) pairs left out.
    chunk: queries per matrix product.

  Returns:
    int64 [q] ranks.
  """
  ranks = np.zeros(len(query), np.int64)
  for start in range(0, len(query), chunk):
    stop = min(len(query), start + chunk)
    scores = query[start:stop] @ candidates.T
    sel = (exclude_rows >= start) & (exclude_rows < stop)
    scores[exclude_rows[sel] - start, exclude_cols[sel]] = -np.inf
    rows = np.arange(stop - start)
    target_score = scores[rows, targets[start:stop]]
    ranks[start:stop] = 1 + (scores > target_score[:, None]).sum(axis=1)
  return ranks


def _normalise(x: np.ndarray) -> np.ndarray:
  return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def link_prediction_report(embeddings: dict[str, np.ndarray], split: LinkSplit,
                           graph: ItemGraph, k: int = 10
                           ) -> dict[str, dict[str, float]]:
  """HR@K and MRR per edge set for the HGNN and the text-only baseline.

  Args:
    embeddings: node set -> [n, d] HGNN embeddings (computed on the training
      graph, so held-out edges were never seen).
    split: the link split of training.
    graph: the full graph (text features).
    k: the K of HR@K.

  Returns:
    edge set name -> {"queries", "hgnn_hr@K", "hgnn_mrr", "text_hr@K",
    "text_mrr"}.
  """
  train = split.train_graph
  report = {}
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
      entry = {"queries": int(len(src))}
      text = {n: _normalise(graph.node_features[n][TEXT_FEATURE])
              for n in (s_set, t_set)}
      for label, vectors in (("hgnn", embeddings), ("text", text)):
        ranks = _ranks(vectors[s_set][src], vectors[t_set], tgt, rows, cols)
        entry[f"{label}_hr@{k}"] = float(np.mean(ranks <= k))
        entry[f"{label}_mrr"] = float(np.mean(1.0 / ranks))
      report[name] = entry
  return report
