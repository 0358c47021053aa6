"""Configuration of the graph stage (``gfm build-graph``).

The item-item graph is built from the interactions of the training window
before a global cut (docs/DESIGN.md section 4.1): ``[cut - train_days, cut)``
(``--train-days``; ``--window-days``, its older name, is an alias). The cut,
its default and the window arithmetic are those of ``tfgnn_gfm.timesplit``.
Interactions after the cut are the hold-out and never reach the graph; items
published after the cut are "new items", embedded inductively later, and are
not nodes.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from tfgnn_gfm.config import ConfigError
from tfgnn_gfm.config import option_help as _help
from tfgnn_gfm.data.reader import MAX_INPUT_BYTES
from tfgnn_gfm.timesplit import parse_cut

DEFAULT_TEXT_ENCODER = "builtin:all-MiniLM-L6-v2"


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
  train_days: int = dataclasses.field(default=90, metadata=_help(
      "days of interactions before the cut that form edges (the training "
      "window)", aliases=("window_days",)))
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
  max_input_bytes: int = dataclasses.field(
      default=MAX_INPUT_BYTES, metadata=_help(
          "the most bytes of one CSV or JSON Lines file after gzip "
          "decompression (a larger file is an error, exit 2; decompression "
          "stops there)", metavar="BYTES"))
  full_graph: bool = dataclasses.field(default=True, metadata=_help(
      "also write the whole graph as one GraphTensor (graph.tfrecord); turn "
      "off for graphs beyond one machine's memory (or 2 GiB serialized)"))

  def validate(self) -> None:
    """Raises ConfigError naming the first impossible setting."""
    for name in ("train_days", "min_co_users", "text_batch_size",
                 "num_shards", "read_chunk_rows", "max_input_bytes"):
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
