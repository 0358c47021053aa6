"""The global side inputs of the pipeline: item catalog, cut and node index.

Three singleton PCollections, each small next to the interactions (one row
per item), built once and broadcast to the workers:

* the ``ItemCatalog`` (``tfgnn_gfm.catalog``): valid items and roll-up;
* the cut: ``--cut``, or by default midnight after the last valid
  interaction's day minus ``holdout_days`` (``tfgnn_gfm.timesplit``);
* the ``NodeIndex`` for that cut: node ids, node sets, each item's node.
"""

from __future__ import annotations

from typing import Any, Iterable

import apache_beam as beam
import numpy as np

from beam.elements import RowBatch
from tfgnn_gfm.catalog import ItemCatalog, build_item_catalog
from tfgnn_gfm.graph.config import GraphBuildConfig
from tfgnn_gfm.graph.nodes import NodeIndex, build_node_index, item_fates
from tfgnn_gfm.graph.schema import GraphSchemaError
from tfgnn_gfm.timesplit import NO_TIME, default_cut, parse_cut


def item_keys(element: tuple[int, list[RowBatch]]) -> dict[str, np.ndarray]:
  """The catalog columns of one shard of deduplicated items."""
  _, batches = element
  frames = [b.frame for b in batches if len(b)]
  if not frames:
    return {"item_id": np.zeros(0, object), "item_type": np.zeros(0, object),
            "parent_id": np.zeros(0, object),
            "published_at": np.zeros(0, np.int64)}
  published = np.concatenate([
      f["published_at"].astype("Int64").fillna(NO_TIME).to_numpy(np.int64)
      for f in frames])
  return {"item_id": np.concatenate([f["item_id"].to_numpy(object)
                                     for f in frames]),
          "item_type": np.concatenate([f["item_type"].to_numpy(object)
                                       for f in frames]),
          "parent_id": np.concatenate([f["parent_id"].to_numpy(object)
                                       for f in frames]),
          "published_at": published}


def catalog_from_parts(parts: Iterable[dict[str, np.ndarray]]) -> ItemCatalog:
  """Builds the ItemCatalog from the per-shard catalog columns."""
  parts = list(parts)
  columns = {name: np.concatenate([p[name] for p in parts]) if parts
             else np.zeros(0, np.int64 if name == "published_at" else object)
             for name in ("item_id", "item_type", "parent_id", "published_at")}
  return build_item_catalog(**columns)


class MaxOrNone(beam.CombineFn):
  """The maximum of integers, or None for no input."""

  def create_accumulator(self) -> int | None:
    return None

  def add_input(self, accumulator: int | None, value: int) -> int:
    return value if accumulator is None else max(accumulator, value)

  def merge_accumulators(self, accumulators: Iterable[int | None]
                         ) -> int | None:
    values = [a for a in accumulators if a is not None]
    return max(values) if values else None

  def extract_output(self, accumulator: int | None) -> int | None:
    return accumulator


NO_VALID_INTERACTIONS = ("no valid interactions to derive the cut from; "
                         "pass --cut")


def cut_from_last_timestamp(last: int | None, holdout_days: int) -> int:
  """The default cut, or 0 when there is no valid interaction at all.

  Without interactions the pipeline still runs to its end on cut 0 (raising
  here, a worker would give Beam's traceback), and the driver raises
  ``NO_VALID_INTERACTIONS`` from the run's summary.
  """
  if last is None:
    return 0
  return default_cut(last, holdout_days)


# The summary key of errors that stop the graph (colliding type names):
# {message: 1}, raised by the driver after the run.
SCHEMA_ERRORS = "schema_errors"


def item_fates_summary(catalog: ItemCatalog,
                       node_index: NodeIndex) -> dict[str, Any]:
  """The summary part saying what became of every valid item."""
  out: dict[str, Any] = {"item_fates": item_fates(catalog, node_index)}
  if node_index.error is not None:
    out[SCHEMA_ERRORS] = {node_index.error: 1}
  return out


def _node_index(catalog: ItemCatalog, cut: int, num_shards: int) -> NodeIndex:
  try:
    return build_node_index(catalog, cut, num_shards)
  except GraphSchemaError as e:
    # Raised here, a worker would log Beam's traceback first: an index
    # without nodes carries the error to the summary, and the driver raises
    # it after the run (nothing is written).
    return NodeIndex.empty(len(catalog), cut, str(e))


class BuildItemCatalog(beam.PTransform):
  """Deduplicated items ``(shard, [RowBatch])`` -> singleton ItemCatalog."""

  def expand(self, items: Any) -> Any:
    return (items
            | "CatalogColumns" >> beam.Map(item_keys)
            | "Collect" >> beam.combiners.ToList()
            | "Build" >> beam.Map(catalog_from_parts))


class ResolveCut(beam.PTransform):
  """Last valid timestamps (ints) -> singleton cut (epoch seconds).

  With ``config.cut`` set, the input is ignored and the cut is that value.
  """

  def __init__(self, config: GraphBuildConfig):
    super().__init__()
    self._config = config

  def expand(self, max_timestamps: Any) -> Any:
    if self._config.cut is not None:
      return max_timestamps.pipeline | "Fixed" >> beam.Create(
          [parse_cut(self._config.cut)])
    return (max_timestamps
            | "Last" >> beam.CombineGlobally(MaxOrNone())
            | "Default" >> beam.Map(cut_from_last_timestamp,
                                    self._config.holdout_days))


class IndexNodes(beam.PTransform):
  """Singleton ItemCatalog (+ cut side input) -> singleton NodeIndex."""

  def __init__(self, cut: Any, num_shards: int):
    super().__init__()
    self._cut = cut
    self._num_shards = num_shards

  def expand(self, catalog: Any) -> Any:
    return catalog | "Build" >> beam.Map(
        _node_index, cut=beam.pvalue.AsSingleton(self._cut),
        num_shards=self._num_shards)
