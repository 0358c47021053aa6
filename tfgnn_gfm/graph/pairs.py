"""Vectorised co-interaction kernels: user items -> item pairs -> capped edges.

These numpy functions are the inner loops of the Beam pipeline
(``beam/edges.py``): every Beam element is a batch (one shard of users, one
shard of pairs), so each step is one vectorised call here instead of a Python
call per interaction. They are pure functions of arrays, so the pipeline's
result does not depend on how elements are split across workers.

Items are identified by their global node index (nodes sorted by item id, so
comparing indices compares item ids). An undirected pair (a, b) with a < b is
encoded as the int64 key ``a * num_nodes + b``.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import numpy as np
import pandas as pd

from tfgnn_gfm.timesplit import SECONDS_PER_DAY

# Pairs generated per vectorised step; bounds the memory of one user shard.
DEFAULT_MAX_PAIRS_PER_STEP = 4_000_000
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


@dataclasses.dataclass
class UserItems:
  """Per (user, item) aggregates of one shard of users, sorted by user.

  Attributes:
    user: int64 user codes (local to the shard).
    item: int64 node indices.
    events: int64 number of events of the user with the item in the window.
    first: int64 epoch seconds of the user's first event with the item.
    last: int64 epoch seconds of the user's last event with the item.
  """

  user: np.ndarray
  item: np.ndarray
  events: np.ndarray
  first: np.ndarray
  last: np.ndarray

  def __len__(self) -> int:
    return len(self.user)

  def take(self, index: np.ndarray) -> UserItems:
    return UserItems(self.user[index], self.item[index], self.events[index],
                     self.first[index], self.last[index])


@dataclasses.dataclass
class PairStats:
  """Aggregates of undirected item pairs, sorted by key, one row per pair.

  Attributes:
    key: int64 pair keys ``a * num_nodes + b`` with a < b.
    co_users: int64 number of distinct users.
    first_day: int64 min over users of the co-interaction day.
    last_day: int64 max over users of the co-interaction day.
  """

  key: np.ndarray
  co_users: np.ndarray
  first_day: np.ndarray
  last_day: np.ndarray

  def __len__(self) -> int:
    return len(self.key)

  def take(self, index: np.ndarray) -> PairStats:
    return PairStats(self.key[index], self.co_users[index],
                     self.first_day[index], self.last_day[index])

  @classmethod
  def empty(cls) -> PairStats:
    z = np.zeros(0, np.int64)
    return cls(z, z.copy(), z.copy(), z.copy())


def aggregate_user_items(user: np.ndarray, item: np.ndarray,
                         timestamp: np.ndarray) -> UserItems:
  """Aggregates events to one row per (user, item).

  Args:
    user: int user codes of the events.
    item: int node indices of the events (rolled up, in the window).
    timestamp: int64 epoch seconds of the events.

  Returns:
    UserItems sorted by (user, item).
  """
  if len(user) == 0:
    z = np.zeros(0, np.int64)
    return UserItems(z, z.copy(), z.copy(), z.copy(), z.copy())
  frame = pd.DataFrame({"u": np.asarray(user, np.int64),
                        "i": np.asarray(item, np.int64),
                        "t": np.asarray(timestamp, np.int64)})
  agg = frame.groupby(["u", "i"], sort=True)["t"].agg(["size", "min", "max"])
  return UserItems(
      user=agg.index.get_level_values(0).to_numpy(np.int64),
      item=agg.index.get_level_values(1).to_numpy(np.int64),
      events=agg["size"].to_numpy(np.int64),
      first=agg["min"].to_numpy(np.int64),
      last=agg["max"].to_numpy(np.int64))


def cap_items_per_user(items: UserItems, cap: int) -> tuple[UserItems, int]:
  """Keeps each user's top ``cap`` items (0 = keep all).

  A user's items are ranked by number of events (descending), then by the most
  recent event (descending), then by item (node index = item id order).

  Args:
    items: UserItems of a shard.
    cap: items kept per user; 0 keeps all.

  Returns:
    (UserItems sorted by user then rank, number of users that were capped).
  """
  order = np.lexsort((items.item, -items.last, -items.events, items.user))
  ranked = items.take(order)
  if cap <= 0 or len(ranked) == 0:
    return ranked, 0
  starts = _group_starts(ranked.user)
  sizes = np.diff(np.append(starts, len(ranked)))
  rank = np.arange(len(ranked)) - np.repeat(starts, sizes)
  capped_users = int(np.count_nonzero(sizes > cap))
  return ranked.take(np.flatnonzero(rank < cap)), capped_users


def single_item_users(items: UserItems) -> np.ndarray:
  """True for the rows of users with exactly one item: they form no pair."""
  _, inverse, counts = np.unique(items.user, return_inverse=True,
                                 return_counts=True)
  return counts[inverse] == 1


def _group_starts(sorted_keys: np.ndarray) -> np.ndarray:
  """Start positions of the runs of equal values in a sorted array."""
  if len(sorted_keys) == 0:
    return np.zeros(0, np.int64)
  change = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
  return np.concatenate([[0], change]).astype(np.int64)


def _pairs_per_element(user: np.ndarray) -> np.ndarray:
  """For each row of a user-sorted table, the partners that follow it."""
  starts = _group_starts(user)
  sizes = np.diff(np.append(starts, len(user)))
  offset = np.arange(len(user)) - np.repeat(starts, sizes)
  return np.repeat(sizes, sizes) - 1 - offset


def iter_user_pairs(items: UserItems, num_nodes: int,
                    max_pairs: int = DEFAULT_MAX_PAIRS_PER_STEP
                    ) -> Iterator[PairStats]:
  """Yields the pairs of every user's items, in bounded steps.

  For each user and each two of the user's items a and b, one pair (a, b)
  counts one co-user; its day is the later of the user's first events with a
  and with b (days since the epoch). The yielded PairStats are already
  aggregated within each step (co_users summed, first/last day min/max).

  Args:
    items: UserItems sorted by user (e.g. from ``cap_items_per_user``).
    num_nodes: the number of nodes (for the pair key).
    max_pairs: at most this many raw pairs per step (whole users per step; a
      single user above it is one step).

  Yields:
    PairStats of consecutive groups of users.
  """
  if len(items) == 0:
    return
  partners = _pairs_per_element(items.user)
  per_row_end = np.cumsum(partners)
  starts = _group_starts(items.user)
  user_end_rows = np.append(starts[1:], len(items))
  pairs_before_user = np.concatenate([[0], per_row_end])[starts]
  pairs_after_user = per_row_end[user_end_rows - 1]
  n_users = len(starts)
  u = 0
  while u < n_users:
    base = pairs_before_user[u]
    # Last user whose pairs still fit in this step (at least one user).
    last = int(np.searchsorted(pairs_after_user, base + max_pairs,
                               side="right")) - 1
    last = max(last, u)
    yield _pairs_of_rows(items, partners, int(starts[u]),
                         int(user_end_rows[last]), num_nodes)
    u = last + 1


def _pairs_of_rows(items: UserItems, partners: np.ndarray, start: int,
                   end: int, num_nodes: int) -> PairStats:
  counts = partners[start:end]
  total = int(counts.sum())
  if total == 0:
    return PairStats.empty()
  left = np.repeat(np.arange(start, end, dtype=np.int64), counts)
  step_start = np.cumsum(counts) - counts
  right = left + 1 + (np.arange(total, dtype=np.int64)
                      - np.repeat(step_start, counts))
  a, b = items.item[left], items.item[right]
  low, high = np.minimum(a, b), np.maximum(a, b)
  day = np.maximum(items.first[left], items.first[right]) // SECONDS_PER_DAY
  key = low * np.int64(num_nodes) + high
  return aggregate_pairs(key, np.ones(total, np.int64), day, day)


def aggregate_pairs(key: np.ndarray, co_users: np.ndarray,
                    first_day: np.ndarray, last_day: np.ndarray) -> PairStats:
  """Merges rows of the same pair: sums co-users, min/max of the days.

  Args:
    key: int64 pair keys (any order, repeats allowed).
    co_users: co-users of each row.
    first_day: first day of each row.
    last_day: last day of each row.

  Returns:
    PairStats with one row per distinct key, sorted by key.
  """
  if len(key) == 0:
    return PairStats.empty()
  order = np.argsort(key, kind="stable")
  key = key[order]
  starts = _group_starts(key)
  return PairStats(
      key=key[starts],
      co_users=np.add.reduceat(co_users[order], starts),
      first_day=np.minimum.reduceat(first_day[order], starts),
      last_day=np.maximum.reduceat(last_day[order], starts))


def concat_pairs(parts: list[PairStats]) -> PairStats:
  """Concatenates PairStats (not aggregated; see ``aggregate_pairs``)."""
  parts = [p for p in parts if len(p)]
  if not parts:
    return PairStats.empty()
  return PairStats(*(np.concatenate([getattr(p, f) for p in parts])
                     for f in ("key", "co_users", "first_day", "last_day")))


def merge_pairs(parts: list[PairStats]) -> PairStats:
  """Aggregates several partial PairStats into one."""
  merged = concat_pairs(parts)
  return aggregate_pairs(merged.key, merged.co_users, merged.first_day,
                         merged.last_day)


def pair_shard(key: np.ndarray, num_shards: int) -> np.ndarray:
  """Shard of each pair key (a fixed multiplicative hash; never Python hash)."""
  mixed = (np.asarray(key, np.int64).astype(np.uint64) * _HASH_MULTIPLIER
           ) >> np.uint64(32)
  return (mixed % np.uint64(num_shards)).astype(np.int64)


def split_key(key: np.ndarray, num_nodes: int) -> tuple[np.ndarray, np.ndarray]:
  """Decodes pair keys into (a, b) node indices with a < b."""
  return key // np.int64(num_nodes), key % np.int64(num_nodes)


def top_k_mask(node: np.ndarray, other: np.ndarray, co_users: np.ndarray,
               k: int) -> np.ndarray:
  """Marks each node's top ``k`` incident edges.

  Args:
    node: node index of each incident record.
    other: the edge's other endpoint.
    co_users: the edge's co-user count.
    k: edges kept per node; 0 keeps all.

  Returns:
    A boolean mask, True where the record is among its node's top k by
    co-users (descending), ties by the other endpoint (ascending item id).
  """
  n = len(node)
  if k <= 0 or n == 0:
    return np.ones(n, bool)
  order = np.lexsort((other, -co_users, node))
  sorted_node = node[order]
  starts = _group_starts(sorted_node)
  sizes = np.diff(np.append(starts, n))
  rank = np.arange(n) - np.repeat(starts, sizes)
  mask = np.empty(n, bool)
  mask[order] = rank < k
  return mask
