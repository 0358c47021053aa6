"""Beam-sampled subgraphs served to training and inference: ``BeamSampleStore``.

``beam_sampling.write_link_samples`` writes, per round and seed node set, one
subgraph per node (node ``#id``s and edges only). The store holds every
round's samples in memory, indexed by node, and implements the ``Sampler``
protocol of ``sampling``: for each batch the roots' samples are gathered (pass
``e`` over the positives uses round ``e mod rounds``), merged into one
GraphTensor with one component per root, seed edges masked and features added
from the graph in memory, giving the same ``(graph, positions)`` as
``SubgraphSampler.sample``.

The Beam sampler cannot exclude a positive's own edge while sampling, so it
is removed here: in the component of a root whose partner is the other end of
its positive, every edge between root and partner (both directions, at every
hop) is dropped before the batch reaches the model. Beam's subgraphs merge
repeated nodes (the in-memory sampler builds trees); for the root's embedding
with the 2-layer encoder the two give the same computation, and a partner
reached only through the seed edge stays in the component but is cut off from
the root. Unlike the in-memory path, a node's neighbourhood is drawn once per
round and shared by every batch of that pass that has it as a root.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_gnn as tfgnn

from tfgnn_gfm.artifacts import HGNNDir
from tfgnn_gfm.hgnn.graph_data import ID_FEATURE, ItemGraph
from tfgnn_gfm.hgnn.node_features import (
  gather_node_features,
  node_feature_tensors,
)
from tfgnn_gfm.hgnn.sampling import root_tensors, seed_edge_mask


def _first_ids(records: list[bytes], node_set: str) -> np.ndarray:
  """The ``#id`` of the first node of ``node_set`` (the seed) per sample."""
  key = f"nodes/{node_set}.{ID_FEATURE}"
  out = []
  for start in range(0, len(records), 4096):
    chunk = tf.constant(records[start:start + 4096])
    ids = tf.io.parse_example(chunk, {key: tf.io.RaggedFeature(tf.string)})[
        key]
    out.append(tf.gather(ids.values, ids.row_starts()).numpy())
  return np.concatenate(out) if out else np.zeros(0, dtype=object)


def read_samples(layout: HGNNDir, graph: ItemGraph, node_sets: Sequence[str],
                 rounds: int) -> dict[tuple[int, str], np.ndarray]:
  """Every round's serialized samples per node set, in node order.

  Args:
    layout: the HGNN output directory holding ``beam_samples/``.
    graph: the graph the samples were drawn from (gives node order).
    node_sets: the seed node sets.
    rounds: the number of rounds written.

  Returns:
    (round, node set) -> object array of serialized GraphTensor examples,
    row i rooted at node i.

  Raises:
    ValueError: if a node of a seed node set has no sample in some round.
  """
  records = {}
  for r in range(rounds):
    for name in node_sets:
      prefix = layout.beam_samples_prefix(r, name)
      files = sorted(tf.io.gfile.glob(str(prefix) + "-*"))
      recs = [x.numpy() for x in tf.data.TFRecordDataset(files)]
      where = {item: i for i, item in enumerate(graph.node_ids[name])}
      ordered = np.empty(graph.num_nodes(name), dtype=object)
      filled = np.zeros(graph.num_nodes(name), bool)
      for item, rec in zip(_first_ids(recs, name), recs):
        i = where[item.decode()]
        ordered[i], filled[i] = rec, True
      if not filled.all():
        raise ValueError(
            f"the Beam samples of node set {name}, round {r}, miss "
            f"{int((~filled).sum())} of {len(filled)} nodes ({prefix})")
      records[(r, name)] = ordered
  return records


def _is_member(keys: tf.Tensor, query: tf.Tensor) -> tf.Tensor:
  pos = tf.minimum(tf.searchsorted(keys, query), tf.size(keys) - 1)
  return tf.gather(keys, pos) == query


