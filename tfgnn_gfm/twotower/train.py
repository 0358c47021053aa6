"""Training a two-tower model on the examples of one time cut.

``train_two_tower`` builds both towers for a TrainingData (sizes from its
vocabularies), fits the TFRS model with Adam and returns the towers with
helpers that embed every user and every item in batches.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from typing import Any

import numpy as np
import tensorflow as tf

from tfgnn_gfm.distribute import make_strategy, split_batches
from tfgnn_gfm.evaluation.baselines import item_counts
from tfgnn_gfm.optimizers import LazyAdam
from tfgnn_gfm.twotower.config import TwoTowerConfig
from tfgnn_gfm.twotower.examples import TrainingData
from tfgnn_gfm.twotower.items import ItemTable
from tfgnn_gfm.twotower.model import TwoTowerModel
from tfgnn_gfm.twotower.prior import (
  offset_index,
  offset_query,
  popularity_offset,
)
from tfgnn_gfm.twotower.towers import (
  ItemTypeTable,
  ItemVectorTable,
  build_item_tower,
  build_user_tower,
  select_inputs,
)
from tfgnn_gfm.twotower.users import UserTable

# Steps per tf.function call: amortises Keras' per-step Python overhead.
_STEPS_PER_EXECUTION = 16


def predict_in_batches(tower: tf.keras.Model, features: dict[str, np.ndarray],
                       batch_size: int = 4096) -> np.ndarray:
  """Runs a tower over feature arrays in batches; returns float32 [n, dim]."""
  features = select_inputs(tower, features)
  n = len(next(iter(features.values())))
  out = []
  for start in range(0, n, batch_size):
    batch = {k: tf.convert_to_tensor(v[start:start + batch_size])
             for k, v in features.items()}
    out.append(tower(batch, training=False).numpy())
  dim = tower.output_shape[-1]
  return (np.concatenate(out).astype(np.float32) if out
          else np.zeros((0, dim), np.float32))


@dataclasses.dataclass
class TrainedTwoTower:
  """A trained model: both towers and how it was trained.

  Attributes:
    user_tower, item_tower: the Keras towers.
    use_hgnn: whether the towers read HGNN vectors (else learned item ids).
    known: for learned ids, [N] bool: items with a trained embedding.
    history: Keras fit history (loss per epoch).
    seconds: training wall time.
    examples_per_second: training throughput.
    item_offset: [N] score offset of user queries per item row (the
      popularity prior, ``popularity_offset``); zeros without a prior.
    popularity_weight: the prior's weight ``w``.
    batch_size: examples per step (``TwoTowerConfig.batch_size_for``).
  """

  user_tower: tf.keras.Model
  item_tower: tf.keras.Model
  use_hgnn: bool
  known: np.ndarray | None
  history: dict[str, list[float]]
  seconds: float
  examples_per_second: float
  item_offset: np.ndarray | None = None
  popularity_weight: float = 0.0
  batch_size: int = 0

  def embed_items(self, items: ItemTable, rows: np.ndarray | None = None,
                  batch_size: int = 4096) -> np.ndarray:
    """Item embeddings [len(rows), dim] (default: every row)."""
    return predict_in_batches(
        self.item_tower, items.features(rows, use_hgnn=self.use_hgnn,
                                        known=self.known), batch_size)

  def embed_users(self, users: UserTable, rows: np.ndarray | None = None,
                  batch_size: int = 4096) -> np.ndarray:
    """User embeddings [len(rows), dim] from their window features."""
    return predict_in_batches(self.user_tower, users.features(rows),
                              batch_size)

  def retrieval_vectors(self, users: UserTable, user_rows: np.ndarray,
                        items: ItemTable, batch_size: int = 4096
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(user, item) vectors whose dot product is the retrieval score.

    With a popularity prior the item vectors carry their offset as one more
    column and the user vectors a 1, so ``user . item = cosine + offset``
    (the layout the export's index uses).

    Args:
      users: the user table.
      user_rows: the users to embed.
      items: the item table.
      batch_size: rows per tower call.

    Returns:
      ([len(user_rows), D (+1)], [N, D (+1)]) float32.
    """
    u = self.embed_users(users, user_rows, batch_size)
    i = self.embed_items(items, batch_size=batch_size)
    if self.item_offset is None or not np.any(self.item_offset):
      return u, i
    return offset_query(u), offset_index(i, self.item_offset)


def build_towers(data: TrainingData, config: TwoTowerConfig, *,
                 use_hgnn: bool = True
                 ) -> tuple[tf.keras.Model, tf.keras.Model]:
  """Builds (user tower, item tower) sized for ``data``.

  Args:
    data: the training data (vocabularies, table sizes).
    config: tower sizes.
    use_hgnn: HGNN vectors in both towers; False: learned item-id
      embeddings instead (the 2T-without-GNN baseline), one table shared by
      the item tower and the user history. With ``config.item_ids`` an
      HGNN model also learns item-id embeddings, next to the HGNN vectors
      in both towers (the same shared table).

  Returns:
    The user and item towers (functional Keras models).
  """
  items, users = data.items, data.users
  n = len(items)
  type_table = ItemTypeTable(num_items=n, name="item_types")
  type_table.set_types(items.type_index)
  id_table = None
  if not use_hgnn or config.item_ids:
    id_table = ItemVectorTable(num_items=n, dim=config.id_embedding_dim,
                               learned=True, name="item_id_embeddings")
    # Items without a training example keep a zero vector, not random init.
    id_table.set_known(known_items(data, use_hgnn=False))
  if use_hgnn:
    history_table = ItemVectorTable(num_items=n, dim=items.hgnn.shape[1],
                                    learned=False, name="hgnn_vectors")
    history_table.set_vectors(items.hgnn)
  else:
    history_table = id_table
  item_tower = build_item_tower(
      text_dim=items.text.shape[1], num_types=len(items.type_names),
      num_languages=len(items.language_vocab),
      num_genres=len(items.genre_vocab), max_genres=items.genres.shape[1],
      units=config.tower_units, categorical_dim=config.categorical_dim,
      hgnn_dim=items.hgnn.shape[1] if use_hgnn else 0, id_table=id_table,
      popularity=items.popularity is not None,
      text_match_weight=config.text_match_weight,
      dropout_rate=config.dropout_rate)
  user_tower = build_user_tower(
      history_table=history_table, type_table=type_table,
      id_history_table=id_table if use_hgnn else None,
      num_types=len(items.type_names), max_history=users.history.shape[1],
      units=config.tower_units,
      categorical_vocab_sizes={k: len(v) for k, v in
                               users.categorical_vocab.items()},
      numeric_dim=len(users.numeric_columns),
      interest_dim=0 if users.interest is None else users.interest.shape[1],
      categorical_dim=config.categorical_dim,
      dropout_rate=config.dropout_rate, text_vectors=items.text,
      text_match_weight=config.text_match_weight)
  return user_tower, item_tower


