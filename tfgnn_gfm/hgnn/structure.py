"""Spectral structure vectors: what co-occurrence counting knows, as vectors.

Message passing over text features cannot count common neighbours (set
pooling forgets who the neighbours are), and on real co-interaction graphs
counting wins: item-kNN ranks held-out edges better than the GraphSAGE
encoder alone. A low-rank eigendecomposition of the degree-normalised
adjacency ``M = D^-1/2 A D^-1/2 ~ U L U^T`` keeps that knowledge in a form a
dot-product index can use, in two parts:

* global: with ``x = U sqrt(max(L, 0))``, ``x_a . x_b`` is entry (a, b) of
  the best low-rank positive semi-definite approximation of ``M``, which
  scores a pair by how well it fits the graph's dense blocks (communities of
  co-consumed items) rather than by the edge itself; a missing edge inside a
  block scores high. The negative eigenvalues (bipartite-like structure) are
  left out: a dot product cannot express them, and with them the scores rank
  held-out edges worse. A low rank cannot tell apart more blocks than it has
  dimensions, which is what a fragmented graph of many small user cliques
  needs;
* local: a random projection of each node's row of ``D^-1/2 A``, whose dot
  products are the item-kNN cosine (common neighbours over the root of the
  degrees) plus projection noise: every clique keeps its own direction.

The share of a dot product from each half is chosen per graph
(``choose_local_share``, on an inner split of the training edges): graphs of
few dense communities want the global half, graphs of many small cliques the
local one.

The vectors are computed once per pretraining from the training graph
(held-out edges excluded), scaled so that their mean squared norm is 1 (the
scale of the encoder's unit-norm vectors), and looked up by node id inside
the encoder (``model.ItemInputProjection``); a node without training edges,
or a new item, gets zeros and is embedded from its features alone.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
import scipy.sparse

from tfgnn_gfm.evaluation import ranking
from tfgnn_gfm.hgnn.evaluation import held_out_queries, rank_queries
from tfgnn_gfm.hgnn.graph_data import ItemGraph, split_links


def randomized_eigh(matrix: scipy.sparse.spmatrix, rank: int, *,
                    iterations: int = 5, oversample: int = 10, seed: int = 0
                    ) -> tuple[np.ndarray, np.ndarray]:
  """The ``rank`` eigenpairs of largest magnitude of a symmetric matrix.

  Halko, Martinsson and Tropp's randomized range finder with power
  iterations (re-orthonormalised each time), then the exact
  eigendecomposition of the small projected matrix: a few sparse products,
  seconds on millions of edges.

  Args:
    matrix: [n, n] symmetric sparse matrix.
    rank: number of eigenpairs (at most n).
    iterations: power iterations (more: closer to the exact result).
    oversample: extra random directions of the range finder.
    seed: seed of the random start (same seed, same vectors).

  Returns:
    (eigenvalues [rank], signed, by decreasing magnitude; eigenvectors
    [n, rank]).
  """
  n = matrix.shape[0]
  rank = min(rank, n)
  width = min(rank + oversample, n)
  rng = np.random.default_rng(seed)
  q, _ = np.linalg.qr(matrix @ rng.standard_normal((n, width)))
  for _ in range(iterations):
    q, _ = np.linalg.qr(matrix @ q)
  small = q.T @ np.asarray(matrix @ q)
  values, vectors = np.linalg.eigh((small + small.T) / 2)
  order = np.argsort(-np.abs(values), kind="stable")[:rank]
  return values[order], q @ vectors[:, order]


def _spread(vectors: np.ndarray, with_edges: np.ndarray) -> np.ndarray:
  """Scales rows to mean squared norm 1 over the nodes with edges."""
  mean_square = np.sum(vectors ** 2) / max(int(np.sum(with_edges)), 1)
  return vectors / np.sqrt(max(mean_square, 1e-30))


@dataclasses.dataclass
class StructureParts:
  """The two halves of the structure vectors, before they are mixed.

  Attributes:
    global_part: [total, dim - dim // 2] ``U sqrt(max(L, 0))``, mean squared
      norm 1 over the nodes with edges.
    local_part: [total, dim // 2] the random projection of each node's row of
      ``D^-1/2 A``, mean squared norm 1 over the nodes with edges.
    with_edges: [total] the node has training edges (the others get zeros).
    offsets: node set -> its first row; sizes: node set -> its node count.
  """

  global_part: np.ndarray
  local_part: np.ndarray
  with_edges: np.ndarray
  offsets: dict[str, int]
  sizes: dict[str, int]

  def mix(self, local_share: float) -> dict[str, np.ndarray]:
    """``concat(sqrt(1 - r) * global, sqrt(r) * local)`` per node set, with
    ``r = local_share``: the share of a dot product from the local part."""
    vectors = np.concatenate([np.sqrt(1.0 - local_share) * self.global_part,
                              np.sqrt(local_share) * self.local_part], axis=1)
    vectors[~self.with_edges] = 0.0
    vectors = vectors.astype(np.float32)
    return {n: vectors[o:o + self.sizes[n]] for n, o in self.offsets.items()}


def structure_parts(graph: ItemGraph, dim: int, seed: int = 0,
                    local: bool = True) -> StructureParts:
  """The global and local halves of ``dim``-value structure vectors.

  Args:
    graph: the graph whose edges count.
    dim: vector size (the global rank is capped by the node count; the rest
      is zeros).
    seed: seed of the randomized decomposition and the projection.
    local: compute the local half (else it has no column and the global
      half takes every value).
  """
  adjacency = graph.adjacency()
  total = adjacency.shape[0]
  local_dim = dim // 2 if local else 0
  global_dim = dim - local_dim
  spectral = np.zeros((total, global_dim))
  projected = np.zeros((total, local_dim))
  with_edges = np.zeros(total, bool)
  if total and adjacency.nnz:
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    with_edges = degree > 0
    scale = scipy.sparse.diags(1.0 / np.sqrt(np.maximum(degree, 1.0)))
    rows = (scale @ adjacency).tocsr()
    values, u = randomized_eigh((rows @ scale).tocsr(), global_dim, seed=seed)
    spectral[:, :u.shape[1]] = u * np.sqrt(np.maximum(values, 0.0))
    spectral = _spread(spectral, with_edges)
    if local_dim:
      projection = np.random.default_rng(seed + 1).standard_normal(
          (total, local_dim)) / np.sqrt(local_dim)
      projected = _spread(np.asarray(rows @ projection), with_edges)
  return StructureParts(spectral, projected, with_edges, graph.node_offsets(),
                        {n: graph.num_nodes(n) for n in graph.node_sets})


def structure_vectors(graph: ItemGraph, dim: int, local_share: float = 0.25,
                      seed: int = 0) -> dict[str, np.ndarray]:
  """Each node's structure vector (see module docstring).

  ``concat(sqrt(1 - r) * global, sqrt(r) * local)`` with ``r =
  local_share``: the global part (``dim - dim // 2`` values) is
  ``U sqrt(max(L, 0))``; the local part (``dim // 2``) a Gaussian random
  projection of each node's row of ``D^-1/2 A``, whose dot products are the
  item-kNN cosines plus noise of order ``1 / sqrt(dim // 2)``.

  Args:
    graph: the graph whose edges count (for pretraining: the training
      graph, held-out edges removed).
    dim: vector size (the global rank is capped by the node count; the rest
      is zeros).
    local_share: the share ``r`` of a dot product from the local part.
    seed: seed of the randomized decomposition and the projection.

  Returns:
    node set -> float32 [n, dim] vectors, mean squared norm 1 over the nodes
    with edges; nodes without edges get zeros.
  """
  return structure_parts(graph, dim, seed, local=local_share > 0).mix(
      local_share)


def choose_local_share(graph: ItemGraph, dim: int,
                       candidates: Sequence[float], *,
                       fraction: float = 0.1, max_queries: int = 2000,
                       k: int = 10, seed: int = 0
                       ) -> tuple[float, dict[str, Any]]:
  """The local share whose structure vectors rank held-out edges best.

  No share suits every graph: a low rank keeps the communities of a graph
  of few dense blocks (MovieLens: the global half does the work), while a
  graph of thousands of small cliques (a shop's baskets) needs the local
  half. The choice is made on an inner split of ``graph``: ``fraction`` of
  its pairs are held out (``split_links`` with ``seed + 1``), the two halves
  computed once on the rest, and each candidate's mix ranks at most
  ``max_queries`` held-out queries per edge set and direction against every
  node of the target set (training neighbours and the query left out);
  the best mean HR@K wins (ties: the smaller share). ``graph`` is the
  pretraining's training graph, so its own held-out edges are never read.

  Args:
    graph: the graph whose edges count.
    dim: structure vector size.
    candidates: the local shares to try (each in [0, 1]).
    fraction: share of the pairs held out for the choice.
    max_queries: most queries per edge set and direction.
    k: the K of HR@K.
    seed: seed of the split, the sample, the decomposition and projection.

  Returns:
    (the chosen share, ``{"chosen", "hr@K" (share -> mean HR@K),
    "queries"}``). With one candidate, it and no scores.
  """
  shares = sorted(set(float(c) for c in candidates))
  if len(shares) == 1:
    return shares[0], {"chosen": shares[0]}
  inner = split_links(graph, fraction, seed + 1)
  parts = structure_parts(inner.train_graph, dim, seed)
  halves = (parts.global_part.astype(np.float32),
            parts.local_part.astype(np.float32))
  hits = {r: [] for r in shares}
  for q in held_out_queries(inner, max_queries, seed):
    s0, t0 = parts.offsets[q.source_set], parts.offsets[q.target_set]
    t1 = t0 + parts.sizes[q.target_set]
    # [q, n] scores of each half; a share's scores are their mix.
    g, loc = (h[s0 + q.source] @ h[t0:t1].T for h in halves)
    for r in shares:
      ranks = rank_queries(
          lambda a, b, r=r, g=g, loc=loc: (1.0 - r) * g[a:b] + r * loc[a:b],
          len(q.source), q.target, q.exclude_rows, q.exclude_cols)
      hits[r].append(ranking.hits_at(ranks, k))
  if not any(len(h) for h in hits.values()):
    return shares[0], {"chosen": shares[0], "queries": 0}
  scores = {r: float(np.mean(np.concatenate(h))) for r, h in hits.items()}
  best = max(shares, key=lambda r: (scores[r], -r))
  return best, {"chosen": best,
                f"hr@{k}": {str(r): round(v, 4) for r, v in scores.items()},
                "queries": int(sum(len(x) for x in hits[best]))}
