"""Link-prediction training on subgraphs from TF-GNN's Beam sampler.

``gfm pretrain --sampler beam`` trains the same ``LinkPredictionModel`` on
the same batches as the in-memory path, but the sampled neighbourhoods come
from TF-GNN's Beam sampler (``tensorflow_gnn.experimental.sampler.beam``)
over the graph's ``sharded/`` files, so sampling runs on any Beam runner.

1. The Beam step (``write_link_samples``), once before training: one
   pipeline reads the sharded graph with TF-GNN's unigraph reader, drops the
   held-out validation edges (a join with the held-out edge list, so the
   sampler sees exactly the training graph of the in-memory path) and runs
   TF-GNN's sampling program (``make_sampling_spec_tree`` with the training
   fanouts) ``rounds`` times over every node of every node set that roots come
   from. Positives' endpoints and uniform negatives are drawn from those node
   sets, so one round covers every root of every batch, negatives included.
   Samples keep node ``#id``s and edges only (features are looked up from the
   graph in memory while training, as on the in-memory path); they are
   written as TFRecords under ``HGNNDir.beam_samples_dir``.
2. Training (``BeamSampleStore``): the batch plans of ``LinkBatcher`` are
   unchanged; for each batch the roots' samples are gathered (pass ``e`` over
   the positives uses round ``e mod rounds``), merged into one GraphTensor
   with one component per root, seed edges masked and features added, giving
   the same ``(graph, positions)`` as ``SubgraphSampler.sample``.

The Beam sampler cannot exclude a positive's own edge while sampling, so it
is removed afterwards: in the component of a root whose partner is the other
end of its positive, every edge between root and partner (both directions, at
every hop) is dropped before the batch reaches the model. Beam's subgraphs
merge repeated nodes (the in-memory sampler builds trees); for the root's
embedding with the 2-layer encoder the two give the same computation, and a
partner reached only through the seed edge stays in the component but is cut
off from the root. Unlike the in-memory path, a node's neighbourhood is drawn
once per round and shared by every batch of that pass that has it as a root.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import pathlib
import tempfile
import time
from typing import Any, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_gnn as tfgnn

from beam import options as options_lib
from beam import workers
from beam.metrics import pipeline_counters
from tfgnn_gfm.artifacts import GraphDir, HGNNDir
from tfgnn_gfm.hgnn.graph_data import (DEGREE_FEATURE, ID_FEATURE,
                                       TEXT_FEATURE, ItemGraph)
from tfgnn_gfm.hgnn.sampling import NO_PARTNER, seed_edge_mask

_LOG = logging.getLogger(__name__)
_METRICS_NAMESPACE = "tfgnn_gfm.beam_link_samples"
_PROGRESS_EVERY = 10000


def check_beam_args(beam_args: Sequence[str]) -> None:
  """Raises ConfigError for an unknown or invalid Beam pipeline option.

  ``gfm build-graph`` and this step share ``beam/options.py``: every Beam
  option is checked strictly, and the DirectRunner runs Beam's classic local
  engine.

  Args:
    beam_args: Beam pipeline options (``--runner=...``, ...).
  """
  options_lib.pipeline_options(list(beam_args))


def _samples_schema(schema: tfgnn.proto.GraphSchema, keep_ids: bool
                    ) -> tfgnn.proto.GraphSchema:
  """The graph structure only: node ``#id`` (if ``keep_ids``), no features.

  Sampling with no node features skips TF-GNN's feature lookups (the sampled
  nodes keep their ``#id``s); the schema with ``#id`` parses the samples.
  """
  out = tfgnn.proto.GraphSchema()
  out.CopyFrom(schema)
  for ns in out.node_sets.values():
    ids = ns.features.get(ID_FEATURE) if keep_ids else None
    kept = tfgnn.proto.Feature()
    if ids is not None:
      kept.CopyFrom(ids)
    ns.ClearField("features")
    if ids is not None:
      ns.features[ID_FEATURE].CopyFrom(kept)
  for es in out.edge_sets.values():
    es.ClearField("features")
  return out


@functools.lru_cache(maxsize=8)
def _sampling_program(schema_text: str, node_set: str,
                      fanouts: tuple[int, ...]):
  """TF-GNN's sampling program rooted at ``node_set`` (cached per process).

  Building it traces TF-GNN's sampling model (tens of seconds per node set),
  so one program serves every round.

  Returns:
    (program proto, artifacts, layer name -> edge feed, SamplingSpec).
  """
  # pylint: disable=g-import-not-at-top
  from google.protobuf import text_format
  from tensorflow_gnn.experimental import sampler as tfgnn_sampler
  from tensorflow_gnn.experimental.sampler.beam import sampler as beam_sampler
  schema = text_format.Parse(schema_text, tfgnn.proto.GraphSchema())
  spec = tfgnn.sampler.make_sampling_spec_tree(
      schema, node_set, sample_sizes=list(fanouts))
  # TF-GNN's executor looks for a layer named "sink": Keras must number the
  # sampling model's layers from scratch.
  tf.keras.backend.clear_session()
  model, layers_mapping = beam_sampler.get_sampling_model(schema, spec)
  program, artifacts = tfgnn_sampler.create_program(model)
  return program, artifacts, dict(layers_mapping), spec


def _edge_key(example) -> tuple[bytes, bytes]:
  feature = example.features.feature
  return (feature[tfgnn.SOURCE_NAME].bytes_list.value[0],
          feature[tfgnn.TARGET_NAME].bytes_list.value[0])


def _key_edge(example):
  return _edge_key(example), example


def _parse_held_out(record: bytes) -> tuple[str, tuple[bytes, bytes]]:
  edge_set, source, target = record.split(b"\0")
  return edge_set.decode(), (source, target)


def _is_edge_set(item, edge_set: str) -> bool:
  return item[0] == edge_set


def _drop_key(item):
  return item[1], None


def _keep_unless_held_out(joined):
  # pylint: disable=g-import-not-at-top
  from apache_beam.metrics import Metrics
  _, groups = joined
  edges, held = list(groups["edge"]), list(groups["held_out"])
  if held:
    Metrics.counter(_METRICS_NAMESPACE, "held_out_edges_dropped").inc(
        len(edges))
    return
  yield from edges


def _serialize(item) -> bytes:
  return item[1].SerializeToString()


def _make_transforms():
  """The Beam transforms (built lazily: Beam is imported only when used)."""
  # pylint: disable=g-import-not-at-top
  import apache_beam as beam
  from apache_beam.metrics import Metrics
  from tensorflow_gnn.experimental.sampler.beam import executor_lib
  from tensorflow_gnn.experimental.sampler.beam import unigraph_utils

  class DropHeldOut(beam.PTransform):
    """Removes the held-out directed edges of one edge set."""

    def __init__(self, edge_set: str, held_out):
      super().__init__()
      self._edge_set = edge_set
      self._held_out = held_out

    def expand(self, edges):
      keyed = edges | "Key" >> beam.Map(_key_edge)
      drop = (self._held_out
              | "Select" >> beam.Filter(_is_edge_set, self._edge_set)
              | "KeyHeldOut" >> beam.Map(_drop_key))
      return ({"edge": keyed, "held_out": drop}
              | "Join" >> beam.CoGroupByKey()
              | "Keep" >> beam.FlatMap(_keep_unless_held_out))

  class SampleRound(beam.PTransform):
    """One subgraph per node of the seed node set: TF-GNN's executor."""

    def __init__(self, program, spec, artifacts_path: str):
      super().__init__()
      self._program = program
      self._spec = spec
      self._artifacts_path = artifacts_path

    def expand(self, feeds):
      feeds = dict(feeds)
      seeds = unigraph_utils.seeds_from_graph_dict(feeds, self._spec)
      return executor_lib.execute(self._program, {"Input": seeds},
                                  feeds=feeds,
                                  artifacts_path=self._artifacts_path)

  class CountProgress(beam.DoFn):
    """Counts written subgraphs and logs progress every few thousand."""

    def __init__(self, label: str, total: int):
      super().__init__()
      self._label = label
      self._total = total
      self._seen = 0

    def setup(self):
      self._seen = 0
      self._counter = Metrics.counter(_METRICS_NAMESPACE,
                                      f"samples/{self._label}")

    def process(self, element):
      self._seen += 1
      self._counter.inc()
      workers.count_elements()
      if self._seen % _PROGRESS_EVERY == 0:
        _LOG.info("beam sampling %s: %d of %d subgraphs (this worker)",
                  self._label, self._seen, self._total)
      yield element

  return beam, DropHeldOut, SampleRound, CountProgress


