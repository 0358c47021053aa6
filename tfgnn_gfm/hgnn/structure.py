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

The vectors are computed once per pretraining from the training graph
(held-out edges excluded), scaled so that their mean squared norm is 1 (the
scale of the encoder's unit-norm vectors), and looked up by node id inside
the encoder (``model.ItemInputProjection``); a node without training edges,
or a new item, gets zeros and is embedded from its features alone.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from tfgnn_gfm.hgnn.graph_data import ItemGraph


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
  adjacency = graph.adjacency()
  total = adjacency.shape[0]
  local_dim = dim // 2 if local_share > 0 else 0
  global_dim = dim - local_dim
  vectors = np.zeros((total, dim), np.float64)
  if total and adjacency.nnz:
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    with_edges = degree > 0
    scale = scipy.sparse.diags(1.0 / np.sqrt(np.maximum(degree, 1.0)))
    rows = (scale @ adjacency).tocsr()
    values, u = randomized_eigh((rows @ scale).tocsr(), global_dim, seed=seed)
    spectral = np.zeros((total, global_dim))
    spectral[:, :u.shape[1]] = u * np.sqrt(np.maximum(values, 0.0))
    vectors[:, :global_dim] = np.sqrt(1.0 - local_share) * _spread(
        spectral, with_edges)
    if local_dim:
      projection = np.random.default_rng(seed + 1).standard_normal(
          (total, local_dim)) / np.sqrt(local_dim)
      vectors[:, global_dim:] = np.sqrt(local_share) * _spread(
          np.asarray(rows @ projection), with_edges)
    vectors[~with_edges] = 0.0
  vectors = vectors.astype(np.float32)
  offsets = graph.node_offsets()
  return {n: vectors[offsets[n]:offsets[n] + graph.num_nodes(n)]
          for n in graph.node_sets}
