"""The item-item graph's TF-GNN GraphSchema: set names, features, shards.

Node sets: one per item type whose items are not rolled up (an item with a
``parent_id``, e.g. an episode, counts as its show and is not a node). The set
name is the sanitized item type (lowercase ``[a-z0-9_]``). Node features:

* ``#id`` (string): the item id. TF-GNN's Beam sampler needs it declared, or
  its samples carry no ids (docs/DESIGN.md section 7.2).
* ``text_embedding`` (float32 ``[D]``): the text encoder's vector of the
  item's composed text; ``D`` comes from the encoder.
* ``log_degree`` (float32 ``[1]``): ``log1p`` of the node's degree summed over
  all edge sets (the number of its neighbours).
* ``language``, ``genres`` (string): item metadata (genres ``;``-joined).

Edge sets: ``<source>_to_<target>`` for each ordered pair of node sets with at
least one edge. Every undirected co-interaction edge is stored in both
directions (a same-type set holds (a, b) and (b, a)). Edge features:

* ``co_users`` (float32): distinct users who interacted with both items in the
  window;
* ``first_day``, ``last_day`` (int64, days since the Unix epoch): per user the
  co-interaction day is the later of the user's first interactions with the two
  items in the window; first/last day are the min/max over users.

The documented template is ``schemas/graph_schema.template.pbtxt``.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Sequence

ID_FEATURE = "#id"
TEXT_EMBEDDING = "text_embedding"
LOG_DEGREE = "log_degree"
LANGUAGE = "language"
GENRES = "genres"
CO_USERS = "co_users"
FIRST_DAY = "first_day"
LAST_DAY = "last_day"
NODE_FEATURES = (ID_FEATURE, TEXT_EMBEDDING, LOG_DEGREE, LANGUAGE, GENRES)
EDGE_FEATURES = (CO_USERS, FIRST_DAY, LAST_DAY)

_NAME_RE = re.compile(r"[^a-z0-9_]+")


class GraphSchemaError(ValueError):
  """Raised when item types cannot be turned into distinct set names."""


def node_set_name(item_type: str) -> str:
  """Sanitizes an item type into a node set name (lowercase ``[a-z0-9_]``).

  Args:
    item_type: the ``item_type`` of the items table, e.g. ``"Podcast"``.

  Returns:
    The node set name, e.g. ``"podcast"``; a name starting with a digit gets
    the prefix ``"type_"``.

  Raises:
    GraphSchemaError: when nothing of the type is left (e.g. ``"+++"``).
  """
  name = _NAME_RE.sub("_", str(item_type).strip().lower()).strip("_")
  name = re.sub(r"_+", "_", name)
  if not name:
    raise GraphSchemaError(
        f"item type {item_type!r} has no letters or digits: it cannot name a "
        "node set")
  if name[0].isdigit():
    name = "type_" + name
  return name


def node_set_names(item_types: Iterable[str]) -> dict[str, str]:
  """Maps item types to node set names, refusing two types on one name.

  Args:
    item_types: the distinct item types of the node items.

  Returns:
    item type -> node set name.

  Raises:
    GraphSchemaError: when two types sanitize to the same name.
  """
  out: dict[str, str] = {}
  owner: dict[str, str] = {}
  for item_type in sorted(set(item_types)):
    name = node_set_name(item_type)
    if name in owner:
      raise GraphSchemaError(
          f"item types {owner[name]!r} and {item_type!r} both map to node set "
          f"{name!r}; rename one of them in the items table")
    owner[name] = item_type
    out[item_type] = name
  return out


def edge_set_name(source: str, target: str) -> str:
  """The edge set of edges from node set ``source`` to ``target``."""
  return f"{source}_to_{target}"


def edge_set_names(node_sets: Sequence[str]) -> dict[tuple[str, str], str]:
  """Names every ordered pair of node sets, refusing ambiguous names.

  Args:
    node_sets: the node set names.

  Returns:
    (source, target) -> edge set name.

  Raises:
    GraphSchemaError: when two ordered pairs get the same name (possible only
      with set names that contain ``_to_``).
  """
  out: dict[tuple[str, str], str] = {}
  owner: dict[str, tuple[str, str]] = {}
  for source in sorted(node_sets):
    for target in sorted(node_sets):
      name = edge_set_name(source, target)
      if name in owner:
        raise GraphSchemaError(
            f"edge set name {name!r} is ambiguous: {owner[name]} and "
            f"{(source, target)}; rename an item type that contains '_to_'")
      owner[name] = (source, target)
      out[(source, target)] = name
  return out


def build_graph_schema(node_sets: Sequence[str],
                       edge_sets: Sequence[tuple[str, str, str]],
                       embedding_dim: int, *,
                       filenames: Mapping[str, str] | None = None,
                       cardinalities: Mapping[str, int] | None = None,
                       extra: Mapping[str, Mapping[str, str]] | None = None
                       ) -> Any:
  """Builds the graph's ``tfgnn.GraphSchema``.

  Args:
    node_sets: node set names.
    edge_sets: (edge set name, source node set, target node set) triples.
    embedding_dim: ``D`` of ``text_embedding``.
    filenames: set name -> ``metadata.filename`` (the sharded format; a name
      relative to the schema's directory, e.g. ``nodes-podcast.tfrecord@8``).
    cardinalities: set name -> number of nodes or edges
      (``metadata.cardinality``).
    extra: set name -> ``metadata.extra`` key-value pairs.

  Returns:
    The GraphSchema proto.
  """
  import tfgnn_gfm  # noqa: F401  Sets TF_USE_LEGACY_KERAS first.
  # isort: split
  import tensorflow_gnn as tfgnn
  from tensorflow.core.framework import types_pb2

  schema = tfgnn.GraphSchema()
  filenames = filenames or {}
  cardinalities = cardinalities or {}
  extra = extra or {}

  def feature(fset, name, dtype, dims, description):
    f = fset.features[name]
    f.dtype = dtype
    f.description = description
    for d in dims:
      f.shape.dim.add().size = d

  def metadata(fset, name):
    if name in filenames:
      fset.metadata.filename = filenames[name]
    if name in cardinalities:
      fset.metadata.cardinality = int(cardinalities[name])
    for key, value in sorted(extra.get(name, {}).items()):
      kv = fset.metadata.extra.add()
      kv.key, kv.value = key, str(value)

  for name in sorted(node_sets):
    ns = schema.node_sets[name]
    ns.description = (f"Items of node set {name}: one node per item, ordered "
                      f"by item id; vocab/{name}.txt lists the ids in node "
                      "order.")
    feature(ns, ID_FEATURE, types_pb2.DT_STRING, (), "item id")
    feature(ns, TEXT_EMBEDDING, types_pb2.DT_FLOAT, (int(embedding_dim),),
            "text encoder vector of the composed item text")
    feature(ns, LOG_DEGREE, types_pb2.DT_FLOAT, (1,),
            "log1p of the degree summed over all edge sets")
    feature(ns, LANGUAGE, types_pb2.DT_STRING, (), "language code, or empty")
    feature(ns, GENRES, types_pb2.DT_STRING, (),
            "genres joined by semicolons, or empty")
    metadata(ns, name)
  for name, source, target in sorted(edge_sets):
    es = schema.edge_sets[name]
    es.source, es.target = source, target
    es.description = (f"Co-interaction edges {source} -> {target}: at least "
                      "min_co_users users interacted with both items in the "
                      "window; every edge is stored in both directions.")
    feature(es, CO_USERS, types_pb2.DT_FLOAT, (),
            "distinct users who interacted with both items in the window")
    feature(es, FIRST_DAY, types_pb2.DT_INT64, (),
            "first co-interaction day (days since 1970-01-01)")
    feature(es, LAST_DAY, types_pb2.DT_INT64, (),
            "last co-interaction day (days since 1970-01-01)")
    metadata(es, name)
  return schema


def schema_to_text(schema: Any) -> str:
  """Serializes a GraphSchema as deterministic text proto."""
  from google.protobuf import text_format
  return text_format.MessageToString(schema, use_short_repeated_primitives=True)


def read_graph_schema(text_or_path: str) -> Any:
  """Parses a GraphSchema from text proto (a path, or the text itself)."""
  import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
  # isort: split
  import tensorflow as tf
  import tensorflow_gnn as tfgnn
  from google.protobuf import text_format

  text = text_or_path
  if "\n" not in text_or_path and tf.io.gfile.exists(text_or_path):
    with tf.io.gfile.GFile(text_or_path, "r") as fh:
      text = fh.read()
  return text_format.Parse(text, tfgnn.GraphSchema())
