"""``gfm embed`` as a Beam job: the vectors computed on any Beam runner.

``gfm embed GRAPH --model HGNN --out OUT --full-graph --runner=...`` (any
Beam pipeline option selects this path) computes the same vectors as the
in-process ``gfm embed --full-graph`` with one Beam pipeline, then writes the
same ``EmbeddingsDir`` (``tfgnn_gfm/hgnn/embed_output.py``):

* graph nodes, in batches of ``batch_size`` roots of one node set: each
  worker's ``EmbedNodesFn`` loads, once in ``setup()``, the graph and the
  HGNN inference SavedModel (``HGNNDir.export_dir``), builds every root's
  exact receptive field (``tfgnn_gfm/hgnn/receptive_field.py``) and runs the
  export's ``serving_default`` signature on them;
* items outside the graph, in batches of ``text_batch_size``: each worker's
  ``EmbedOutsideFn`` loads the graph's text encoder and the inference export
  once, encodes the items' text and embeds the inductive ones (known type, no
  parent) as isolated nodes.

Workers write their results as ``.npz`` parts under the output's temporary
directory; the driver assembles them, removes the parts and renames the
directory into place (``atomic_directory``). Nothing is passed through the
driver's memory to the workers but the batches: workers read the graph, the
export and the text encoder from their paths, so those paths (and the
output's parent) must be readable and writable by every worker (a shared
file system, or ``gs://`` paths the workers can reach).

Sampled inference (without ``--full-graph``) draws neighbours with a stateful
random stream shared by all batches of one process; a distributed job cannot
reproduce it, so the Beam job embeds with whole neighbourhoods only.
"""

from __future__ import annotations

import io
import logging
import pathlib
import tempfile
import time
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from tfgnn_gfm.artifacts import HGNNDir
from tfgnn_gfm.config import ConfigError
from tfgnn_gfm.hgnn.config import EmbedConfig
from tfgnn_gfm.hgnn.embed_output import ComputedVectors, EmbedPlan
from tfgnn_gfm.pipelines import options as options_lib
from tfgnn_gfm.pipelines import workers

_LOG = logging.getLogger(__name__)
_SERVING = "serving_default"


def check_config(config: EmbedConfig, beam_args: Sequence[str]) -> None:
  """Raises ConfigError unless the Beam job can run with these settings.

  Args:
    config: the embedding settings (``full_graph`` must be set).
    beam_args: Beam pipeline options, checked strictly.
  """
  if not config.full_graph:
    raise ConfigError(
        "gfm embed as a Beam job (Beam options given) embeds graph nodes "
        "with their whole neighbourhood: add --full-graph (sampled inference "
        "runs in process only)")
  options_lib.pipeline_options(list(beam_args))


def _load_export(path: str):
  """The inference export's ``serving_default`` (kept alive with its model)."""
  import tfgnn_gfm  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow)
  # isort: split
  import tensorflow as tf

  model = tf.saved_model.load(path)
  return model, model.signatures[_SERVING]


def _write_part(parts_dir: str, name: str, **arrays: np.ndarray) -> None:
  """Writes one worker result as ``<parts_dir>/<name>.npz``."""
  import tensorflow as tf
  buffer = io.BytesIO()
  np.savez(buffer, **arrays)
  with tf.io.gfile.GFile(f"{parts_dir}/{name}.npz", "wb") as fh:
    fh.write(buffer.getvalue())


