"""Feature tables of the dynamic layer, built from one global time cut.

Everything here is numpy/pandas (no TensorFlow), so it is cheap to test:

* ``ItemTable``: every row of an EmbeddingsDir (the catalog) with its HGNN
  and text vectors, metadata indices (type, language, genres), its root row
  (episodes roll up to their show) and whether it is a candidate.
* ``UserTable``: every user id with metadata indices, standardised numeric
  columns, the optional interest vector and the history: the most recent
  distinct (rolled-up) items of the training window, as item rows.
* ``TrainingExamples``: (user, item row, weight) pairs of the training window
  ``[cut - train_days, cut)``, each item's in-batch sampling probability and,
  by default, each example's own history (the user's items strictly before
  the example's time).
* ``Holdout``: the targets of the evaluation window ``[cut, cut + holdout)``.

Time split rule (``tfgnn_gfm.timesplit``): nothing at or after the cut
reaches a training example, a history, a vocabulary or a statistic
(``build_training_data`` filters the interactions to the window first and
derives everything from that slice). Roots, type names and genres follow the
rules of ``tfgnn_gfm.catalog``.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from tfgnn_gfm.artifacts import EmbeddingsDir
from tfgnn_gfm.catalog import (NO_ROOT, root_positions, split_genres,
                               type_names as catalog_type_names)
from tfgnn_gfm.timesplit import NO_TIME, SECONDS_PER_DAY, TimeSplit

UNKNOWN = "<unknown>"
INTEREST_COLUMN = "interest_vector"


def _graph_vector(source: np.ndarray, parent_root: np.ndarray) -> np.ndarray:
  """Whether each row's HGNN vector is a graph node's (an episode inherits
  its show's vector, so its root's source decides; a row without a root has
  none)."""
  inherited = np.where(parent_root != NO_ROOT,
                       source[np.maximum(parent_root, 0)], "")
  return np.where(source == "parent", inherited, source) == "graph"


def _vocabulary(values: Iterable[str]) -> list[str]:
  """Values by decreasing count, ties by value (index 0 is reserved)."""
  counts = pd.Series(list(values), dtype=object).value_counts()
  frame = pd.DataFrame({"v": counts.index.astype(str), "n": counts.to_numpy()})
  frame = frame[frame["v"] != ""]
  frame = frame.sort_values(["n", "v"], ascending=[False, True])
  return frame["v"].tolist()


def _lookup(values: Sequence[Any], vocabulary: Sequence[str]) -> np.ndarray:
  """Index of each value in the vocabulary plus one (0 = unknown/missing)."""
  index = pd.Index(list(vocabulary))
  positions = index.get_indexer(pd.Index([str(v) if v is not None else ""
                                          for v in values]))
  return (positions + 1).astype(np.int32)


@dataclasses.dataclass
class ItemTable:
  """The catalog of an EmbeddingsDir with item-tower features.

  Attributes:
    item_id: [N] item ids (object), row i = EmbeddingsDir row i.
    item_type: [N] the item's own type name.
    root: [N] row of the item's root (itself unless rolled up), or
      ``NO_ROOT`` for an item whose parent chain has no root
      (``tfgnn_gfm.catalog``): it is neither a candidate nor a training or
      target item.
    candidate: [N] bool, may be recommended (see ``load_item_table``).
    published_at: [N] int64 epoch seconds (NO_TIME when unknown).
    parent_root: [N] row at the top of the item's parent chain (its show),
      whether or not episodes are rolled up (``NO_ROOT``: none).
    hgnn: [N, Dh] float32 static-layer vectors.
    graph_vector: [N] bool, the HGNN vector comes from the graph (the item,
      or the root it inherits from, was a node); False for inductive
      (text-only) vectors of items outside the graph.
    text: [N, Dt] float32 text vectors.
    type_index: [N] int32 index into ``type_names`` (own type).
    language: [N] int32 (0 unknown) into ``language_vocab`` (index - 1).
    genres: [N, G] int32 (0 padding) into ``genre_vocab`` (index - 1).
    type_names: sorted item type names.
    language_vocab: language values.
    genre_vocab: genre values.
    popularity: [N] float32 recent-popularity prior of the split (see
      ``recent_popularity``), or None when the towers use none.
  """

  item_id: np.ndarray
  item_type: np.ndarray
  root: np.ndarray
  candidate: np.ndarray
  published_at: np.ndarray
  parent_root: np.ndarray
  hgnn: np.ndarray
  graph_vector: np.ndarray
  text: np.ndarray
  type_index: np.ndarray
  language: np.ndarray
  genres: np.ndarray
  type_names: list[str]
  language_vocab: list[str]
  genre_vocab: list[str]
  popularity: np.ndarray | None = None

  def __len__(self) -> int:
    return len(self.item_id)

  @property
  def eval_types(self) -> list[str]:
    """Item types that have candidates (the rows of the evaluation)."""
    return catalog_type_names(self.item_type[self.candidate])

  def rows_of(self, item_ids: Sequence[str]) -> np.ndarray:
    """Row of each id (-1 when the id is not in the catalog)."""
    return pd.Index(self.item_id).get_indexer(pd.Index(list(item_ids)))

  def features(self, rows: np.ndarray | None = None, *,
               use_hgnn: bool = True,
               known: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The item tower's inputs for ``rows`` (default: every row).

    Args:
      rows: item rows.
      use_hgnn: the tower reads HGNN vectors. An item whose vector is not
        from the graph (inductive, text-only) gets a zero vector and
        ``vector_known`` 0: the tower's text path scores it, as trained by
        vector dropout (see TwoTowerModel).
      known: [N] bool, for a learned-id tower: the items with a trained id
        embedding (``vector_known``); default all.

    Returns:
      name -> array; categorical inputs are 1-based (0 = unknown).
    """
    rows = np.arange(len(self)) if rows is None else np.asarray(rows)
    out = {"text": self.text[rows], "item_type": self.type_index[rows] + 1,
           "language": self.language[rows], "genres": self.genres[rows],
           "item_row": rows.astype(np.int32)}
    if use_hgnn:
      flag = self.graph_vector[rows]
      out["hgnn"] = self.hgnn[rows] * flag[:, None].astype(np.float32)
    else:
      flag = (np.ones(len(rows), bool) if known is None
              else np.asarray(known, bool)[rows])
    out["vector_known"] = flag.astype(np.float32)[:, None]
    if self.popularity is not None:
      out["popularity"] = self.popularity[rows][:, None].astype(np.float32)
    return out

  def with_hgnn(self, item_id: np.ndarray, vectors: np.ndarray,
                source: np.ndarray | None = None) -> tuple["ItemTable", int]:
    """A copy whose HGNN vectors come from another EmbeddingsDir (by id).

    Args:
      item_id: that EmbeddingsDir's item ids.
      vectors: its vectors.
      source: its per-row source (None: all from the graph).

    Returns:
      The table and the number of rows absent from ``item_id`` (zero
      vectors, not graph vectors).
    """
    position = pd.Index(item_id).get_indexer(pd.Index(self.item_id))
    found = position >= 0
    hgnn = np.zeros((len(self), vectors.shape[1]), np.float32)
    hgnn[found] = vectors[position[found]]
    row_source = np.full(len(self), "", dtype=object)
    row_source[found] = ("graph" if source is None else
                         np.asarray(source, dtype=object)[position[found]])
    return (dataclasses.replace(
        self, hgnn=hgnn,
        graph_vector=_graph_vector(row_source, self.parent_root)),
            int((~found).sum()))

  def spec(self) -> dict[str, Any]:
    """Vocabularies and sizes (written to ``features.json``)."""
    return {"type_names": self.type_names,
            "language_vocab": self.language_vocab,
            "genre_vocab": self.genre_vocab,
            "max_genres": int(self.genres.shape[1]),
            "hgnn_dim": int(self.hgnn.shape[1]),
            "text_dim": int(self.text.shape[1]),
            "num_items": len(self)}


