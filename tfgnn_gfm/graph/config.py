"""Configuration of the graph stage (``gfm build-graph``) and its time cut.

The item-item graph is built from the interactions of one time window before a
global cut (docs/DESIGN.md section 4.1): ``[cut - window_days, cut)``.
Interactions after the cut are the hold-out and never reach the graph; items
published after the cut are "new items", embedded inductively later, and are
not nodes.

The default cut is day-aligned: midnight (UTC) after the day of the last valid
interaction, minus ``holdout_days``. On data written by ``gfm synth`` this is
exactly the generator's own cut, so the hold-out is whole days.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
from typing import ClassVar

from tfgnn_gfm.config import ConfigError
from tfgnn_gfm.config import option_help as _help

SECONDS_PER_DAY = 86_400
DEFAULT_TEXT_ENCODER = "builtin:all-MiniLM-L6-v2"
_EPOCH_RE = re.compile(r"^\s*-?\d+(\.\d+)?\s*$")


@dataclasses.dataclass
class GraphBuildConfig:
  """Configuration of the Beam graph pipeline (docs/DESIGN.md section 6.1).

  Caps keep heavy users and hub items from blowing up the pair count:

  * ``max_items_per_user``: a user's items in the window are ranked by number
    of events (most engaged first), ties by the most recent interaction, then
    by item id; only the top ones form pairs. A user with k items yields
    k*(k-1)/2 pairs, so the cap bounds a user's pairs by cap*(cap-1)/2.
  * ``max_edges_per_node``: an undirected edge is kept when it is among the
    top k edges (by co-user count, ties by the other item's id) of at least
    one of its endpoints (a symmetrized kNN graph; at most n*k edges).

  A cap of 0 means no cap.
  """

  section: ClassVar[str] = "graph"

  cut: str | None = dataclasses.field(default=None, metadata=_help(
      "global time cut: a date (YYYY-MM-DD, midnight UTC), an ISO-8601 time "
      "or epoch seconds; default: midnight after the last valid interaction's "
      "day minus --holdout-days", metavar="DATE"))
  window_days: int = dataclasses.field(default=90, metadata=_help(
      "days of interactions before the cut that form edges"))
  holdout_days: int = dataclasses.field(default=14, metadata=_help(
      "days after the cut held out (used only to derive the default cut)"))
  min_co_users: int = dataclasses.field(default=1, metadata=_help(
      "link two items when at least this many users interacted with both "
      "inside the window (1, as in the paper)"))
  max_items_per_user: int = dataclasses.field(default=200, metadata=_help(
      "per user and window, only the top items (most events, then most "
      "recent, then item id) form pairs; 0 = no cap"))
  max_edges_per_node: int = dataclasses.field(default=100, metadata=_help(
      "keep an edge when it is in the top-k by co-users of either endpoint; "
      "0 = no cap"))
  events: tuple[str, ...] = dataclasses.field(default=(), metadata=_help(
      "comma-separated events that count (e.g. stream,follow); empty = all",
      metavar="EVENTS"))
  text_encoder: str = dataclasses.field(default=DEFAULT_TEXT_ENCODER,
                                        metadata=_help(
      "text encoder for node features: 'builtin:all-MiniLM-L6-v2' or any "
      "TF-Hub-compatible SavedModel (strings [N] -> float32 [N, D])",
      metavar="HANDLE"))
  text_batch_size: int = dataclasses.field(default=256, metadata=_help(
      "texts per text encoder call"))
  num_shards: int = dataclasses.field(default=8, metadata=_help(
      "hash shards of users, items and pairs: the unit of parallelism and "
      "the number of files per node/edge set in sharded/"))
  read_chunk_rows: int = dataclasses.field(default=250_000, metadata=_help(
      "rows per batch when reading and validating an input file"))
  full_graph: bool = dataclasses.field(default=True, metadata=_help(
      "also write the whole graph as one GraphTensor (graph.tfrecord); turn "
      "off for graphs beyond one machine's memory (or 2 GiB serialized)"))

  def validate(self) -> None:
    """Raises ConfigError naming the first impossible setting."""
    for name in ("window_days", "min_co_users", "text_batch_size",
                 "num_shards", "read_chunk_rows"):
      value = getattr(self, name)
      if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    for name in ("holdout_days", "max_items_per_user", "max_edges_per_node"):
      value = getattr(self, name)
      if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ConfigError(
            f"{name} must be a non-negative integer, got {value!r}")
    if self.max_items_per_user == 1:
      raise ConfigError("max_items_per_user=1 leaves no pairs; use 0 (no cap) "
                        "or at least 2")
    if self.num_shards > 10_000:
      raise ConfigError(f"num_shards must be at most 10000, got "
                        f"{self.num_shards}")
    for event in self.events:
      if not event.strip():
        raise ConfigError(f"events holds an empty name: {self.events!r}")
    if not str(self.text_encoder).strip():
      raise ConfigError("text_encoder must not be empty")
    if self.cut is not None:
      parse_cut(self.cut)


def parse_cut(value: str | int | float) -> int:
  """Parses a cut given as a date, an ISO-8601 time or epoch seconds.

  Args:
    value: ``"2024-03-31"`` (midnight UTC), ``"2024-03-31T12:00:00+02:00"``
      (a time without zone is UTC) or epoch seconds (number or string).

  Returns:
    The cut in epoch seconds.

  Raises:
    ConfigError: when the value is none of those.
  """
  if isinstance(value, bool):
    raise ConfigError(f"cut {value!r} is not a date, time or epoch seconds")
  if isinstance(value, (int, float)):
    return int(value)
  text = str(value).strip()
  if _EPOCH_RE.match(text):
    return int(float(text))
  try:
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
  except ValueError as e:
    raise ConfigError(
        f"cut {value!r} is not a date (YYYY-MM-DD), an ISO-8601 time or "
        "epoch seconds") from e
  if parsed.tzinfo is None:
    parsed = parsed.replace(tzinfo=datetime.timezone.utc)
  return int(parsed.timestamp())


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
  """Epoch seconds as an ISO-8601 UTC string (for summaries)."""
  if seconds is None:
    return None
  return datetime.datetime.fromtimestamp(
      int(seconds), datetime.timezone.utc).isoformat().replace("+00:00", "Z")
