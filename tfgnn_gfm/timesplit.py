"""The time split: one global cut, the windows around it, and their constants.

Every stage splits time the same way (docs/DESIGN.md section 4.1), and this
module is the only place that says how:

* **the cut** is one global time in epoch seconds. ``parse_cut`` reads it from
  a date (midnight UTC), an ISO-8601 time (no zone = UTC) or epoch seconds;
  ``default_cut`` derives it from the last valid interaction: the UTC midnight
  after that interaction's day, minus ``holdout_days`` whole days;
* **the training window** is ``[cut - train_days, cut)`` (``window_start``):
  the graph's edges, and the two-tower models' examples, histories,
  vocabularies and statistics, come from it and from nothing later;
* **the hold-out** is ``[cut, cut + holdout_days)`` (``window_end``);
* ``TimeSplit`` holds one cut with both windows; ``window_splits`` gives the
  consecutive splits of rolling evaluation and ``validation_view`` the split
  that moves back by one hold-out so the test hold-out is never read.

``NO_TIME`` is the ``published_at`` of an item without one: before every cut.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import TYPE_CHECKING, Any

from tfgnn_gfm.config import ConfigError

if TYPE_CHECKING:
  import pandas as pd

SECONDS_PER_DAY = 86_400
#: ``published_at`` of an item that has none: before every cut (the int64
#: minimum, written without numpy: the REST client imports this module).
NO_TIME = -(2**63)


def parse_cut(value: str | int | float) -> int:
  """Parses a cut given as a date, an ISO-8601 time or epoch seconds.

  The data reader's rule (``tfgnn_gfm.data.reader.parse_timestamps``) is the
  only one: fractions of a second are floored (``-1.5`` is -2), and a time
  outside the supported range (``TIME_RANGE_TEXT``: epoch milliseconds are
  outside it) is refused, as a timestamp in the data would be.

  Args:
    value: ``"2024-03-31"`` (midnight UTC), ``"2024-03-31T12:00:00+02:00"``
      (a time without zone is UTC) or epoch seconds (number or string).

  Returns:
    The cut in epoch seconds.

  Raises:
    ConfigError: when the value is none of those, or out of range.
  """
  import pandas as pd  # Lazy: gfm --help reads this module.

  from tfgnn_gfm.data.reader import TIME_RANGE_TEXT, parse_timestamps
  if isinstance(value, bool) or value is None or (
      isinstance(value, str) and not value.strip()):
    raise ConfigError(f"cut {value!r} is not a date, time or epoch seconds")
  if isinstance(value, str):
    value = value.strip()
  seconds, bad, out_of_range = parse_timestamps(
      pd.Series([value], dtype=object))
  if bool(out_of_range.iloc[0]):
    raise ConfigError(
        f"cut {value!r} is outside the supported time range "
        f"({TIME_RANGE_TEXT}; epoch milliseconds are not epoch seconds)")
  if bool(bad.iloc[0]):
    raise ConfigError(
        f"cut {value!r} is not a date (YYYY-MM-DD), an ISO-8601 time or "
        "epoch seconds")
  return int(seconds.iloc[0])


def default_cut(last_timestamp: int, holdout_days: int) -> int:
  """The default cut: midnight after the last interaction's day, minus hold-out.

  Args:
    last_timestamp: epoch seconds of the last valid interaction.
    holdout_days: whole days held out after the cut.

  Returns:
    The cut in epoch seconds (a UTC midnight).
  """
  last_day = int(last_timestamp) // SECONDS_PER_DAY
  return (last_day + 1 - int(holdout_days)) * SECONDS_PER_DAY


def format_time(seconds: int | None) -> str | None:
  """Epoch seconds as an ISO-8601 UTC string (for summaries).

  Args:
    seconds: epoch seconds, or None.

  Returns:
    ``"2024-03-31T00:00:00Z"``, or None for None.
  """
  if seconds is None:
    return None
  return datetime.datetime.fromtimestamp(
      int(seconds), datetime.timezone.utc).isoformat().replace("+00:00", "Z")


def window_start(cut: int, days: int) -> int:
  """The first second of the ``days`` before ``cut``: ``cut - days`` days.

  Args:
    cut: epoch seconds.
    days: whole days.

  Returns:
    Epoch seconds; the window ``[window_start(cut, days), cut)``.
  """
  return int(cut) - int(days) * SECONDS_PER_DAY


def window_end(cut: int, days: int) -> int:
  """The end (excluded) of the ``days`` from ``cut`` on: ``cut + days`` days.

  Args:
    cut: epoch seconds.
    days: whole days.

  Returns:
    Epoch seconds; the window ``[cut, window_end(cut, days))``.
  """
  return int(cut) + int(days) * SECONDS_PER_DAY


@dataclasses.dataclass(frozen=True)
class TimeSplit:
  """The global time cut and its windows, in epoch seconds.

  Attributes:
    cut: the cut; the training window ends just before it.
    train_days: length of the training window.
    holdout_days: length of the hold-out window (0 when only training).
  """

  cut: int
  train_days: int
  holdout_days: int = 0

  @property
  def train_start(self) -> int:
    """The first second of the training window ``[train_start, cut)``."""
    return window_start(self.cut, self.train_days)

  @property
  def holdout_end(self) -> int:
    """The end (excluded) of the hold-out ``[cut, holdout_end)``."""
    return window_end(self.cut, self.holdout_days)

  def to_dict(self) -> dict[str, Any]:
    """The split as JSON-ready values (epoch seconds and their UTC text)."""
    return {"cut": int(self.cut), "cut_utc": format_time(self.cut),
            "train_start": self.train_start,
            "train_start_utc": format_time(self.train_start),
            "train_days": int(self.train_days),
            "holdout_days": int(self.holdout_days),
            "holdout_end": self.holdout_end,
            "holdout_end_utc": format_time(self.holdout_end)}


def validation_view(interactions: pd.DataFrame, test_cut: int,
                    train_days: int, holdout_days: int
                    ) -> tuple[pd.DataFrame, TimeSplit]:
  """The validation split of a test cut, for choosing hyper-parameters.

  The test hold-out ``[test_cut, test_cut + holdout_days)`` is never read:
  every interaction at or after ``test_cut`` is dropped here, and the split
  moves back by ``holdout_days``: training ``[v - train_days, v)`` and
  validation targets ``[v, test_cut)`` with ``v = test_cut - holdout_days``.

  Args:
    interactions: every interaction of the dataset.
    test_cut: the cut of the test split (epoch seconds).
    train_days: training window length.
    holdout_days: hold-out length (the validation window has the same).

  Returns:
    (the interactions before ``test_cut``, the validation TimeSplit).
  """
  ts = interactions["timestamp"].to_numpy("int64")
  split = TimeSplit(window_start(test_cut, holdout_days), train_days,
                    holdout_days)
  return interactions[ts < int(test_cut)], split


def window_splits(cut: int, *, cuts: int, step_days: int, train_days: int,
                  holdout_days: int, validation: bool) -> list[TimeSplit]:
  """The splits of ``cuts`` consecutive hold-out windows (rolling cuts).

  Args:
    cut: in test mode the first window's cut; in validation mode the test
      cut, which no validation window may reach.
    cuts: number of windows (>= 1).
    step_days: days between consecutive cuts.
    train_days: training window length.
    holdout_days: hold-out window length.
    validation: place the windows before ``cut``: the last one ends at
      ``cut`` (its hold-out is ``[cut - holdout_days, cut)``), the others
      one step earlier each.

  Returns:
    The splits, earliest first.

  Raises:
    ValueError: when ``cuts`` or ``step_days`` is below 1.
  """
  if cuts < 1 or step_days < 1:
    raise ValueError(f"cuts and step must be >= 1, got {cuts}, {step_days}")
  step = int(step_days) * SECONDS_PER_DAY
  if validation:
    first = window_start(cut, holdout_days) - (cuts - 1) * step
  else:
    first = int(cut)
  return [TimeSplit(first + i * step, train_days, holdout_days)
          for i in range(cuts)]
