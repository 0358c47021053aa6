"""The two-tower tables follow the catalog's root rule (tfgnn_gfm.catalog):
items whose parent chain has no root are neither candidates, nor training
items, nor targets."""

import numpy as np
import pandas as pd

from tests.twotower.helpers import CUT, interactions
from tfgnn_gfm.catalog import NO_ROOT
from tfgnn_gfm.evaluation.holdout import build_holdout
from tfgnn_gfm.timesplit import TimeSplit
from tfgnn_gfm.twotower.examples import build_training_data
from tfgnn_gfm.twotower.items import item_table_from_arrays

IDS = ["s", "e", "x", "c1", "c2", "o", "oe"]
PARENTS = ["", "s", "x", "c2", "c1", "gone", "o"]
SOURCES = ["graph", "parent", "graph", "graph", "graph", "graph", "parent"]


def _table(rollup_episodes=True):
  n = len(IDS)
  items = pd.DataFrame({"item_id": IDS, "item_type": ["show"] + ["ep"] * 6,
                        "parent_id": PARENTS})
  return item_table_from_arrays(
      np.array(IDS, object), items["item_type"].to_numpy(object),
      np.eye(n, 4, dtype=np.float32), np.ones((n, 3), np.float32), items,
      source=np.array(SOURCES, object), rollup_episodes=rollup_episodes)


def test_roots_by_hand():
  table = _table()
  # s is a root; e -> s; x is its own parent; c1 <-> c2 is a cycle; o names
  # a missing parent and oe's chain reaches it.
  assert table.parent_root.tolist() == [0, 0] + [NO_ROOT] * 5
  assert table.root.tolist() == [0, 0] + [NO_ROOT] * 5
  assert table.candidate.tolist() == [True] + [False] * 6
  # An episode inherits its root's graph vector; without a root, none.
  assert table.graph_vector.tolist() == [True, True, True, True, True, True,
                                         False]
  kept = _table(rollup_episodes=False)
  assert kept.root.tolist() == [0, 1] + [NO_ROOT] * 5
  assert kept.candidate.tolist() == [True, True] + [False] * 5


def test_rootless_items_are_neither_trained_on_nor_targets():
  table = _table()
  frame = interactions([("u", "e", 95), ("u", "x", 96), ("u", "c1", 97),
                        ("u", "oe", 98), ("u", "x", 101), ("u", "s", 102)])
  data = build_training_data(frame, None, table, TimeSplit(CUT, 90),
                             event_weight={"stream": 1.0})
  assert data.examples.item.tolist() == [0]  # e rolled up to s
  assert data.counts["window_unknown_items"] == 3
  holdout = build_holdout(frame, table, data.users.user_id,
                          TimeSplit(CUT, 90, holdout_days=14))
  assert holdout.item.tolist() == [0]
  assert holdout.counts["holdout_unknown_items"] == 1
