"""Subgraph sampling around seed items: the ``Sampler`` protocol, and its
in-memory implementation with TF-GNN's in-memory edge sampler.

Training (``trainer``, ``link_data``) and inference (``embedding``) program
against ``Sampler``; ``SubgraphSampler`` (here) and
``beam_sample_store.BeamSampleStore`` (TF-GNN's Beam sampler's output)
implement it.

In ``SubgraphSampler``, each seed (root) item gets its own rooted subgraph:
hop by hop, up to ``fanouts[h]`` outgoing edges of every frontier node are
drawn uniformly, per edge set, by
``tensorflow_gnn.experimental.sampler.InMemUniformEdgesSampler``. The sampled
tree is GraphSAGE's computation graph: a node reached twice is two nodes, so
no de-duplication is needed and every component is exactly the receptive field
of its root. All roots of a batch (of any node sets) become the components of
one GraphTensor, so one forward pass embeds them all; the root is the first
node of its node set in its component.

(TF-GNN's ``SamplingPipeline`` builds the same subgraphs with de-duplicated
nodes, but its graph takes ~25 s to trace per node set on these machines; the
assembly here is a few hundred plain ops around the same edge sampler.)

Link prediction must not see the edge it predicts: a root may name a partner
(the other end of its positive edge), and edges between root and partner are
dropped from that root's subgraph as they are sampled, at every hop and in
both directions, so the partner's subtree is never reached through them.
"""

from __future__ import annotations

from typing import Mapping, Protocol, Sequence, runtime_checkable

import numpy as np
import tensorflow as tf
import tensorflow_gnn as tfgnn
from tensorflow_gnn.experimental import sampler as tfgnn_sampler

from tfgnn_gfm.hgnn.graph_data import (
  DEGREE_FEATURE,
  ID_FEATURE,
  TEXT_FEATURE,
  ItemGraph,
)
from tfgnn_gfm.hgnn.node_features import (
  gather_node_features,
  node_feature_tensors,
  node_id_tensor,
)

NO_PARTNER = -1


def graph_schema(graph: ItemGraph) -> tfgnn.proto.GraphSchema:
  """The GraphSchema of the encoder's input: node and edge sets, features."""
  schema = tfgnn.proto.GraphSchema()
  for name in graph.node_sets:
    ns = schema.node_sets[name]
    ns.features[ID_FEATURE].dtype = tf.string.as_datatype_enum
    ns.features[TEXT_FEATURE].dtype = tf.float32.as_datatype_enum
    ns.features[TEXT_FEATURE].shape.dim.add().size = graph.text_dim
    ns.features[DEGREE_FEATURE].dtype = tf.float32.as_datatype_enum
    ns.features[DEGREE_FEATURE].shape.dim.add().size = 1
  for name, es in sorted(graph.edge_sets.items()):
    schema.edge_sets[name].source = es.source_set
    schema.edge_sets[name].target = es.target_set
  return schema


