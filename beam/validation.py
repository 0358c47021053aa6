"""Key checks of the data contract in Beam: by key shard, never globally.

The contract's checks that need other rows (``tfgnn_gfm.data``) run here, in
the same order as ``read_dataset`` so both give the same dead letters:

1. ``duplicate_id`` per table: rows are sharded by a stable hash of the
   first key column (``item_id``, ``user_id``), so every copy of a key meets
   in one shard; within it rows are ordered by (file, line) and every row
   repeating an earlier row's primary key is rejected (the first is kept).
2. ``unknown_parent`` and ``parent_cycle``: an item whose ``parent_id``
   chain names no (deduplicated) item, or never ends; decided by the
   ``ItemCatalog`` side input (``beam/side_inputs.py``).
3. ``unknown_item``: an interaction naming an item that is not valid after
   steps 1-2; also decided by the catalog.

Clean interactions leave as compact ``InteractionBatch`` arrays (user codes,
catalog item indices, timestamps) keyed by user shard.
"""

from __future__ import annotations

import logging
from typing import Any, Iterable, Iterator

import apache_beam as beam
import numpy as np
import pandas as pd
from apache_beam.metrics import Metrics

from beam.elements import (
  DEAD_LETTERS,
  METRICS_NAMESPACE,
  SUMMARY,
  InteractionBatch,
  RowBatch,
)
from beam.read import count_dead_letters
from tfgnn_gfm.catalog import ItemCatalog
from tfgnn_gfm.data.contract import table_spec
from tfgnn_gfm.graph.nodes import stable_shard

MAX_TIMESTAMP = "max_timestamp"
_LOG = logging.getLogger(__name__)


def split_by_shard(batch: RowBatch, column: str,
                   num_shards: int) -> Iterator[tuple[int, RowBatch]]:
  """Splits a batch by the stable hash shard of one column's values."""
  shards = stable_shard(batch.frame[column].to_numpy(object), num_shards)
  for shard in np.unique(shards):
    yield int(shard), batch.with_frame(batch.frame[shards == shard])


def count_valid(element: tuple[int, list[RowBatch]],
                table: str) -> dict[str, Any]:
  """A summary part counting the rows of a shard as valid rows of ``table``."""
  return {"tables": {table: {"valid": sum(len(b) for b in element[1])}}}



def _reject(batch: RowBatch, mask: np.ndarray, reason: str,
            messages: list[str], column: str) -> Iterator[Any]:
  """Moves masked rows of a batch to dead letters, counted, as tagged output."""
  letters = batch.reject(mask, reason, messages, column)
  count_dead_letters(letters)
  for letter in letters:
    yield beam.pvalue.TaggedOutput(DEAD_LETTERS, letter)

class DedupFn(beam.DoFn):
  """Rejects rows repeating an earlier row's primary key, within a shard.

  Input ``(shard, [RowBatch])``; main output ``(shard, [RowBatch])`` with the
  duplicates removed, ``dead_letters`` output their dead letters.
  """

  def __init__(self, table: str):
    super().__init__()
    self._table = table

  def process(self, element: tuple[int, Iterable[RowBatch]]
              ) -> Iterator[Any]:
    shard, batches = element
    batches = sorted(batches, key=lambda b: (b.file_index, b.frame.index[0]
                                             if len(b) else -1))
    key = list(table_spec(self._table).primary_key)
    if key and batches:
      keys = pd.concat([
          b.frame[key].assign(_file=b.file_index, _line=b.frame.index,
                              _batch=i, _pos=np.arange(len(b)))
          for i, b in enumerate(batches)], ignore_index=True)
      keys = keys.sort_values(["_file", "_line", "_batch", "_pos"],
                              kind="stable")
      dup = keys.duplicated(subset=key, keep="first").to_numpy()
      message = (f"repeated key ({', '.join(key)}); the first row with it is "
                 "kept")
      for i, batch in enumerate(batches):
        rows = keys.loc[dup & (keys["_batch"].to_numpy() == i), "_pos"]
        if len(rows):
          mask = np.zeros(len(batch), bool)
          mask[rows.to_numpy()] = True
          letters = batch.reject(mask, "duplicate_id", message,
                                 ", ".join(key))
          count_dead_letters(letters)
          for letter in letters:
            yield beam.pvalue.TaggedOutput(DEAD_LETTERS, letter)
    yield shard, [b for b in batches if len(b)]


