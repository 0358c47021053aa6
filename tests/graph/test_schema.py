"""Set names, the GraphSchema and its documented template in schemas/."""

import pathlib

import pytest

import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)

# isort: split
import tensorflow_gnn as tfgnn

from tfgnn_gfm.graph import schema as schema_lib

TEMPLATE = (pathlib.Path(__file__).resolve().parents[2] / "schemas"
            / "graph_schema.template.pbtxt")


@pytest.mark.parametrize("item_type,name", [
    ("podcast", "podcast"), ("Audio Book", "audio_book"),
    ("Video-Cast!", "video_cast"), ("  news__show ", "news_show"),
    ("3d", "type_3d")])
def test_node_set_name(item_type, name):
  assert schema_lib.node_set_name(item_type) == name


def test_bad_and_colliding_types():
  with pytest.raises(schema_lib.GraphSchemaError, match="no letters"):
    schema_lib.node_set_name("+++")
  with pytest.raises(schema_lib.GraphSchemaError, match="both map"):
    schema_lib.node_set_names(["Podcast", "podcast"])
  with pytest.raises(schema_lib.GraphSchemaError, match="ambiguous"):
    schema_lib.edge_set_names(["a_to", "to_b", "a", "b"])


def _sets():
  node_sets = ["audiobook", "podcast"]
  edge_sets = [(schema_lib.edge_set_name(s, t), s, t)
               for s in node_sets for t in node_sets]
  return node_sets, edge_sets


def test_schema_gives_a_graph_spec():
  node_sets, edge_sets = _sets()
  schema = schema_lib.build_graph_schema(
      node_sets, edge_sets, 8, filenames={"podcast": "nodes-podcast@2"},
      cardinalities={"podcast": 5})
  spec = tfgnn.create_graph_spec_from_schema_pb(schema)
  ns = spec.node_sets_spec["podcast"]
  assert ns.features_spec["text_embedding"].shape.as_list() == [None, 8]
  assert ns.features_spec["log_degree"].shape.as_list() == [None, 1]
  assert ns.features_spec["#id"].dtype.name == "string"
  es = spec.edge_sets_spec["audiobook_to_podcast"]
  assert es.adjacency_spec.source_name == "audiobook"
  assert es.features_spec["first_day"].dtype.name == "int64"
  assert schema.node_sets["podcast"].metadata.filename == "nodes-podcast@2"
  assert schema.node_sets["podcast"].metadata.cardinality == 5
  text = schema_lib.schema_to_text(schema)
  assert schema_lib.read_graph_schema(text) == schema


def test_template_matches_the_built_schema():
  template = schema_lib.read_graph_schema(TEMPLATE.read_text())
  node_sets, edge_sets = _sets()
  built = schema_lib.build_graph_schema(node_sets, edge_sets, 384)
  def shape(fset):
    return {k: (v.dtype, [d.size for d in v.shape.dim])
            for k, v in fset.features.items()}
  assert sorted(template.node_sets) == sorted(built.node_sets)
  assert sorted(template.edge_sets) == sorted(built.edge_sets)
  for name in built.node_sets:
    assert shape(template.node_sets[name]) == shape(built.node_sets[name])
  for name, es in built.edge_sets.items():
    assert shape(template.edge_sets[name]) == shape(es)
    assert (template.edge_sets[name].source,
            template.edge_sets[name].target) == (es.source, es.target)
