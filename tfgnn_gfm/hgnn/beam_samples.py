"""Subgraphs from TF-GNN's Beam sampler, in the encoder's input format.

Beyond one machine, neighbourhoods are sampled offline by TF-GNN's Beam
sampler (``tensorflow_gnn.experimental.sampler.beam.sampler``) over the
sharded graph that ``gfm build-graph`` writes (``GraphDir.sharded_dir``), on
Dataflow or any Beam runner. Its output, one ``tf.Example`` GraphTensor per
seed item with the seed first in its node set, becomes the same input the
in-memory path feeds the encoder: node sets with ``#id``, ``text_embedding``
and ``log_degree``, every edge set, no edge features.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from typing import Sequence

import tensorflow as tf
import tensorflow_gnn as tfgnn

from tfgnn_gfm.artifacts import GraphDir
from tfgnn_gfm.hgnn.graph_data import DEGREE_FEATURE, ID_FEATURE, TEXT_FEATURE

_MODEL_FEATURES = (ID_FEATURE, TEXT_FEATURE, DEGREE_FEATURE)


def sampling_spec(graph_dir: str | pathlib.Path, seed_node_set: str,
                  fanouts: Sequence[int]):
  """The SamplingSpec of the encoder's fanouts, rooted at ``seed_node_set``."""
  schema = tfgnn.read_schema(str(GraphDir(pathlib.Path(graph_dir))
                                 .sharded_schema_path))
  if seed_node_set not in schema.node_sets:
    raise ValueError(f"unknown node set {seed_node_set!r}; the graph has "
                     f"{sorted(schema.node_sets)}")
  return tfgnn.sampler.make_sampling_spec_tree(
      schema, seed_node_set, sample_sizes=[int(f) for f in fanouts])


def run_beam_sampler(graph_dir: str | pathlib.Path, seed_node_set: str,
                     fanouts: Sequence[int], output: str | pathlib.Path,
                     beam_args: Sequence[str] = ()) -> pathlib.Path:
  """Samples one subgraph per node of ``seed_node_set`` with TF-GNN's sampler.

  Args:
    graph_dir: a GraphDir written by ``gfm build-graph``.
    seed_node_set: the node set whose every node is a seed.
    fanouts: neighbours per hop and edge set (the encoder's training fanouts).
    output: the TFRecord file of sampled subgraphs to write.
    beam_args: Beam pipeline options (e.g. ``--runner=DataflowRunner ...``).

  Returns:
    The output path.
  """
  layout = GraphDir(pathlib.Path(graph_dir))
  output = pathlib.Path(output).absolute()
  output.parent.mkdir(parents=True, exist_ok=True)
  spec_path = output.parent / f"{output.name}.sampling_spec.pbtxt"
  spec_path.write_text(str(sampling_spec(graph_dir, seed_node_set, fanouts)))
  command = [sys.executable, "-m",
             "tensorflow_gnn.experimental.sampler.beam.sampler",
             "--graph_schema", str(layout.sharded_schema_path.absolute()),
             "--sampling_spec", str(spec_path),
             "--output_samples", str(output), *beam_args]
  result = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, "TF_USE_LEGACY_KERAS": "1"},
                          check=False)
  if result.returncode != 0:
    raise RuntimeError("TF-GNN's Beam sampler failed:\n" +
                       result.stderr[-4000:])
  return output


def to_model_input(graph: tfgnn.GraphTensor) -> tfgnn.GraphTensor:
  """Keeps what the encoder reads: node ``#id``/text/degree, bare edges."""
  node_sets = {
      name: tfgnn.NodeSet.from_fields(
          sizes=tf.cast(ns.sizes, tf.int64),
          features={k: ns[k] for k in _MODEL_FEATURES})
      for name, ns in graph.node_sets.items() if not name.startswith("_")}
  edge_sets = {
      name: tfgnn.EdgeSet.from_fields(
          sizes=tf.cast(es.sizes, tf.int64),
          adjacency=tfgnn.Adjacency.from_indices(
              source=(es.adjacency.source_name,
                      tf.cast(es.adjacency.source, tf.int64)),
              target=(es.adjacency.target_name,
                      tf.cast(es.adjacency.target, tf.int64))))
      for name, es in graph.edge_sets.items() if not name.startswith("_")}
  return tfgnn.GraphTensor.from_pieces(
      context=tfgnn.Context.from_fields(
          sizes=tf.cast(graph.context.sizes, tf.int64)),
      node_sets=node_sets, edge_sets=edge_sets)


def read_beam_samples(graph_dir: str | pathlib.Path,
                      samples: str | pathlib.Path,
                      batch_size: int = 128) -> tf.data.Dataset:
  """Batches of sampled subgraphs, merged to components, in model format.

  Args:
    graph_dir: the GraphDir the samples were drawn from (gives the schema).
    samples: TFRecord file(s) written by ``run_beam_sampler``.
    batch_size: subgraphs per element.

  Returns:
    A dataset of scalar GraphTensors with one component per seed (the seed is
    the first node of its node set in its component).
  """
  schema = tfgnn.read_schema(str(GraphDir(pathlib.Path(graph_dir))
                                 .sharded_schema_path))
  spec = tfgnn.create_graph_spec_from_schema_pb(schema, indices_dtype=tf.int64)
  files = tf.io.gfile.glob(str(samples))
  return (tf.data.TFRecordDataset(files)
          .batch(batch_size)
          .map(lambda x: tfgnn.parse_example(spec, x))
          .map(lambda g: to_model_input(g.merge_batch_to_components())))