def _make_dofns():
  """The DoFns (built lazily: Beam is imported only when used)."""
  import apache_beam as beam

  class EmbedNodesFn(beam.DoFn):
    """``(node set, start, stop)`` -> a part with those nodes' vectors."""

    def __init__(self, graph_dir: str, export_dir: str, num_layers: int,
                 parts_dir: str):
      super().__init__()
      self._graph_dir = graph_dir
      self._export_dir = export_dir
      self._num_layers = int(num_layers)
      self._parts_dir = parts_dir

    def setup(self) -> None:
      from tfgnn_gfm.hgnn.graph_data import load_item_graph
      from tfgnn_gfm.hgnn.receptive_field import ReceptiveFields
      start = time.perf_counter()
      self._graph = load_item_graph(self._graph_dir)
      self._fields = ReceptiveFields(self._graph, self._num_layers)
      self._model, self._serve = _load_export(self._export_dir)
      _LOG.info("embed worker: graph and export loaded in %.1fs",
                time.perf_counter() - start)

    def process(self, element: tuple[str, int, int]) -> Iterator[str]:
      import tensorflow as tf
      node_set, start, stop = element
      roots = np.arange(start, stop, dtype=np.int64)
      examples, positions = self._fields.examples(node_set, roots)
      out = self._serve(examples=tf.constant(examples))
      ids = out[f"{node_set}_ids"].numpy()[positions].astype(str)
      expected = np.asarray(self._graph.node_ids[node_set])[roots]
      if not (ids == expected.astype(str)).all():
        raise RuntimeError(f"roots of {node_set} {start}..{stop} are not "
                           "the first nodes of their components")
      vectors = out[f"{node_set}_embeddings"].numpy()[positions]
      name = f"nodes-{node_set}-{start:012d}"
      _write_part(self._parts_dir, name, vectors=vectors.astype(np.float32))
      workers.count_elements(len(roots))
      yield name

  class EmbedOutsideFn(beam.DoFn):
    """``(first, items, node sets)`` -> a part with text and inductive
    vectors of items outside the graph (``first``: their position in
    ``plan.outside``; node set ``""``: text only)."""

    def __init__(self, text_encoder: str, export_dir: str, schema_path: str,
                 text_batch_size: int, parts_dir: str):
      super().__init__()
      self._text_encoder = text_encoder
      self._export_dir = export_dir
      self._schema_path = schema_path
      self._text_batch_size = int(text_batch_size)
      self._parts_dir = parts_dir

    def setup(self) -> None:
      import tensorflow as tf
      import tensorflow_gnn as tfgnn

      from tfgnn_gfm.text.encoder import load_text_encoder
      self._layer = load_text_encoder(self._text_encoder)
      self._model, self._serve = _load_export(self._export_dir)
      self._spec = tfgnn.create_graph_spec_from_schema_pb(
          tfgnn.read_schema(self._schema_path), indices_dtype=tf.int64)

    def process(self, element: tuple[int, pd.DataFrame, np.ndarray]
                ) -> Iterator[str]:
      import tensorflow as tf
      import tensorflow_gnn as tfgnn

      from tfgnn_gfm.hgnn.embedding import isolated_items_graph
      from tfgnn_gfm.text.encoder import encode_texts
      from tfgnn_gfm.text.item_text import compose_item_texts
      first, frame, node_sets = element
      text = encode_texts(self._layer, compose_item_texts(frame).tolist(),
                          self._text_batch_size).astype(np.float32)
      arrays = {"text": text}
      for name in sorted(set(node_sets) - {""}):
        mask = node_sets == name
        # One example (one component) per item: the export's input schema.
        examples = [tfgnn.write_example(isolated_items_graph(
            self._spec, name, vector[None])).SerializeToString()
                    for vector in text[mask]]
        out = self._serve(examples=tf.constant(examples))
        arrays[f"inductive/{name}"] = out[f"{name}_embeddings"].numpy()
      name = f"outside-{first:012d}"
      _write_part(self._parts_dir, name, **arrays)
      workers.count_elements(len(frame))
      yield name

  return beam, EmbedNodesFn, EmbedOutsideFn


def _read_parts(parts_dir: pathlib.Path) -> dict[str, dict[str, np.ndarray]]:
  out = {}
  for path in sorted(parts_dir.glob("*.npz")):
    with np.load(path, allow_pickle=False) as data:
      out[path.stem] = {k: data[k] for k in data.files}
  return out


