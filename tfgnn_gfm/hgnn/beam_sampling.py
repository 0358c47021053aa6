"""The Beam step of ``gfm pretrain --sampler beam``: TF-GNN's Beam sampler.

``gfm pretrain --sampler beam`` trains the same ``LinkPredictionModel`` on
the same batches as the in-memory path, but the sampled neighbourhoods come
from TF-GNN's Beam sampler (``tensorflow_gnn.experimental.sampler.beam``)
over the graph's ``sharded/`` files, so sampling runs on any Beam runner.

The Beam step (``write_link_samples``) runs once before training: one
pipeline reads the sharded graph with TF-GNN's unigraph reader, drops the
held-out validation edges (a join with the held-out edge list, so the sampler
sees exactly the training graph of the in-memory path) and runs TF-GNN's
sampling program (``make_sampling_spec_tree`` with the training fanouts)
``rounds`` times over every node of every node set that roots come from.
Positives' endpoints and uniform negatives are drawn from those node sets, so
one round covers every root of every batch, negatives included. Samples keep
node ``#id``s and edges only (features are looked up from the graph in memory
while training, as on the in-memory path); they are written as TFRecords
under ``HGNNDir.beam_samples_dir``, and ``beam_sample_store.BeamSampleStore``
serves them to training (``sample_with_beam`` runs the step and loads them).
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

from tfgnn_gfm.artifacts import GraphDir, HGNNDir
from tfgnn_gfm.hgnn.beam_sample_store import BeamSampleStore
from tfgnn_gfm.hgnn.graph_data import ID_FEATURE, ItemGraph
from tfgnn_gfm.pipelines import options as options_lib
from tfgnn_gfm.pipelines import workers
from tfgnn_gfm.pipelines.counters import pipeline_counters

_LOG = logging.getLogger(__name__)
_METRICS_NAMESPACE = "tfgnn_gfm.beam_sampling"
_PROGRESS_EVERY = 10000


def check_beam_args(beam_args: Sequence[str]) -> None:
  """Raises ConfigError for an unknown or invalid Beam pipeline option.

  ``gfm build-graph`` and this step share ``tfgnn_gfm/pipelines/options.py``:
  every Beam option is checked strictly, and the DirectRunner runs Beam's
  classic local engine.

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
  import apache_beam as beam
  from apache_beam.metrics import Metrics
  from tensorflow_gnn.experimental.sampler.beam import (
    executor_lib,
    unigraph_utils,
  )

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
