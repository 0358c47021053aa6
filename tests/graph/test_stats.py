"""Graph statistics from a run summary, and their plot."""

from tfgnn_gfm.graph import stats as stats_lib

SUMMARY = {
    "nodes": {"podcast": 3, "audiobook": 2},
    "edges": {"podcast_to_podcast": 2, "audiobook_to_podcast": 3,
              "podcast_to_audiobook": 3},
    "degree_histogram": {"podcast": {"2": 2, "1": 1},
                         "audiobook": {"3": 1, "0": 1}},
}


def test_graph_stats():
  stats = stats_lib.graph_stats(SUMMARY)
  assert stats["num_nodes"] == 5 and stats["num_edges"] == 8
  assert stats["num_undirected_edges"] == 4
  assert list(stats["nodes"]) == ["audiobook", "podcast"]
  assert stats["degree"]["all"] == {"nodes": 5, "isolated": 1, "min": 0,
                                    "median": 2, "mean": 1.6, "max": 3}
  assert stats["degree_histogram"]["all"] == {"0": 1, "1": 1, "2": 2, "3": 1}


def test_plot_writes_a_png(tmp_path):
  path = tmp_path / "stats.png"
  stats_lib.plot_graph_stats(stats_lib.graph_stats(SUMMARY), path)
  assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  stats_lib.plot_graph_stats(stats_lib.graph_stats({}), tmp_path / "e.png")