def _write_held_out(path: pathlib.Path,
                    held_out: dict[str, tuple[Sequence[str], Sequence[str]]]
                    ) -> int:
  """Writes ``edge set \\0 source id \\0 target id`` records; returns count."""
  path.parent.mkdir(parents=True, exist_ok=True)
  count = 0
  with tf.io.TFRecordWriter(str(path)) as writer:
    for edge_set, (sources, targets) in sorted(held_out.items()):
      for s, t in zip(sources, targets):
        writer.write(b"\0".join([edge_set.encode(), str(s).encode(),
                                 str(t).encode()]))
        count += 1
  return count


def write_link_samples(graph_dir: str | pathlib.Path, layout: HGNNDir, *,
                       fanouts: Sequence[int], node_sets: Sequence[str],
                       rounds: int = 1,
                       held_out: dict[str, tuple[Sequence[str],
                                                 Sequence[str]]] | None = None,
                       num_nodes: dict[str, int] | None = None,
                       beam_args: Sequence[str] = ()) -> dict[str, Any]:
  """The Beam step: samples every node of ``node_sets``, ``rounds`` times.

  Args:
    graph_dir: a GraphDir written by ``gfm build-graph`` (reads ``sharded/``).
    layout: the HGNN output whose ``beam_samples_dir`` receives the samples.
    fanouts: neighbours per hop and edge set (the training fanouts).
    node_sets: the seed node sets (those roots of batches come from).
    rounds: independent samples of every seed node.
    held_out: edge set -> (source ids, target ids) of directed edges to
      remove before sampling (the validation edges, both directions).
    num_nodes: node set -> node count, for progress messages and the check
      that every node got its subgraph.
    beam_args: Beam pipeline options (``--runner=...``, ...), as for
      ``gfm build-graph``.

  Returns:
    A summary: runner, Beam options, rounds, node sets, samples written per
    node set and round, held-out edges dropped, seconds.

  Raises:
    RuntimeError: if a round lacks subgraphs for some nodes.
  """
  # pylint: disable=g-import-not-at-top
  from tensorflow_gnn.data import unigraph
  from tensorflow_gnn.experimental.sampler.beam import sampler as beam_sampler
  from tensorflow_gnn.experimental.sampler.beam import unigraph_utils
  options = options_lib.pipeline_options(list(beam_args))
  beam, drop_held_out, sample_round, count_progress = _make_transforms()
  start = time.perf_counter()
  graph_layout = GraphDir(pathlib.Path(graph_dir))
  sharded = unigraph.read_schema(str(graph_layout.sharded_schema_path))
  unknown = sorted(set(node_sets) - set(sharded.node_sets))
  if unknown:
    raise ValueError(f"unknown node set(s) {unknown}; the graph has "
                     f"{sorted(sharded.node_sets)}")
  fanouts = tuple(int(f) for f in fanouts)
  sampling_schema = _samples_schema(sharded, keep_ids=False)
  layout.beam_samples_dir.mkdir(parents=True, exist_ok=True)
  tfgnn.write_schema(_samples_schema(sharded, keep_ids=True),
                     str(layout.beam_samples_schema_path))
  num_held_out = _write_held_out(layout.beam_held_out_edges_path,
                                 held_out or {})
  programs = {}
  for name in sorted(node_sets):
    t = time.perf_counter()
    _LOG.info("beam step: building TF-GNN's sampling program for node set "
              "%s (fanouts %s)", name, list(fanouts))
    program, artifacts, mapping, spec = _sampling_program(
        str(sampling_schema), name, fanouts)
    artifacts_dir = layout.beam_sampler_artifacts_dir(name)
    beam_sampler.save_artifacts(artifacts, str(artifacts_dir))
    layout.beam_sampling_spec_path(name).write_text(str(spec))
    programs[name] = (program, mapping, spec, str(artifacts_dir))
    _LOG.info("beam step: program for %s built in %.1f s", name,
              time.perf_counter() - t)

  pipeline = beam.Pipeline(runner=options_lib.create_runner(options),
                           options=options)
  feeds = dict(pipeline | "ReadGraph" >> unigraph_utils.ReadAndConvertUnigraph(
      sampling_schema, str(graph_layout.sharded_dir)))
  held = (pipeline
          | "ReadHeldOut" >> beam.io.ReadFromTFRecord(
              str(layout.beam_held_out_edges_path))
          | "ParseHeldOut" >> beam.Map(_parse_held_out))
  for edge_set in sorted(sampling_schema.edge_sets):
    feeds[f"edges/{edge_set}"] = (feeds[f"edges/{edge_set}"]
                                  | f"DropHeldOut/{edge_set}" >> drop_held_out(
                                      edge_set, held))
  totals = dict(num_nodes or {})
  for name, (program, mapping, spec, artifacts_dir) in programs.items():
    set_feeds = dict(feeds)
    set_feeds.update({layer: feeds[edges] for layer, edges in mapping.items()})
    for r in range(rounds):
      label = f"{name}/round-{r:03d}"
      prefix = layout.beam_samples_prefix(r, name)
      prefix.parent.mkdir(parents=True, exist_ok=True)
      _ = (set_feeds
           | f"Sample/{label}" >> sample_round(program, spec, artifacts_dir)
           | f"Progress/{label}" >> beam.ParDo(count_progress(
               label, totals.get(name, 0)))
           | f"Serialize/{label}" >> beam.Map(_serialize)
           | f"Write/{label}" >> beam.io.WriteToTFRecord(str(prefix)))
  runner = options_lib.runner_name(options)
  _LOG.info("beam step: sampling %s x %d round(s) with the %s (%s)",
            sorted(node_sets), rounds, runner,
            " ".join(beam_args) or "no Beam options")
  t = time.perf_counter()
  result = pipeline.run()
  result.wait_until_finish()
  counters = pipeline_counters(result, _METRICS_NAMESPACE)
  processes = workers.worker_processes(result)
  samples = {name: [counters.get(f"samples/{name}/round-{r:03d}", 0)
                    for r in range(rounds)] for name in sorted(node_sets)}
  for name, counts in samples.items():
    expected = totals.get(name)
    if counters and expected is not None and any(c != expected
                                                 for c in counts):
      raise RuntimeError(f"the Beam sampler wrote {counts} subgraphs per "
                         f"round for node set {name}, expected {expected}")
  summary = {
      "runner": runner, "args": list(beam_args), "rounds": rounds,
      "node_sets": sorted(node_sets), "fanouts": list(fanouts),
      "samples": samples, "held_out_edges": num_held_out,
      "worker_processes": processes,
      "held_out_edges_dropped": counters.get("held_out_edges_dropped", 0),
      "pipeline_seconds": round(time.perf_counter() - t, 2),
      "seconds": round(time.perf_counter() - start, 2)}
  _LOG.info("beam step: done in %.1f s (pipeline %.1f s): subgraphs %s, "
            "held-out edges dropped %d of %d", summary["seconds"],
            summary["pipeline_seconds"], samples,
            summary["held_out_edges_dropped"], num_held_out)
  return summary


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

  batch_fields = {"round_index": tf.TensorSpec([], tf.int32)}

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
    self._features = {
        n: {TEXT_FEATURE: tf.constant(graph.node_features[n][TEXT_FEATURE],
                                      tf.float32),
            DEGREE_FEATURE: tf.constant(graph.node_features[n][DEGREE_FEATURE],
                                        tf.float32)}
        for n in self.node_sets}
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
    return self._set_index[node_set]

  def sample(self, root_set: tf.Tensor, root_id: tf.Tensor,
             partner_set: tf.Tensor | None = None,
             partner_id: tf.Tensor | None = None,
             round_index: tf.Tensor | int = 0
             ) -> tuple[tfgnn.GraphTensor, tf.Tensor]:
    """The roots' Beam samples as one GraphTensor, seed edges removed.

    Args:
      root_set: int32 [R], node set index (``set_index``) of each root.
      root_id: int64 [R], node index of each root within its node set.
      partner_set: int32 [R], node set of the root's positive partner, or
        NO_PARTNER.
      partner_id: int64 [R], the partner's node index.
      round_index: which round of samples to use.

    Returns:
      (graph, positions) as ``SubgraphSampler.sample``: one component per
      root, the root first in its node set, features ``#id``,
      ``text_embedding`` and ``log_degree``; positions of the roots among
      the node sets' rows concatenated in ``node_sets`` order.
    """
    root_set = tf.cast(tf.reshape(root_set, [-1]), tf.int32)
    root_id = tf.cast(tf.reshape(root_id, [-1]), tf.int64)
    if partner_set is None:
      partner_set = tf.fill(tf.shape(root_set), NO_PARTNER)
      partner_id = tf.zeros_like(root_id)
    partner_set = tf.cast(tf.reshape(partner_set, [-1]), tf.int32)
    partner_id = tf.cast(tf.reshape(partner_id, [-1]), tf.int64)
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
                    TEXT_FEATURE: tf.gather(
                        self._features[name][TEXT_FEATURE], index),
                    DEGREE_FEATURE: tf.gather(
                        self._features[name][DEGREE_FEATURE], index)})
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


