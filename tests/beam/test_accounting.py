"""build-graph accounts for every input row it does not turn into a node or
edge, by reason (summary.json ``accounting``)."""

from __future__ import annotations

import dataclasses
import json

from tests.beam import outputs


def _sum(counts):
  return sum(counts.values())


def test_every_row_is_accounted_for(run_a):
  out, summary = run_a
  acc = summary["accounting"]
  items, inter, pairs = acc["items"], acc["interactions"], acc["pairs"]
  assert items["rows_read"] == summary["tables"]["items"]["rows_read"]
  assert items["rows_read"] == items["nodes"] + _sum(items["not_nodes"])
  assert inter["rows_read"] == summary["tables"]["interactions"]["rows_read"]
  assert inter["rows_read"] == inter["in_pairs"] + _sum(inter["not_in_pairs"])
  assert pairs["distinct"] == pairs["undirected_edges"] + _sum(
      pairs["not_edges"])
  # The counts agree with the graph that was written.
  nodes, edges = outputs.full_graph_frames(out)
  assert items["nodes"] == len(nodes)
  assert 2 * pairs["undirected_edges"] == len(edges)
  # The caps did bind on this dataset, so their rows are really counted.
  assert inter["not_in_pairs"]["dropped_by_user_cap"] > 0
  assert pairs["not_edges"]["removed_by_edge_cap"] > 0
  assert json.loads((out / "summary.json").read_text())["accounting"] == acc


def test_parent_cycle_is_accounted_for(tmp_path, config_a):
  from beam.build_graph import build_graph, format_summary
  data = tmp_path / "data"
  data.mkdir()
  (data / "items.csv").write_text(
      "item_id,item_type,title,parent_id,published_at\n"
      "p1,podcast,Self,p1,\n"          # points to itself
      "p2,podcast,Two,p3,\n"           # p2 -> p3 -> p2
      "p3,podcast,Three,p2,\n"
      "p4,podcast,Four,,\n"
      "p5,podcast,Five,,\n"
      "e1,episode,Ep,p4,\n"            # rolled up into p4
      "p6,podcast,Late,,2030-01-01\n")  # published after the cut
  (data / "interactions.csv").write_text(
      "user_id,item_id,timestamp,event\n"
      "u1,p1,2024-01-10,stream\n"      # unknown_item (p1 rejected)
      "u1,e1,2024-01-10,stream\n"      # -> p4
      "u1,p5,2024-01-11,stream\n"
      "u2,p4,2024-01-12,stream\n"
      "u2,p5,2024-01-12,follow\n"
      "u3,p5,2024-01-13,stream\n"      # u3 has one item: no pair
      "u3,p6,2024-01-13,stream\n"      # p6 is no node
      "u4,p4,2023-01-01,stream\n"      # before the window
      "u4,p5,2024-02-01,stream\n")     # at or after the cut
  config = dataclasses.replace(config_a, cut="2024-02-01", train_days=90)
  summary = build_graph(data, tmp_path / "graph", config)
  letters = outputs.dead_letters(tmp_path / "graph")
  assert sorted((d["row"]["item_id"], d["reason"]) for d in letters) == [
      ("p1", "parent_cycle"), ("p1", "unknown_item"), ("p2", "parent_cycle"),
      ("p3", "parent_cycle")]
  acc = summary["accounting"]
  assert acc["items"] == {
      "rows_read": 7, "nodes": 2,
      "not_nodes": {"rolled_up_into_parent": 1, "published_after_cut": 1,
                    "dead_letter.parent_cycle": 3}}
  assert acc["interactions"] == {
      "rows_read": 9, "in_pairs": 4,
      "not_in_pairs": {"event_not_counted": 0, "before_window": 1,
                       "at_or_after_cut": 1, "item_without_node": 1,
                       "dropped_by_user_cap": 0, "user_with_one_item": 1,
                       "dead_letter.unknown_item": 1}}
  assert acc["pairs"] == {"distinct": 1, "undirected_edges": 1,
                          "not_edges": {"below_min_co_users": 0,
                                        "removed_by_edge_cap": 0}}
  nodes, _ = outputs.full_graph_frames(tmp_path / "graph")
  assert nodes["item_id"].tolist() == ["p4", "p5"]
  text = format_summary(summary)
  assert "items: 7 -> nodes 2" in text
  assert "dead_letter.parent_cycle=3" in text


def test_window_warning_names_the_share_outside_the_window():
  from beam.graph_writer import window_warning

  warning = window_warning({"in_window": 160, "before_window": 40,
                            "at_or_after_cut": 600, "in_pairs": 10})
  assert warning.startswith("warning: 75% of the 800 counted interactions are "
                            "at or after the cut (only 20% are in the window)")
  assert "--cut" in warning and "--train-days" in warning
  # Less than half at or after the cut (however many before the window): no
  # warning.
  assert window_warning({"in_window": 100, "before_window": 400,
                         "at_or_after_cut": 300}) is None
  assert window_warning({}) is None


def test_window_warning_is_printed(run_a):
  from beam.build_graph import format_summary
  _, summary = run_a
  # The test dataset's window holds most interactions: no warning.
  assert "at or after the cut (only" not in format_summary(summary)
  summary = dict(summary, interactions=dict(
      summary["interactions"], at_or_after_cut=10 * sum(
          summary["interactions"].get(k, 0)
          for k in ("in_window", "before_window"))))
  assert "at or after the cut (only" in format_summary(summary)