class CheckParentsFn(beam.DoFn):
  """Rejects items with a broken or cyclic ``parent_id`` chain.

  Input ``(shard, [RowBatch])`` of deduplicated items and the ``ItemCatalog``
  side input; main output the valid items, same shape; ``summary`` their
  count.
  """

  def process(self, element: tuple[int, list[RowBatch]],
              catalog: ItemCatalog) -> Iterator[Any]:
    shard, batches = element
    rejected = (("unknown_parent", pd.Index(catalog.orphans),
                 catalog.orphan_messages),
                ("parent_cycle", pd.Index(catalog.cycles),
                 catalog.cycle_messages))
    for batch in batches:
      for reason, ids, messages in rejected:
        found = ids.get_indexer(batch.frame["item_id"].to_numpy(object))
        mask = found >= 0
        if mask.any():
          yield from _reject(batch, mask, reason, list(messages[found[mask]]),
                             "parent_id")
    yield beam.pvalue.TaggedOutput(SUMMARY, {"tables": {"items": {
        "valid": sum(len(b) for b in batches)}}})
    yield shard, [b for b in batches if len(b)]


class CleanInteractionsFn(beam.DoFn):
  """Rejects interactions of unknown items; compacts the rest to arrays.

  Input ``(shard, [RowBatch])`` of deduplicated interactions and the
  ``ItemCatalog`` side input. Outputs:

  * main: ``(shard, InteractionBatch)`` of the interactions whose event
    counts (``events``; all when empty);
  * ``max_timestamp``: the shard's last valid timestamp (for the default
    cut, over every event);
  * ``summary``: counts for the run summary;
  * ``dead_letters``: ``unknown_item`` rows.
  """

  def __init__(self, events: tuple[str, ...]):
    super().__init__()
    self._events = tuple(events)
    self._valid = Metrics.counter(METRICS_NAMESPACE, "interactions_valid")

  def process(self, element: tuple[int, list[RowBatch]],
              catalog: ItemCatalog) -> Iterator[Any]:
    shard, batches = element
    users, items, times = [], [], []
    valid = 0
    for batch in batches:
      index = catalog.lookup(batch.frame["item_id"].to_numpy(object))
      unknown = index < 0
      if unknown.any():
        names = batch.frame["item_id"].to_numpy(object)[unknown]
        yield from _reject(batch, unknown, "unknown_item",
                           [f"item_id {i!r} is not in the items table"
                            for i in names], "item_id")
        index = index[~unknown]
      frame = batch.frame
      valid += len(frame)
      if not len(frame):
        continue
      yield beam.pvalue.TaggedOutput(MAX_TIMESTAMP,
                                     int(frame["timestamp"].max()))
      keep = (frame["event"].isin(list(self._events)).to_numpy(bool)
              if self._events else np.ones(len(frame), bool))
      users.append(frame["user_id"].to_numpy(object)[keep])
      items.append(index[keep].astype(np.int64))
      times.append(frame["timestamp"].to_numpy(np.int64)[keep])
    self._valid.inc(valid)
    yield beam.pvalue.TaggedOutput(SUMMARY, {
        "tables": {"interactions": {"valid": valid}},
        "interactions": {"counted_events": int(sum(len(i) for i in items))}})
    if not items:
      return
    codes, _ = pd.factorize(np.concatenate(users))
    yield shard, InteractionBatch(user=codes.astype(np.int64),
                                  item=np.concatenate(items),
                                  timestamp=np.concatenate(times))