def root_tensors(root_set: tf.Tensor, root_id: tf.Tensor,
                 partner_set: tf.Tensor | None = None,
                 partner_id: tf.Tensor | None = None
                 ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
  """``Sampler.sample``'s roots and partners as flat int32 / int64 vectors.

  Args:
    root_set: node set index of each root (any shape, any integer dtype).
    root_id: node index of each root.
    partner_set: node set of each root's partner, or NO_PARTNER; None: no
      root has a partner.
    partner_id: node index of each root's partner (ignored without
      ``partner_set``).

  Returns:
    (root_set int32 [R], root_id int64 [R], partner_set int32 [R],
    partner_id int64 [R]).
  """
  root_set = tf.cast(tf.reshape(root_set, [-1]), tf.int32)
  root_id = tf.cast(tf.reshape(root_id, [-1]), tf.int64)
  if partner_set is None:
    partner_set = tf.fill(tf.shape(root_set), NO_PARTNER)
    partner_id = tf.zeros_like(root_id)
  partner_set = tf.cast(tf.reshape(partner_set, [-1]), tf.int32)
  partner_id = tf.cast(tf.reshape(partner_id, [-1]), tf.int64)
  return root_set, root_id, partner_set, partner_id


def seed_edge_mask(source_set: int, target_set: int, source_id: tf.Tensor,
                   target_id: tf.Tensor, component: tf.Tensor,
                   root_set: tf.Tensor, root_id: tf.Tensor,
                   partner_set: tf.Tensor, partner_id: tf.Tensor) -> tf.Tensor:
  """Which edges join their component's root and its partner (either way).

  Args:
    source_set: node set index of the edge set's sources.
    target_set: node set index of the edge set's targets.
    source_id: int64 [E], node index of each edge's source in its node set.
    target_id: int64 [E], node index of each edge's target.
    component: [E], the component (root) each edge belongs to.
    root_set: int32 [R], node set index of each root.
    root_id: int64 [R], node index of each root.
    partner_set: int32 [R], node set of each root's partner, or NO_PARTNER.
    partner_id: int64 [R], node index of each root's partner.

  Returns:
    bool [E]: True for a seed edge (to drop from that root's subgraph).
  """
  r_set, r_id = tf.gather(root_set, component), tf.gather(root_id, component)
  p_set = tf.gather(partner_set, component)
  p_id = tf.gather(partner_id, component)
  return (((r_set == source_set) & (p_set == target_set) &
           (source_id == r_id) & (target_id == p_id)) |
          ((p_set == source_set) & (r_set == target_set) &
           (source_id == p_id) & (target_id == r_id)))


@runtime_checkable
class Sampler(Protocol):
  """A source of featured, rooted subgraphs for batches of roots.

  The contract, which training and inference rely on:

  * ``node_sets``: the node sets, in ``set_index`` order; ``positions`` index
    the rows of the node sets' embeddings concatenated in this order.
  * ``batch_fields``: name -> ``tf.TensorSpec`` of the batch-plan fields, if
    any, that ``sample`` takes as keyword arguments besides the roots (they
    ride along with the plans through ``link_data.link_dataset``).
  * ``pass_fields(pass_index)``: those fields' values for every batch of pass
    ``pass_index`` over the positives (0: validation and inference), one key
    per ``batch_fields`` entry, each matching its spec.
  * ``sample(root_set, root_id, partner_set, partner_id, **fields)``: one
    scalar GraphTensor with one component per root, the root the first node
    of its node set in its component, node features ``#id``,
    ``text_embedding`` and ``log_degree``, and no edge between a root and its
    partner (either direction, any hop); and int32 [R] positions of the
    roots. Through ``link_data.link_dataset`` every implementation over the
    same graph gives the same element spec, so one encoder serves them all.
  """

  node_sets: Sequence[str]
  batch_fields: Mapping[str, tf.TensorSpec]

  def set_index(self, node_set: str) -> int:
    """The index of ``node_set`` in ``node_sets`` (``root_set`` values)."""

  def pass_fields(self, pass_index: int) -> dict[str, np.ndarray]:
    """The ``batch_fields`` values of the batches of one pass."""

  def sample(self, root_set: tf.Tensor, root_id: tf.Tensor,
             partner_set: tf.Tensor | None = None,
             partner_id: tf.Tensor | None = None, **fields: tf.Tensor
             ) -> tuple[tfgnn.GraphTensor, tf.Tensor]:
    """The roots' subgraphs as one GraphTensor, and the roots' positions.

    Args:
      root_set: int32 [R], node set index (``set_index``) of each root.
      root_id: int64 [R], node index of each root within its node set.
      partner_set: int32 [R], node set of the root's positive partner, or
        NO_PARTNER (None: no partners).
      partner_id: int64 [R], the partner's node index.
      **fields: the ``batch_fields`` of the batch.

    Returns:
      (graph, positions), as the class describes.
    """


class SubgraphSampler:
  """Samples featured, rooted subgraphs around batches of root items.

  Args:
    graph: the graph to sample neighbourhoods from (for training: the graph
      without held-out edges).
    fanouts: neighbours per hop and edge set, e.g. (10, 5).
    features: the graph whose node features are looked up (defaults to
      ``graph``; node order must match).
    seed: op-level seed of the edge samplers.
  """

  batch_fields: Mapping[str, tf.TensorSpec] = {}  # Roots and partners only.

  def __init__(self, graph: ItemGraph, fanouts: tuple[int, ...], *,
               features: ItemGraph | None = None, seed: int | None = None):
    if not fanouts or any(int(f) < 1 for f in fanouts):
      raise ValueError(f"fanouts must be positive, got {list(fanouts)}")
    self.node_sets = graph.node_sets
    self.edge_sets = sorted(graph.edge_sets)
    self.fanouts = tuple(int(f) for f in fanouts)
    self._ends = {n: (es.source_set, es.target_set)
                  for n, es in graph.edge_sets.items()}
    self._set_index = {n: i for i, n in enumerate(self.node_sets)}
    self._samplers = {}
    for hop, fanout in enumerate(self.fanouts):
      for k, name in enumerate(self.edge_sets):
        es = graph.edge_sets[name]
        self._samplers[(name, hop)] = tfgnn_sampler.InMemUniformEdgesSampler(
            num_source_nodes=graph.num_nodes(es.source_set),
            source=tf.constant(es.source, tf.int64),
            target=tf.constant(es.target, tf.int64),
            sample_size=fanout, edge_set_name=name,
            seed=None if seed is None else seed * 1000 + hop * 100 + k)
    # Text and degree from ``features`` (when given), ids from ``graph``.
    self._features = node_feature_tensors(features or graph)
    for n in self.node_sets:
      self._features[n][ID_FEATURE] = node_id_tensor(graph, n)

  def set_index(self, node_set: str) -> int:
    """The index of ``node_set`` in ``node_sets``."""
    return self._set_index[node_set]

  def pass_fields(self, pass_index: int) -> dict[str, np.ndarray]:
    """No fields: every pass samples afresh from the edge samplers."""
    del pass_index  # Unused.
    return {}

  def sample(self, root_set: tf.Tensor, root_id: tf.Tensor,
             partner_set: tf.Tensor | None = None,
             partner_id: tf.Tensor | None = None
             ) -> tuple[tfgnn.GraphTensor, tf.Tensor]:
    """Samples one subgraph per root and merges them into one GraphTensor.

    Each root's subgraph is a tree of up to ``fanouts[h]`` edges per node,
    hop ``h`` and edge set, drawn afresh at every call.

    Args:
      root_set, root_id, partner_set, partner_id: see ``Sampler.sample``.

    Returns:
      (graph, positions), see ``Sampler.sample``.
    """
    root_set, root_id, partner_set, partner_id = root_tensors(
        root_set, root_id, partner_set, partner_id)
    num_roots = tf.shape(root_id, out_type=tf.int64)[0]
    comp_range = tf.range(num_roots)

    # Node entries per set, in creation order: roots first.
    comps = {n: [] for n in self.node_sets}
    ids = {n: [] for n in self.node_sets}
    counts = {n: tf.constant(0, tf.int64) for n in self.node_sets}
    frontier = {}
    for name in self.node_sets:
      mine = tf.equal(root_set, self._set_index[name])
      c, i = tf.boolean_mask(comp_range, mine), tf.boolean_mask(root_id, mine)
      n = tf.shape(i, out_type=tf.int64)[0]
      comps[name].append(c)
      ids[name].append(i)
      frontier[name] = (c, i, tf.range(n))
      counts[name] = n
    root_counts = dict(counts)

    edges = {e: ([], [], []) for e in self.edge_sets}  # src, tgt, comp
    for hop in range(len(self.fanouts)):
      reached = {n: ([], [], []) for n in self.node_sets}
      for name in self.edge_sets:
        a, b = self._ends[name]
        if a not in frontier:
          continue
        f_comp, f_ids, f_local = frontier[a]
        sampled = self._samplers[(name, hop)](
            tf.RaggedTensor.from_tensor(tf.reshape(f_ids, [-1, 1])))
        target = sampled[tfgnn.TARGET_NAME]
        row = tf.cast(target.value_rowids(), tf.int64)
        t_ids = tf.cast(target.values, tf.int64)
        s_ids = tf.gather(f_ids, row)
        comp = tf.gather(f_comp, row)
        keep = ~seed_edge_mask(self._set_index[a], self._set_index[b], s_ids,
                               t_ids, comp, root_set, root_id, partner_set,
                               partner_id)
        row, t_ids, comp = (tf.boolean_mask(row, keep),
                            tf.boolean_mask(t_ids, keep),
                            tf.boolean_mask(comp, keep))
        new = tf.shape(t_ids, out_type=tf.int64)[0]
        t_local = counts[b] + tf.range(new)
        counts[b] += new
        comps[b].append(comp)
        ids[b].append(t_ids)
        src, tgt, ecomp = edges[name]
        src.append(tf.gather(f_local, row))
        tgt.append(t_local)
        ecomp.append(comp)
        reached[b][0].append(comp)
        reached[b][1].append(t_ids)
        reached[b][2].append(t_local)
      frontier = {n: tuple(tf.concat(x, axis=0) for x in v)
                  for n, v in reached.items() if v[0]}

    # Group nodes by component (stable, so each root stays first).
    node_sets, inverse, sizes = {}, {}, {}
    for name in self.node_sets:
      comp = tf.concat(comps[name], axis=0)
      node_ids = tf.concat(ids[name], axis=0)
      order = tf.argsort(comp, stable=True)
      inverse[name] = tf.cast(tf.math.invert_permutation(order), tf.int64)
      sizes[name] = tf.math.bincount(comp, minlength=num_roots,
                                     maxlength=num_roots, dtype=tf.int64)
      node_ids = tf.gather(node_ids, order)
      node_sets[name] = tfgnn.NodeSet.from_fields(
          sizes=sizes[name],
          features=gather_node_features(self._features[name], node_ids))
    edge_sets = {}
    for name in self.edge_sets:
      a, b = self._ends[name]
      src, tgt, comp = edges[name]
      if src:
        src = tf.gather(inverse[a], tf.concat(src, axis=0))
        tgt = tf.gather(inverse[b], tf.concat(tgt, axis=0))
        comp = tf.concat(comp, axis=0)
        order = tf.argsort(comp, stable=True)
        src, tgt, comp = (tf.gather(src, order), tf.gather(tgt, order),
                          tf.gather(comp, order))
      else:
        src = tgt = comp = tf.zeros([0], tf.int64)
      edge_sets[name] = tfgnn.EdgeSet.from_fields(
          sizes=tf.math.bincount(comp, minlength=num_roots,
                                 maxlength=num_roots, dtype=tf.int64),
          adjacency=tfgnn.Adjacency.from_indices(source=(a, src),
                                                 target=(b, tgt)))
    graph = tfgnn.GraphTensor.from_pieces(
        context=tfgnn.Context.from_fields(sizes=tf.ones([num_roots],
                                                        tf.int64)),
        node_sets=node_sets, edge_sets=edge_sets)

    positions = tf.zeros([num_roots], tf.int64)
    offset = tf.constant(0, tf.int64)
    for name in self.node_sets:
      mine = tf.equal(root_set, self._set_index[name])
      where = tf.boolean_mask(comp_range, mine)
      pos = offset + tf.gather(inverse[name], tf.range(root_counts[name]))
      positions = tf.tensor_scatter_nd_update(
          positions, tf.reshape(where, [-1, 1]), pos)
      offset += counts[name]
    return graph, tf.cast(positions, tf.int32)