@dataclasses.dataclass
class BeamSamples:
  """What the Beam step produced for training.

  Attributes:
    store: the loaded samples.
    summary: ``write_link_samples``'s summary (for the manifest).
  """

  store: BeamSampleStore
  summary: dict[str, Any]


def sample_with_beam(graph: ItemGraph, graph_dir: str | pathlib.Path,
                     samples_root: str | pathlib.Path | None, *,
                     fanouts: Sequence[int], node_sets: Sequence[str],
                     rounds: int,
                     held_out: dict[str, tuple[np.ndarray, np.ndarray]],
                     beam_args: Sequence[str] = ()) -> BeamSamples:
  """Runs the Beam step and loads its samples for training.

  Args:
    graph: the full graph (as loaded from ``graph_dir``).
    graph_dir: the GraphDir whose ``sharded/`` files the sampler reads.
    samples_root: an HGNN output directory (samples go to its
      ``beam_samples_dir``); None: a temporary directory, removed once the
      samples are loaded.
    fanouts: training fanouts.
    node_sets: node sets roots come from.
    rounds: independent samples of every node.
    held_out: edge set -> (source, target) node indices of the held-out
      directed edges, removed before sampling.
    beam_args: Beam pipeline options.

  Returns:
    The store and the Beam step's summary.
  """
  ids = {name: (np.asarray(graph.node_ids[graph.edge_sets[name].source_set]
                           )[src],
                np.asarray(graph.node_ids[graph.edge_sets[name].target_set]
                           )[tgt])
         for name, (src, tgt) in held_out.items()}
  counts = {n: graph.num_nodes(n) for n in node_sets}
  with contextlib.ExitStack() as stack:
    if samples_root is None:
      samples_root = stack.enter_context(tempfile.TemporaryDirectory())
    layout = HGNNDir(pathlib.Path(samples_root))
    summary = write_link_samples(graph_dir, layout, fanouts=fanouts,
                                 node_sets=node_sets, rounds=rounds,
                                 held_out=ids, num_nodes=counts,
                                 beam_args=beam_args)
    t = time.perf_counter()
    store = BeamSampleStore.load(layout, graph, node_sets, rounds,
                                 exclude=held_out)
    summary["load_seconds"] = round(time.perf_counter() - t, 2)
  return BeamSamples(store, summary)
