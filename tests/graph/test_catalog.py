"""Item catalog (roll-up, orphans, cycles) and node index (cut, sets)."""

import numpy as np
import pytest

from tfgnn_gfm import catalog as items_lib
from tfgnn_gfm.graph import nodes as catalog_lib
from tfgnn_gfm.graph.schema import GraphSchemaError
from tfgnn_gfm.timesplit import NO_TIME

NO = NO_TIME


def _catalog():
  rows = [  # item_id, item_type, parent_id, published_at
      ("pod_b", "podcast", "", 100),
      ("pod_a", "Podcast", "", NO),   # another spelling: collides below
      ("ab_1", "audiobook", "", 500),  # published after the cut (300)
      ("ep_1", "episode", "pod_b", 50),
      ("ep_2", "episode", "ep_1", 60),  # chain: ep_2 -> ep_1 -> pod_b
      ("ep_x", "episode", "nowhere", 10),  # orphan
      ("ep_y", "episode", "ep_x", 10),  # parent is an orphan: no root
      ("cyc_1", "episode", "cyc_2", 10),
      ("cyc_2", "episode", "cyc_1", 10),  # a cycle: no root
  ]
  cols = list(zip(*rows))
  return items_lib.build_item_catalog(
      np.array(cols[0], object), np.array(cols[1], object),
      np.array(cols[2], object), np.array(cols[3], np.int64))


def test_catalog_rolls_up_and_rejects_orphans():
  cat = _catalog()
  # An item whose parent is an orphan is rejected too, and so are cycles:
  # every valid item has a root (nothing is lost silently downstream).
  assert cat.orphans.tolist() == ["ep_x", "ep_y"]
  assert cat.orphan_messages.tolist() == [
      "parent_id 'nowhere' names no item",
      "parent_id 'ep_x' leads to parent_id 'nowhere', which names no item"]
  assert cat.cycles.tolist() == ["cyc_1", "cyc_2"]
  assert cat.item_id.tolist() == sorted(
      ["pod_b", "pod_a", "ab_1", "ep_1", "ep_2"])
  root = {i: (cat.item_id[r] if r >= 0 else None)
          for i, r in zip(cat.item_id, cat.root)}
  assert root == {"pod_b": "pod_b", "pod_a": "pod_a", "ab_1": "ab_1",
                  "ep_1": "pod_b", "ep_2": "pod_b"}
  assert cat.lookup(np.array(["ep_2", "ep_x", "zzz"], object)).tolist() == [
      cat.item_id.tolist().index("ep_2"), -1, -1]


def test_type_collision_is_a_clear_error():
  with pytest.raises(GraphSchemaError, match="both map to node set"):
    catalog_lib.build_node_index(_catalog(), cut=300, num_shards=4)


def test_node_index_selects_published_roots():
  cat = _catalog()
  cat.item_type[cat.item_id == "pod_a"] = "podcast"
  index = catalog_lib.build_node_index(cat, cut=300, num_shards=4)
  assert index.node_id.tolist() == ["pod_a", "pod_b"]  # ab_1 is too new
  assert index.set_names == ["podcast"]
  assert index.local_index.tolist() == [0, 1]
  node_of = {i: n for i, n in zip(cat.item_id, index.item_node)}
  assert node_of["ep_2"] == 1 and node_of["pod_b"] == 1
  assert node_of["ab_1"] == -1 and "cyc_1" not in node_of
  later = catalog_lib.build_node_index(cat, cut=500, num_shards=4)
  assert later.set_names == ["audiobook", "podcast"]
  assert later.node_id.tolist() == ["ab_1", "pod_a", "pod_b"]
  assert later.local_index.tolist() == [0, 0, 1]


def test_stable_shard_is_fixed():
  ids = np.array(["u_0000001", "pod_000002", "x"], object)
  shards = catalog_lib.stable_shard(ids, 1000)
  # Fixed values: a change would reshuffle every stored shard.
  assert shards.tolist() == catalog_lib.stable_shard(ids.copy(), 1000).tolist()
  assert shards.tolist() == [199, 961, 317]
  assert (shards >= 0).all() and (shards < 1000).all()
