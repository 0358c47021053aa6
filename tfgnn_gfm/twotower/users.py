"""The user table of the dynamic layer: every user with user-tower features.

``UserTable`` holds every user id with metadata indices, standardised numeric
columns, the optional interest vector and the history: the most recent
distinct (rolled-up) items of the training window, as item rows.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
import pandas as pd

from tfgnn_gfm.twotower.vocabulary import lookup, vocabulary

INTEREST_COLUMN = "interest_vector"


@dataclasses.dataclass
class UserTable:
  """Every known user with user-tower features.

  Attributes:
    user_id: [U] user ids (object).
    categorical: column -> [U] int32 (0 = unknown or missing).
    categorical_vocab: column -> values (index - 1).
    numeric: [U, n] float32 standardised numeric columns (missing = 0).
    numeric_columns: their names.
    numeric_mean, numeric_std: the standardisation (training users).
    interest: [U, d] float32 interest vectors (zeros when absent), or None.
    interest_mask: [U, 1] float32, 1 where the user has one.
    history: [U, L] int32 item rows, most recent first (-1 = padding).
  """

  user_id: np.ndarray
  categorical: dict[str, np.ndarray]
  categorical_vocab: dict[str, list[str]]
  numeric: np.ndarray
  numeric_columns: list[str]
  numeric_mean: list[float]
  numeric_std: list[float]
  interest: np.ndarray | None
  interest_mask: np.ndarray
  history: np.ndarray

  def __len__(self) -> int:
    return len(self.user_id)

  def rows_of(self, user_ids: Sequence[str]) -> np.ndarray:
    return pd.Index(self.user_id).get_indexer(pd.Index(list(user_ids)))

  def features(self, users: np.ndarray | None = None,
               history: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The user tower's inputs for ``users`` (default: every user).

    Args:
      users: user rows.
      history: overrides the history rows ([len(users), L]).
    """
    users = np.arange(len(self)) if users is None else np.asarray(users)
    out = {"history": self.history[users] if history is None else history}
    for name, values in self.categorical.items():
      out[f"user_{name}"] = values[users]
    if self.numeric_columns:
      out["user_numeric"] = self.numeric[users]
    if self.interest is not None:
      out["interest_vector"] = self.interest[users]
      out["interest_mask"] = self.interest_mask[users]
    return out

  def with_history(self, history: np.ndarray) -> "UserTable":
    return dataclasses.replace(self, history=history)

  def spec(self) -> dict[str, Any]:
    return {"categorical_vocab": self.categorical_vocab,
            "numeric_columns": self.numeric_columns,
            "numeric_mean": self.numeric_mean,
            "numeric_std": self.numeric_std,
            "interest_dim": (0 if self.interest is None
                             else int(self.interest.shape[1])),
            "max_history": int(self.history.shape[1])}


def _numeric_column(values: pd.Series) -> pd.Series | None:
  """The column as floats when every present value is a number, else None."""
  present = values.notna() & (values.astype(str).str.strip() != "")
  if not present.any():
    return None
  # "1", "2.5" read as strings are numbers; "35-44" is not (coerce fails).
  numbers = pd.to_numeric(values.where(present), errors="coerce")
  if numbers[present].isna().any():
    return None
  return numbers.astype(float)


def build_user_table(user_ids: np.ndarray, users: pd.DataFrame | None,
                     train_users: np.ndarray, history: np.ndarray, *,
                     columns: Sequence[str] = (),
                     use_interest_vector: bool = True) -> UserTable:
  """User features; vocabularies and statistics come from training users only.

  Args:
    user_ids: [U] every user id (the row order).
    users: the users table (or None).
    train_users: rows of users with training examples.
    history: [U, L] history rows.
    columns: feature columns (empty: every column but user_id and the
      interest vector).
    use_interest_vector: read the interest vector column when present.

  Returns:
    The UserTable.
  """
  u = len(user_ids)
  if users is None:
    users = pd.DataFrame({"user_id": pd.Series([], dtype=object)})
  frame = users.drop_duplicates("user_id").set_index("user_id").reindex(
      pd.Index(user_ids))
  names = list(columns) or [c for c in frame.columns if c != INTEREST_COLUMN]
  missing = [c for c in names if c not in frame.columns]
  if missing:
    raise ValueError(f"user column(s) {missing} are not in the users table "
                     f"(it has {sorted(frame.columns)})")
  train_mask = np.zeros(u, bool)
  train_mask[train_users] = True
  categorical, vocab = {}, {}
  numeric_cols, numeric_values, means, stds = [], [], [], []
  for name in names:
    values = frame[name].astype(object)
    numbers = _numeric_column(values)
    if numbers is not None:
      x = numbers.to_numpy(np.float64)
      train_x = x[train_mask & ~np.isnan(x)]
      mean = float(train_x.mean()) if len(train_x) else 0.0
      std = float(train_x.std()) if len(train_x) > 1 else 1.0
      std = std if std > 1e-12 else 1.0
      numeric_cols.append(name)
      numeric_values.append(np.nan_to_num((x - mean) / std, nan=0.0))
      means.append(mean)
      stds.append(std)
      continue
    text = values.map(lambda v: "" if v is None or v is pd.NA or (
        isinstance(v, float) and np.isnan(v)) else str(v)).to_numpy(object)
    vocab[name] = vocabulary(text[train_mask])
    categorical[name] = lookup(text, vocab[name])
  numeric = (np.stack(numeric_values, axis=1).astype(np.float32)
             if numeric_values else np.zeros((u, 0), np.float32))
  interest, interest_mask = None, np.zeros((u, 1), np.float32)
  if use_interest_vector and INTEREST_COLUMN in frame.columns:
    vectors = frame[INTEREST_COLUMN].to_numpy(object)
    dims = {len(v) for v in vectors if isinstance(v, (np.ndarray, list))}
    if len(dims) > 1:
      raise ValueError(f"interest vectors of different lengths: {sorted(dims)}")
    if dims:
      dim = dims.pop()
      interest = np.zeros((u, dim), np.float32)
      for i, v in enumerate(vectors):
        if isinstance(v, (np.ndarray, list)):
          interest[i] = np.asarray(v, np.float32)
          interest_mask[i] = 1.0
  return UserTable(user_id=np.asarray(user_ids, dtype=object),
                   categorical=categorical, categorical_vocab=vocab,
                   numeric=numeric, numeric_columns=numeric_cols,
                   numeric_mean=means, numeric_std=stds, interest=interest,
                   interest_mask=interest_mask, history=history)
