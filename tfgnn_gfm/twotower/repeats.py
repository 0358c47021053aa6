"""Consumption-aware retrieval: whether a type's consumed items come back.

A listener returns to the same podcast every week; a shopper rarely buys the
same kettle twice and a viewer rarely rates a film twice. So whether a
user's already-consumed items may be recommended again is decided per item
type, from how often that type is re-consumed in the training window:

* **repeat rate** of a type: over the training window's consumption days of
  the type (distinct (user, rolled-up item, UTC day) triples), the share
  whose item the user had already consumed on an earlier day of the window;
* **rule**: a type keeps repeats (its consumed items stay recommendable)
  when its repeat rate is at least ``repeat_threshold`` (default 0.1, one
  day in ten returns to a known item); otherwise they are dropped. A type
  with no consumption in the window keeps them (nothing to go on).
* **override**: ``--repeats keep`` or ``drop`` for every type, or per type
  (``podcast=keep,book=drop``; the types not named follow the rule).

The same ``RepeatPolicy`` is used by ``gfm evaluate`` (a dropped type's
consumed items are left out of its rankings, and a hold-out target the user
had already consumed cannot be recommended, so it counts as a miss), by
``gfm train-2t`` (written to ``features.json``) and by the exported
SavedModels (``serving_default`` leaves out the request's recent items of
dropped types). Everything here is numpy/pandas (no TensorFlow).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from tfgnn_gfm.catalog import type_names as catalog_type_names
from tfgnn_gfm.timesplit import SECONDS_PER_DAY, TimeSplit
from tfgnn_gfm.twotower.items import ItemTable

KEEP = "keep"
DROP = "drop"
AUTO = "auto"
#: The default ``repeat_threshold``.
DEFAULT_THRESHOLD = 0.1


def parse_override(text: str, types: Sequence[str] | None = None
                   ) -> dict[str, str]:
  """``--repeats``: ``auto``, ``keep``, ``drop`` or ``TYPE=keep|drop,...``.

  Args:
    text: the option's value.
    types: the known item types (checked when given).

  Returns:
    ``{type: "keep" | "drop"}`` of the types the override decides; the key
    ``"*"`` stands for every type (``keep`` or ``drop`` alone); ``{}`` for
    ``auto``.

  Raises:
    ValueError: an unknown mode, a malformed pair or an unknown type.
  """
  value = (text or "").strip()
  if value in ("", AUTO):
    return {}
  if value in (KEEP, DROP):
    return {"*": value}
  out = {}
  for part in value.split(","):
    name, sep, mode = part.strip().partition("=")
    name, mode = name.strip(), mode.strip()
    if not sep or not name or mode not in (KEEP, DROP, AUTO):
      raise ValueError(
          f"repeats must be auto, keep, drop or TYPE=keep|drop|auto pairs "
          f"separated by commas, got {text!r}")
    if types is not None and name not in types:
      raise ValueError(f"repeats names an unknown item type {name!r} "
                       f"(known: {', '.join(types)})")
    if mode != AUTO:
      out[name] = mode
  return out


def repeat_rates(user: np.ndarray, item: np.ndarray, day: np.ndarray,
                 item_type: np.ndarray) -> dict[str, tuple[float, int]]:
  """Per type, the repeat rate of the given consumption events.

  Args:
    user: [n] user keys of the events.
    item: [n] (rolled-up) item keys.
    day: [n] UTC day numbers.
    item_type: [n] the item's type name.

  Returns:
    ``{type: (repeat rate, consumption days)}``: over the distinct
    (user, item, day) triples of the type, the share whose (user, item) has
    an earlier day.
  """
  frame = pd.DataFrame({"u": user, "i": item, "d": day,
                        "t": item_type}).drop_duplicates(["u", "i", "d"])
  out = {}
  for name, group in frame.groupby("t", sort=True):
    days = len(group)
    pairs = len(group.drop_duplicates(["u", "i"]))
    out[str(name)] = ((days - pairs) / days if days else 0.0, int(days))
  return out


@dataclasses.dataclass(frozen=True)
class RepeatPolicy:
  """Per item type: may a user's consumed items be recommended again.

  Attributes:
    keep: ``{type: True}`` when the type keeps repeats.
    rates: ``{type: repeat rate}`` in the training window (None: no data).
    days: ``{type: consumption days}`` the rate is over.
    source: ``{type: "rule" | "flag"}``: what decided.
    threshold: the rule's threshold.
  """

  keep: Mapping[str, bool]
  rates: Mapping[str, float | None] = dataclasses.field(default_factory=dict)
  days: Mapping[str, int] = dataclasses.field(default_factory=dict)
  source: Mapping[str, str] = dataclasses.field(default_factory=dict)
  threshold: float = DEFAULT_THRESHOLD

  def keeps(self, item_type: str) -> bool:
    """Whether ``item_type`` keeps repeats (unknown types do)."""
    return bool(self.keep.get(str(item_type), True))

  @property
  def dropped_types(self) -> list[str]:
    """The types whose consumed items are not recommended again."""
    return sorted(t for t, k in self.keep.items() if not k)

  def drop_mask(self, item_types: Sequence[str] | np.ndarray) -> np.ndarray:
    """[N] bool: the item's type drops repeats (per item type name)."""
    return np.isin(np.asarray(item_types).astype(str), self.dropped_types)

  def to_dict(self) -> dict[str, Any]:
    """JSON-ready (``features.json``'s ``repeats`` section)."""
    return {"threshold": self.threshold,
            "types": {t: {"keep": bool(self.keep[t]),
                          "repeat_rate": self.rates.get(t),
                          "consumption_days": self.days.get(t, 0),
                          "decided_by": self.source.get(t, "rule")}
                      for t in sorted(self.keep)}}

  @classmethod
  def from_dict(cls, data: Mapping[str, Any] | None) -> "RepeatPolicy":
    """The policy of ``to_dict``; None (an older output) keeps every type."""
    if not data:
      return cls(keep={})
    types = data.get("types", {})
    return cls(keep={t: bool(v["keep"]) for t, v in types.items()},
               rates={t: v.get("repeat_rate") for t, v in types.items()},
               days={t: int(v.get("consumption_days", 0))
                     for t, v in types.items()},
               source={t: v.get("decided_by", "rule")
                       for t, v in types.items()},
               threshold=float(data.get("threshold", DEFAULT_THRESHOLD)))

  def describe(self) -> str:
    """One line for logs and summaries."""
    parts = []
    for t in sorted(self.keep):
      rate = self.rates.get(t)
      why = ("--repeats" if self.source.get(t) == "flag" else
             "no data" if rate is None else f"repeat rate {rate:.3f}")
      parts.append(f"{t} {'keeps' if self.keep[t] else 'drops'} ({why})")
    return "consumed items: " + ("; ".join(parts) if parts else "kept")


