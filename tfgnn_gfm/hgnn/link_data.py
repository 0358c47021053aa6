"""Link-prediction batches: positives, negatives and the balanced sampler.

A batch holds ``B`` positive pairs of one ordered link kind (source node set
S, target node set T), ``k`` uniform random negatives of type T per positive
(rejected when they are in fact neighbours), and a mask of which other targets
of the batch are valid in-batch negatives (not the positive, not a neighbour).

The balanced multi-link sampler (2T-HGNN paper) draws, each epoch, at most the
median link type's count of pairs from every link type, so majority edge types
are undersampled afresh each epoch while minority types are used fully.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import numpy as np
import tensorflow as tf

from tfgnn_gfm.hgnn.graph_data import ItemGraph, is_edge
from tfgnn_gfm.hgnn.sampling import NO_PARTNER, Sampler


@dataclasses.dataclass(frozen=True)
class LinkBatchSpec:
  """Static shape of the batches: positives per batch and negatives each."""

  batch_size: int
  uniform_negatives: int


def epoch_plan(pairs: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]],
               balanced: bool, rng: np.random.Generator
               ) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
  """One epoch of positives, as (source set, target set, sources, targets).

  Pairs are oriented at random (half each way), so both directions of a
  cross-type link are learned; with ``balanced`` each link type contributes at
  most the median type's count, drawn afresh.
  """
  counts = {k: len(v[0]) for k, v in pairs.items() if len(v[0])}
  if not counts:
    return []
  quota = int(np.median(list(counts.values()))) if balanced else None
  plan = []
  for (set_a, set_b), (a, b) in sorted(pairs.items()):
    n = len(a)
    if n == 0:
      continue
    take = rng.permutation(n)[:quota] if quota is not None and n > quota else (
        rng.permutation(n))
    a, b = a[take], b[take]
    flip = rng.random(len(a)) < 0.5
    plan.append((set_a, set_b, a[~flip], b[~flip]))
    plan.append((set_b, set_a, b[flip], a[flip]))
  return [p for p in plan if len(p[2])]


class LinkBatcher:
  """Turns positive pairs into padded batch plans of fixed shape.

  Args:
    graph: the full graph (neighbour checks use every known edge, so a
      held-out positive is never used as a negative).
    sampler: gives node set indices (any ``Sampler``).
    spec: batch shape.
  """

  def __init__(self, graph: ItemGraph, sampler: Sampler,
               spec: LinkBatchSpec):
    self._graph = graph
    self._sampler = sampler
    self._spec = spec
    self._keys = {}

  def _neighbour_keys(self, s: str, t: str) -> np.ndarray:
    if (s, t) not in self._keys:
      self._keys[(s, t)] = self._graph.neighbour_keys(s, t)
    return self._keys[(s, t)]

  def batch_chunks(self, plan) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """Cuts a plan into batches of one ordered link kind each.

    The last partial batch of a kind is dropped, unless the kind has fewer
    pairs than a batch (then its pairs form one small batch).
    """
    chunks = []
    bs = self._spec.batch_size
    for s_set, t_set, src, tgt in plan:
      for start in range(0, len(src) - bs + 1, bs):
        chunks.append((s_set, t_set, src[start:start + bs],
                       tgt[start:start + bs]))
      if 2 <= len(src) < bs:
        chunks.append((s_set, t_set, src, tgt))
    return chunks

  def batches(self, plan, rng: np.random.Generator, shuffle: bool = True
              ) -> Iterator[dict[str, np.ndarray]]:
    """Yields the batches of a plan (shuffled across kinds)."""
    chunks = self.batch_chunks(plan)
    order = rng.permutation(len(chunks)) if shuffle else range(len(chunks))
    for i in order:
      yield self.make_batch(*chunks[i], rng)

  def make_batch(self, s_set: str, t_set: str, src: np.ndarray,
                 tgt: np.ndarray, rng: np.random.Generator
                 ) -> dict[str, np.ndarray]:
    """One batch: roots (sources, targets, negatives) and negative masks."""
    k = self._spec.uniform_negatives
    b = len(src)
    n_t = self._graph.num_nodes(t_set)
    keys = self._neighbour_keys(s_set, t_set)
    neg = rng.integers(0, n_t, size=(b, k)) if k else np.zeros((b, 0), np.int64)
    neg_valid = ~is_edge(keys, src[:, None], neg, n_t) & (neg != tgt[:, None])
    if s_set == t_set:
      neg_valid &= neg != src[:, None]
    inbatch = ~is_edge(keys, src[:, None], tgt[None, :], n_t)
    inbatch &= tgt[None, :] != tgt[:, None]
    s_idx = self._sampler.set_index(s_set)
    t_idx = self._sampler.set_index(t_set)
    root_set = np.concatenate([np.full(b, s_idx), np.full(b, t_idx),
                               np.full(b * k, t_idx)]).astype(np.int32)
    root_id = np.concatenate([src, tgt, neg.reshape(-1)]).astype(np.int64)
    partner_set = np.concatenate([np.full(b, t_idx), np.full(b, s_idx),
                                  np.full(b * k, NO_PARTNER)]).astype(np.int32)
    partner_id = np.concatenate([tgt, src, np.zeros(b * k, np.int64)]).astype(
        np.int64)
    return {"root_set": root_set, "root_id": root_id,
            "partner_set": partner_set, "partner_id": partner_id,
            "neg_valid": neg_valid, "inbatch_valid": inbatch}


def batch_part(batch: dict[str, np.ndarray], rows: slice
               ) -> dict[str, np.ndarray]:
  """The positives ``rows`` of a ``make_batch`` batch, as a batch of their own.

  Sources, targets, uniform negatives and masks are those of the rows; the
  in-batch negatives are the part's own targets. A replica's share of a
  global batch (``distribute.local_share``).
  """
  b = len(batch["inbatch_valid"])
  k = (len(batch["root_id"]) - 2 * b) // max(b, 1)
  index = np.arange(b)[rows]
  roots = np.concatenate([index, b + index,
                          (2 * b + index[:, None] * k + np.arange(k)).ravel()]
                         ).astype(np.int64)
  part = {key: batch[key][roots] for key in
          ("root_set", "root_id", "partner_set", "partner_id")}
  part["neg_valid"] = batch["neg_valid"][index]
  part["inbatch_valid"] = batch["inbatch_valid"][np.ix_(index, index)]
  return {**batch, **part}


_SIGNATURE = {
    "root_set": tf.TensorSpec([None], tf.int32),
    "root_id": tf.TensorSpec([None], tf.int64),
    "partner_set": tf.TensorSpec([None], tf.int32),
    "partner_id": tf.TensorSpec([None], tf.int64),
    "neg_valid": tf.TensorSpec([None, None], tf.bool),
    "inbatch_valid": tf.TensorSpec([None, None], tf.bool),
}


def link_dataset(make_batches, sampler: Sampler) -> tf.data.Dataset:
  """A tf.data pipeline: batch plans -> TF-GNN sampled, featured subgraphs.

  Args:
    make_batches: a callable returning a fresh iterator of batch plans (called
      once per pass, so each epoch draws new samples).
    sampler: gives the subgraphs inside ``Dataset.map`` (a ``Sampler``); the
      plans carry its ``batch_fields`` too (e.g. ``BeamSampleStore``'s
      ``round_index``), passed as keyword arguments of ``sample``.

  Returns:
    Dataset of dicts: ``graph`` (GraphTensor, one component per root),
    ``positions`` (int32 [R]), ``neg_valid`` [B, k], ``inbatch_valid`` [B, B].
  """
  extra = dict(sampler.batch_fields)
  plans = tf.data.Dataset.from_generator(
      make_batches, output_signature={**_SIGNATURE, **extra})

  def sample(x):
    graph, positions = sampler.sample(x["root_set"], x["root_id"],
                                      x["partner_set"], x["partner_id"],
                                      **{k: x[k] for k in extra})
    return {"graph": graph, "positions": positions,
            "neg_valid": x["neg_valid"], "inbatch_valid": x["inbatch_valid"]}

  return plans.map(sample, num_parallel_calls=tf.data.AUTOTUNE,
                   deterministic=True).prefetch(tf.data.AUTOTUNE)
