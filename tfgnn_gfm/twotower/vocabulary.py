"""Vocabularies of the towers' categorical features (item and user columns).

Index 0 of every vocabulary is reserved for unknown or missing values
(``tfgnn_gfm.layers.MaskedEmbedding`` maps it to the zero vector); values are
ordered by decreasing count, ties by value, so a vocabulary is reproducible.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

UNKNOWN = "<unknown>"


def vocabulary(values: Iterable[str]) -> list[str]:
  """Values by decreasing count, ties by value (index 0 is reserved)."""
  counts = pd.Series(list(values), dtype=object).value_counts()
  frame = pd.DataFrame({"v": counts.index.astype(str), "n": counts.to_numpy()})
  frame = frame[frame["v"] != ""]
  frame = frame.sort_values(["n", "v"], ascending=[False, True])
  return frame["v"].tolist()


def lookup(values: Sequence[Any], vocabulary: Sequence[str]) -> np.ndarray:
  """Index of each value in the vocabulary plus one (0 = unknown/missing)."""
  index = pd.Index(list(vocabulary))
  positions = index.get_indexer(pd.Index([str(v) if v is not None else ""
                                          for v in values]))
  return (positions + 1).astype(np.int32)