def known_items(data: TrainingData, use_hgnn: bool) -> np.ndarray | None:
  """Items with a learned id vector: those with a training example (None
  for HGNN models, whose item vectors are all fixed)."""
  return None if use_hgnn else data.examples.sampling_probability > 0


def _dataset(data: TrainingData, batch_size: int, seed: int) -> tf.data.Dataset:
  ex = data.examples
  ds = tf.data.Dataset.from_tensor_slices(
      {"user": ex.user, "item": ex.item, "weight": ex.weight,
       "example": np.arange(len(ex), dtype=np.int32)})
  ds = ds.shuffle(len(ex), seed=seed, reshuffle_each_iteration=True)
  # Repeated with explicit steps: every worker of a distributed fit runs as
  # many steps per epoch as the others (distribute.split_batches).
  return ds.batch(batch_size).repeat().prefetch(tf.data.AUTOTUNE)


def train_two_tower(data: TrainingData, config: TwoTowerConfig, *,
                    use_hgnn: bool = True, seed: int | None = None,
                    verbose: int | None = None,
                    popularity_weight: float | None = None,
                    callbacks: list[tf.keras.callbacks.Callback] | None = None
                    ) -> TrainedTwoTower:
  """Trains a two-tower model with in-batch softmax.

  Args:
    data: examples and feature tables of one cut.
    config: model and training options.
    use_hgnn: see ``build_towers``.
    seed: overrides ``config.seed``.
    verbose: Keras verbosity (default: a progress bar on a terminal, one
      line per epoch otherwise).
    popularity_weight: the popularity prior's weight (``prior.py``); None:
      the one value of ``config.popularity_weights`` (several are a
      ValueError: choose with ``prior.choose_popularity_weight``).
    callbacks: Keras callbacks of the fit (their ``model`` is the
      ``TwoTowerModel``: ``user_tower``, ``item_tower``).

  Returns:
    The trained towers.

  Raises:
    ValueError: when there is no training example.
  """
  if len(data.examples) == 0:
    raise ValueError("no training example in the window before the cut: "
                     "check --cut and --train-days")
  seed = config.seed if seed is None else seed
  tf.keras.utils.set_random_seed(seed)
  if verbose is None:
    verbose = 1 if sys.stdout.isatty() else 2
  known = known_items(data, use_hgnn)
  strategy = make_strategy(config.distribute)
  with strategy.scope():
    user_tower, item_tower = build_towers(data, config, use_hgnn=use_hgnn)
    model = TwoTowerModel(
        user_tower, item_tower,
        user_features=data.users.features(),
        item_features=data.items.features(use_hgnn=use_hgnn, known=known),
        sampling_probability=(data.examples.sampling_probability
                              if config.sampling_correction else None),
        temperature=config.temperature,
        remove_accidental_hits=config.remove_accidental_hits,
        vector_dropout=config.vector_dropout,
        example_history=data.examples.history)
    # One step per call across replicas: a collective op repeated within one
    # call must see one shape, and the last batch of an epoch is smaller.
    # LazyAdam: a step moves only the rows of the id and categorical tables
    # it looked up (Keras' Adam rewrites whole tables every step).
    model.compile(optimizer=LazyAdam(config.learning_rate),
                  steps_per_execution=_STEPS_PER_EXECUTION
                  if strategy.num_replicas_in_sync == 1 else 1)
  batch_size = config.batch_size_for(len(data.examples))
  start = time.perf_counter()
  fit = model.fit(split_batches(_dataset(data, batch_size, seed),
                                strategy), epochs=config.epochs,
                  steps_per_epoch=math.ceil(len(data.examples) / batch_size),
                  verbose=verbose, callbacks=callbacks)
  seconds = time.perf_counter() - start
  history: dict[str, Any] = {k: [float(x) for x in v]
                             for k, v in fit.history.items()
                             if k == "mean_batch_loss"}
  if popularity_weight is None:
    if len(set(config.popularity_weights)) != 1:
      raise ValueError("several popularity_weights: choose one with "
                       "prior.choose_popularity_weight and pass it")
    popularity_weight = config.popularity_weights[0]
  weight = float(popularity_weight)
  offset = popularity_offset(
      item_counts(data.examples, len(data.items)),
      weight=weight, temperature=config.temperature)
  return TrainedTwoTower(
      user_tower=user_tower, item_tower=item_tower, use_hgnn=use_hgnn,
      known=known,
      history=history, seconds=seconds,
      examples_per_second=len(data.examples) * len(fit.epoch) /
      max(seconds, 1e-9), item_offset=offset, popularity_weight=weight,
      batch_size=batch_size)
