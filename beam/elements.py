"""The batch elements that flow through the graph pipeline.

Per-element overhead on Beam's local runners is large (tens of microseconds),
so no element is a single row: every element is a batch (a pandas frame or a
few numpy arrays) of one input file chunk, one shard of users or items, or
one shard of item pairs. Batches pickle fast (Arrow-backed strings, numpy
buffers) and are processed with vectorised pandas/numpy code.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Iterable

import numpy as np
import pandas as pd

from tfgnn_gfm.data.reader import TableData

# Tagged outputs shared by the pipeline's DoFns.
DEAD_LETTERS = "dead_letters"  # dead-letter dicts of the data contract
SUMMARY = "summary"  # count dicts merged into summary.json by summing
# Namespace of the pipeline's Beam counters.
METRICS_NAMESPACE = "gfm.build_graph"


@dataclasses.dataclass
class RowBatch:
  """Validated rows of one chunk of one input file.

  Attributes:
    table: the contract table (items, interactions, users).
    path: the input file as given (a local path or a URL).
    file_index: the file's position among the table's sorted input files;
      with the line number it orders rows ("the first row is kept").
    source_columns: the file's own columns (a dead letter shows only these).
    frame: the typed good rows (``tfgnn_gfm.data.validate_rows``), indexed by
      line number.
  """

  table: str
  path: str
  file_index: int
  source_columns: list[str]
  frame: pd.DataFrame

  def __len__(self) -> int:
    return len(self.frame)

  def __getstate__(self) -> dict[str, Any]:
    # Object columns pickle one Python object at a time (a users table with
    # interest vectors: ~1 s per 100k rows); ship a column of equal-shape
    # numpy arrays as one stacked array instead, and restore it on load.
    state = dict(self.__dict__)
    frame = self.frame
    stacked = {}
    for column in frame.columns:
      if frame[column].dtype != object or not len(frame):
        continue
      values = frame[column].to_numpy()
      first = values[0]
      if isinstance(first, np.ndarray) and all(
          isinstance(v, np.ndarray) and v.shape == first.shape
          and v.dtype == first.dtype for v in values):
        stacked[column] = np.stack(values)
    if stacked:
      state["frame"] = frame.drop(columns=list(stacked))
      state["_stacked"] = (list(frame.columns), stacked)
    return state

  def __setstate__(self, state: dict[str, Any]) -> None:
    stacked = state.pop("_stacked", None)
    self.__dict__.update(state)
    if stacked:
      columns, arrays = stacked
      frame = self.frame.copy()
      for column, array in arrays.items():
        frame[column] = pd.Series(list(array), index=frame.index,
                                  dtype=object)
      self.frame = frame[columns]

  def with_frame(self, frame: pd.DataFrame) -> RowBatch:
    return dataclasses.replace(self, frame=frame)

  def reject(self, mask: np.ndarray, reason: str,
             message: str | Iterable[str],
             column: str | None = None) -> list[dict[str, Any]]:
    """Removes the rows where ``mask`` is True and returns their dead letters.

    The dead letters have the contract's format (``tfgnn_gfm.data``): table,
    file, line, column, reason, message and the row as read.
    """
    mask = np.asarray(mask, bool)
    if not mask.any():
      return []
    data = TableData(self.table, pathlib.PurePath(self.path), self.frame, [],
                     [], len(self.frame), source_columns=self.source_columns)
    data.reject(pd.Series(mask, index=self.frame.index), reason, message,
                column)
    self.frame = data.frame
    for letter in data.dead_letters:
      letter["file"] = self.path
    return data.dead_letters


@dataclasses.dataclass
class InteractionBatch:
  """Clean interactions of one user shard, as arrays.

  Attributes:
    user: int64 user codes, local to the shard.
    item: int64 catalog indices of the items (``ItemCatalog``).
    timestamp: int64 epoch seconds.
  """

  user: np.ndarray
  item: np.ndarray
  timestamp: np.ndarray

  def __len__(self) -> int:
    return len(self.user)


@dataclasses.dataclass
class NodeRows:
  """Nodes of one item shard with their features.

  Attributes:
    node: int64 global node indices, sorted.
    text: the composed item texts.
    language: language codes ("" when absent).
    genres: ";"-joined genres ("" when absent).
    embedding: float32 ``[n, D]`` text embeddings (None before encoding).
  """

  node: np.ndarray
  text: np.ndarray
  language: np.ndarray
  genres: np.ndarray
  embedding: np.ndarray | None = None

  def __len__(self) -> int:
    return len(self.node)


@dataclasses.dataclass
class Incident:
  """Edges seen from one endpoint (for the per-node edge cap).

  Attributes:
    node: int64 node index of the endpoint.
    other: int64 node index of the other endpoint.
    co_users: int64 co-user count of the edge.
  """

  node: np.ndarray
  other: np.ndarray
  co_users: np.ndarray


@dataclasses.dataclass
class Degrees:
  """Partial degree counts of some nodes.

  Attributes:
    node: int64 node indices (unique).
    degree: int64 number of incident undirected edges.
  """

  node: np.ndarray
  degree: np.ndarray