def read_embeddings(embeddings_dir: str | pathlib.Path
                    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, dict]:
  """Reads an EmbeddingsDir: (index frame, HGNN vectors, text vectors, manifest)."""
  layout = EmbeddingsDir(pathlib.Path(embeddings_dir))
  manifest = layout.read_manifest()
  index = pd.read_csv(layout.index_path, dtype={"item_id": str,
                                                "item_type": str},
                      keep_default_na=False)
  vectors = np.load(layout.vectors_path).astype(np.float32, copy=False)
  text = np.load(layout.text_vectors_path).astype(np.float32, copy=False)
  if not len(index) == len(vectors) == len(text):
    raise ValueError(f"{layout.root}: index.csv has {len(index)} rows but the "
                     f"vectors have {len(vectors)} and {len(text)}")
  if "row" in index.columns and not np.array_equal(
      index["row"].to_numpy(), np.arange(len(index))):
    index = index.sort_values("row").reset_index(drop=True)
  return index, vectors, text, manifest


def load_item_table(embeddings_dir: str | pathlib.Path, items: pd.DataFrame,
                    *, rollup_episodes: bool = True, max_genres: int = 4,
                    available_until: int | None = None) -> ItemTable:
  """Builds the ItemTable of an EmbeddingsDir and the dataset's items table.

  Args:
    embeddings_dir: output of ``gfm embed`` (every valid item has a row).
    items: the dataset's items frame (metadata: parent_id, language, genres,
      published_at).
    rollup_episodes: roll items with a parent up to their root; candidates
      are then root items only.
    max_genres: genres kept per item.
    available_until: items published at or after this time are not
      candidates (the end of the hold-out); None: no limit.

  Returns:
    The ItemTable, rows in EmbeddingsDir order.
  """
  index, hgnn, text, _ = read_embeddings(embeddings_dir)
  source = (index["source"].to_numpy(object) if "source" in index.columns
            else None)
  return item_table_from_arrays(index["item_id"].to_numpy(object),
                                index["item_type"].to_numpy(object), hgnn,
                                text, items, source=source,
                                rollup_episodes=rollup_episodes,
                                max_genres=max_genres,
                                available_until=available_until)


