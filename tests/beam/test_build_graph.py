"""The Beam graph pipeline against the independent pandas reference.

Every run uses Beam's real DirectRunner engine, in ``in_memory`` and in
``multi_processing`` mode, and every output is read back with TF-GNN itself
(``tfgnn.parse_single_example`` for the whole graph, the unigraph reader for
the sharded files).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from tests.beam import datasets, outputs
from tests.graph import tiny
from tfgnn_gfm.artifacts import GraphDir
from tfgnn_gfm.graph.config import GraphBuildConfig
from tfgnn_gfm.graph.reference import reference_graph


def _json(letters):
  return [json.loads(json.dumps(d, ensure_ascii=False, default=str))
          for d in letters]


def _key(d):
  return (d["table"], d["file"], d["line"], d["reason"])


@pytest.fixture(scope="module")
def reference_a(messy_dataset, config_a):
  return reference_graph(messy_dataset, config_a)


def _assert_nodes_match(out, reference):
  nodes, _ = outputs.full_graph_frames(out)
  expected = reference.nodes
  assert nodes["node_set"].tolist() == expected["node_set"].tolist()
  assert nodes["item_id"].tolist() == expected["item_id"].tolist()
  np.testing.assert_allclose(nodes["log_degree"],
                             np.log1p(expected["degree"].to_numpy()),
                             rtol=1e-6)
  assert nodes["language"].tolist() == expected["language"].tolist()
  assert nodes["genres"].tolist() == expected["genres"].tolist()


def test_in_memory_matches_reference(run_a, reference_a):
  out, summary = run_a
  _, edges = outputs.full_graph_frames(out)
  expected = outputs.reference_edge_frame(reference_a)
  pd.testing.assert_frame_equal(edges, expected)
  _assert_nodes_match(out, reference_a)
  # The caps did bind, so they are what is being compared.
  assert summary["users"]["capped"] > 0
  assert summary["edge_cap"]["edges_removed"] > 0
  assert summary["cut"] == reference_a.cut
  assert outputs.reference_edge_frame(reference_a).shape[0] == sum(
      summary["edges"].values())


def test_in_memory_dead_letters_match_reference(run_a, reference_a):
  out, summary = run_a
  got = sorted(outputs.dead_letters(out), key=_key)
  want = sorted(_json(reference_a.dead_letters), key=_key)
  assert got == want
  counts = outputs.count_reasons(got)
  assert summary["dead_letters"] == counts
  # The parent cycle (cyc_a <-> cyc_b) is rejected, not silently lost, and
  # so is the interaction with cyc_a.
  assert counts["items"] == {"bad_timestamp": 1, "duplicate_id": 1,
                             "malformed_row": 1, "missing_value": 1,
                             "parent_cycle": 2, "unknown_parent": 1}
  assert counts["interactions"] == {
      "bad_timestamp": 1, "duplicate_id": 1, "malformed_row": 1,
      "missing_value": 1, "unknown_item": 5, "wrong_type": 1}
  assert counts["users"] == {"duplicate_id": 1}
  # Counted in Beam metrics and in the manifest too.
  manifest = GraphDir(out).read_manifest()
  counters = manifest["metrics"]["beam_counters"]
  for table, reasons in counts.items():
    for reason, n in reasons.items():
      assert counters[f"dead_letters.{table}.{reason}"] == n
  assert manifest["counts"]["dead_letters"] == counts


def test_sharded_files_hold_the_same_graph(run_a, reference_a):
  out, _ = run_a
  nodes, edges = outputs.sharded_frames(out)
  pd.testing.assert_frame_equal(edges,
                                outputs.reference_edge_frame(reference_a))
  full_nodes, _ = outputs.full_graph_frames(out)
  assert nodes["item_id"].tolist() == full_nodes["item_id"].tolist()
  np.testing.assert_array_equal(np.stack(nodes["embedding"]),
                                np.stack(full_nodes["embedding"]))


def test_multiprocessing_matches_reference(run_a_multiprocessing,
                                           reference_a):
  out, summary = run_a_multiprocessing
  _, edges = outputs.full_graph_frames(out)
  pd.testing.assert_frame_equal(edges,
                                outputs.reference_edge_frame(reference_a))
  _assert_nodes_match(out, reference_a)
  # Interactions came from two shard files: same rows, other file names.
  assert summary["dead_letters"] == outputs.count_reasons(
      _json(reference_a.dead_letters))
  assert GraphDir(out).read_manifest()["beam"]["args"] == [
      "--direct_num_workers=2", "--direct_running_mode=multi_processing"]


def test_both_modes_write_identical_graph_files(run_a, run_a_multiprocessing):
  skip = ("manifest.json", "dead_letter.jsonl")
  a = outputs.file_bytes(run_a[0], skip)
  b = outputs.file_bytes(run_a_multiprocessing[0], skip)
  assert sorted(a) == sorted(b)
  assert [k for k in a if a[k] != b[k]] == []


def test_rerun_gives_identical_output(run_a, messy_dataset, config_a,
                                      tmp_path):
  from beam.build_graph import build_graph
  out = tmp_path / "again"
  build_graph(messy_dataset, out, config_a)
  first, again = outputs.file_bytes(run_a[0]), outputs.file_bytes(out)
  assert sorted(first) == sorted(again)
  assert [k for k in first if first[k] != again[k]] == []
  assert {"graph.tfrecord", "graph_schema.pbtxt", "summary.json",
          "dead_letter.jsonl", "graph_stats.json", "graph_stats.png",
          "sharded/graph_schema.pbtxt"} <= set(first)


def test_items_seen_only_in_bad_rows_do_not_appear(run_a):
  out, _ = run_a
  nodes, edges = outputs.full_graph_frames(out)
  ids = set(nodes["item_id"]) | set(edges["source_id"]) | set(
      edges["target_id"])
  vocab = set()
  for path in GraphDir(out).vocab_dir.glob("*.txt"):
    vocab |= set(path.read_text().split())
  sharded_nodes, _ = outputs.sharded_frames(out)
  for bad in datasets.BAD_ONLY_ITEMS:
    assert bad not in ids
    assert bad not in vocab
    assert bad not in set(sharded_nodes["item_id"])
  # The other special items: episodes roll up, the future item and the
  # cycle are not nodes, the odd type is sanitized, the lonely item is
  # an isolated node.
  assert "episode" not in set(nodes["node_set"])
  assert {"chain_1", "chain_2", "cyc_a", "cyc_b", "future_pod"}.isdisjoint(
      ids)
  assert set(nodes.loc[nodes.node_set == "video_cast", "item_id"]) == {
      "vc_1", "vc_2"}
  lonely = nodes.loc[nodes.item_id == "lonely"]
  assert lonely["log_degree"].tolist() == [0.0]


def test_output_layout_schema_vocab_and_manifest(run_a, messy_dataset,
                                                 config_a):
  out, summary = run_a
  layout = GraphDir(out)
  for path in (layout.schema_path, layout.full_graph_path,
               layout.sharded_schema_path, layout.dead_letter_path,
               layout.stats_path, layout.stats_plot_path, layout.summary_path,
               layout.manifest_path):
    assert path.exists(), path
  graph = outputs.parse_full_graph(out)
  for name, ns in graph.node_sets.items():
    ids = ns["#id"].numpy().astype(str).tolist()
    assert ids == layout.vocab_path(name).read_text().splitlines()
    assert ids == sorted(ids)
    assert ns["text_embedding"].shape[-1] == 16
  assert set(graph.edge_sets) == set(summary["edges"])
  shards = config_a.num_shards
  for name in list(graph.node_sets) + list(graph.edge_sets):
    kind = "nodes" if name in graph.node_sets else "edges"
    for shard in range(shards):
      assert layout.sharded_path(kind, name, shard, shards).exists()
  manifest = layout.read_manifest()
  assert manifest["stage"] == "build_graph"
  assert manifest["config"]["max_items_per_user"] == 6
  assert manifest["cut_utc"] == "2024-03-31T00:00:00Z"
  assert layout.cut() == manifest["cut"]
  assert set(manifest["inputs"]) == {"items", "interactions", "users",
                                     "text_encoder"}
  assert manifest["inputs"]["items"]["path"] == str(messy_dataset /
                                                    "items.csv")
  assert manifest["counts"]["nodes"] == summary["nodes"]
  assert manifest["metrics"]["seconds"] > 0
  stats = json.loads(layout.stats_path.read_text())
  assert stats["num_nodes"] == sum(summary["nodes"].values())
  assert stats["degree"]["all"]["isolated"] >= 1


def test_sharded_format_runs_in_tfgnn_beam_reader(run_a):
  """The sharded output loads with the Beam reader of TF-GNN's sampler
  (tensorflow_gnn.experimental.sampler.beam.unigraph_utils)."""
  import apache_beam as beam
  from apache_beam.testing.util import assert_that, equal_to
  from tensorflow_gnn.data import unigraph
  from tensorflow_gnn.experimental.sampler.beam import unigraph_utils

  from tfgnn_gfm.pipelines import options as options_lib
  out, summary = run_a
  schema_path = str(GraphDir(out).sharded_schema_path.absolute())
  schema = unigraph.read_schema(schema_path)
  options = options_lib.pipeline_options([])
  with beam.Pipeline(runner=options_lib.create_runner(options),
                     options=options) as root:
    feeds = root | unigraph_utils.ReadAndConvertUnigraph(
        schema, os.path.dirname(schema_path))
    for name, count in {**{f"nodes/{k}": v for k, v in
                           summary["nodes"].items()},
                        **{f"edges/{k}": v for k, v in
                           summary["edges"].items()}}.items():
      counted = (feeds[name] | f"Count/{name}" >> beam.combiners.Count
                 .Globally())
      assert_that(counted, equal_to([count]), label=f"Check/{name}")


def test_tfgnn_sampler_samples_the_sharded_graph(run_a, tmp_path):
  """TF-GNN's own Beam sampler (about 25 s) samples the sharded output."""
  import subprocess
  import sys

  import tensorflow as tf
  spec = tmp_path / "spec.pbtxt"
  spec.write_text(
      'seed_op { op_name: "seed" node_set_name: "podcast" }\n'
      'sampling_ops { op_name: "hop" input_op_names: "seed" '
      'edge_set_name: "podcast_to_audiobook" sample_size: 2 '
      "strategy: RANDOM_UNIFORM }\n")
  samples = tmp_path / "samples" / "out.tfrecord"
  samples.parent.mkdir()
  subprocess.run(
      [sys.executable, "-m", "tensorflow_gnn.experimental.sampler.beam.sampler",
       "--graph_schema", str(GraphDir(run_a[0]).sharded_schema_path.absolute()),
       "--sampling_spec", str(spec), "--output_samples", str(samples)],
      check=True, capture_output=True,
      env={**os.environ, "TF_USE_LEGACY_KERAS": "1"})
  records = list(tf.data.TFRecordDataset(str(samples)))
  assert len(records) == run_a[1]["nodes"]["podcast"]
  example = tf.train.Example.FromString(records[0].numpy())
  assert "nodes/podcast.#id" in example.features.feature


