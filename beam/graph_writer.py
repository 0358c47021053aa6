"""Writing the graph: sharded node/edge files, the whole GraphTensor, the rest.

Every writer is a DoFn that writes files named by ``tfgnn_gfm.artifacts.
GraphDir`` under the output root (a local directory or any file system
TensorFlow's ``tf.io.gfile`` knows). Each file's content is a deterministic
function of its element (rows sorted by item id), so a retried bundle
rewrites the same bytes and a rerun on the same input gives identical files.

* ``sharded/``: TF-GNN's unigraph format for ``tensorflow_gnn.experimental.
  sampler.beam.sampler`` at scale. Per node set, shard files
  ``nodes-<set>.tfrecord-SSSSS-of-NNNNN`` of tf.Examples with ``#id`` and the
  node features (one shard per item shard); per edge set
  ``edges-<set>.tfrecord-SSSSS-of-NNNNN`` with ``#source``, ``#target`` (item
  ids) and the edge features (one shard per pair shard). The schema copy with
  ``metadata.filename`` entries is written by the driver
  (``beam/build_graph.py``) once the edge sets are known.
* ``graph.tfrecord``: the whole graph as one GraphTensor (one tf.Example,
  ``tfgnn.write_example``), for in-memory training.
* ``vocab/<set>.txt``: item ids in node order; ``dead_letter.jsonl``;
  ``summary.json`` (merged counts of the run).
"""

from __future__ import annotations

import json
import logging
import pathlib
from typing import Any, Iterable, Iterator, Mapping

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from beam.elements import METRICS_NAMESPACE, SUMMARY, Degrees
from tfgnn_gfm.artifacts import TABLES, GraphDir
from tfgnn_gfm.graph import example_codec
from tfgnn_gfm.graph import pairs as pairs_lib
from tfgnn_gfm.graph import schema as schema_lib
from tfgnn_gfm.graph.nodes import NodeIndex

NODE_TABLE = "node_table"
_LOG = logging.getLogger(__name__)
# Names of the output files relative to the root (never spelled here).
_NAMES = GraphDir(pathlib.Path("."))


def output_path(root: str, relative: pathlib.Path | str) -> str:
  """Joins a GraphDir-relative name onto a local or remote output root."""
  relative = pathlib.PurePath(relative).as_posix()
  return root.rstrip("/") + "/" + relative


def _write_records(path: str, records: Iterable[bytes]) -> int:
  import tensorflow as tf
  tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
  count = 0
  with tf.io.TFRecordWriter(path) as writer:
    for record in records:
      writer.write(record)
      count += 1
  return count


def write_text(path: str, text: str) -> None:
  """Writes a UTF-8 text file on a local or remote file system."""
  import tensorflow as tf
  tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
  with tf.io.gfile.GFile(path, "w") as fh:
    fh.write(text)