def item_table_from_arrays(item_id: np.ndarray, item_type: np.ndarray,
                           hgnn: np.ndarray, text: np.ndarray,
                           items: pd.DataFrame, *,
                           source: np.ndarray | None = None,
                           rollup_episodes: bool = True,
                           max_genres: int = 4,
                           available_until: int | None = None) -> ItemTable:
  """``load_item_table`` from in-memory arrays (see there).

  ``source`` is the EmbeddingsDir's per-row source (graph, inductive,
  parent); None means every vector is from the graph.
  """
  item_id = np.asarray(item_id, dtype=object)
  item_type = np.asarray(item_type, dtype=object)
  meta = items.drop_duplicates("item_id").set_index("item_id")
  meta = meta.reindex(pd.Index(item_id))

  def column(name: str, default: Any) -> np.ndarray:
    if name not in meta.columns:
      return np.full(len(item_id), default, dtype=object)
    values = meta[name].astype(object).to_numpy()
    return np.array([default if v is None or (isinstance(v, float) and
                                              np.isnan(v)) or v is pd.NA
                     else v for v in values], dtype=object)

  parent_root = root_positions(item_id, column("parent_id", ""))
  root = (parent_root if rollup_episodes else
          np.where(parent_root != NO_ROOT, np.arange(len(item_id)), NO_ROOT))
  graph_vector = (np.ones(len(item_id), bool) if source is None else
                  _graph_vector(np.asarray(source, dtype=object), parent_root))
  published = column("published_at", NO_TIME).astype(np.int64)
  candidate = root == np.arange(len(item_id))
  if available_until is not None:
    candidate &= published < int(available_until)
  type_names = catalog_type_names(item_type)
  type_index = pd.Index(type_names).get_indexer(pd.Index(item_type))
  languages = column("language", "")
  language_vocab = _vocabulary(languages.astype(str))
  genre_lists = [split_genres(g)[:max_genres] for g in column("genres", "")]
  genre_vocab = _vocabulary(g for gs in genre_lists for g in gs)
  genre_pos = {g: i + 1 for i, g in enumerate(genre_vocab)}
  genres = np.zeros((len(item_id), max_genres), np.int32)
  for i, gs in enumerate(genre_lists):
    for j, g in enumerate(gs):
      genres[i, j] = genre_pos[g]
  return ItemTable(item_id=item_id, item_type=item_type, root=root,
                   candidate=candidate, published_at=published,
                   parent_root=parent_root,
                   hgnn=np.asarray(hgnn, np.float32),
                   graph_vector=graph_vector, text=np.asarray(text, np.float32),
                   type_index=type_index.astype(np.int32),
                   language=_lookup(languages, language_vocab),
                   genres=genres, type_names=type_names,
                   language_vocab=language_vocab, genre_vocab=genre_vocab)


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
    vocab[name] = _vocabulary(text[train_mask])
    categorical[name] = _lookup(text, vocab[name])
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


