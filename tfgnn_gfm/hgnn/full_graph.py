"""Full-graph link-prediction training: one encoder pass per step, many pairs.

The sampled path embeds every root of a batch from its own sampled subgraph,
so each positive pays for two subtrees of ``prod(fanouts)`` nodes. When the
whole training graph's messages fit in memory it is far cheaper to run the
encoder over the whole graph once per step and take the loss on thousands of
positives at once (``PretrainConfig.mode``):

* ``FullGraphEncoder`` evaluates the very encoder of ``build_encoder`` (same
  layers, same weights) over the whole graph, with a boolean keep-mask per
  edge set. TF-GNN's pooling convolution transforms every message
  (``relu(W_r h_j + b)``, an [edges, hidden] matmul); the transform depends on
  the sender only, so here it runs once per node and is gathered per edge,
  which gives the same result at a fraction of the cost (with dropout, one
  draw per node instead of per message);
* ``FullGraphBatcher`` cuts the balanced epoch plan into groups of
  ``batch_size`` positives (uniform non-neighbour and in-batch negatives
  exactly as ``LinkBatcher`` makes them, in-batch within each group), packs
  ``positives_per_step // batch_size`` groups into a step, and lists the
  directed edges of the step's positives (both directions) to leave out of
  that step's message passing, so no positive's own edge reaches it;
* ``FullGraphLinkModel`` is the Keras model ``fit`` trains (progress bar,
  early stopping, checkpoints as on the sampled path).

``estimated_message_bytes`` and ``resolve_mode`` implement the ``auto`` rule.
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np
import tensorflow as tf
import tensorflow_gnn as tfgnn

from tfgnn_gfm.hgnn.config import PretrainConfig
from tfgnn_gfm.hgnn.graph_data import ItemGraph
from tfgnn_gfm.hgnn.link_data import LinkBatcher, LinkBatchSpec
from tfgnn_gfm.hgnn.link_model import LinkLoss, LinkPredictionModel
from tfgnn_gfm.hgnn.node_features import node_feature_tensors

# Live [edges, hidden] float32 tensors per layer and training step: gathered
# messages, their max-pooling selection and their gradients (measured peak
# resident memory of full-graph training, bench/bench_pretrain.py, is below
# this estimate plus the node features).
MESSAGE_TENSORS_PER_LAYER = 4


def estimated_message_bytes(graph: ItemGraph, config: PretrainConfig) -> int:
  """Bytes of a full-graph training step's messages (the ``auto`` rule).

  ``directed edges x hidden_dim x num_layers x 4 bytes x
  MESSAGE_TENSORS_PER_LAYER``.
  """
  edges = sum(len(es) for es in graph.edge_sets.values())
  return (edges * config.hidden_dim * config.num_layers * 4 *
          MESSAGE_TENSORS_PER_LAYER)


def resolve_mode(graph: ItemGraph, config: PretrainConfig) -> str:
  """``full_graph`` or ``sampled``: the training path of ``config.mode``.

  ``auto`` picks ``full_graph`` when the estimated message bytes fit in
  ``memory_budget_mb`` (and training is neither Beam-sampled nor mirrored;
  every worker of a multi-worker run holds the whole graph), else
  ``sampled``.
  """
  if config.mode != "auto":
    return config.mode
  if config.sampler == "beam" or config.distribute == "mirrored":
    return "sampled"
  fits = estimated_message_bytes(graph, config) <= (
      config.memory_budget_mb * 2**20)
  return "full_graph" if fits else "sampled"


class FullGraphEncoder:
  """The encoder's forward pass over a whole graph, with edges masked out.

  Args:
    encoder: a model of ``build_encoder`` (its layers and weights are used).
    graph: the graph to run over (for training: without held-out edges).
  """

  def __init__(self, encoder: tf.keras.Model, graph: ItemGraph):
    self.node_sets = graph.node_sets
    self.edge_sets = sorted(graph.edge_sets)
    self._sizes = {n: graph.num_nodes(n) for n in self.node_sets}
    self._projection = encoder.get_layer("input_projection")
    # Ids where the encoder looks node and structure vectors up by id.
    self._features = node_feature_tensors(
        graph, ids=self._projection.uses_ids)
    self._ends = {e: (graph.edge_sets[e].source_set,
                      graph.edge_sets[e].target_set) for e in self.edge_sets}
    # Edges sorted by receiver (source) for sorted segment ops; ``keep``
    # masks index edges in the graph's own order.
    self._order, self._source, self._target = {}, {}, {}
    for e in self.edge_sets:
      es = graph.edge_sets[e]
      order = np.argsort(es.source, kind="stable")
      self._order[e] = tf.constant(order, tf.int32)
      self._source[e] = tf.constant(es.source[order], tf.int32)
      self._target[e] = tf.constant(es.target[order], tf.int32)
    self._readout = encoder.get_layer("embeddings")
    self._layers = []
    i = 0
    while any(layer.name == f"graph_sage_{i}" for layer in encoder.layers):
      self._layers.append(_sage_parts(encoder.get_layer(f"graph_sage_{i}")))
      i += 1

  def num_edges(self, edge_set: str) -> int:
    return int(self._source[edge_set].shape[0])

  def _node_graph(self, features: dict[str, dict[str, tf.Tensor]]
                  ) -> tfgnn.GraphTensor:
    return tfgnn.GraphTensor.from_pieces(node_sets={
        n: tfgnn.NodeSet.from_fields(sizes=[self._sizes[n]],
                                     features=features[n])
        for n in self.node_sets})

  def __call__(self, keep: dict[str, tf.Tensor] | None = None,
               training: bool = False) -> dict[str, tf.Tensor]:
    """Embeds every node.

    Args:
      keep: edge set -> bool [edges]: edges that pass messages (default:
        all).
      training: Keras training mode (dropout).

    Returns:
      node set -> [n, embedding_dim] L2-normalised embeddings, node order.
    """
    keep = keep or {}
    edges = {}
    for e in self.edge_sets:
      src, tgt = self._source[e], self._target[e]
      if e in keep:
        kept = tf.gather(keep[e], self._order[e])
        src, tgt = tf.boolean_mask(src, kept), tf.boolean_mask(tgt, kept)
      edges[e] = (src, tgt)
    # Every node is distinct: #id (only with id-keyed vectors) finds
    # nothing to de-duplicate.
    projected = self._projection(self._node_graph(self._features),
                                 training=training)
    h = {n: projected.node_sets[n][tfgnn.HIDDEN_STATE] for n in self.node_sets}
    # Structure vectors and text anchors pass to the readout unchanged.
    extra = {n: {k: v for k, v in projected.node_sets[n].features.items()
                 if k != tfgnn.HIDDEN_STATE} for n in self.node_sets}
    for updates in self._layers:
      new = dict(h)
      for receiver, (convs, next_state) in updates.items():
        pooled = {}
        for e, conv in convs.items():
          receiver_set, sender_set = self._ends[e]
          src, tgt = edges[e]
          pooled[e] = conv.convolve(
              sender_node_input=h[sender_set], sender_edge_input=None,
              receiver_input=None,
              broadcast_from_sender_node=lambda x: x,
              broadcast_from_receiver=None,
              pool_to_receiver=_max_pool(src, tgt, self._sizes[receiver_set]),
              training=training)
        new[receiver] = next_state((h[receiver], pooled, None),
                                   training=training)[tfgnn.HIDDEN_STATE]
      h = new
    return self._readout(self._node_graph({
        n: {tfgnn.HIDDEN_STATE: h[n], **extra[n]}
        for n in self.node_sets}), training=training)


def _sage_parts(graph_update: tf.keras.layers.Layer
                ) -> dict[str, tuple[dict[str, Any], Any]]:
  """receiver node set -> ({edge set: pooling conv}, next-state layer).

  Reads TF-GNN's GraphUpdate / NodeSetUpdate structure (tensorflow-gnn is
  pinned; tests check the result equals the encoder's own call).
  """
  return {receiver: (dict(update._edge_set_inputs), update._next_state)
          for receiver, update in sorted(
              graph_update._node_set_updates.items())}


def _max_pool(source: tf.Tensor, target: tf.Tensor, num_receivers: int):
  """``pool_to_receiver`` for node-level transformed sender states.

  Gathers each edge's sender (target end) row and max-pools per receiver
  (source end, ``receiver_tag=SOURCE``; edges sorted by source); receivers
  without edges get zeros, as TF-GNN's ``max_no_inf``.
  """

  def pool(x, reduce_type="max_no_inf", **unused):
    del reduce_type, unused
    out = _gather_segment_max(x, source, target)
    out = tf.pad(out, [[0, num_receivers - tf.shape(out)[0]], [0, 0]])
    return tf.where(out <= out.dtype.min, tf.zeros([], out.dtype), out)

  return pool


_LOW_31_BITS = 0x7FFFFFFF


def _ordered_bits(bits: tf.Tensor) -> tf.Tensor:
  """Maps float32 bit patterns (as int32) to int32 of the same order, and back.

  Non-negative floats compare like their bits; negative ones in reverse, so
  their low 31 bits are flipped. The map is its own inverse.
  """
  return tf.where(bits >= 0, bits,
                  tf.bitwise.bitwise_xor(bits, tf.constant(_LOW_31_BITS)))


def _gather_segment_max(x: tf.Tensor, source: tf.Tensor, target: tf.Tensor
                        ) -> tf.Tensor:
  """``segment_max(gather(x, target), source)``, with its arg-max gradient.

  Each sender's value is packed with its row into one int64 (order-preserving
  float bits above, row below), so one segment max over the edges gives every
  receiver's maximum and the sender it came from; the gradient is then a
  scatter of [receivers, hidden] values, with no pass over the [edges,
  hidden] messages. (Ties go to one sender, the highest row; TF's segment-max
  gradient splits them, which only differs for equal values from distinct
  senders.)

  Args:
    x: float32 [senders, hidden] node-level messages.
    source: int32 [E] receiver of each edge, sorted.
    target: int32 [E] sender of each edge.

  Returns:
    float32 [max(source) + 1, hidden]; rows of receivers without edges hold
    the lowest float32.
  """

  @tf.custom_gradient
  def fn(x):
    senders, hidden = tf.shape(x)[0], tf.shape(x)[1]
    key = tf.cast(_ordered_bits(tf.bitcast(x, tf.int32)), tf.int64)
    row = tf.cast(tf.range(senders), tf.int64)[:, None]
    packed = tf.bitwise.bitwise_or(tf.bitwise.left_shift(key, 32), row)
    best = tf.math.segment_max(tf.gather(packed, target), source)
    high = tf.cast(tf.bitwise.right_shift(best, 32), tf.int32)
    empty = tf.equal(tf.math.segment_sum(tf.ones_like(source), source), 0)
    out = tf.where(empty[:, None], x.dtype.min,
                   tf.bitcast(_ordered_bits(high), tf.float32))
    who = tf.cast(tf.bitwise.bitwise_and(best, _LOW_31_BITS), tf.int32)

    def grad(dy):
      dy = tf.where(empty[:, None], tf.zeros([], dy.dtype), dy)
      flat = tf.reshape(who * hidden + tf.range(hidden)[None, :], [-1])
      dx = tf.math.unsorted_segment_sum(tf.reshape(dy, [-1]), flat,
                                        senders * hidden)
      return tf.reshape(dx, [senders, hidden])

    return out, grad

  return fn(x)


class _Positions:
  """Node set index and row offset of every node set in stacked embeddings."""

  def __init__(self, graph: ItemGraph):
    self.node_sets = graph.node_sets
    self._index = {n: i for i, n in enumerate(self.node_sets)}
    sizes = np.array([graph.num_nodes(n) for n in self.node_sets], np.int64)
    self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])

  def set_index(self, node_set: str) -> int:
    return self._index[node_set]


class FullGraphBatcher:
  """Steps of many positives for full-graph training.

  Args:
    graph: the full graph (negatives are checked against every known edge,
      as ``LinkBatcher`` does).
    train_graph: the graph messages pass over (without held-out edges); the
      edges to drop for a step's positives are looked up in it.
    spec: group shape (``batch_size`` positives, uniform negatives each).
    groups_per_step: groups of ``batch_size`` positives per step.
  """

  def __init__(self, graph: ItemGraph, train_graph: ItemGraph,
               spec: LinkBatchSpec, groups_per_step: int):
    self._positions = _Positions(graph)
    self._batcher = LinkBatcher(graph, self._positions, spec)
    self._spec = spec
    self.groups_per_step = max(1, groups_per_step)
    self.edge_sets = sorted(train_graph.edge_sets)
    self._index = {}
    for name, es in train_graph.edge_sets.items():
      n_t = train_graph.num_nodes(es.target_set)
      keys = es.source.astype(np.int64) * n_t + es.target.astype(np.int64)
      order = np.argsort(keys, kind="stable")
      self._index[name] = (es.source_set, es.target_set, n_t, keys[order],
                           order.astype(np.int32))

  def num_groups(self, plan) -> int:
    """Groups of at most ``batch_size`` positives in a plan."""
    return len(self._batcher.batch_chunks(plan))

  def steps(self, plan) -> int:
    """Steps of one pass over a plan."""
    return math.ceil(self.num_groups(plan) / self.groups_per_step)

  def edges_of(self, s_set: str, t_set: str, src: np.ndarray,
               tgt: np.ndarray) -> dict[str, np.ndarray]:
    """edge set -> int32 indices of every directed edge joining the pairs."""
    out = {}
    for name in self.edge_sets:
      a, b, n_t, keys, order = self._index[name]
      found = []
      for ends, (s, t) in (((s_set, t_set), (src, tgt)),
                           ((t_set, s_set), (tgt, src))):
        if (a, b) != ends:
          continue
        q = s.astype(np.int64) * n_t + t.astype(np.int64)
        lo = np.searchsorted(keys, q, side="left")
        hi = np.searchsorted(keys, q, side="right")
        counts = hi - lo
        offsets = np.arange(counts.sum()) - np.repeat(
            np.cumsum(counts) - counts, counts)
        found.append(order[np.repeat(lo, counts) + offsets])
      out[name] = (np.unique(np.concatenate(found)).astype(np.int32) if found
                   else np.zeros(0, np.int32))
    return out

  def steps_of(self, plan, rng: np.random.Generator, shuffle: bool = True,
               mask_positives: bool = True,
               groups_per_step: int | None = None
               ) -> Iterator[dict[str, Any]]:
    """Yields the steps of a plan.

    Args:
      plan: ``epoch_plan`` output (or a validation plan).
      rng: negatives and shuffling.
      shuffle: shuffle the groups across link kinds.
      mask_positives: list the positives' edges in ``drop`` (training); off
        for held-out edges, which are not in the training graph.
      groups_per_step: overrides the batcher's.

    Yields:
      dicts: ``positions`` int32 [G, 2B + Bk] rows of the roots (sources,
      targets, negatives) in the stacked embeddings; ``neg_valid`` [G, B, k],
      ``inbatch_valid`` [G, B, B], ``row_valid`` [G, B] (groups smaller than
      B are padded); ``drop``: edge set -> int32 edge indices.
    """
    chunks = self._batcher.batch_chunks(plan)
    order = rng.permutation(len(chunks)) if shuffle else np.arange(len(chunks))
    g = groups_per_step or self.groups_per_step
    for start in range(0, len(order), g):
      yield self._step([chunks[i] for i in order[start:start + g]], rng,
                       mask_positives)

  def _step(self, chunks, rng, mask_positives: bool) -> dict[str, Any]:
    bs, k = self._spec.batch_size, self._spec.uniform_negatives
    g = len(chunks)
    positions = np.zeros((g, 2 * bs + bs * k), np.int32)
    neg_valid = np.zeros((g, bs, k), bool)
    inbatch = np.zeros((g, bs, bs), bool)
    rows = np.zeros((g, bs), bool)
    drops = {e: [] for e in self.edge_sets}
    for i, (s_set, t_set, src, tgt) in enumerate(chunks):
      batch = self._batcher.make_batch(s_set, t_set, src, tgt, rng)
      b = len(src)
      rows_of = (self._positions.offsets[batch["root_set"]] +
                 batch["root_id"]).astype(np.int32)
      positions[i, :b] = rows_of[:b]
      positions[i, bs:bs + b] = rows_of[b:2 * b]
      positions[i, 2 * bs:2 * bs + b * k] = rows_of[2 * b:]
      neg_valid[i, :b] = batch["neg_valid"]
      inbatch[i, :b, :b] = batch["inbatch_valid"]
      rows[i, :b] = True
      if mask_positives:
        for e, idx in self.edges_of(s_set, t_set, src, tgt).items():
          drops[e].append(idx)
    return {"positions": positions, "neg_valid": neg_valid,
            "inbatch_valid": inbatch, "row_valid": rows,
            "drop": {e: np.unique(np.concatenate(v)).astype(np.int32) if v
                     else np.zeros(0, np.int32) for e, v in drops.items()}}

  def dataset(self, make_steps) -> tf.data.Dataset:
    """A tf.data pipeline over ``make_steps()`` (a fresh iterator per pass)."""
    signature = {
        "positions": tf.TensorSpec([None, None], tf.int32),
        "neg_valid": tf.TensorSpec([None, None, None], tf.bool),
        "inbatch_valid": tf.TensorSpec([None, None, None], tf.bool),
        "row_valid": tf.TensorSpec([None, None], tf.bool),
        "drop": {e: tf.TensorSpec([None], tf.int32) for e in self.edge_sets}}
    return tf.data.Dataset.from_generator(
        make_steps, output_signature=signature).prefetch(2)


class FullGraphLinkModel(tf.keras.Model):
  """Trains an encoder by link prediction, one whole-graph pass per step.

  The loss and negatives are those of ``LinkPredictionModel``; only the way
  roots are embedded differs.

  Args:
    encoder: a model of ``build_encoder``.
    train_graph: the graph messages pass over (without held-out edges).
    uniform_negatives: k, uniform negatives per positive.
    in_batch_negatives: also score the group's other targets.
    loss: ``margin`` or ``softmax``.
    margin: hinge margin.
    temperature: softmax temperature.
    encoder_loss_weight, encoder_dim: the encoder-alone term (``LinkLoss``).
    new_item_loss_weight: the features-alone term (``LinkLoss``); costs a
      second whole-graph pass, without edges, per step.
  """

  def __init__(self, *, encoder: tf.keras.Model, train_graph: ItemGraph,
               uniform_negatives: int = 1, in_batch_negatives: bool = True,
               loss: str = "margin", margin: float = 0.5,
               temperature: float = 0.1, encoder_loss_weight: float = 0.0,
               encoder_dim: int = 0, new_item_loss_weight: float = 0.0,
               **kwargs):
    super().__init__(**kwargs)
    self.encoder = encoder
    self._forward = FullGraphEncoder(encoder, train_graph)
    self._link = LinkLoss(uniform_negatives, in_batch_negatives, loss, margin,
                          temperature, encoder_loss_weight, encoder_dim,
                          new_item_loss_weight)
    self._loss_tracker = tf.keras.metrics.Mean(name="loss")
    self._accuracy = tf.keras.metrics.Mean(name="pos_beats_negs")

  metrics = LinkPredictionModel.metrics

  def call(self, inputs, training=False):
    keep = self.keep_masks(inputs.get("drop", {}))
    out = self._forward(keep, training=training)
    return tf.concat([out[n] for n in self._forward.node_sets], axis=0)

  def keep_masks(self, drop: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
    """edge set -> bool [edges], False at the dropped edge indices."""
    keep = {}
    for e, idx in drop.items():
      n = self._forward.num_edges(e)
      keep[e] = tf.tensor_scatter_nd_update(
          tf.ones([n], tf.bool), tf.reshape(idx, [-1, 1]),
          tf.zeros(tf.shape(idx), tf.bool))
    return keep

  def _loss(self, data, training: bool):
    stacked = self(data, training=training)
    z = tf.gather(stacked, data["positions"])
    alone = None
    if self._link.new_item_loss_weight > 0:  # Every edge dropped.
      out = self._forward({e: tf.zeros([self._forward.num_edges(e)], tf.bool)
                           for e in self._forward.edge_sets},
                          training=training)
      alone = tf.gather(tf.concat([out[n] for n in self._forward.node_sets],
                                  axis=0), data["positions"])
    b = tf.shape(data["inbatch_valid"])[1]
    return self._link.of_embeddings(z, b, data["neg_valid"],
                                    data["inbatch_valid"], data["row_valid"],
                                    alone=alone)

  # The same steps and metrics as the sampled path (over one replica the
  # replica scaling there is a division by 1); only ``_loss`` differs.
  train_step = LinkPredictionModel.train_step
  test_step = LinkPredictionModel.test_step