def merge_summaries(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
  """Merges summary dicts by summing numbers key by key (order-free)."""
  out: dict[str, Any] = {}
  for part in parts:
    for key, value in part.items():
      if isinstance(value, Mapping):
        out[key] = merge_summaries([out.get(key, {}), value])
      else:
        out[key] = out.get(key, 0) + value
  return {k: out[k] for k in sorted(out)}


def _degree_histogram(degree: np.ndarray) -> dict[str, int]:
  values, counts = np.unique(degree, return_counts=True)
  return {str(int(v)): int(c) for v, c in zip(values, counts)}


def degrees_by_shard(element: tuple[int, pairs_lib.PairStats],
                     node_index: NodeIndex) -> Iterator[tuple[int, Degrees]]:
  """Counts the edges of a pair shard per endpoint, keyed by item shard."""
  _, stats = element
  a, b = pairs_lib.split_key(stats.key, node_index.num_nodes)
  nodes, counts = np.unique(np.concatenate([a, b]), return_counts=True)
  shards = node_index.shard[nodes]
  for s in np.unique(shards):
    m = shards == s
    yield int(s), Degrees(nodes[m], counts[m].astype(np.int64))


class WriteNodeShardFn(beam.DoFn):
  """Writes one item shard's nodes, per node set, to ``sharded/``.

  Input ``(item shard, {"nodes": [NodeRows], "degrees": [Degrees]})``, side
  input the NodeIndex. Outputs: ``node_table`` dicts of arrays (for the
  whole-graph GraphTensor) and ``summary`` counts (nodes per set, degree
  histogram per set, embedding dimension).
  """

  def __init__(self, root: str, num_shards: int):
    super().__init__()
    self._layout_root = root
    self._num_shards = int(num_shards)
    self._nodes = Metrics.counter(METRICS_NAMESPACE, "nodes_written")

  def process(self, element: tuple[int, Mapping[str, Iterable[Any]]],
              node_index: NodeIndex) -> Iterator[Any]:
    shard, grouped = element
    rows = [r for r in grouped["nodes"] if len(r)]
    if not rows:
      return
    node = np.concatenate([r.node for r in rows])
    order = np.argsort(node, kind="stable")
    node = node[order]
    embedding = np.concatenate([r.embedding for r in rows])[order]
    language = np.concatenate([r.language for r in rows])[order]
    genres = np.concatenate([r.genres for r in rows])[order]
    degree = np.zeros(len(node), np.int64)
    for part in grouped["degrees"]:
      np.add.at(degree, np.searchsorted(node, part.node), part.degree)
    log_degree = np.log1p(degree).astype(np.float32)[:, None]
    set_code = node_index.node_set[node]
    summary = {"nodes": {}, "degree_histogram": {},
               "embedding_dims": {str(embedding.shape[1]): len(node)}}
    for code in np.unique(set_code):
      name = node_index.set_names[code]
      m = set_code == code
      records = example_codec.serialize_examples({
          schema_lib.ID_FEATURE: node_index.node_id[node[m]],
          schema_lib.TEXT_EMBEDDING: embedding[m],
          schema_lib.LOG_DEGREE: log_degree[m],
          schema_lib.LANGUAGE: language[m],
          schema_lib.GENRES: genres[m]})
      path = output_path(self._layout_root, _NAMES.sharded_path(
          "nodes", name, shard, self._num_shards))
      _write_records(path, records)
      summary["nodes"][name] = int(m.sum())
      summary["degree_histogram"][name] = _degree_histogram(degree[m])
    self._nodes.inc(len(node))
    yield beam.pvalue.TaggedOutput(SUMMARY, summary)
    yield beam.pvalue.TaggedOutput(NODE_TABLE, {
        "node": node, "embedding": embedding, "log_degree": log_degree,
        "language": language, "genres": genres})


def directed_edges(stats: pairs_lib.PairStats, node_index: NodeIndex
                   ) -> dict[str, dict[str, np.ndarray]]:
  """Both directions of undirected edges, split by edge set.

  Returns:
    edge set name -> {"source", "target" (global node indices, sorted by
    source then target), "co_users", "first_day", "last_day"}.
  """
  a, b = pairs_lib.split_key(stats.key, node_index.num_nodes)
  source = np.concatenate([a, b])
  target = np.concatenate([b, a])
  columns = {"co_users": np.concatenate([stats.co_users, stats.co_users]),
             "first_day": np.concatenate([stats.first_day, stats.first_day]),
             "last_day": np.concatenate([stats.last_day, stats.last_day])}
  order = np.lexsort((target, source))
  source, target = source[order], target[order]
  columns = {k: v[order] for k, v in columns.items()}
  src_set = node_index.node_set[source]
  tgt_set = node_index.node_set[target]
  pair_code = src_set * max(len(node_index.set_names), 1) + tgt_set
  out = {}
  for code in np.unique(pair_code):
    m = pair_code == code
    name = schema_lib.edge_set_name(node_index.set_names[src_set[m][0]],
                                    node_index.set_names[tgt_set[m][0]])
    out[name] = {"source": source[m], "target": target[m],
                 **{k: v[m] for k, v in columns.items()}}
  return out


class WriteEdgeShardFn(beam.DoFn):
  """Writes one pair shard's edges (both directions) per edge set.

  Input ``(pair shard, PairStats)``, side input the NodeIndex; output
  ``summary`` counts of directed edges per edge set.
  """

  def __init__(self, root: str, num_shards: int):
    super().__init__()
    self._root = root
    self._num_shards = int(num_shards)
    self._edges = Metrics.counter(METRICS_NAMESPACE, "edges_written")

  def process(self, element: tuple[int, pairs_lib.PairStats],
              node_index: NodeIndex) -> Iterator[Any]:
    shard, stats = element
    counts = {}
    for name, edges in directed_edges(stats, node_index).items():
      records = example_codec.serialize_examples({
          "#source": node_index.node_id[edges["source"]],
          "#target": node_index.node_id[edges["target"]],
          schema_lib.CO_USERS: edges["co_users"].astype(np.float32),
          schema_lib.FIRST_DAY: edges["first_day"].astype(np.int64),
          schema_lib.LAST_DAY: edges["last_day"].astype(np.int64)})
      path = output_path(self._root, _NAMES.sharded_path(
          "edges", name, shard, self._num_shards))
      counts[name] = _write_records(path, records)
    self._edges.inc(sum(counts.values()))
    _LOG.info("pair shard %d: wrote %s directed edges", shard,
              f"{sum(counts.values()):,}")
    yield {"edges": counts}


def write_vocab(node_index: NodeIndex, root: str) -> dict[str, Any]:
  """Writes ``vocab/<set>.txt`` (item ids in node order); returns a summary."""
  for code, name in enumerate(node_index.set_names):
    ids = node_index.set_ids(code)
    write_text(output_path(root, _NAMES.vocab_path(name)),
               "".join(f"{i}\n" for i in ids))
  return {}


def write_full_graph(_, node_tables: list[dict[str, np.ndarray]],
                     edges: list[tuple[int, pairs_lib.PairStats]],
                     node_index: NodeIndex, root: str) -> dict[str, Any]:
  """Builds the whole graph as one GraphTensor and writes ``graph.tfrecord``."""
  import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
  # isort: split
  import tensorflow as tf
  import tensorflow_gnn as tfgnn

  n = node_index.num_nodes
  dim = max([t["embedding"].shape[1] for t in node_tables] or [0])
  embedding = np.zeros((n, dim), np.float32)
  log_degree = np.zeros((n, 1), np.float32)
  language = np.full(n, "", dtype=object)
  genres = np.full(n, "", dtype=object)
  for t in node_tables:
    embedding[t["node"]] = t["embedding"]
    log_degree[t["node"]] = t["log_degree"]
    language[t["node"]] = t["language"]
    genres[t["node"]] = t["genres"]
  node_sets = {}
  for code, name in enumerate(node_index.set_names):
    m = node_index.node_set == code
    node_sets[name] = tfgnn.NodeSet.from_fields(
        sizes=tf.constant([int(m.sum())]),
        features={
            schema_lib.ID_FEATURE: tf.constant(node_index.node_id[m].astype(
                str)),
            schema_lib.TEXT_EMBEDDING: tf.constant(embedding[m]),
            schema_lib.LOG_DEGREE: tf.constant(log_degree[m]),
            schema_lib.LANGUAGE: tf.constant(language[m].astype(str)),
            schema_lib.GENRES: tf.constant(genres[m].astype(str))})
  stats = pairs_lib.concat_pairs([s for _, s in edges])
  order = np.argsort(stats.key, kind="stable")
  edge_sets = {}
  for name, e in sorted(directed_edges(stats.take(order), node_index).items()):
    src_set = node_index.set_names[node_index.node_set[e["source"][0]]]
    tgt_set = node_index.set_names[node_index.node_set[e["target"][0]]]
    edge_sets[name] = tfgnn.EdgeSet.from_fields(
        sizes=tf.constant([len(e["source"])]),
        adjacency=tfgnn.Adjacency.from_indices(
            source=(src_set, tf.constant(
                node_index.local_index[e["source"]], tf.int64)),
            target=(tgt_set, tf.constant(
                node_index.local_index[e["target"]], tf.int64))),
        features={
            schema_lib.CO_USERS: tf.constant(
                e["co_users"].astype(np.float32)),
            schema_lib.FIRST_DAY: tf.constant(e["first_day"], tf.int64),
            schema_lib.LAST_DAY: tf.constant(e["last_day"], tf.int64)})
  graph = tfgnn.GraphTensor.from_pieces(node_sets=node_sets,
                                        edge_sets=edge_sets)
  serialized = tfgnn.write_example(graph).SerializeToString(deterministic=True)
  if len(serialized) >= 2**31 - 1:
    raise ValueError(
        f"the whole graph serializes to {len(serialized):,} bytes, beyond "
        "the 2 GiB of one tf.Example; rerun with --no-full-graph and use "
        "the sharded/ output")
  _write_records(output_path(root, _NAMES.full_graph_path), [serialized])
  _LOG.info("whole graph: %s nodes, %s bytes", f"{n:,}",
            f"{len(serialized):,}")
  return {"full_graph_bytes": len(serialized)}


def _dead_letter_sort_key(letter: Mapping[str, Any]) -> tuple[Any, ...]:
  table = letter["table"]
  rank = TABLES.index(table) if table in TABLES else len(TABLES)
  return (rank, str(letter["file"]), int(letter["line"]), letter["reason"],
          str(letter["message"]))


def write_dead_letters(letters: list[dict[str, Any]],
                       root: str) -> dict[str, Any]:
  """Writes ``dead_letter.jsonl`` sorted by table, file and line."""
  letters = sorted(letters, key=_dead_letter_sort_key)
  write_text(output_path(root, _NAMES.dead_letter_path), "".join(
      json.dumps(d, ensure_ascii=False, default=str) + "\n" for d in letters))
  counts: dict[str, dict[str, int]] = {}
  for d in letters:
    table = counts.setdefault(d["table"], {})
    table[d["reason"]] = table.get(d["reason"], 0) + 1
  return {"dead_letters": counts}


def accounting(summary: Mapping[str, Any]) -> dict[str, Any]:
  """Where every input row went: for items, nodes or why not; for
  interactions, item pairs or why not; for pairs, edges or why not.

  Within each table the counts add up: ``rows_read == nodes +
  sum(not_nodes)`` and ``rows_read == in_pairs + sum(not_in_pairs)``, dead
  letters included by reason (``dead_letter.<reason>``). An interaction "in
  pairs" belongs to a user with two or more (capped) items in the window; the
  pairs it formed become edges unless ``pairs.not_edges`` says otherwise.

  Args:
    summary: the merged summary parts (tables, dead letters, item fates,
      interactions, pairs, edge cap).

  Returns:
    The ``accounting`` section of ``summary.json``.
  """
  tables = summary.get("tables", {})
  dead = summary.get("dead_letters", {})
  fates = summary.get("item_fates", {})
  inter = summary.get("interactions", {})
  pairs = summary.get("pairs", {})

  def rejected(table: str) -> dict[str, int]:
    return {f"dead_letter.{reason}": int(n)
            for reason, n in sorted(dead.get(table, {}).items())}

  valid = int(tables.get("interactions", {}).get("valid", 0))
  distinct = int(pairs.get("distinct", 0))
  below = int(pairs.get("below_min_co_users", 0))
  removed = int(summary.get("edge_cap", {}).get("edges_removed", 0))
  return {
      "items": {
          "rows_read": int(tables.get("items", {}).get("rows_read", 0)),
          "nodes": int(fates.get("nodes", 0)),
          "not_nodes": {
              "rolled_up_into_parent": int(
                  fates.get("rolled_up_into_parent", 0)),
              "published_after_cut": int(fates.get("published_after_cut", 0)),
              **rejected("items")}},
      "interactions": {
          "rows_read": int(tables.get("interactions", {}).get("rows_read",
                                                              0)),
          "in_pairs": int(inter.get("in_pairs", 0)),
          "not_in_pairs": {
              "event_not_counted": valid - int(inter.get("counted_events", 0)),
              "before_window": int(inter.get("before_window", 0)),
              "at_or_after_cut": int(inter.get("at_or_after_cut", 0)),
              "item_without_node": int(inter.get("in_window_without_node", 0)),
              "dropped_by_user_cap": int(inter.get("dropped_by_user_cap", 0)),
              "user_with_one_item": int(inter.get("user_with_one_item", 0)),
              **rejected("interactions")}},
      "pairs": {
          "distinct": distinct,
          "undirected_edges": distinct - below - removed,
          "not_edges": {"below_min_co_users": below,
                        "removed_by_edge_cap": removed}},
  }


def format_accounting(section: Mapping[str, Any]) -> list[str]:
  """Terminal lines for the ``accounting`` section: what was not used, why."""
  lines = []
  for table, used, unused in (("items", "nodes", "not_nodes"),
                              ("interactions", "in_pairs", "not_in_pairs"),
                              ("pairs", "undirected_edges", "not_edges")):
    counts = section.get(table)
    if not counts:
      continue
    reasons = ", ".join(f"{k}={v:,}" for k, v in counts[unused].items() if v)
    total = counts.get("rows_read", counts.get("distinct", 0))
    lines.append(f"{table}: {total:,} -> {used} {counts[used]:,}; the rest: "
                 f"{reasons or 'none'}")
  return lines


def window_warning(interactions: Mapping[str, int],
                   most_share: float = 0.5) -> str | None:
  """A warning when most interactions are at or after the graph's cut.

  The default cut (the last interaction's day minus --holdout-days) suits
  logs with real times, where the hold-out is a small tail. On data whose
  times are only an order (every user's last item on one day, as in review
  sequences with pseudo-times) most interactions fall at or after that cut,
  and the graph silently keeps a small part of the data. (Interactions
  before the window are a choice of --train-days and get no warning.)

  Args:
    interactions: the summary's ``interactions`` section (counted events
      in, before and at or after the window).
    most_share: warn from this share at or after the cut.

  Returns:
    The warning line, or None.
  """
  after = int(interactions.get("at_or_after_cut", 0))
  in_window = int(interactions.get("in_window", 0))
  counted = in_window + after + int(interactions.get("before_window", 0))
  if counted <= 0 or after < most_share * counted:
    return None
  return (f"warning: {after / counted:.0%} of the {counted:,} counted "
          f"interactions are at or after the cut (only "
          f"{in_window / counted:.0%} are in the window): set --cut to the "
          f"start of your hold-out, and --train-days to the history to "
          f"learn from")


def write_summary(parts: list[dict[str, Any]], node_index: NodeIndex,
                  root: str) -> dict[str, Any]:
  """Merges the summary parts, adds the cut, sets and the accounting, and
  writes summary.json."""
  summary = merge_summaries(parts)
  summary["accounting"] = accounting(summary)
  summary["cut"] = int(node_index.cut)
  summary["node_sets"] = list(node_index.set_names)
  summary["item_types"] = {t: s for t, s in sorted(
      node_index.set_of_type.items())}
  summary["num_nodes"] = int(node_index.num_nodes)
  write_text(output_path(root, _NAMES.summary_path),
             json.dumps(summary, indent=2, sort_keys=True) + "\n")
  return summary
