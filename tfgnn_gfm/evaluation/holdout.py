"""The hold-out of the evaluation protocol: targets after the cut.

``Holdout`` holds the targets of the evaluation window ``[cut, cut +
holdout_days)`` (rolled up to candidate items) and the pre-cut facts the
protocol needs (what each user consumed before the cut, which items anyone
had consumed before it).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import pandas as pd

from tfgnn_gfm.timesplit import TimeSplit
from tfgnn_gfm.twotower.items import ItemTable


@dataclasses.dataclass
class Holdout:
  """Targets of the hold-out window and the facts the protocol needs.

  Attributes:
    user: [m] user rows of (user, item) target pairs (distinct pairs).
    item: [m] rolled-up candidate item rows.
    warm: [U] bool, the user interacted before the cut.
    seen_user, seen_item: (user row, item row) pairs consumed before the cut
      (any time, any event, rolled up), distinct.
    item_seen_before_cut: [N] bool, the item had an interaction before the
      cut (False: a cold item).
    counts: dropped rows and sizes.
  """

  user: np.ndarray
  item: np.ndarray
  warm: np.ndarray
  seen_user: np.ndarray
  seen_item: np.ndarray
  item_seen_before_cut: np.ndarray
  counts: dict[str, int]

  def of_users(self, user_rows: np.ndarray) -> "Holdout":
    """The same hold-out with only the targets of ``user_rows``."""
    keep = np.isin(self.user, user_rows)
    return dataclasses.replace(self, user=self.user[keep],
                               item=self.item[keep])

  def sample_users(self, max_users: int, seed: int) -> "Holdout":
    """The targets of a uniform random sample of ``max_users`` users.

    Every target of a sampled user is kept, so per-user metrics are those
    of the whole hold-out restricted to the sample; the same seed gives the
    same sample. With ``max_users`` at least the users with targets, the
    hold-out itself. ``counts`` stay the whole hold-out's (its
    ``holdout_users`` is what the sample was drawn from).
    """
    users = np.unique(self.user)
    if max_users >= len(users):
      return self
    rng = np.random.default_rng([seed, len(users)])
    return self.of_users(np.sort(rng.choice(users, max_users, replace=False)))


def build_holdout(interactions: pd.DataFrame, items: ItemTable,
                  user_ids: np.ndarray, split: TimeSplit, *,
                  target_events: Sequence[str] = ()) -> Holdout:
  """The hold-out targets ``[cut, cut + holdout_days)`` and pre-cut facts.

  Args:
    interactions: every interaction of the dataset.
    items: the catalog (targets are rolled up; non-candidates dropped).
    user_ids: the user row order.
    split: the time cut.
    target_events: events that are targets (empty: all).

  Returns:
    The Holdout.
  """
  ts = interactions["timestamp"].to_numpy(np.int64)
  rows = items.rows_of(interactions["item_id"].astype(object).tolist())
  rolled = np.where(rows >= 0, items.root[np.maximum(rows, 0)], -1)
  user_pos = pd.Index(user_ids).get_indexer(
      pd.Index(interactions["user_id"].astype(object)))
  before = (ts < split.cut) & (user_pos >= 0)
  warm = np.zeros(len(user_ids), bool)
  warm[user_pos[before]] = True
  seen = pd.DataFrame({"u": user_pos[before & (rolled >= 0)],
                       "r": rolled[before & (rolled >= 0)]}).drop_duplicates()
  item_seen = np.zeros(len(items), bool)
  item_seen[seen["r"].to_numpy()] = True
  inside = (ts >= split.cut) & (ts < split.holdout_end) & (user_pos >= 0)
  if target_events and "event" in interactions.columns:
    inside &= interactions["event"].astype(object).isin(
        list(target_events)).to_numpy()
  known = inside & (rolled >= 0)
  is_candidate = np.zeros(len(interactions), bool)
  is_candidate[known] = items.candidate[rolled[known]]
  pairs = pd.DataFrame({"u": user_pos[known & is_candidate],
                        "r": rolled[known & is_candidate]}).drop_duplicates()
  pairs = pairs.sort_values(["u", "r"])
  return Holdout(
      user=pairs["u"].to_numpy(np.int64), item=pairs["r"].to_numpy(np.int64),
      warm=warm, seen_user=seen["u"].to_numpy(np.int64),
      seen_item=seen["r"].to_numpy(np.int64), item_seen_before_cut=item_seen,
      counts={"holdout_interactions": int(inside.sum()),
              "holdout_unknown_items": int((inside & (rolled < 0)).sum()),
              "holdout_not_candidates": int((known & ~is_candidate).sum()),
              "target_pairs": int(len(pairs)),
              "holdout_users": int(pairs["u"].nunique())})
