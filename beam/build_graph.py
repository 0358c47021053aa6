"""The Beam graph pipeline: catalog and logs -> heterogeneous item-item graph.

Run it as ``python -m beam.build_graph DATA --out DIR [options] [beam
options]`` or ``gfm build-graph`` (the same code). ``--help`` lists the
graph options; every other argument is a Beam pipeline option (``--runner``,
``--direct_num_workers``, ``--direct_running_mode=multi_processing``,
``--temp_location``, ``--setup_file``, ...; see
``tfgnn_gfm/pipelines/options.py``).

The pipeline (every element is a batch, see ``beam/elements.py``):

1. Read each table's files (a file or a glob of shards) and validate rows in
   chunks; bad rows go to the dead letters (``beam/read.py``).
2. Key checks by stable-hash shard: duplicate ids, then unknown parents and
   unknown items through the item catalog side input (``beam/validation.py``,
   ``beam/side_inputs.py``).
3. The cut (``--cut`` or midnight after the last interaction's day minus
   ``--holdout-days``) and the node index: valid root items published by the
   cut, one node set per item type; episodes roll up to their show.
4. Node text composed and encoded in batches by a DoFn that loads the text
   encoder once per worker (``beam/text_encoding.py``).
5. Co-interaction edges in the training window ``[cut - train_days, cut)``, with
   per-user item caps and per-node edge caps (``beam/edges.py``).
6. Writing: sharded node/edge files, the whole graph as one GraphTensor,
   vocabularies, dead letters, summary (``beam/graph_writer.py``); then this
   driver writes the GraphSchema (also into ``sharded/`` with each set's
   ``metadata.filename``), graph statistics (JSON and PNG) and the manifest.

A local output directory is written atomically (a temporary sibling renamed
into place on success); a remote one (``gs://...``) is written in place and
is complete once its ``manifest.json`` exists.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import pathlib
import shutil
import sys
import tempfile
import time
from typing import Any, Sequence

import apache_beam as beam

import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
from beam import edges as edges_lib
from beam import graph_writer, side_inputs, text_encoding, validation
from beam import read as read_lib
from beam.elements import DEAD_LETTERS, SUMMARY
from tfgnn_gfm.artifacts import DatasetDir, GraphDir, atomic_directory
from tfgnn_gfm.cli import build_graph_cmd as command_lib
from tfgnn_gfm.cli.errors import run_reporting_errors, setup_logging
from tfgnn_gfm.config import ConfigError, config_from_args, config_to_dict
from tfgnn_gfm.data import reader as reader_lib
from tfgnn_gfm.graph import schema as schema_lib
from tfgnn_gfm.graph import stats as stats_lib
from tfgnn_gfm.graph.config import GraphBuildConfig
from tfgnn_gfm.pipelines import options as options_lib
from tfgnn_gfm.pipelines import workers
from tfgnn_gfm.pipelines.counters import pipeline_counters
from tfgnn_gfm.timesplit import format_time

_LOG = logging.getLogger(__name__)
# File names only: the output root may be remote (a string), GraphDir local.
_NAMES = GraphDir(pathlib.Path("."))


@dataclasses.dataclass
class GraphInputs:
  """The matched input files of each table (sorted)."""

  items: list[str]
  interactions: list[str]
  users: list[str]

  def as_dict(self) -> dict[str, list[str]]:
    return dataclasses.asdict(self)


def resolve_inputs(data: str | os.PathLike | None, *,
                   items: str | None = None, interactions: str | None = None,
                   users: str | None = None) -> GraphInputs:
  """Finds the input files: a dataset folder and/or explicit files or globs.

  Args:
    data: a dataset folder with ``items.*``, ``interactions.*`` and optional
      ``users.*`` (``tfgnn_gfm.artifacts.DatasetDir``), or None.
    items: a file or glob overriding the folder's items table.
    interactions: same for interactions.
    users: same for users.

  Returns:
    The GraphInputs.

  Raises:
    tfgnn_gfm.artifacts.ArtifactError: a required table is missing.
    FileNotFoundError: a glob matches nothing.
  """
  layout = DatasetDir(pathlib.Path(data)) if data is not None else None

  def one(table: str, given: str | None, required: bool) -> list[str]:
    if given:
      return read_lib.match_files(given)
    if layout is None:
      if required:
        raise ConfigError(f"no {table} input: give DATA or --{table}")
      return []
    path = layout.table_path(table, required=required)
    return [str(path.absolute())] if path else []

  return GraphInputs(items=one("items", items, True),
                     interactions=one("interactions", interactions, True),
                     users=one("users", users, False))


def build_pipeline(pipeline: beam.Pipeline, inputs: GraphInputs,
                   config: GraphBuildConfig, root: str,
                   text_encoder: str) -> None:
  """Adds the whole graph pipeline to ``pipeline``.

  Args:
    pipeline: the Beam pipeline.
    inputs: the matched input files.
    config: the graph config (validated).
    root: the output directory the workers write into.
    text_encoder: a handle ``load_text_encoder`` loads on the workers (a
      resolved SavedModel path).
  """
  shards = config.num_shards
  chunk = config.read_chunk_rows
  dead, summaries = [], []

  def read(table: str, files: list[str]):
    out = pipeline | f"{table}/Read" >> read_lib.ReadTable(
        table, files, chunk, config.max_input_bytes)
    dead.append(out[DEAD_LETTERS])
    summaries.append(out[SUMMARY])
    return out.rows

  def dedup(table: str, rows, key: str):
    out = (rows
           | f"{table}/ShardBy_{key}" >> beam.FlatMap(
               validation.split_by_shard, key, shards)
           | f"{table}/GroupByShard" >> beam.GroupByKey()
           | f"{table}/Dedup" >> beam.ParDo(validation.DedupFn(table))
           .with_outputs(DEAD_LETTERS, main="rows"))
    dead.append(out[DEAD_LETTERS])
    return out.rows

  # Items: duplicates, catalog, unknown parents.
  items = dedup("items", read("items", inputs.items), "item_id")
  catalog = items | "Catalog" >> side_inputs.BuildItemCatalog()
  catalog_side = beam.pvalue.AsSingleton(catalog)
  checked = items | "items/CheckParents" >> beam.ParDo(
      validation.CheckParentsFn(), catalog=catalog_side).with_outputs(
          DEAD_LETTERS, SUMMARY, main="rows")
  dead.append(checked[DEAD_LETTERS])
  summaries.append(checked[SUMMARY])

  # Interactions: duplicates, unknown items, compaction; the cut.
  interactions = dedup("interactions",
                       read("interactions", inputs.interactions), "user_id")
  clean = interactions | "interactions/Clean" >> beam.ParDo(
      validation.CleanInteractionsFn(config.events),
      catalog=catalog_side).with_outputs(
          DEAD_LETTERS, SUMMARY, validation.MAX_TIMESTAMP, main="batches")
  dead.append(clean[DEAD_LETTERS])
  summaries.append(clean[SUMMARY])
  cut = clean[validation.MAX_TIMESTAMP] | "Cut" >> side_inputs.ResolveCut(
      config)
  node_index = catalog | "NodeIndex" >> side_inputs.IndexNodes(cut, shards)
  node_side = beam.pvalue.AsSingleton(node_index)
  summaries.append(catalog | "ItemFates" >> beam.Map(
      side_inputs.item_fates_summary, node_index=node_side))

  # Users: validated for the dead letters only (users are never nodes).
  if inputs.users:
    users = dedup("users", read("users", inputs.users), "user_id")
    summaries.append(users | "users/Count" >> beam.Map(
        validation.count_valid, "users"))

  # Edges.
  edges_out = clean.batches | "Edges" >> edges_lib.CoInteractionEdges(
      config, node_index, cut)
  edges = edges_out["edges"]
  summaries.append(edges_out["summary"])

  # Nodes: text, degree, shards.
  nodes = (checked.rows
           | "Nodes/Rows" >> beam.ParDo(text_encoding.NodeRowsFn(),
                                        catalog=catalog_side,
                                        node_index=node_side)
           | "Nodes/EncodeText" >> beam.ParDo(text_encoding.EncodeTextFn(
               text_encoder, config.text_batch_size)))
  degrees = edges | "Nodes/Degrees" >> beam.FlatMap(
      graph_writer.degrees_by_shard, node_index=node_side)
  written = ({"nodes": nodes, "degrees": degrees}
             | "Nodes/JoinDegrees" >> beam.CoGroupByKey()
             | "Nodes/Write" >> beam.ParDo(
                 graph_writer.WriteNodeShardFn(root, shards),
                 node_index=node_side).with_outputs(
                     SUMMARY, graph_writer.NODE_TABLE))
  summaries.append(written[SUMMARY])
  summaries.append(edges | "Edges/Write" >> beam.ParDo(
      graph_writer.WriteEdgeShardFn(root, shards), node_index=node_side))
  summaries.append(node_index | "Vocab/Write" >> beam.Map(
      graph_writer.write_vocab, root))
  if config.full_graph:
    summaries.append(
        pipeline
        | "FullGraph/Start" >> beam.Create([None])
        | "FullGraph/Write" >> beam.Map(
            graph_writer.write_full_graph,
            node_tables=beam.pvalue.AsList(written[graph_writer.NODE_TABLE]),
            edges=beam.pvalue.AsList(edges), node_index=node_side,
            root=root))

  # Dead letters and the run summary.
  summaries.append(
      tuple(dead)
      | "DeadLetters/Flatten" >> beam.Flatten()
      | "DeadLetters/Collect" >> beam.combiners.ToList()
      | "DeadLetters/Write" >> beam.Map(graph_writer.write_dead_letters,
                                        root))
  _ = (tuple(summaries)
       | "Summary/Flatten" >> beam.Flatten()
       | "Summary/Collect" >> beam.combiners.ToList()
       | "Summary/Write" >> beam.Map(graph_writer.write_summary,
                                     node_index=node_side, root=root))


def _read_text(path: str) -> str:
  import tensorflow as tf
  with tf.io.gfile.GFile(path, "r") as fh:
    return fh.read()


def _embedding_dim(summary: dict[str, Any], text_encoder: str) -> int:
  dims = summary.get("embedding_dims", {})
  if len(dims) > 1:
    raise ValueError(f"the text encoder returned several dimensions: {dims}")
  if dims:
    return int(next(iter(dims)))
  # No node at all: ask the encoder for its dimension.
  from tfgnn_gfm.text.encoder import encode_texts, load_text_encoder
  return int(encode_texts(load_text_encoder(text_encoder), ["x"]).shape[1])


def _finalize(root: str, local: pathlib.Path, config: GraphBuildConfig,
              summary: dict[str, Any], text_encoder: str) -> dict[str, Any]:
  """Writes schemas, missing empty shards and statistics; returns stats."""
  import tensorflow as tf
  node_sets = list(summary.get("node_sets", []))
  pair_of_name = {name: pair for pair, name in
                  schema_lib.edge_set_names(node_sets).items()}
  edge_counts = summary.get("edges", {})
  edge_sets = [(name, *pair_of_name[name]) for name in sorted(edge_counts)]
  dim = _embedding_dim(summary, text_encoder)
  schema = schema_lib.build_graph_schema(node_sets, edge_sets, dim)
  layout = GraphDir(local)
  layout.schema_path.write_text(schema_lib.schema_to_text(schema),
                                encoding="utf-8")
  shards = config.num_shards
  filenames = {name: GraphDir.sharded_filename("nodes", name, shards)
               for name in node_sets}
  filenames.update({name: GraphDir.sharded_filename("edges", name, shards)
                    for name, _, _ in edge_sets})
  cardinalities = dict(summary.get("nodes", {}))
  cardinalities.update(edge_counts)
  sharded = schema_lib.build_graph_schema(
      node_sets, edge_sets, dim, filenames=filenames,
      cardinalities=cardinalities)
  layout.sharded_schema_path.parent.mkdir(parents=True, exist_ok=True)
  layout.sharded_schema_path.write_text(schema_lib.schema_to_text(sharded),
                                        encoding="utf-8")
  # Shards without rows of a set were not written: make them empty files,
  # so every set has exactly num_shards files.
  for set_type, names in (("nodes", node_sets),
                          ("edges", [e[0] for e in edge_sets])):
    for name in names:
      for shard in range(shards):
        path = graph_writer.output_path(
            root, _NAMES.sharded_path(set_type, name, shard, shards))
        if not tf.io.gfile.exists(path):
          graph_writer.write_text(path, "")
  stats = stats_lib.graph_stats(summary)
  layout.stats_path.write_text(json.dumps(stats, indent=2, sort_keys=True)
                               + "\n", encoding="utf-8")
  stats_lib.plot_graph_stats(stats, layout.stats_plot_path)
  return stats


def _input_fingerprints(inputs: GraphInputs, text_encoder: str
                        ) -> tuple[dict[str, str], dict[str, Any]]:
  """Local inputs to fingerprint, and the remote ones to record as paths."""
  local, remote = {}, {}
  for table, files in inputs.as_dict().items():
    for i, path in enumerate(files):
      name = table if len(files) == 1 else f"{table}[{i}]"
      (remote if read_lib.is_remote(path) else local)[name] = path
  if read_lib.is_remote(text_encoder) or not os.path.exists(text_encoder):
    remote["text_encoder"] = text_encoder
  else:
    local["text_encoder"] = text_encoder
  return local, remote


def build_graph(data: str | os.PathLike | None, out: str | os.PathLike,
                config: GraphBuildConfig | None = None, *,
                items: str | None = None, interactions: str | None = None,
                users: str | None = None,
                beam_args: Sequence[str] = ()) -> dict[str, Any]:
  """Runs the graph pipeline and writes the graph stage's output directory.

  Args:
    data: a dataset folder (items, interactions, optional users), or None
      when every table is given explicitly.
    out: the output directory (``tfgnn_gfm.artifacts.GraphDir`` layout);
      local (written atomically) or remote (``gs://``, written in place).
    config: the graph config; defaults to ``GraphBuildConfig()``.
    items: a file or glob for the items table (overrides ``data``).
    interactions: same for interactions.
    users: same for users.
    beam_args: Beam pipeline options, e.g. ``["--direct_num_workers=2",
      "--direct_running_mode=multi_processing"]``.

  Returns:
    The run summary (``summary.json``) with ``graph_stats`` and ``seconds``
    added.

  Raises:
    ConfigError: a bad config value or an unknown Beam option.
    ValueError, FileNotFoundError: unusable inputs.
    RuntimeError: the pipeline failed.
  """
  from tfgnn_gfm.text.encoder import resolve_text_encoder
  start = time.perf_counter()
  # Beam logs every string annotation (from __future__ import annotations)
  # of every DoFn at INFO level when it builds the pipeline.
  logging.getLogger("apache_beam.typehints.native_type_compatibility"
                    ).setLevel(logging.WARNING)
  config = config or GraphBuildConfig()
  config.validate()
  options = options_lib.pipeline_options(beam_args)
  inputs = resolve_inputs(data, items=items, interactions=interactions,
                          users=users)
  for table, files in inputs.as_dict().items():
    read_lib.preflight(table, files, require_rows=table == "interactions",
                       max_bytes=config.max_input_bytes)
  text_encoder = resolve_text_encoder(config.text_encoder)
  out = str(out)
  remote = read_lib.is_remote(out)
  _LOG.info("build-graph: items %s, interactions %s, users %s -> %s",
            inputs.items, inputs.interactions, inputs.users or "-", out)
  with _OutputDirectory(out, remote) as target:
    local = pathlib.Path(tempfile.mkdtemp(prefix="gfm-graph-")) if remote \
        else target
    root = out.rstrip("/") if remote else str(target)
    try:
      pipeline_start = time.perf_counter()
      pipeline = beam.Pipeline(runner=options_lib.create_runner(options),
                               options=options)
      build_pipeline(pipeline, inputs, config, root, text_encoder)
      result = pipeline.run()
      state = result.wait_until_finish()
      if str(state) not in ("DONE", "PipelineState.DONE"):
        raise RuntimeError(f"the graph pipeline ended in state {state}")
      pipeline_seconds = time.perf_counter() - pipeline_start
      summary = json.loads(_read_text(graph_writer.output_path(
          root, _NAMES.summary_path)))
      try:
        _raise_input_errors(summary, config, inputs)
      except ValueError as e:
        kept = None if remote else _keep_rejected_rows(local, out)
        if kept is None:
          raise
        raise type(e)(f"{e} (the rejected rows: {kept})") from None
      stats = _finalize(root, local, config, summary, text_encoder)
      counters = pipeline_counters(result, read_lib.METRICS_NAMESPACE)
      processes = workers.worker_processes(result)
      fingerprinted, remote_inputs = _input_fingerprints(inputs, text_encoder)
      seconds = time.perf_counter() - start
      GraphDir(local).write_manifest(
          config=config_to_dict(config), cut=summary["cut"],
          text_encoder_path=text_encoder, input_files=inputs.as_dict(),
          inputs=fingerprinted,
          counts={"nodes": stats["nodes"], "edges": stats["edges"],
                  "num_nodes": stats["num_nodes"],
                  "num_edges": stats["num_edges"],
                  "tables": summary.get("tables", {}),
                  "dead_letters": summary.get("dead_letters", {}),
                  "interactions": summary.get("interactions", {}),
                  "pairs": summary.get("pairs", {}),
                  "edge_cap": summary.get("edge_cap", {})},
          metrics={"seconds": round(seconds, 3),
                   "pipeline_seconds": round(pipeline_seconds, 3),
                   "beam_counters": counters},
          extra={"beam": {"runner": options_lib.runner_name(options),
                          "args": list(beam_args),
                          "worker_processes": processes},
                 "remote_inputs": remote_inputs, "outputs": _NAMES.outputs()})
      if remote:
        _upload(local, root)
    finally:
      if remote:
        shutil.rmtree(local, ignore_errors=True)
  if not stats["num_nodes"]:
    _LOG.warning("the graph has no nodes: is the cut (%s) before every "
                 "item's publication?", format_time(summary["cut"]))
  elif not stats["num_edges"]:
    _LOG.warning("the graph has no edges: no user has two items in the "
                 "window of %d days before the cut (%s)", config.train_days,
                 format_time(summary["cut"]))
  summary["graph_stats"] = stats
  summary["train_days"] = config.train_days
  summary["seconds"] = round(time.perf_counter() - start, 3)
  summary["out"] = out
  return summary


def _raise_input_errors(summary: dict[str, Any], config: GraphBuildConfig,
                        inputs: GraphInputs) -> None:
  """Raises, on the driver, the input errors the workers only recorded.

  A worker's exception would reach the user as Beam's traceback (one per
  retry), so the pipeline runs to its end and its summary says what failed:
  two item types on one node set name (``side_inputs.SCHEMA_ERRORS``), a
  file that cannot be read (``read_lib.FILE_ERRORS``), interaction files
  without a data row (large ones, not parsed by the preflight), or no valid
  interaction to derive the default cut from.

  Raises:
    tfgnn_gfm.graph.schema.GraphSchemaError: item types collide.
    tfgnn_gfm.data.reader.DataContractError: a file cannot be read.
    tfgnn_gfm.data.reader.NoRowsError: the interactions have no data row.
    ValueError: no valid interaction and no ``--cut``.
  """
  schema_errors = sorted(summary.get(side_inputs.SCHEMA_ERRORS, {}))
  if schema_errors:
    raise schema_lib.GraphSchemaError(schema_errors[0])
  errors = sorted(summary.get(read_lib.FILE_ERRORS, {}))
  if errors:
    more = (f" (and {len(errors) - 1} more unreadable files)"
            if len(errors) > 1 else "")
    raise reader_lib.DataContractError(errors[0] + more)
  counts = summary.get("tables", {}).get("interactions", {})
  if not counts.get("rows_read", 0):
    raise read_lib.no_rows_error("interactions", inputs.interactions)
  if config.cut is None and not counts.get("valid", 0):
    raise ValueError(side_inputs.NO_VALID_INTERACTIONS)


def _keep_rejected_rows(stage_dir: pathlib.Path,
                        out: str) -> pathlib.Path | None:
  """Keeps a failed run's dead letters and summary in ``OUT.rejected/``.

  A run that stops on its inputs (no valid interaction, say) writes no
  graph, and ``OUT`` (perhaps an earlier good graph) stays as it was; the
  dead letters that explain the failure go beside it, replacing those of an
  earlier failed run.

  Returns:
    The folder, or None when the run rejected no row.
  """
  letters = GraphDir(stage_dir).dead_letter_path
  if not letters.exists() or not letters.stat().st_size:
    return None
  target = pathlib.Path(out + ".rejected")
  with atomic_directory(target) as tmp:
    names = GraphDir(tmp)
    shutil.copyfile(letters, names.dead_letter_path)
    shutil.copyfile(GraphDir(stage_dir).summary_path, names.summary_path)
  return target


class _OutputDirectory:
  """``atomic_directory(out)`` for local outputs; the URL itself for remote."""

  def __init__(self, out: str, remote: bool):
    self._out = out
    self._remote = remote
    self._atomic = None

  def __enter__(self) -> Any:
    if self._remote:
      import tensorflow as tf
      if tf.io.gfile.exists(self._out) and tf.io.gfile.listdir(self._out):
        raise ConfigError(f"remote output {self._out} is not empty; remote "
                          "outputs are written in place, give a new path")
      return self._out
    self._atomic = atomic_directory(self._out)
    return self._atomic.__enter__()

  def __exit__(self, *exc) -> Any:
    if self._atomic is not None:
      return self._atomic.__exit__(*exc)
    return False


def _upload(local: pathlib.Path, root: str) -> None:
  """Copies the driver's files to a remote output, the manifest last."""
  import tensorflow as tf
  files = sorted(p for p in local.rglob("*") if p.is_file())
  files.sort(key=lambda p: p.name == _NAMES.manifest_path.name)
  for path in files:
    if path.is_file():
      target = graph_writer.output_path(root, path.relative_to(local))
      tf.io.gfile.makedirs(target.rsplit("/", 1)[0])
      tf.io.gfile.copy(str(path), target, overwrite=True)


def format_summary(summary: dict[str, Any]) -> str:
  """Renders the run summary for the terminal."""
  stats = summary["graph_stats"]
  lines = [f"cut: {format_time(summary['cut'])}; edges from the "
           f"{summary.get('train_days', '?')} days before it"]
  lines.append(f"{'table':<14}{'rows':>12}{'valid':>12}  dead letters")
  dead = summary.get("dead_letters", {})
  for table, counts in sorted(summary.get("tables", {}).items()):
    reasons = ", ".join(f"{r}={n}" for r, n in sorted(
        dead.get(table, {}).items())) or "-"
    lines.append(f"{table:<14}{counts.get('rows_read', 0):>12,}"
                 f"{counts.get('valid', 0):>12,}  {reasons}")
  lines.extend(graph_writer.format_accounting(summary.get("accounting", {})))
  warning = graph_writer.window_warning(summary.get("interactions", {}))
  if warning:
    lines.append(warning)
  inter = summary.get("interactions", {})
  pairs = summary.get("pairs", {})
  lines.append(f"interactions in window: {inter.get('in_window', 0):,} "
               f"(without a node: {inter.get('in_window_without_node', 0):,});"
               f" users capped: {summary.get('users', {}).get('capped', 0):,};"
               f" user pairs: {pairs.get('user_pairs', 0):,}; distinct pairs:"
               f" {pairs.get('distinct', 0):,}")
  cap = summary.get("edge_cap", {})
  if cap:
    lines.append(f"edge cap removed {cap.get('edges_removed', 0):,} of "
                 f"{cap.get('edges_before', 0):,} undirected edges")
  lines.append("nodes: " + (", ".join(
      f"{k}={v:,}" for k, v in stats["nodes"].items()) or "none"))
  lines.append("edges (directed): " + (", ".join(
      f"{k}={v:,}" for k, v in stats["edges"].items()) or "none"))
  degree = stats["degree"]["all"]
  if degree["nodes"]:
    lines.append(f"degree: median {degree['median']}, mean {degree['mean']},"
                 f" max {degree['max']}, isolated nodes {degree['isolated']:,}")
  lines.append(f"output: {summary['out']} ({summary['seconds']:.1f}s)")
  return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
  """Builds the graph from parsed command-line arguments; prints the summary.

  Args:
    args: arguments parsed by a parser that
      ``tfgnn_gfm.cli.build_graph_cmd.configure_parser`` set up (``gfm
      build-graph`` or ``python -m beam.build_graph``).

  Returns:
    The exit code (0).

  Raises:
    ConfigError: if neither DATA nor both ``--items`` and ``--interactions``
      are given, or for an invalid option.
  """
  config = config_from_args(GraphBuildConfig, args)
  if args.data is None and not (args.items and args.interactions):
    raise ConfigError("give DATA (a dataset folder) or both --items and "
                      "--interactions")
  summary = build_graph(args.data, args.out, config, items=args.items,
                        interactions=args.interactions, users=args.users,
                        beam_args=args.beam_args)
  print(format_summary(summary))
  return 0


def main(argv: Sequence[str] | None = None) -> int:
  """``python -m beam.build_graph``: the same command as ``gfm build-graph``.

  Args:
    argv: the arguments (default: ``sys.argv[1:]``).

  Returns:
    The exit code: 0, or the error's ``exit_code`` (2 unless it says
    otherwise) for a known user error, printed as one line.
  """
  args = command_lib.standalone_parser().parse_args(argv)
  setup_logging(args.verbose)
  return run_reporting_errors("build-graph", lambda: run(args),
                              verbose=args.verbose)


if __name__ == "__main__":
  sys.exit(main())