class BeamSampleStore:
  """Beam-sampled subgraphs, served like ``SubgraphSampler.sample``.

  A ``sampling.Sampler``: its batch field ``round_index`` picks the round of
  samples (pass ``e`` uses round ``e mod rounds``).

  Holds every round's samples (serialized, structure only) in memory, indexed
  by node; ``sample`` gathers a batch's roots, masks seed edges, drops
  excluded edges and adds node features from the graph in memory.

  Args:
    graph: the full graph (node ids, node features, edge sets).
    records: (round, node set) -> serialized samples in node order.
    spec: GraphTensorSpec that parses the samples.
    exclude: edge set -> (source, target) node indices of edges that must
      not appear (the held-out edges; the Beam step already removed them,
      this is a second guard).
  """

  batch_fields: Mapping[str, tf.TensorSpec] = {
      "round_index": tf.TensorSpec([], tf.int32)}

  def __init__(self, graph: ItemGraph,
               records: dict[tuple[int, str], np.ndarray],
               spec: tfgnn.GraphTensorSpec, *,
               exclude: dict[str, tuple[np.ndarray, np.ndarray]] | None
               = None):
    self.node_sets = graph.node_sets
    self.edge_sets = sorted(graph.edge_sets)
    missing = sorted(set(self.edge_sets) - set(spec.edge_sets_spec))
    if missing:
      raise ValueError(f"the Beam samples lack edge set(s) {missing}")
    self._spec = spec
    self._set_index = {n: i for i, n in enumerate(self.node_sets)}
    self._ends = {n: (es.source_set, es.target_set)
                  for n, es in graph.edge_sets.items()}
    self._num_nodes = {n: graph.num_nodes(n) for n in self.node_sets}
    self.rounds = 1 + max(r for r, _ in records)
    base = np.full((self.rounds, len(self.node_sets)), -1, np.int64)
    flat, offset = [], 0
    for (r, name), recs in sorted(records.items()):
      base[r, self._set_index[name]] = offset
      flat.append(recs)
      offset += len(recs)
    self._base = tf.constant(base)
    self._records = tf.constant(np.concatenate(flat))
    self._tables = {
        n: tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(
            tf.constant(np.asarray(graph.node_ids[n], dtype=object)
                        .astype(str)),
            tf.range(graph.num_nodes(n), dtype=tf.int64)), default_value=-1)
        for n in self.node_sets}
    self._features = node_feature_tensors(graph)
    self._exclude = {}
    for name, (src, tgt) in (exclude or {}).items():
      if len(src):
        n_t = graph.num_nodes(self._ends[name][1])
        self._exclude[name] = tf.constant(np.unique(
            np.asarray(src, np.int64) * n_t + np.asarray(tgt, np.int64)))

  @classmethod
  def load(cls, layout: HGNNDir, graph: ItemGraph, node_sets: Sequence[str],
           rounds: int, *,
           exclude: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
           ) -> "BeamSampleStore":
    """Loads the samples ``write_link_samples`` wrote under ``layout``.

    Args:
      layout: the HGNN output directory holding ``beam_samples/``.
      graph: the graph the samples were drawn from.
      node_sets: the seed node sets.
      rounds: the number of rounds written.
      exclude: edges that must not appear (see the class).

    Returns:
      The store.
    """
    schema = tfgnn.read_schema(str(layout.beam_samples_schema_path))
    spec = tfgnn.create_graph_spec_from_schema_pb(schema,
                                                  indices_dtype=tf.int64)
    return cls(graph, read_samples(layout, graph, node_sets, rounds), spec,
               exclude=exclude)

  def set_index(self, node_set: str) -> int:
    """The index of ``node_set`` in ``node_sets``."""
    return self._set_index[node_set]

  def pass_fields(self, pass_index: int) -> dict[str, np.ndarray]:
    """Pass ``pass_index`` reads round ``pass_index mod rounds``."""
    return {"round_index": np.int32(pass_index % self.rounds)}

  def sample(self, root_set: tf.Tensor, root_id: tf.Tensor,
             partner_set: tf.Tensor | None = None,
             partner_id: tf.Tensor | None = None,
             round_index: tf.Tensor | int = 0
             ) -> tuple[tfgnn.GraphTensor, tf.Tensor]:
    """The roots' Beam samples as one GraphTensor, seed edges removed.

    Args:
      root_set, root_id, partner_set, partner_id: see ``Sampler.sample``.
      round_index: which round of samples to use (``pass_fields``).

    Returns:
      (graph, positions), see ``Sampler.sample``.
    """
    root_set, root_id, partner_set, partner_id = root_tensors(
        root_set, root_id, partner_set, partner_id)
    num_roots = tf.shape(root_id, out_type=tf.int64)[0]
    round_index = tf.cast(round_index, tf.int32)
    base = tf.gather_nd(self._base, tf.stack(
        [tf.fill(tf.shape(root_set), round_index), root_set], axis=1))
    strings = tf.gather(self._records, base + root_id)
    parsed = tfgnn.parse_example(self._spec, strings)
    parsed = parsed.merge_batch_to_components()

    node_sets, node_index, root_rows = {}, {}, []
    offset = tf.constant(0, tf.int64)
    for name in self.node_sets:
      ns = parsed.node_sets[name]
      ids = ns[ID_FEATURE]
      index = self._tables[name].lookup(ids)
      node_index[name] = index
      sizes = tf.cast(ns.sizes, tf.int64)
      node_sets[name] = tfgnn.NodeSet.from_fields(
          sizes=sizes,
          features={ID_FEATURE: ids,
                    **gather_node_features(self._features[name], index)})
      root_rows.append(offset + tf.cumsum(sizes, exclusive=True))
      offset += tf.reduce_sum(sizes)

    edge_sets = {}
    for name in self.edge_sets:
      a, b = self._ends[name]
      es = parsed.edge_sets[name]
      src = tf.cast(es.adjacency.source, tf.int64)
      tgt = tf.cast(es.adjacency.target, tf.int64)
      comp = tf.repeat(tf.range(num_roots), tf.cast(es.sizes, tf.int64))
      s_ids = tf.gather(node_index[a], src)
      t_ids = tf.gather(node_index[b], tgt)
      drop = seed_edge_mask(self._set_index[a], self._set_index[b], s_ids,
                            t_ids, comp, root_set, root_id, partner_set,
                            partner_id)
      if name in self._exclude:
        drop |= _is_member(self._exclude[name],
                           s_ids * self._num_nodes[b] + t_ids)
      keep = ~drop
      comp = tf.boolean_mask(comp, keep)
      edge_sets[name] = tfgnn.EdgeSet.from_fields(
          sizes=tf.math.bincount(comp, minlength=num_roots,
                                 maxlength=num_roots, dtype=tf.int64),
          adjacency=tfgnn.Adjacency.from_indices(
              source=(a, tf.boolean_mask(src, keep)),
              target=(b, tf.boolean_mask(tgt, keep))))
    graph = tfgnn.GraphTensor.from_pieces(
        context=tfgnn.Context.from_fields(sizes=tf.ones([num_roots],
                                                        tf.int64)),
        node_sets=node_sets, edge_sets=edge_sets)
    positions = tf.gather_nd(tf.stack(root_rows), tf.stack(
        [root_set, tf.range(tf.cast(num_roots, tf.int32))], axis=1))
    return graph, tf.cast(positions, tf.int32)

