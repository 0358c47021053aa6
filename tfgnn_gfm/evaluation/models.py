"""The registry of every model ``gfm evaluate`` compares.

Each model kind is one ``ModelSpec``: its name (``--models``, results), whether
it is fitted once per seed, and how it produces ``Scorer``s on a split (the
one currency the protocol ranks). ``compare_models`` loops over ``MODELS``;
no model is chosen by an ``if`` chain:

* ``popularity``, ``llm_knn``, ``hgnn_knn``: deterministic baselines
  (``baselines``);
* ``item_knn``, ``ease``, ``als``, ``bpr``: the peers, one spec each in
  ``peers`` (``peers.PEERS``), wrapped here;
* ``2t_no_gnn``, ``2t_hgnn``, ``2t_hgnn_retrained``: the two-tower model
  (learned item ids, the static HGNN vectors, the retrained ones);
* ``2t_type_specific``: one 2T-HGNN per item type, each scored on its type.

What every model of a split shares (training data, evaluated users, the inner
split that chooses the two-tower models' popularity weight and epochs) is a
``SplitData``, built once per split; the inner split and the per-type data are
built only when a model needs them.

Adding a model: a function ``(SplitData, seed) -> [ScoredRun]``, one
``ModelSpec`` in ``MODELS`` and its name in ``twotower.config.ALL_MODELS``
(the CLI's choices; that module imports no TensorFlow).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable

import numpy as np
import pandas as pd

from tfgnn_gfm.evaluation.baselines import Scorer, knn_scorer, popularity_scorer
from tfgnn_gfm.evaluation.peers import PEERS, PeerSpec
from tfgnn_gfm.timesplit import TimeSplit
from tfgnn_gfm.twotower import config as cfg
from tfgnn_gfm.twotower.examples import TrainingData, training_data_for
from tfgnn_gfm.twotower.items import ItemTable
from tfgnn_gfm.twotower.prior import (
  InnerSplit,
  choose_popularity_weight,
  inner_split,
  with_chosen_epochs,
)
from tfgnn_gfm.twotower.train import train_two_tower

_LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class SplitData:
  """What every model of one split shares.

  Attributes:
    interactions: every interaction of the dataset.
    users: the users table or None.
    items: the catalog with the static HGNN vectors.
    split: the cut and windows.
    config: the evaluation options.
    data: the (unified) training data of the split.
    user_rows: the evaluated users (sorted user rows).
    retrained_items: the catalog with retrained HGNN vectors, or None.
    progress: show progress bars while fitting.
    verbose: Keras verbosity while training.
  """

  interactions: pd.DataFrame
  users: pd.DataFrame | None
  items: ItemTable
  split: TimeSplit
  config: cfg.EvaluateConfig
  data: TrainingData
  user_rows: np.ndarray
  retrained_items: ItemTable | None = None
  progress: bool = False
  verbose: int | None = None
  _inner: InnerSplit | None = dataclasses.field(default=None, repr=False)
  _per_type: dict[str, TrainingData] | None = dataclasses.field(
      default=None, repr=False)
  _chosen: dict[str, tuple[float, dict[str, Any]]] = dataclasses.field(
      default_factory=dict, repr=False)

  @property
  def two_tower(self) -> cfg.TwoTowerConfig:
    """The two-tower options of the evaluation."""
    return self.config.two_tower()

  @property
  def types(self) -> list[str]:
    """The evaluated item types."""
    return self.items.eval_types

  def inner(self) -> InnerSplit:
    """The inner split of the window (built on first use)."""
    if self._inner is None:
      self._inner = inner_split(self.interactions, self.users, self.items,
                                self.split, self.two_tower)
    return self._inner

  def per_type(self) -> dict[str, TrainingData]:
    """Item type -> training data of that type alone (built on first use)."""
    if self._per_type is None:
      self._per_type = {
          t: training_data_for(self.interactions, self.users, self.items,
                               self.split, self.two_tower, item_types=[t],
                               user_ids=self.data.users.user_id)
          for t in self.types}
    return self._per_type

  def prior_for(self, name: str, run_data: TrainingData, *, use_hgnn: bool,
                seed: int) -> tuple[float, dict[str, Any]]:
    """The popularity weight and epochs model kind ``name`` trains with.

    Chosen once per split on the inner split, with the first seed that asks;
    every seed reuses it: the weight is a property of the window's data, and
    the seeds then vary only the model.

    Returns:
      (weight, the choice's info; its ``epochs`` is the chosen epoch count).
    """
    if name not in self._chosen:
      weight, info = choose_popularity_weight(
          self.inner().with_items(run_data.items), self.two_tower,
          use_hgnn=use_hgnn, seed=seed, verbose=self.verbose)
      self._chosen[name] = weight, {**info, "chosen_with_seed": seed}
    return self._chosen[name]


@dataclasses.dataclass
class ScoredRun:
  """One fitted model, ready to rank.

  Attributes:
    scorer: its user and item vectors.
    items: the catalog it is scored on.
    info: what to report (training time, chosen weight, ...).
    types: rank only these item types (type-specific models), or None: every
      evaluated type and all types together.
  """

  scorer: Scorer
  items: ItemTable
  info: dict[str, Any]
  types: list[str] | None = None


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """One model kind of ``gfm evaluate``.

  Attributes:
    name: the model name (``--models``, results).
    run: ``run(split_data, seed)`` fits the model on a split and returns its
      runs (one, or one per item type); an empty list: the model does not
      apply to the split (the reason is logged). Raises
      ``peers.ModelSkipped`` when it cannot run there (the reason is
      reported).
    seeded: fitted once per seed; else once, with ``config.seed``.
  """

  name: str
  run: Callable[[SplitData, int], list[ScoredRun]]
  seeded: bool = False


def _popularity(s: SplitData, seed: int) -> list[ScoredRun]:
  scorer = popularity_scorer(s.data.examples, len(s.items), s.user_rows)
  return [ScoredRun(scorer, s.items, scorer.info)]


def _knn(name: str, vectors: Callable[[ItemTable], np.ndarray]):
  def run(s: SplitData, seed: int) -> list[ScoredRun]:
    scorer = knn_scorer(s.data.users, s.user_rows, vectors(s.items),
                        s.data.examples, name)
    return [ScoredRun(scorer, s.items, scorer.info)]
  return run


def _peer(spec: PeerSpec):
  def run(s: SplitData, seed: int) -> list[ScoredRun]:
    _LOG.info("fitting %s%s", spec.name,
              f" (seed {seed})" if spec.seeded else "")
    scorer = spec.fit(s.data, s.user_rows, s.config, seed=seed,
                      progress=s.progress)
    return [ScoredRun(scorer, s.items, scorer.info)]
  return run


def two_tower_run(name: str, data: TrainingData, config: cfg.TwoTowerConfig,
                  user_rows: np.ndarray, *, use_hgnn: bool, seed: int,
                  verbose: int | None, popularity_weight: float,
                  prior_info: dict[str, Any] | None = None) -> ScoredRun:
  """Trains the two-tower model on ``data`` and returns its scored run."""
  model = train_two_tower(data, config, use_hgnn=use_hgnn, seed=seed,
                          verbose=verbose,
                          popularity_weight=popularity_weight)
  user_vectors, item_vectors = model.retrieval_vectors(
      data.users, user_rows, data.items, config.inference_batch_size)
  scorer = Scorer(name=name, user_rows=user_rows, user_vectors=user_vectors,
                  item_vectors=item_vectors)
  info = {"train_seconds": round(model.seconds, 2),
          "examples_per_second": round(model.examples_per_second, 1),
          "examples": len(data.examples),
          "batch_size": model.batch_size,
          "final_loss": model.history.get("mean_batch_loss", [None])[-1],
          "popularity_weight": round(model.popularity_weight, 4)}
  if prior_info and len(prior_info.get("candidates", [])) > 1:
    info["popularity_prior"] = prior_info
  return ScoredRun(scorer, data.items, info)


def _two_tower(name: str, *, use_hgnn: bool, retrained: bool = False):
  def run(s: SplitData, seed: int) -> list[ScoredRun]:
    run_data = s.data
    if retrained:
      if s.retrained_items is None:
        raise ValueError(f"{name} needs retrained embeddings "
                         "(--retrained-embeddings)")
      run_data = dataclasses.replace(s.data, items=s.retrained_items)
    _LOG.info("training %s (seed %d)", name, seed)
    weight, prior_info = s.prior_for(name, run_data, use_hgnn=use_hgnn,
                                     seed=seed)
    return [two_tower_run(name, run_data,
                          with_chosen_epochs(prior_info, s.two_tower),
                          s.user_rows, use_hgnn=use_hgnn, seed=seed,
                          verbose=s.verbose, popularity_weight=weight,
                          prior_info=prior_info)]
  return run


def _type_specific(s: SplitData, seed: int) -> list[ScoredRun]:
  name = cfg.TWO_TOWER_TYPE_SPECIFIC
  if len(s.types) < 2:
    # With one item type, "type-specific" is the unified model again.
    _LOG.info("one item type: %s is the unified model; skipped", name)
    return []
  # The type-specific models take the unified model's weight and epochs.
  weight, unified_info = s.prior_for(cfg.TWO_TOWER_HGNN, s.data,
                                     use_hgnn=True, seed=seed)
  config = with_chosen_epochs(unified_info, s.two_tower)
  runs = []
  for t, run_data in s.per_type().items():
    _LOG.info("training %s for %s (seed %d)", name, t, seed)
    run = two_tower_run(f"{name}[{t}]", run_data, config, s.user_rows,
                        use_hgnn=True, seed=seed, verbose=s.verbose,
                        popularity_weight=weight)
    runs.append(dataclasses.replace(run, items=s.items, types=[t]))
  return runs


#: Every model kind by name, in report (and run) order: baselines, peers,
#: the two-tower variants, the unified 2T-HGNN.
MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec(cfg.POPULARITY, _popularity),
    ModelSpec(cfg.LLM_KNN, _knn(cfg.LLM_KNN, lambda items: items.text)),
    ModelSpec(cfg.HGNN_KNN, _knn(cfg.HGNN_KNN, lambda items: items.hgnn)),
    *(ModelSpec(p.name, _peer(p), seeded=p.seeded) for p in PEERS.values()),
    ModelSpec(cfg.TWO_TOWER_NO_GNN,
              _two_tower(cfg.TWO_TOWER_NO_GNN, use_hgnn=False), seeded=True),
    ModelSpec(cfg.TWO_TOWER_TYPE_SPECIFIC, _type_specific, seeded=True),
    ModelSpec(cfg.TWO_TOWER_HGNN,
              _two_tower(cfg.TWO_TOWER_HGNN, use_hgnn=True), seeded=True),
    ModelSpec(cfg.TWO_TOWER_HGNN_RETRAINED,
              _two_tower(cfg.TWO_TOWER_HGNN_RETRAINED, use_hgnn=True,
                         retrained=True), seeded=True),
)}
