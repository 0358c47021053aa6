"""Future edges: pairs first co-interacted after the graph's cut."""

import numpy as np
import pandas as pd

from tfgnn_gfm.hgnn.future_edges import future_pairs
from tfgnn_gfm.hgnn.graph_data import EdgeSetData, ItemGraph

DAY = 86400
CUT = 100 * DAY


def _graph():
  """Podcasts p0-p3, books b0-b1; one known edge p0-p1."""
  ids = {"podcast": np.array(["p0", "p1", "p2", "p3"], dtype=object),
         "book": np.array(["b0", "b1"], dtype=object)}
  features = {n: {"text_embedding": np.zeros((len(v), 4), np.float32),
                  "log_degree": np.zeros((len(v), 1), np.float32)}
              for n, v in ids.items()}
  return ItemGraph(ids, features, {
      "podcast_to_podcast": EdgeSetData("podcast", "podcast",
                                        np.array([0, 1]), np.array([1, 0]))})


def _rows(*rows):
  return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def test_future_pairs_follow_the_documented_rule():
  interactions = _rows(
      ("u1", "p0", CUT - 5 * DAY),   # Before the cut, in the window.
      ("u1", "p1", CUT + DAY),       # After: p0-p1 is known, left out.
      ("u1", "p2", CUT + 2 * DAY),   # After: p0-p2, p1-p2 are future.
      ("u1", "b1", CUT + 3 * DAY),   # After: with p0, p1, p2.
      ("u2", "p3", CUT - 50 * DAY),  # Before the 30-day window: ignored.
      ("u2", "b0", CUT + DAY),       # Alone in its window: no pair.
      ("u3", "p3", CUT - DAY),       # u3 has nothing after the cut.
      ("u3", "p2", CUT - 2 * DAY),
      ("u4", "p3", CUT + 20 * DAY),  # After the 14-day hold-out: ignored.
      ("u4", "p2", CUT + DAY),
      ("u5", "zz", CUT + DAY),       # Not a graph node.
      ("u5", "p3", CUT + DAY))
  pairs = future_pairs(_graph(), interactions, CUT, holdout_days=14,
                       train_days=30)
  got = {k: sorted(zip(a.tolist(), b.tolist())) for k, (a, b) in
         pairs.items()}
  assert got == {("podcast", "podcast"): [(0, 2), (1, 2)],
                 ("book", "podcast"): [(1, 0), (1, 1), (1, 2)]}


def test_future_pairs_are_capped_per_link_type():
  rows = [("u", f"p{i}", CUT + DAY) for i in range(4)]
  pairs = future_pairs(_graph(), _rows(*rows), CUT, holdout_days=14,
                       max_pairs=2)
  a, b = pairs[("podcast", "podcast")]
  assert len(a) == 2 and np.all(a < b)
  assert not any(x == 0 and y == 1 for x, y in zip(a, b))  # Known edge.