def compute_with_beam(graph_dir: str | pathlib.Path, hgnn_layout: HGNNDir,
                      plan: EmbedPlan, text_encoder: str, config: EmbedConfig,
                      *, num_layers: int, beam_args: Sequence[str],
                      work_dir: str | pathlib.Path | None = None
                      ) -> ComputedVectors:
  """Runs the Beam job and returns the plan's vectors.

  Args:
    graph_dir: the GraphDir (workers load it).
    hgnn_layout: the HGNN output (workers load its inference export).
    plan: the items' plan (``embed_output.plan_items``).
    text_encoder: the graph's text encoder (a path the workers read).
    config: embedding settings (``batch_size`` roots per node batch,
      ``text_batch_size`` items per outside batch).
    num_layers: the encoder's layers (receptive field hops).
    beam_args: Beam pipeline options (``--runner=...``).
    work_dir: the folder in which a temporary directory receives the
      workers' parts (removed afterwards; default: the HGNN output's
      parent); must be shared with the workers.

  Returns:
    The vectors, with ``beam`` set to the job's summary.
  """
  import shutil

  from tfgnn_gfm.hgnn.graph_data import load_item_graph
  options = options_lib.pipeline_options(list(beam_args))
  beam, embed_nodes_fn, embed_outside_fn = _make_dofns()
  graph = load_item_graph(graph_dir)
  if work_dir is not None:
    pathlib.Path(work_dir).mkdir(parents=True, exist_ok=True)
  parts = pathlib.Path(tempfile.mkdtemp(
      prefix=".gfm-embed-parts-",
      dir=str(work_dir or pathlib.Path(hgnn_layout.root).absolute().parent)))
  try:
    node_batches = [(name, start, min(graph.num_nodes(name),
                                      start + config.batch_size))
                    for name in graph.node_sets
                    for start in range(0, graph.num_nodes(name),
                                       config.batch_size)]
    # Per item outside the graph: the node set it is embedded in, or "" for
    # text only (episodes take their show's vector, unknown types none).
    outside = plan.outside
    inductive_set = np.where(plan.source[outside] == "inductive",
                             plan.node_sets[outside], "").astype(str)
    step = config.text_batch_size
    outside_batches = [
        (start, plan.items.iloc[outside[start:start + step]]
         .reset_index(drop=True), inductive_set[start:start + step])
        for start in range(0, len(outside), step)]
    pipeline = beam.Pipeline(runner=options_lib.create_runner(options),
                             options=options)
    _ = (pipeline
         | "Nodes/Create" >> beam.Create(node_batches)
         | "Nodes/Spread" >> beam.Reshuffle()
         | "Nodes/Embed" >> beam.ParDo(embed_nodes_fn(
             str(pathlib.Path(graph_dir).absolute()),
             str(hgnn_layout.export_dir.absolute()), num_layers, str(parts))))
    if outside_batches:
      _ = (pipeline
           | "Outside/Create" >> beam.Create(outside_batches)
           | "Outside/Spread" >> beam.Reshuffle()
           | "Outside/Embed" >> beam.ParDo(embed_outside_fn(
               text_encoder, str(hgnn_layout.export_dir.absolute()),
               str(hgnn_layout.schema_path.absolute()),
               config.text_batch_size, str(parts))))
    start = time.perf_counter()
    result = pipeline.run()
    state = result.wait_until_finish()
    if str(state) not in ("DONE", "PipelineState.DONE"):
      raise RuntimeError(f"the embed pipeline ended in state {state}")
    seconds = time.perf_counter() - start
    written = _read_parts(parts)
  finally:
    shutil.rmtree(parts, ignore_errors=True)
  node_vectors = {}
  for name in graph.node_sets:
    chunks = [written[f"nodes-{name}-{s:012d}"]["vectors"]
              for n, s, _ in node_batches if n == name]
    node_vectors[name] = np.concatenate(chunks)
  outside_text = np.zeros((len(plan.outside), graph.text_dim), np.float32)
  inductive = {name: [] for name in plan.inductive}
  for first, _, _ in outside_batches:
    part = written[f"outside-{first:012d}"]
    outside_text[first:first + len(part["text"])] = part["text"]
    for name in inductive:
      if f"inductive/{name}" in part:
        inductive[name].append(part[f"inductive/{name}"])
  inductive_vectors = {name: np.concatenate(chunks)
                       for name, chunks in inductive.items()}
  summary = {"runner": options_lib.runner_name(options),
             "args": list(beam_args),
             "node_batches": len(node_batches),
             "outside_batches": len(outside_batches),
             "worker_processes": workers.worker_processes(result),
             "pipeline_seconds": round(seconds, 2)}
  _LOG.info("embed: Beam job done in %.1fs on the %s (%d node batches, %d "
            "outside batches)", seconds, summary["runner"], len(node_batches),
            len(outside_batches))
  return ComputedVectors(node_vectors, outside_text, inductive_vectors,
                         beam=summary)