def decide(rates: Mapping[str, tuple[float, int]], types: Sequence[str], *,
           threshold: float = DEFAULT_THRESHOLD,
           override: str = AUTO) -> RepeatPolicy:
  """The policy of ``types`` from their repeat rates and the override.

  Args:
    rates: ``repeat_rates``' output.
    types: every item type.
    threshold: keep a type's repeats when its rate is at least this.
    override: ``--repeats`` (see ``parse_override``).

  Returns:
    The RepeatPolicy.
  """
  flags = parse_override(override, types)
  keep, rate_of, days_of, source = {}, {}, {}, {}
  for t in types:
    rate, days = rates.get(t, (None, 0))
    rate_of[t], days_of[t] = rate, days
    mode = flags.get(t, flags.get("*"))
    if mode is not None:
      keep[t], source[t] = mode == KEEP, "flag"
    else:
      keep[t] = rate is None or days == 0 or rate >= threshold
      source[t] = "rule"
  return RepeatPolicy(keep=keep, rates=rate_of, days=days_of, source=source,
                      threshold=float(threshold))


def repeat_policy(interactions: pd.DataFrame, items: ItemTable,
               split: TimeSplit, *, threshold: float = DEFAULT_THRESHOLD,
               override: str = AUTO) -> RepeatPolicy:
  """The repeat policy of the training window ``[train_start, cut)``.

  Interactions roll up to their root item (as training does); events with
  an item that is not in the catalog or has no root are left out.

  Args:
    interactions: the dataset's interactions (user_id, item_id, timestamp).
    items: the catalog.
    split: the time split (its training window is read).
    threshold: the rule's threshold.
    override: ``--repeats``.

  Returns:
    The RepeatPolicy over every type of the catalog.
  """
  ts = interactions["timestamp"].to_numpy(np.int64)
  inside = (ts >= split.train_start) & (ts < split.cut)
  window = interactions[inside]
  rows = items.rows_of(window["item_id"].astype(object).tolist())
  root = np.where(rows >= 0, items.root[np.maximum(rows, 0)], -1)
  ok = root >= 0
  types = catalog_type_names(items.item_type)
  rates = repeat_rates(
      window["user_id"].astype(object).to_numpy()[ok], root[ok],
      ts[inside][ok] // SECONDS_PER_DAY,
      np.asarray(items.item_type, dtype=object)[root[ok]])
  return decide(rates, types, threshold=threshold, override=override)
