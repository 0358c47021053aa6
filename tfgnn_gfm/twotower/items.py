"""The item table of the dynamic layer: the catalog with item-tower features.

``ItemTable`` holds every row of an EmbeddingsDir (the catalog) with its HGNN
and text vectors, metadata indices (type, language, genres), its root row
(episodes roll up to their show, ``tfgnn_gfm.catalog``) and whether it is a
candidate. Everything here is numpy/pandas (no TensorFlow).
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any, Sequence

import numpy as np
import pandas as pd

from tfgnn_gfm.artifacts import EmbeddingsDir
from tfgnn_gfm.catalog import NO_ROOT, root_positions, split_genres
from tfgnn_gfm.catalog import type_names as catalog_type_names
from tfgnn_gfm.timesplit import NO_TIME
from tfgnn_gfm.twotower.vocabulary import lookup, vocabulary


def _graph_vector(source: np.ndarray, parent_root: np.ndarray) -> np.ndarray:
  """Whether each row's HGNN vector is a graph node's (an episode inherits
  its show's vector, so its root's source decides; a row without a root has
  none)."""
  inherited = np.where(parent_root != NO_ROOT,
                       source[np.maximum(parent_root, 0)], "")
  return np.where(source == "parent", inherited, source) == "graph"


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
  embeddings = EmbeddingsDir(pathlib.Path(embeddings_dir)).read()
  index, hgnn, text = embeddings.index, embeddings.vectors, embeddings.text
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
  language_vocab = vocabulary(languages.astype(str))
  genre_lists = [split_genres(g)[:max_genres] for g in column("genres", "")]
  genre_vocab = vocabulary(g for gs in genre_lists for g in gs)
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
                   language=lookup(languages, language_vocab),
                   genres=genres, type_names=type_names,
                   language_vocab=language_vocab, genre_vocab=genre_vocab)
