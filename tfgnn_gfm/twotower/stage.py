"""The ``train-2t`` and ``evaluate`` stages: directories in, directories out."""

from __future__ import annotations

import json
import logging
import pathlib
import time
from typing import Any

import numpy as np
import pandas as pd

from tfgnn_gfm.artifacts import EmbeddingsDir, TwoTowerDir, TwoTowerItems
from tfgnn_gfm.config import config_to_dict
from tfgnn_gfm.distribute import make_strategy, output_directory
from tfgnn_gfm.timesplit import (
  TimeSplit,
  format_time,
  parse_cut,
)
from tfgnn_gfm.twotower import config as cfg
from tfgnn_gfm.twotower.examples import training_data_for
from tfgnn_gfm.twotower.items import load_item_table
from tfgnn_gfm.twotower.prior import (
  choose_popularity_weight,
  inner_split,
  with_chosen_epochs,
)
from tfgnn_gfm.twotower.repeats import repeat_policy
from tfgnn_gfm.twotower.towers import save_tower
from tfgnn_gfm.twotower.train import train_two_tower

_LOG = logging.getLogger(__name__)


def read_data(data_dir: str | pathlib.Path):
  from tfgnn_gfm.data import read_dataset
  dataset = read_dataset(data_dir)
  inputs = {t.table: t.path for t in dataset.tables}
  users = dataset.users.frame if dataset.users is not None else None
  return (dataset.items.frame, dataset.interactions.frame, users, inputs,
          len(dataset.dead_letters()))


def embeddings_cut(embeddings_dir: str | pathlib.Path) -> int | None:
  """The cut recorded by ``gfm embed`` (the graph's), or None."""
  return EmbeddingsDir(pathlib.Path(embeddings_dir)).cut()


def resolve_cut(cut: str | None, *embeddings_dirs: str | pathlib.Path) -> int:
  """The cut: the flag, else the latest cut of the given embeddings.

  Raises:
    ValueError: when neither gives one.
  """
  if cut is not None:
    return parse_cut(cut)
  cuts = [c for c in (embeddings_cut(d) for d in embeddings_dirs if d)
          if c is not None]
  if not cuts:
    raise ValueError("the embeddings manifest records no cut; pass --cut")
  return max(cuts)


def train_2t(data_dir: str | pathlib.Path,
             embeddings_dir: str | pathlib.Path,
             out_dir: str | pathlib.Path, config: cfg.TwoTowerConfig, *,
             verbose: int | None = None) -> dict[str, Any]:
  """``gfm train-2t``: trains the unified 2T-HGNN on the window before the cut.

  The static HGNN vectors are reused as they are (no HGNN retraining): the
  daily job of the paper's two-layer design.

  Args:
    data_dir: the dataset folder.
    embeddings_dir: output of ``gfm embed``.
    out_dir: the TwoTowerDir to write (atomically).
    config: options; ``config.cut`` defaults to the embeddings' cut.
    verbose: Keras verbosity.

  Returns:
    The manifest's metrics.
  """
  config.validate()
  strategy = make_strategy(config.distribute)  # Before any TF op.
  items_frame, interactions, users, inputs, dead = read_data(data_dir)
  cut = resolve_cut(config.cut, embeddings_dir)
  emb_cut = embeddings_cut(embeddings_dir)
  if emb_cut is not None and emb_cut > cut:
    _LOG.warning("the embeddings' graph was built with a later cut (%s) "
                 "than the training cut (%s)", format_time(emb_cut),
                 format_time(cut))
  split = TimeSplit(cut, config.train_days)
  items = load_item_table(embeddings_dir, items_frame,
                          rollup_episodes=config.rollup_episodes,
                          max_genres=config.max_genres)
  data = training_data_for(interactions, users, items, split, config)
  policy = repeat_policy(interactions, items, split,
                         threshold=config.repeat_threshold,
                         override=config.repeats)
  _LOG.info("%s", policy.describe())
  weight, prior_info = choose_popularity_weight(
      inner_split(interactions, users, items, split, config), config,
      use_hgnn=True, seed=config.seed, verbose=verbose)
  model = train_two_tower(data, with_chosen_epochs(prior_info, config),
                          use_hgnn=True, verbose=verbose,
                          popularity_weight=weight)
  start = time.perf_counter()
  item_vectors = model.embed_items(data.items,
                                   batch_size=config.inference_batch_size)
  embed_seconds = time.perf_counter() - start
  metrics = {
      "train_seconds": round(model.seconds, 2),
      "examples_per_second": round(model.examples_per_second, 1),
      "batch_size": model.batch_size,
      "final_mean_batch_loss": model.history.get("mean_batch_loss",
                                                 [None])[-1],
      "embed_items_per_second": round(len(items) / max(embed_seconds, 1e-9),
                                      1),
      "popularity_weight": weight,
      "popularity_prior": prior_info,
      "repeats_dropped_types": policy.dropped_types,
  }
  with output_directory(out_dir, strategy) as tmp:  # The chief's is out_dir.
    layout = TwoTowerDir(tmp)
    save_tower(model.user_tower, layout.user_tower)
    save_tower(model.item_tower, layout.item_tower)
    layout.write_items(TwoTowerItems(table=pd.DataFrame({
        "row": np.arange(len(items)), "item_id": items.item_id,
        "item_type": items.item_type, "root_row": items.root,
        "candidate": items.candidate,
        "vector_known": items.graph_vector,
        "score_offset": model.item_offset}), embeddings=item_vectors))
    spec = data.spec()
    spec["user_tower_inputs"] = list(model.user_tower.input_names)
    spec["item_tower_inputs"] = list(model.item_tower.input_names)
    spec["embedding_dim"] = int(model.item_tower.output_shape[-1])
    spec["repeats"] = policy.to_dict()
    spec["notes"] = {
        "categorical": "inputs are 1-based indices into the vocabularies; "
                       "0 = unknown or missing (the zero vector)",
        "history": "item rows (items.csv) of the user's most recent distinct "
                   "items in the training window, most recent first; -1 pads",
        "vector_known": "1 when the item's HGNN vector is from the graph; "
                        "0 for inductive (text-only) items, whose hgnn input "
                        "is zeros",
        "user_numeric": "(x - numeric_mean) / numeric_std; missing = 0",
        "repeats": "per item type, whether a user's consumed items may be "
                   "recommended again (keep) or are left out (the exported "
                   "serving_default leaves out the request's recent items "
                   "of those types)",
        "embeddings": "both towers output the MLP's L2-normalised "
                      f"{config.embedding_dim} values"
                      + (", then the text match (user: "
                         f"{config.text_match_weight} x the normalised sum "
                         "of the history's normalised text vectors; item: "
                         "its normalised text vector)"
                         if config.text_match_weight > 0 else ""),
    }
    layout.write_features(spec)
    layout.history_path.write_text(json.dumps(model.history, indent=2) + "\n",
                                   encoding="utf-8")
    layout.write_manifest(config=config_to_dict(config), inputs=inputs,
                          embeddings=embeddings_dir, cut=cut,
                          split=split.to_dict(),
                          counts={**data.counts, "dead_letters": dead},
                          metrics=metrics)
  return metrics
