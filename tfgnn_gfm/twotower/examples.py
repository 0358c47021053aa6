"""Training examples of the dynamic layer, built from one global time cut.

``TrainingExamples`` are the (user, item row, weight) pairs of the training
window ``[cut - train_days, cut)``, each item's in-batch sampling probability
and, by default, each example's own history (the user's items strictly
before the example's time); ``TrainingData`` bundles them with the item and
user tables. ``build_training_data`` builds it all; ``training_data_for``
takes the options of a ``TwoTowerConfig``.

Time split rule (``tfgnn_gfm.timesplit``): nothing at or after the cut
reaches a training example, a history, a vocabulary or a statistic
(``build_training_data`` filters the interactions to the window first and
derives everything from that slice).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from tfgnn_gfm.catalog import NO_ROOT
from tfgnn_gfm.timesplit import SECONDS_PER_DAY, TimeSplit
from tfgnn_gfm.twotower.config import TwoTowerConfig
from tfgnn_gfm.twotower.items import ItemTable
from tfgnn_gfm.twotower.users import UserTable, build_user_table


@dataclasses.dataclass
class TrainingExamples:
  """Positive (user, item) pairs of the training window.

  Attributes:
    user: [n] int32 user rows.
    item: [n] int32 (rolled-up) item rows.
    weight: [n] float32 positive weights.
    timestamp: [n] int64 time of the (latest) event.
    sampling_probability: [num_items] float32 share of examples whose
      positive is the item: the probability of drawing it as an in-batch
      negative (logQ correction).
    history: [n, L] int32 item rows of each example's own history (the
      user's most recent distinct items strictly before ``timestamp``, most
      recent first, -1 pads), or None: the user table's window history is
      used (``training_history="window"``).
  """

  user: np.ndarray
  item: np.ndarray
  weight: np.ndarray
  timestamp: np.ndarray
  sampling_probability: np.ndarray
  history: np.ndarray | None = None

  def __len__(self) -> int:
    return len(self.user)


@dataclasses.dataclass
class TrainingData:
  """What ``train_two_tower`` needs: tables, examples and the split."""

  items: ItemTable
  users: UserTable
  examples: TrainingExamples
  split: TimeSplit
  counts: dict[str, Any]
  #: How the examples were made (interaction weights, history mode).
  training: dict[str, Any] = dataclasses.field(default_factory=dict)

  def spec(self) -> dict[str, Any]:
    return {"items": self.items.spec(), "users": self.users.spec(),
            "split": self.split.to_dict(), "training": self.training}


def event_weights(events: pd.Series, weights: Mapping[str, float],
                  default: float) -> np.ndarray:
  """Positive weight of each event name."""
  mapped = events.astype(object).map(dict(weights))
  return mapped.fillna(default).to_numpy(np.float32)


def _window(interactions: pd.DataFrame, start: int, end: int) -> pd.DataFrame:
  ts = interactions["timestamp"].to_numpy(np.int64)
  return interactions[(ts >= start) & (ts < end)]


def _user_index(interactions: pd.DataFrame,
                users: pd.DataFrame | None) -> np.ndarray:
  ids = pd.unique(pd.concat(
      [users["user_id"].astype(object) if users is not None else
       pd.Series([], dtype=object),
       interactions["user_id"].astype(object)], ignore_index=True))
  return np.asarray(ids, dtype=object)


def build_history(user: np.ndarray, item: np.ndarray, timestamp: np.ndarray,
                  num_users: int, max_history: int) -> np.ndarray:
  """The most recent distinct items of each user.

  Args:
    user: [n] user rows of the events.
    item: [n] item rows.
    timestamp: [n] event times.
    num_users: U.
    max_history: L.

  Returns:
    int32 [U, L] item rows, most recent first (ties by row), -1 padding.
  """
  history = np.full((num_users, max_history), -1, np.int32)
  if not len(user):
    return history
  frame = pd.DataFrame({"u": user, "r": item, "t": timestamp})
  last = frame.groupby(["u", "r"], sort=False)["t"].max().reset_index()
  last = last.sort_values(["u", "t", "r"], ascending=[True, False, True])
  position = last.groupby("u", sort=False).cumcount().to_numpy()
  keep = position < max_history
  history[last["u"].to_numpy()[keep], position[keep]] = (
      last["r"].to_numpy()[keep])
  return history


def build_example_history(user: np.ndarray, item: np.ndarray,
                          timestamp: np.ndarray, example_user: np.ndarray,
                          example_time: np.ndarray,
                          max_history: int) -> np.ndarray:
  """Each example's history: its user's items strictly before its time.

  The same rule as ``build_history`` (most recent distinct items, an item
  dated by its last event; most recent first, ties by row; -1 pads), applied
  to the events of the example's user with ``timestamp < example_time``.
  Vectorised: one pass walks every example's pointer back through its
  user's time-sorted events, keeping an event when it is the last one of
  its item before the example's time.

  Args:
    user: [n] user rows of the events.
    item: [n] item rows.
    timestamp: [n] event times.
    example_user: [m] user row of each example.
    example_time: [m] time of each example.
    max_history: L.

  Returns:
    int32 [m, L] item rows.
  """
  m = len(example_user)
  out = np.full((m, max_history), -1, np.int32)
  if not m or not len(user):
    return out
  seq = pd.DataFrame({"u": np.asarray(user, np.int64),
                      "r": np.asarray(item, np.int64),
                      "t": np.asarray(timestamp, np.int64)}).drop_duplicates()
  # Time ascending, row descending: walking back gives time descending,
  # ties by row ascending (build_history's order).
  seq = seq.sort_values(["u", "t", "r"], ascending=[True, True, False])
  su, sr, st = (seq[c].to_numpy() for c in ("u", "r", "t"))
  n = len(su)
  # next_same[j]: the position of the user's next event on the same item (n
  # when none). Event j is its item's last one before position p iff
  # next_same[j] >= p.
  order = np.lexsort((np.arange(n), sr, su))
  same = ((su[order][1:] == su[order][:-1]) &
          (sr[order][1:] == sr[order][:-1]))
  next_same = np.full(n, n, np.int64)
  next_same[order[:-1][same]] = order[1:][same]
  first = np.ones(n, np.int64)  # First event of its (user, item).
  first[order[1:][same]] = 0
  distinct_upto = np.concatenate([[0], np.cumsum(first)])
  # p: the example's end of prefix (events of its user before its time).
  ex_user = np.asarray(example_user, np.int64)
  t_min, t_max = int(st.min()), int(st.max())
  span = t_max - t_min + 2
  key = su * span + (st - t_min)
  ex_key = ex_user * span + (np.clip(np.asarray(example_time, np.int64),
                                     t_min, t_max + 1) - t_min)
  p = np.searchsorted(key, ex_key, side="left")
  lo = np.searchsorted(su, ex_user, side="left")
  limit = np.minimum(max_history, distinct_upto[p] - distinct_upto[lo])
  ptr = p - 1
  count = np.zeros(m, np.int64)
  active = np.flatnonzero(limit > 0)
  while len(active):
    j = ptr[active]
    hit = next_same[j] >= p[active]
    kept = active[hit]
    out[kept, count[kept]] = sr[j[hit]]
    count[kept] += 1
    ptr[active] -= 1
    active = active[count[active] < limit[active]]
  return out


def interaction_factors(weight: np.ndarray, group: np.ndarray,
                        transform: str) -> tuple[np.ndarray, np.ndarray]:
  """Multiplier of each event's positive weight from its ``weight`` value.

  ``m_g`` is the median of the positive weights of the event's group (an
  event name on an item type) in the training window:

  * ``none``: 1 (the column is ignored);
  * ``saturating``: ``2 w / (w + m_g)``: 0 at 0, 1 at the median, below 2
    however large ``w`` is, and, for weights spread symmetrically around the
    median on a log scale, 1 on average;
  * ``log1p``: ``log2(1 + w / m_g)``: 1 at the median, unbounded but slow.

  A missing (NaN) or infinite weight counts 1; a weight <= 0 gives 0 (the
  event is dropped, as an event weight of 0 drops it).

  Args:
    weight: [n] float weights.
    group: [n] int group codes in ``[0, G)``.
    transform: one of ``config.INTERACTION_WEIGHTS``.

  Returns:
    (factor [n] float64, median [G] float64; NaN for a group without a
    positive weight).

  Raises:
    ValueError: on an unknown transform.
  """
  weight = np.asarray(weight, np.float64)
  weight = np.where(np.isfinite(weight), weight, np.nan)
  group = np.asarray(group, np.int64)
  n_groups = int(group.max()) + 1 if len(group) else 0
  positive = weight > 0
  median = np.full(n_groups, np.nan)
  if positive.any():
    by_group = pd.Series(weight[positive]).groupby(group[positive]).median()
    median[by_group.index.to_numpy()] = by_group.to_numpy()
  if transform == "none":
    return np.ones(len(weight)), median
  ratio = np.where(positive, weight, 0.0) / np.where(positive, median[group],
                                                     1.0)
  if transform == "saturating":
    factor = 2.0 * ratio / (ratio + 1.0)
  elif transform == "log1p":
    factor = np.log1p(ratio) / np.log(2.0)
  else:
    raise ValueError(f"unknown interaction_weight {transform!r}")
  return np.where(np.isnan(weight), 1.0, factor), median


def _positive_events(interactions: pd.DataFrame, items: ItemTable,
                     weights: Mapping[str, float], default_weight: float,
                     interaction_weight: str = "none"
                     ) -> tuple[pd.DataFrame, int, dict[str, Any]]:
  """Interactions mapped to rolled-up item rows, with positive weights > 0.

  An event's weight is its event weight times ``interaction_factors`` of
  its ``weight`` value (groups: event name on rolled-up item type).

  Returns:
    A frame (user_id, row, timestamp, weight), the number of events whose
    item is not in the catalog, and what the weight column did
    (``interaction_weight``, ``weight_medians`` per "event/item type",
    ``weight_dropped_events``, ``weight_missing_events``).
  """
  rows = items.rows_of(interactions["item_id"].astype(object).tolist())
  rows = np.where(rows >= 0, items.root[np.maximum(rows, 0)], NO_ROOT)
  unknown = int((rows < 0).sum())
  events = (interactions["event"] if "event" in interactions.columns
            else pd.Series("stream", index=interactions.index))
  names = events.fillna("stream").astype(str)
  w = event_weights(names, weights, default_weight)
  keep = (rows >= 0) & (w > 0)
  root = rows[keep].astype(np.int32)
  raw = (pd.to_numeric(interactions["weight"], errors="coerce").to_numpy(
      np.float64)[keep] if "weight" in interactions.columns
         else np.full(int(keep.sum()), np.nan))
  labels = names.to_numpy(object)[keep] + "/" + items.item_type[root]
  codes, uniques = pd.factorize(pd.Series(labels, dtype=object))
  factor, median = interaction_factors(raw, codes, interaction_weight)
  weight = (w[keep] * factor).astype(np.float32)
  alive = weight > 0
  frame = pd.DataFrame({
      "user_id": interactions["user_id"].astype(object).to_numpy()[keep][alive],
      "row": root[alive],
      "timestamp": interactions["timestamp"].to_numpy(np.int64)[keep][alive],
      "weight": weight[alive]})
  info = {"interaction_weight": interaction_weight,
          "weight_medians": {str(k): (None if np.isnan(v) else float(v))
                             for k, v in sorted(zip(uniques, median))},
          "weight_dropped_events": int((~alive).sum()),
          "weight_missing_events": int(np.isnan(raw).sum())}
  return frame, unknown, info


def recent_popularity(item: np.ndarray, timestamp: np.ndarray,
                      num_items: int, cut: int, days: int) -> np.ndarray:
  """The popularity prior: how much each item was consumed just before the cut.

  ``log1p(examples in [cut - days, cut)) / log1p(the largest such count)``,
  in [0, 1] whatever the size of the platform, so the item tower can learn
  how much a user's score should lean towards what is trending now (the
  hold-out follows the cut; on real logs recent popularity is a strong
  signal that the history alone does not carry).

  Args:
    item: [n] item row of each training example.
    timestamp: [n] its time.
    num_items: N.
    cut: the cut (nothing at or after it is read).
    days: the recent window.

  Returns:
    [N] float32.
  """
  recent = (timestamp >= int(cut) - int(days) * SECONDS_PER_DAY) & (
      timestamp < int(cut))
  counts = np.bincount(item[recent], minlength=num_items).astype(np.float64)
  scale = np.log1p(counts.max()) if len(counts) and counts.max() > 0 else 1.0
  return (np.log1p(counts) / scale).astype(np.float32)


def build_training_data(interactions: pd.DataFrame,
                        users: pd.DataFrame | None, items: ItemTable,
                        split: TimeSplit, *,
                        event_weight: Mapping[str, float],
                        default_event_weight: float = 1.0,
                        dedupe_pairs: bool = True, max_history: int = 100,
                        interaction_weight: str = "saturating",
                        training_history: str = "before_example",
                        user_columns: Sequence[str] = (),
                        use_interest_vector: bool = True,
                        item_types: Sequence[str] | None = None,
                        user_ids: np.ndarray | None = None,
                        popularity_days: int = 0) -> TrainingData:
  """Training examples and features from the window before the cut.

  Args:
    interactions: every interaction of the dataset (any time).
    users: the users table, or None.
    items: the catalog.
    split: the time cut; only ``[split.train_start, split.cut)`` is read.
    event_weight: positive weight per event name (0 drops the event).
    default_event_weight: weight of events not named.
    dedupe_pairs: one example per (user, item), weighted by its largest
      event weight, dated by its latest event; else one per event.
    max_history: history length.
    interaction_weight: transform of the ``weight`` column that scales the
      event weights (``interaction_factors``).
    training_history: ``before_example``: each example gets its own history,
      the user's events strictly before its time (``examples.history``);
      ``window``: examples use the user table's history (the whole window).
    user_columns: user feature columns (empty: all).
    use_interest_vector: read the users' interest vectors.
    item_types: keep only items of these (rolled-up) types, for examples and
      histories (the type-specific baseline); None: every type.
    user_ids: the user row order (default: users table, then interactions).
    popularity_days: > 0: the item table of the result carries the
      ``recent_popularity`` prior of the last ``popularity_days`` before the
      cut (from the positive events); 0: none.

  Returns:
    The TrainingData.
  """
  if user_ids is None:
    user_ids = _user_index(interactions, users)
  window = _window(interactions, split.train_start, split.cut)
  if training_history not in ("before_example", "window"):
    raise ValueError(f"unknown training_history {training_history!r}")
  events, unknown, weight_info = _positive_events(
      window, items, event_weight, default_event_weight, interaction_weight)
  if item_types is not None:
    wanted = np.isin(items.item_type[events["row"].to_numpy()],
                     list(item_types))
    events = events[wanted]
  user_pos = pd.Index(user_ids).get_indexer(pd.Index(events["user_id"]))
  if (user_pos < 0).any():
    raise ValueError("an interaction names a user outside user_ids")
  events = events.assign(user=user_pos.astype(np.int32))
  if dedupe_pairs:
    grouped = events.groupby(["user", "row"], sort=True).agg(
        weight=("weight", "max"), timestamp=("timestamp", "max"))
    grouped = grouped.reset_index()
  else:
    grouped = events.sort_values(["user", "timestamp", "row"])
  n_items = len(items)
  item = grouped["row"].to_numpy(np.int32)
  counts = np.bincount(item, minlength=n_items).astype(np.float64)
  probability = (counts / max(counts.sum(), 1.0)).astype(np.float32)
  examples = TrainingExamples(
      user=grouped["user"].to_numpy(np.int32), item=item,
      weight=grouped["weight"].to_numpy(np.float32),
      timestamp=grouped["timestamp"].to_numpy(np.int64),
      sampling_probability=probability)
  if training_history == "before_example":
    examples.history = build_example_history(
        events["user"].to_numpy(), events["row"].to_numpy(),
        events["timestamp"].to_numpy(), examples.user, examples.timestamp,
        max_history)
  history = build_history(events["user"].to_numpy(), events["row"].to_numpy(),
                          events["timestamp"].to_numpy(), len(user_ids),
                          max_history)
  user_table = build_user_table(
      np.asarray(user_ids, dtype=object), users, np.unique(examples.user),
      history, columns=user_columns, use_interest_vector=use_interest_vector)
  counts_out = {
      "window_interactions": int(len(window)),
      "window_unknown_items": unknown,
      "positive_events": int(len(events)),
      "examples": int(len(examples)),
      "training_users": int(len(np.unique(examples.user))),
      "training_items": int((counts > 0).sum()),
      "users": int(len(user_ids)),
      "items": int(n_items),
      "candidates": int(items.candidate.sum()),
      "weight_dropped_events": weight_info["weight_dropped_events"],
  }
  training = {"training_history": training_history,
              "interaction_weight": interaction_weight,
              "weight_medians": weight_info["weight_medians"],
              "weight_missing_events": weight_info["weight_missing_events"]}
  if popularity_days > 0:
    items = dataclasses.replace(items, popularity=recent_popularity(
        events["row"].to_numpy(), events["timestamp"].to_numpy(), n_items,
        split.cut, popularity_days))
    training["popularity_days"] = int(popularity_days)
  return TrainingData(items=items, users=user_table, examples=examples,
                      split=split, counts=counts_out, training=training)


def training_data_for(interactions: pd.DataFrame, users: pd.DataFrame | None,
                      items: ItemTable, split: TimeSplit,
                      config: TwoTowerConfig, *,
                      item_types: Sequence[str] | None = None,
                      user_ids: np.ndarray | None = None) -> TrainingData:
  """``build_training_data`` with the options of a TwoTowerConfig."""
  return build_training_data(
      interactions, users, items, split, event_weight=config.event_weights,
      default_event_weight=config.default_event_weight,
      dedupe_pairs=config.dedupe_pairs, max_history=config.max_history,
      interaction_weight=config.interaction_weight,
      training_history=config.training_history,
      user_columns=config.user_columns,
      use_interest_vector=config.use_interest_vector, item_types=item_types,
      user_ids=user_ids, popularity_days=config.popularity_days)
