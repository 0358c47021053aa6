"""The pandas reference against a graph worked out by hand."""

import pytest

from tests.graph import tiny
from tfgnn_gfm.graph.config import GraphBuildConfig
from tfgnn_gfm.graph.reference import reference_graph


def _edges(graph):
  return {(s, t): (c, f, last) for s, t, c, f, last in zip(
      graph.edges.source_id, graph.edges.target_id, graph.edges.co_users,
      graph.edges.first_day, graph.edges.last_day)}


@pytest.mark.parametrize("changes,expected", [
    ({}, tiny.EDGES),
    ({"max_items_per_user": 2}, tiny.EDGES_ITEM_CAP_2),
    ({"max_edges_per_node": 1}, tiny.EDGES_EDGE_CAP_1),
    ({"min_co_users": 2}, {("a1", "p1"): tiny.EDGES[("a1", "p1")]}),
    ({"events": ("stream",)}, {("a1", "p1"): (1, tiny.day("2024-03-10"),
                                              tiny.day("2024-03-10")),
                               ("a1", "p3"): tiny.EDGES[("a1", "p3")]}),
])
def test_reference_matches_hand_computation(tmp_path, changes, expected):
  config = GraphBuildConfig(cut=tiny.CUT, **changes)
  graph = reference_graph(tiny.write(tmp_path), config)
  assert _edges(graph) == expected
  assert {s: list(g.item_id) for s, g in graph.nodes.groupby("node_set")} == (
      tiny.NODES)
  assert graph.dead_letters == []


def test_reference_degrees_and_directed_edges(tmp_path):
  graph = reference_graph(tiny.write(tmp_path), GraphBuildConfig(cut=tiny.CUT))
  assert dict(zip(graph.nodes.item_id, graph.nodes.degree)) == tiny.DEGREES
  assert graph.counts() == {
      "nodes": {"audiobook": 2, "podcast": 3},
      "edges": {"audiobook_to_podcast": 3, "podcast_to_audiobook": 3,
                "podcast_to_podcast": 2}}


def test_default_cut_comes_from_the_last_interaction(tmp_path):
  # Last interaction 2024-04-05 -> midnight 04-06 minus 14 days = 03-23.
  graph = reference_graph(tiny.write(tmp_path), GraphBuildConfig())
  assert graph.cut == tiny.day("2024-03-23") * 86_400
