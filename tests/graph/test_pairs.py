"""The vectorised pair kernels against plain-Python loops."""

import itertools

import numpy as np
import pytest

from tfgnn_gfm.graph import pairs

DAY = 86_400


def _random_events(seed, n_events=400, n_users=30, n_items=25):
  rng = np.random.default_rng(seed)
  user = rng.integers(0, n_users, n_events)
  item = rng.integers(0, n_items, n_events)
  ts = rng.integers(19_000 * DAY, 19_060 * DAY, n_events)
  return user, item, ts, n_items


def _python_pairs(user, item, ts, cap):
  per_user = {}
  for u, i, t in zip(user, item, ts):
    stats = per_user.setdefault(int(u), {}).setdefault(int(i), [0, None, None])
    stats[0] += 1
    stats[1] = t if stats[1] is None else min(stats[1], t)
    stats[2] = t if stats[2] is None else max(stats[2], t)
  out = {}
  for items in per_user.values():
    ranked = sorted(items, key=lambda i: (-items[i][0], -items[i][2], i))
    if cap:
      ranked = ranked[:cap]
    for a, b in itertools.combinations(sorted(ranked), 2):
      day = max(items[a][1], items[b][1]) // DAY
      co, first, last = out.get((a, b), (0, day, day))
      out[(a, b)] = (co + 1, min(first, day), max(last, day))
  return out


@pytest.mark.parametrize("seed,cap,max_pairs", [(0, 0, 10**9), (1, 3, 7),
                                                 (2, 5, 50), (3, 2, 1)])
def test_pairs_match_python(seed, cap, max_pairs):
  user, item, ts, n_items = _random_events(seed)
  ui = pairs.aggregate_user_items(user, item, ts)
  ui, capped = pairs.cap_items_per_user(ui, cap)
  parts = list(pairs.iter_user_pairs(ui, n_items, max_pairs=max_pairs))
  if max_pairs < 10:
    assert len(parts) > 1
  merged = pairs.merge_pairs(parts)
  a, b = pairs.split_key(merged.key, n_items)
  got = {(int(x), int(y)): (int(c), int(f), int(last))
         for x, y, c, f, last in zip(
      a, b, merged.co_users, merged.first_day, merged.last_day)}
  assert got == _python_pairs(user, item, ts, cap)
  assert np.all(np.diff(merged.key) > 0)
  if cap:
    counts = np.bincount(np.unique(np.stack([user, item]), axis=1)[0])
    assert capped == int((counts > cap).sum())


def test_cap_ranks_by_events_then_recency_then_item():
  # One user: item 5 has 2 events; items 1, 2, 3 one each, 3 the latest.
  ui = pairs.aggregate_user_items(
      np.zeros(5, np.int64), np.array([5, 5, 1, 2, 3]),
      np.array([10, 11, 50, 50, 60]) * DAY)
  ranked, capped = pairs.cap_items_per_user(ui, 3)
  assert ranked.item.tolist() == [5, 3, 1]
  assert capped == 1


def test_empty_inputs():
  ui = pairs.aggregate_user_items(np.zeros(0), np.zeros(0), np.zeros(0))
  assert len(ui) == 0
  assert not list(pairs.iter_user_pairs(ui, 10))
  assert len(pairs.merge_pairs([])) == 0
  assert pairs.top_k_mask(np.zeros(0), np.zeros(0), np.zeros(0), 3).shape == (
      0,)


def test_pair_shard_is_fixed_and_in_range():
  keys = np.arange(10_000, dtype=np.int64) * 7919
  shards = pairs.pair_shard(keys, 8)
  assert shards.min() >= 0 and shards.max() < 8
  assert np.array_equal(shards, pairs.pair_shard(keys.copy(), 8))
  assert len(np.unique(shards)) == 8


def test_top_k_mask_matches_python():
  rng = np.random.default_rng(4)
  node = rng.integers(0, 10, 200)
  other = rng.integers(0, 50, 200)
  co = rng.integers(1, 5, 200)
  mask = pairs.top_k_mask(node, other, co, 3)
  for n in range(10):
    rows = [i for i in range(200) if node[i] == n]
    best = sorted(rows, key=lambda i: (-co[i], other[i], i))[:3]
    assert sorted(np.flatnonzero(mask & (node == n)).tolist()) == sorted(best)
  assert pairs.top_k_mask(node, other, co, 0).all()