@dataclasses.dataclass
class Holdout:
  """Targets of the hold-out window and the facts the protocol needs.

  Attributes:
    user: [m] user rows of (user, item) target pairs (distinct pairs).
    item: [m] rolled-up candidate item rows.
    warm: [U] bool, the user interacted before the cut.
    seen_user, seen_item: (user row, item row) pairs consumed before the cut
      (any time, any event, rolled up), distinct.
    item_seen_before_cut: [N] bool, the item had an interaction before the
      cut (False: a cold item).
    counts: dropped rows and sizes.
  """

  user: np.ndarray
  item: np.ndarray
  warm: np.ndarray
  seen_user: np.ndarray
  seen_item: np.ndarray
  item_seen_before_cut: np.ndarray
  counts: dict[str, int]


def build_holdout(interactions: pd.DataFrame, items: ItemTable,
                  user_ids: np.ndarray, split: TimeSplit, *,
                  target_events: Sequence[str] = ()) -> Holdout:
  """The hold-out targets ``[cut, cut + holdout_days)`` and pre-cut facts.

  Args:
    interactions: every interaction of the dataset.
    items: the catalog (targets are rolled up; non-candidates dropped).
    user_ids: the user row order.
    split: the time cut.
    target_events: events that are targets (empty: all).

  Returns:
    The Holdout.
  """
  ts = interactions["timestamp"].to_numpy(np.int64)
  rows = items.rows_of(interactions["item_id"].astype(object).tolist())
  rolled = np.where(rows >= 0, items.root[np.maximum(rows, 0)], -1)
  user_pos = pd.Index(user_ids).get_indexer(
      pd.Index(interactions["user_id"].astype(object)))
  before = (ts < split.cut) & (user_pos >= 0)
  warm = np.zeros(len(user_ids), bool)
  warm[user_pos[before]] = True
  seen = pd.DataFrame({"u": user_pos[before & (rolled >= 0)],
                       "r": rolled[before & (rolled >= 0)]}).drop_duplicates()
  item_seen = np.zeros(len(items), bool)
  item_seen[seen["r"].to_numpy()] = True
  inside = (ts >= split.cut) & (ts < split.holdout_end) & (user_pos >= 0)
  if target_events and "event" in interactions.columns:
    inside &= interactions["event"].astype(object).isin(
        list(target_events)).to_numpy()
  known = inside & (rolled >= 0)
  is_candidate = np.zeros(len(interactions), bool)
  is_candidate[known] = items.candidate[rolled[known]]
  pairs = pd.DataFrame({"u": user_pos[known & is_candidate],
                        "r": rolled[known & is_candidate]}).drop_duplicates()
  pairs = pairs.sort_values(["u", "r"])
  return Holdout(
      user=pairs["u"].to_numpy(np.int64), item=pairs["r"].to_numpy(np.int64),
      warm=warm, seen_user=seen["u"].to_numpy(np.int64),
      seen_item=seen["r"].to_numpy(np.int64), item_seen_before_cut=item_seen,
      counts={"holdout_interactions": int(inside.sum()),
              "holdout_unknown_items": int((inside & (rolled < 0)).sum()),
              "holdout_not_candidates": int((known & ~is_candidate).sum()),
              "target_pairs": int(len(pairs)),
              "holdout_users": int(pairs["u"].nunique())})
