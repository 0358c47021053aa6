"""Top-K retrieval over the candidate item vectors: brute force and ScaNN.

Both retrievers have the same call: ``(queries [B, D], k [], type_index [B])
-> (scores [B, k], rows [B, k])`` where ``rows`` are candidate rows (``-1``
pads a result shorter than ``k``) and ``type_index`` restricts a query's
results to one item type (``-1``: every type).

* ``BruteForceTopK`` scores every candidate with one matrix product and
  ``tf.math.top_k``: stock TensorFlow ops only, so the stock
  ``tensorflow/serving`` binary can run it.
* ``ScannTopK`` holds one ScaNN index over every candidate plus one per item
  type (so a type filter is exact, not a post-filter that could return fewer
  than ``k``), each a ``tfrs.layers.factorized_top_k.ScaNN`` layer built
  with parameters from ``scann_parameters`` (docs/DESIGN.md section 5.5). The
  per-type indexes are searched only when a batch asks for that type. Save a
  model holding it with ``tf.saved_model.SaveOptions(namespace_whitelist=
  ["Scann"])``; loading needs ``import scann`` first.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from typing import Any, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from tfgnn_gfm.evaluation.metrics import top_k_columns
from tfgnn_gfm.export import config as cfg


@dataclasses.dataclass(frozen=True)
class ScannParameters:
  """How one ScaNN index is built (see ``scann_parameters``).

  Attributes:
    mode: brute_force, ah or tree.
    num_leaves: tree leaves (tree mode).
    leaves_to_search: leaves searched per query (tree mode).
    dimensions_per_block: AH block size (ah and tree modes).
    reorder: candidates re-ranked exactly (ah and tree modes).
  """

  mode: str
  num_leaves: int = 0
  leaves_to_search: int = 0
  dimensions_per_block: int = 2
  reorder: int = 0

  def to_dict(self) -> dict[str, Any]:
    return dataclasses.asdict(self)

  def widened(self, num_candidates: int) -> "ScannParameters":
    """The next, more exact search setting: twice the leaves searched and
    the re-ranked candidates (auto-tuning when recall is short). Both are
    search-time settings: the index is not rebuilt."""
    return dataclasses.replace(
        self,
        leaves_to_search=min(self.num_leaves, 2 * self.leaves_to_search),
        reorder=min(num_candidates, 2 * self.reorder))


def scann_parameters(num_candidates: int,
                     config: cfg.ExportConfig) -> ScannParameters:
  """The ScaNN setting for an index of ``num_candidates`` vectors.

  ``auto`` follows docs/DESIGN.md section 5.5: brute force under
  ``BRUTE_FORCE_BELOW`` candidates, AH + re-ranking under ``NO_TREE_BELOW``,
  tree (about sqrt(n) leaves, 5% searched) + AH + re-ranking above. Explicit
  config values override the rule.

  Args:
    num_candidates: vectors in the index (at least 1).
    config: the export options.

  Returns:
    The parameters.
  """
  n = max(int(num_candidates), 1)
  mode = config.scann_mode
  if mode == "auto":
    mode = ("brute_force" if n < cfg.BRUTE_FORCE_BELOW else
            "ah" if n < cfg.NO_TREE_BELOW else "tree")
  if mode == "brute_force":
    return ScannParameters(mode="brute_force")
  reorder = min(n, config.reorder or max(250, 2 * config.max_k))
  if mode == "ah":
    return ScannParameters(mode="ah",
                           dimensions_per_block=config.dimensions_per_block,
                           reorder=reorder)
  leaves = min(n, config.num_leaves or max(2, round(math.sqrt(n))))
  search = min(leaves, config.leaves_to_search or max(10, leaves // 20))
  return ScannParameters(mode="tree", num_leaves=leaves,
                         leaves_to_search=search,
                         dimensions_per_block=config.dimensions_per_block,
                         reorder=reorder)


class ScannIndex(tfrs.layers.factorized_top_k.ScaNN):
  """The TFRS ScaNN layer, built with ``ScannParameters``.

  TFRS's layer always builds a tree with AH scoring; this subclass keeps its
  indexing and saving and changes two things:

  * the searcher config comes from ``ScannParameters``, so a small catalog
    can use exact (brute-force) scoring inside ScaNN;
  * the searcher is recreated from its saved state under a ``shared_name``
    unique to this index. With TFRS's own ``call``, two ScaNN layers in one
    SavedModel share one searcher after loading (the second index answers
    with the first one's rows); a test covers this.

  Args:
    parameters: how to build the searcher.
    k: default number of results.
    name: layer name.
  """

  def __init__(self, *, parameters: ScannParameters, k: int = 10,
               name: str | None = None):
    super().__init__(k=k, distance_measure="dot_product",
                     num_leaves=max(parameters.num_leaves, 1),
                     num_leaves_to_search=max(parameters.leaves_to_search, 1),
                     dimensions_per_block=parameters.dimensions_per_block,
                     num_reordering_candidates=parameters.reorder or None,
                     name=name)
    self.parameters = parameters
    self._build_searcher = self._build_sized_searcher
    self._handle_name = ""

  def get_config(self) -> dict[str, Any]:
    return {"parameters": self.parameters.to_dict(), "k": self._k,
            "name": self.name}

  def _build_sized_searcher(self, candidates: tf.Tensor):
    from scann.scann_ops.py import scann_ops
    p = self.parameters
    builder = scann_ops.builder(db=candidates, num_neighbors=self._k,
                                distance_measure="dot_product")
    if p.mode == "brute_force":
      builder = builder.score_brute_force()
    else:
      if p.mode == "tree":
        builder = builder.tree(num_leaves=p.num_leaves,
                               num_leaves_to_search=p.leaves_to_search,
                               training_iterations=self._training_iterations)
      builder = builder.score_ah(
          dimensions_per_block=p.dimensions_per_block,
          anisotropic_quantization_threshold=0.2)
      if p.reorder:
        builder = builder.reorder(p.reorder)
    self._handle_name = f"{self.name}-{uuid.uuid4().hex}"
    return builder.build(shared_name=self._handle_name)

  def call(self, queries: tf.Tensor,
           k: int | tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """Top-k ``(scores [B, k'], identifiers [B, k'])``, k' <= k."""
    from scann.scann_ops.py import scann_ops
    if self._serialized_searcher is None:
      raise ValueError("call index() before searching")
    state = self._serialized_searcher
    handle = scann_ops.tensors_to_scann(
        state.dataset, state.scann_config, state.serialized_partitioner,
        state.datapoint_to_token, state.ah_codebook, state.hashed_dataset,
        state.int8_dataset, state.int8_multipliers, state.dp_norms,
        shared_name=self._handle_name)
    p = self.parameters
    result = scann_ops.ScannSearcher(handle).search_batched_parallel(
        queries, final_num_neighbors=self._k if k is None else k,
        pre_reorder_num_neighbors=(p.reorder if p.mode != "brute_force"
                                   and p.reorder else None),
        leaves_to_search=p.leaves_to_search if p.mode == "tree" else None)
    return result.distances, tf.gather(self._identifiers, result.indices)


def _pad_columns(scores: tf.Tensor, rows: tf.Tensor,
                 k: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
  """Pads or cuts ``[B, n]`` results to ``[B, k]`` (rows -1, scores 0)."""
  missing = tf.maximum(k - tf.shape(rows)[1], 0)
  rows = tf.pad(rows, [[0, 0], [0, missing]], constant_values=-1)[:, :k]
  scores = tf.pad(scores, [[0, 0], [0, missing]])[:, :k]
  return scores, rows


class BruteForceTopK(tf.Module):
  """Exact top-K by dot product over every candidate (stock TF ops).

  Args:
    vectors: [N, D] candidate vectors.
    type_index: [N] item type index of each candidate.
    num_types: number of item types.
  """

  def __init__(self, vectors: np.ndarray, type_index: np.ndarray,
               num_types: int, name: str = "brute_force_top_k"):
    super().__init__(name=name)
    self.vectors = tf.Variable(np.asarray(vectors, np.float32),
                               trainable=False, name="vectors")
    self.type_index = tf.Variable(np.asarray(type_index, np.int32),
                                  trainable=False, name="type_index")
    self.num_types = int(num_types)

  def __call__(self, queries: tf.Tensor, k: tf.Tensor,
               type_filter: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    scores = tf.matmul(queries, self.vectors, transpose_b=True)
    allowed = ((type_filter[:, tf.newaxis] < 0) |
               (type_filter[:, tf.newaxis] == self.type_index[tf.newaxis, :]))
    scores = tf.where(allowed, scores, -np.inf)
    kk = tf.minimum(k, tf.shape(self.vectors)[0])
    top_scores, top_rows = tf.math.top_k(scores, k=kk)
    found = tf.math.is_finite(top_scores)
    top_rows = tf.where(found, top_rows, -1)
    top_scores = tf.where(found, top_scores, 0.0)
    return _pad_columns(top_scores, top_rows, k)


class ScannTopK(tf.Module):
  """Approximate top-K with ScaNN: one index for all, one per item type.

  Args:
    vectors: [N, D] candidate vectors.
    type_index: [N] item type index of each candidate.
    num_types: number of item types.
    parameters: per index (key ``None`` for the all-types index, else the
      type index) its ``ScannParameters``.
  """

  def __init__(self, vectors: np.ndarray, type_index: np.ndarray,
               num_types: int,
               parameters: dict[int | None, ScannParameters],
               name: str = "scann_top_k"):
    super().__init__(name=name)
    vectors = np.asarray(vectors, np.float32)
    type_index = np.asarray(type_index, np.int32)
    self.num_types = int(num_types)
    self.all_types = self._index(vectors, np.arange(len(vectors)),
                                 parameters[None], "scann_all")
    self.by_type = []
    for t in range(self.num_types):
      rows = np.flatnonzero(type_index == t)
      self.by_type.append(self._index(vectors[rows], rows, parameters[t],
                                      f"scann_type_{t}") if len(rows)
                          else None)

  @property
  def indexes(self) -> dict[int | None, ScannIndex]:
    """The indexes by key (None: all types; else the type index)."""
    out = {None: self.all_types}
    out.update({t: layer for t, layer in enumerate(self.by_type)
                if layer is not None})
    return out

  def widen(self) -> None:
    """Makes every index more exact at search time (more leaves searched,
    more candidates re-ranked; see ``ScannParameters.widened``), without
    rebuilding it. Takes effect for calls traced afterwards."""
    for layer in self.indexes.values():
      layer.parameters = layer.parameters.widened(layer.num_candidates)

  @staticmethod
  def _index(vectors: np.ndarray, rows: np.ndarray,
             parameters: ScannParameters, name: str) -> ScannIndex:
    layer = ScannIndex(parameters=parameters, name=name)
    layer.index(tf.constant(vectors), tf.constant(rows.astype(np.int32)))
    layer.num_candidates = len(rows)
    return layer

  @staticmethod
  def _search(layer: ScannIndex, queries: tf.Tensor,
              k: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    scores, rows = layer(queries, k=k)
    return _pad_columns(scores, tf.cast(rows, tf.int32), k)

  def __call__(self, queries: tf.Tensor, k: tf.Tensor,
               type_filter: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    scores, rows = self._search(self.all_types, queries, k)
    for t, layer in enumerate(self.by_type):
      if layer is None:
        continue
      wanted = type_filter == t

      def search(layer=layer):
        return self._search(layer, queries, k)

      def skip(scores=scores, rows=rows):
        return scores, rows

      t_scores, t_rows = tf.cond(tf.reduce_any(wanted), search, skip)
      scores = tf.where(wanted[:, tf.newaxis], t_scores, scores)
      rows = tf.where(wanted[:, tf.newaxis], t_rows, rows)
    return scores, rows


def exact_top_k(queries: np.ndarray, vectors: np.ndarray, k: int,
                chunk: int = 64) -> np.ndarray:
  """Rows of the exact top-``k`` candidates of each query (numpy, for
  recall), ``chunk`` queries at a time so memory stays at ``chunk * N``.

  Ties follow ``evaluation.metrics.top_k_columns`` (the lower row first).
  """
  queries = np.asarray(queries, np.float32)
  vectors = np.asarray(vectors, np.float32)
  k = min(k, len(vectors))
  out = np.empty((len(queries), k), np.int64)
  for start in range(0, len(queries), chunk):
    out[start:start + chunk] = top_k_columns(
        queries[start:start + chunk] @ vectors.T, k)
  return out


def recall_at_k(approximate: np.ndarray, exact: np.ndarray) -> float:
  """Mean share of each exact top-K row set found by the approximate one."""
  hits = [len(set(a[a >= 0].tolist()) & set(e.tolist())) / max(len(e), 1)
          for a, e in zip(np.asarray(approximate), np.asarray(exact))]
  return float(np.mean(hits)) if hits else 0.0


def per_type_counts(type_index: Sequence[int], num_types: int) -> list[int]:
  """Candidates per item type."""
  return np.bincount(np.asarray(type_index, np.int64),
                     minlength=num_types).tolist()