@pytest.mark.parametrize("changes,expected", [
    ({}, tiny.EDGES),
    ({"max_edges_per_node": 1, "max_items_per_user": 0},
     tiny.EDGES_EDGE_CAP_1),
])
def test_tiny_graph_worked_out_by_hand(tiny_dataset, hashing_encoder,
                                       tmp_path, changes, expected):
  from beam.build_graph import build_graph
  config = GraphBuildConfig(cut=tiny.CUT, text_encoder=hashing_encoder,
                            num_shards=2, **changes)
  summary = build_graph(tiny_dataset, tmp_path / "g", config)
  nodes, edges = outputs.full_graph_frames(tmp_path / "g")
  undirected = {(s, t): (c, f, last) for s, t, c, f, last in edges[
      ["source_id", "target_id", "co_users", "first_day", "last_day"]]
      .itertuples(index=False) if s < t}
  assert undirected == expected
  assert {k: g.item_id.tolist() for k, g in nodes.groupby("node_set")} == (
      tiny.NODES)
  assert summary["dead_letters"] == {}
  if not changes:
    degree = dict(zip(nodes.item_id, np.round(np.expm1(nodes.log_degree))))
    assert degree == tiny.DEGREES


def test_cli_with_other_options_matches_reference(messy_dataset,
                                                  hashing_encoder, tmp_path,
                                                  capsys):
  from tfgnn_gfm.cli.gfm import main
  out = tmp_path / "graph_b"
  code = main(["build-graph", str(messy_dataset), "--out", str(out),
               "--text-encoder", hashing_encoder, "--min-co-users", "2",
               "--events", "stream", "--max-items-per-user", "0",
               "--max-edges-per-node", "0", "--cut", "2024-03-20",
               "--window-days", "30", "--num-shards", "2",
               "--no-full-graph", "--direct_running_mode=in_memory"])
  assert code == 0
  printed = capsys.readouterr().out
  assert "nodes: " in printed and "dead letters" in printed
  config = GraphBuildConfig(min_co_users=2, events=("stream",),
                            max_items_per_user=0, max_edges_per_node=0,
                            cut="2024-03-20", train_days=30)
  reference = reference_graph(messy_dataset, config)
  assert not GraphDir(out).full_graph_path.exists()
  _, edges = outputs.sharded_frames(out)
  pd.testing.assert_frame_equal(edges,
                                outputs.reference_edge_frame(reference))
  assert edges["co_users"].min() >= 2


def test_failed_run_keeps_the_previous_output(tiny_dataset, hashing_encoder,
                                              tmp_path):
  from beam.build_graph import build_graph
  out = tmp_path / "graph"
  config = GraphBuildConfig(cut=tiny.CUT, text_encoder=hashing_encoder,
                            num_shards=1)
  build_graph(tiny_dataset, out, config)
  before = outputs.file_bytes(out, skip=())
  broken = tmp_path / "broken"
  broken.mkdir()
  (broken / "items.csv").write_text(tiny.ITEMS)
  (broken / "interactions.csv").write_text(
      "user_id,item_id,timestamp,event,weight\nu1,zzz,2024-03-01,stream,1\n")
  # No valid interaction and no --cut: the pipeline fails mid-way.
  with pytest.raises(Exception, match="no valid interactions"):
    build_graph(broken, out, GraphBuildConfig(text_encoder=hashing_encoder,
                                              num_shards=1))
  assert outputs.file_bytes(out, skip=()) == before
  assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
