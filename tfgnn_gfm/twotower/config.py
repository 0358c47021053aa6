"""Configuration of the dynamic layer: two-tower training and evaluation.

Defaults follow the 2T-HGNN paper (docs/DESIGN.md section 6.3): Adam 1e-3,
10 epochs, in-batch negatives with inverse-frequency (logQ) correction, weak
signals (follow, preview) as positives; a 90-day training window before the
global cut and a 14-day hold-out after it (docs/DESIGN.md section 4.1). Two
deviations chosen on validation targets of real data: towers 256 -> 128
(the paper: 512 -> 256 -> 128) and batches of 512 on large windows (the
paper: 128), four times the in-batch negatives per step and about three
times the examples per second, with 256 or 128 on windows too small for
50 steps of 512 (``TwoTowerConfig.batch_size_for``; docs/experiments.md).

This module imports no TensorFlow (``gfm --help`` reads it).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from tfgnn_gfm.config import option_help as _help
from tfgnn_gfm.distribute import CHOICES as DISTRIBUTE_CHOICES
from tfgnn_gfm.distribute import check_choice as check_distribute
from tfgnn_gfm.timesplit import parse_cut

#: Model names of the evaluation, in report order (the CLI's choices; each
#: is a spec of ``tfgnn_gfm.evaluation.models.MODELS``, which says how it is
#: fitted and whether once per seed).
POPULARITY = "popularity"
LLM_KNN = "llm_knn"
HGNN_KNN = "hgnn_knn"
ITEM_KNN = "item_knn"
EASE = "ease"
ALS = "als"
BPR = "bpr"
TWO_TOWER_NO_GNN = "2t_no_gnn"
TWO_TOWER_TYPE_SPECIFIC = "2t_type_specific"
TWO_TOWER_HGNN = "2t_hgnn"
TWO_TOWER_HGNN_RETRAINED = "2t_hgnn_retrained"
ALL_MODELS = (POPULARITY, LLM_KNN, HGNN_KNN, ITEM_KNN, EASE, ALS, BPR,
              TWO_TOWER_NO_GNN, TWO_TOWER_TYPE_SPECIFIC, TWO_TOWER_HGNN)
#: The strong simple peers (``peers``), fitted on the training window.
PEERS = (ITEM_KNN, EASE, ALS, BPR)
#: ``interaction_weight`` transforms of the interactions' ``weight`` column.
INTERACTION_WEIGHTS = ("none", "saturating", "log1p")
#: ``training_history`` modes: the user features of a training example.
TRAINING_HISTORIES = ("before_example", "window")
#: ``batch_size`` 0 chooses the largest of these sizes that leaves at least
#: ``AUTO_BATCH_MIN_STEPS`` steps per epoch (the smallest when none does):
#: large batches (more in-batch negatives, faster) on large windows, without
#: leaving a small window a handful of steps.
AUTO_BATCH_SIZES = (512, 256, 128)
AUTO_BATCH_MIN_STEPS = 50
#: ``gfm evaluate --seeds 0`` (the default): ``AUTO_SEEDS`` seeds for a
#: window of fewer than ``AUTO_SEEDS_MAX_EXAMPLES`` training examples, one
#: from there on: on a large window the interval over its many users is far
#: wider than the spread over seeds, and each seed costs minutes.
AUTO_SEEDS = 3
AUTO_SEEDS_MAX_EXAMPLES = 100_000


@dataclasses.dataclass
class TwoTowerConfig:
  """``gfm train-2t``: the unified, type-agnostic two-tower model (TFRS).

  The item tower is one MLP for every item type over the item's HGNN vector,
  text vector and metadata (type, language, genres). The user tower is an MLP
  over user metadata, the mean HGNN vector of the user's items of each type
  in the training window (plus a has-any mask per type) and an optional
  external interest vector. Both outputs are L2-normalised; the loss is the
  in-batch softmax of ``tfrs.tasks.Retrieval`` with logQ correction and
  accidental-hit removal.
  """

  section: ClassVar[str] = "two_tower"

  cut: str | None = dataclasses.field(default=None, metadata=_help(
      "global time cut: a date (YYYY-MM-DD, midnight UTC), an ISO-8601 time "
      "or epoch seconds; default: the cut of the embeddings (the graph's)",
      metavar="DATE"))
  train_days: int = dataclasses.field(default=90, metadata=_help(
      "days of interactions before the cut used for examples and features"))
  rollup_episodes: bool = dataclasses.field(default=True, metadata=_help(
      "count an interaction with an item that has a parent (an episode) as "
      "one with its root item (the show), as the graph does; candidates are "
      "then root items only"))
  event_weights: dict[str, float] = dataclasses.field(
      default_factory=lambda: {"stream": 1.0, "follow": 1.0, "preview": 1.0},
      metadata=_help(
          "positive weight per event as JSON (weak signals follow and "
          "preview are positives); events not listed weigh "
          "--default-event-weight; weight 0 drops an event",
          metavar="JSON"))
  default_event_weight: float = dataclasses.field(default=1.0, metadata=_help(
      "weight of events not in --event-weights"))
  dedupe_pairs: bool = dataclasses.field(default=True, metadata=_help(
      "one training example per (user, item) pair, weighted by the largest "
      "weight of its events (repeat listening then does not dominate)"))
  interaction_weight: str = dataclasses.field(
      default="saturating", metadata=_help(
          "how the interactions' weight column (e.g. seconds streamed) "
          "scales an event's positive weight: none (ignored), saturating "
          "(2w / (w + m)) or log1p (log2(1 + w / m)), where m is the median "
          "weight of the same event on the same item type in the training "
          "window, so an event of median strength counts 1 whatever the "
          "unit; a weight <= 0 drops the event, a missing one counts 1",
          choices=INTERACTION_WEIGHTS))
  max_history: int = dataclasses.field(default=100, metadata=_help(
      "most recent distinct items per user kept for the history features"))
  training_history: str = dataclasses.field(
      default="before_example", metadata=_help(
          "user history of a training example: before_example (the user's "
          "events strictly before the example's time, as at serving time) "
          "or window (the whole training window; the positive is left out "
          "either way)", choices=TRAINING_HISTORIES))
  tower_units: tuple[int, ...] = dataclasses.field(
      default=(256, 128), metadata=_help(
          "MLP sizes of both towers; the last is the embedding size"))
  categorical_dim: int = dataclasses.field(default=16, metadata=_help(
      "embedding size of each categorical feature (item type, language, "
      "genre, user columns)"))
  id_embedding_dim: int = dataclasses.field(default=128, metadata=_help(
      "size of the learned item-id embeddings of the 2T-without-GNN "
      "baseline"))
  item_ids: bool = dataclasses.field(default=False, metadata=_help(
      "the HGNN two-tower models also learn item-id embeddings (size "
      "--id-embedding-dim), one table shared by the item tower and the "
      "user history, next to the HGNN vectors; items without a training "
      "example keep a zero id vector (new items rely on HGNN and text)"))
  repeats: str = dataclasses.field(default="auto", metadata=_help(
      "whether a user's consumed items may be recommended again, per item "
      "type: auto (a type keeps them when its repeat rate in the training "
      "window, the share of its user-item consumption days that return to "
      "an item the user had on an earlier day, is at least "
      "--repeat-threshold; else they are left out, in evaluation and in "
      "the exported serving_default), keep, drop, or TYPE=keep|drop pairs "
      "separated by commas (other types: auto)", metavar="MODE"))
  repeat_threshold: float = dataclasses.field(default=0.1, metadata=_help(
      "repeat rate from which a type keeps its consumed items "
      "recommendable (--repeats auto)"))
  popularity_days: int = dataclasses.field(default=0, metadata=_help(
      "popularity prior: the item tower also reads log1p(positive events "
      "in the last this-many days before the cut) / log1p(the largest such "
      "count), so the model can lean towards what is trending at the cut; "
      "0: no prior"))
  popularity_weights: tuple[float, ...] = dataclasses.field(
      default=(0.0, 0.5, 1.0, 2.0, 3.0, 5.0), metadata=_help(
          "popularity prior of user queries: a user's score of an item is "
          "the towers' cosine / temperature + w x log(the item's add-one "
          "smoothed share of the training examples), the term the logQ "
          "correction takes out in training. One value: that w. Several: w "
          "is chosen per training window on an inner split (a model trained "
          "without the window's last --popularity-holdout-days ranks those "
          "days' users; best new-items MRR@--prior-k wins, ties to the "
          "smaller w), then the model is trained on the whole window. Item "
          "and text queries never get the prior. 0: cosine only",
          metavar="WEIGHTS"))
  text_match_weight: float = dataclasses.field(default=0.3, metadata=_help(
      "text match of user queries: a user's score of an item gains this "
      "weight x the cosine between the mean text vector of the user's "
      "history and the item's text vector (LLM-kNN's score), added at "
      "retrieval only (training is unchanged); it orders the items no one "
      "has interacted with yet by their text; similar-items and search "
      "queries gain this weight x the items' text cosine. Both towers' "
      "outputs grow by the text vector size. 0: off"))
  popularity_holdout_days: int = dataclasses.field(default=14, metadata=_help(
      "days at the end of the training window held out to choose the "
      "popularity weight"))
  prior_k: int = dataclasses.field(default=100, metadata=_help(
      "K of the new-items MRR@K that chooses the popularity weight"))
  max_genres: int = dataclasses.field(default=4, metadata=_help(
      "genres per item kept (';'-separated in the data)"))
  use_interest_vector: bool = dataclasses.field(default=True, metadata=_help(
      "feed the users' external interest vector to the user tower when the "
      "users table has one"))
  user_columns: tuple[str, ...] = dataclasses.field(default=(), metadata=_help(
      "user feature columns (empty: every column of the users table but "
      "user_id and interest_vector); numeric columns are standardised, "
      "others are categorical", metavar="COLUMNS"))
  temperature: float = dataclasses.field(default=0.05, metadata=_help(
      "softmax temperature over cosine scores (both towers are "
      "L2-normalised, so scores are in [-1, 1])"))
  sampling_correction: bool = dataclasses.field(default=True, metadata=_help(
      "logQ correction: subtract log(item frequency) from in-batch logits "
      "(TFRS candidate_sampling_probability)"))
  remove_accidental_hits: bool = dataclasses.field(default=True, metadata=_help(
      "mask in-batch negatives that are the positive item"))
  vector_dropout: float = dataclasses.field(default=0.5, metadata=_help(
      "probability that a training item loses its collaborative vector "
      "(HGNN or learned id) and is seen by text and metadata only, as new "
      "items are (DropoutNet-style cold-start training)"))
  dropout_rate: float = dataclasses.field(default=0.0, metadata=_help(
      "dropout between MLP layers"))
  batch_size: int = dataclasses.field(default=0, metadata=_help(
      "examples per step (also the number of in-batch negatives); 0 "
      "(default): chosen from the training examples, the largest of "
      f"{', '.join(map(str, AUTO_BATCH_SIZES))} that leaves at least "
      f"{AUTO_BATCH_MIN_STEPS} steps per epoch ({AUTO_BATCH_SIZES[-1]} when "
      "none does), so small windows still take enough steps"))
  learning_rate: float = dataclasses.field(default=1e-3, metadata=_help(
      "Adam learning rate"))
  epochs: int = dataclasses.field(default=10, metadata=_help(
      "passes over the training examples (the most, with "
      "--epoch-patience)"))
  epoch_patience: int = dataclasses.field(default=2, metadata=_help(
      "choose the number of epochs on the inner split (see "
      "--popularity-weights): its model is scored after every epoch "
      "(new-items MRR@--prior-k over all types, at most 10,000 inner users) "
      "and stops after this many epochs without improvement; the models of "
      "the window then train the best epoch count, up to --epochs. An inner "
      "split of fewer than 1,000 users chooses nothing (its MRR is noise): "
      "--epochs. 0: off, always --epochs"))
  seed: int = dataclasses.field(default=0, metadata=_help(
      "random seed (initialisation and shuffling)"))
  distribute: str = dataclasses.field(default="none", metadata=_help(
      "tf.distribute strategy: none; mirrored (over the local devices); or "
      "multi_worker (MultiWorkerMirroredStrategy over the cluster of the "
      "TF_CONFIG environment variable: run the same command on every "
      "worker). Each batch of --batch-size examples is split across the "
      "replicas, whose users meet every replica's positives as in-batch "
      "negatives; only the chief writes --out", choices=DISTRIBUTE_CHOICES))
  inference_batch_size: int = dataclasses.field(default=4096, metadata=_help(
      "rows per tower call when embedding every user or item"))

  def validate(self) -> None:
    """Raises ValueError naming the first impossible setting."""
    if not self.popularity_weights or any(
        w < 0 for w in self.popularity_weights):
      raise ValueError(f"popularity_weights must be numbers >= 0, got "
                       f"{list(self.popularity_weights)}")
    if self.text_match_weight < 0:
      raise ValueError(f"text_match_weight must be >= 0, got "
                       f"{self.text_match_weight}")
    if self.popularity_days < 0:
      raise ValueError(f"popularity_days must be >= 0, got "
                       f"{self.popularity_days}")
    if not 0.0 <= self.repeat_threshold <= 1.0:
      raise ValueError(f"repeat_threshold must be in [0, 1], got "
                       f"{self.repeat_threshold!r}")
    from tfgnn_gfm.twotower.repeats import parse_override  # pylint: disable=g-import-not-at-top
    parse_override(self.repeats)  # Raises ValueError naming the problem.
    if self.epoch_patience < 0:
      raise ValueError(f"epoch_patience must be >= 0 (0: off), got "
                       f"{self.epoch_patience!r}")
    for name in ("train_days", "popularity_holdout_days", "prior_k",
                 "max_history", "categorical_dim",
                 "id_embedding_dim", "max_genres", "epochs",
                 "inference_batch_size"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be at least 1, got "
                         f"{getattr(self, name)!r}")
    if not self.tower_units or any(u < 1 for u in self.tower_units):
      raise ValueError(f"tower_units must be positive sizes, got "
                       f"{list(self.tower_units)}")
    if self.batch_size < 0 or self.batch_size == 1:
      raise ValueError("batch_size must be 0 (auto) or at least 2 (in-batch "
                       "negatives)")
    if self.temperature <= 0:
      raise ValueError("temperature must be > 0")
    if self.learning_rate <= 0:
      raise ValueError("learning_rate must be > 0")
    if not 0.0 <= self.dropout_rate < 1.0:
      raise ValueError("dropout_rate must be in [0, 1)")
    if not 0.0 <= self.vector_dropout < 1.0:
      raise ValueError("vector_dropout must be in [0, 1)")
    if self.interaction_weight not in INTERACTION_WEIGHTS:
      raise ValueError(f"interaction_weight must be one of "
                       f"{', '.join(INTERACTION_WEIGHTS)}, got "
                       f"{self.interaction_weight!r}")
    if self.training_history not in TRAINING_HISTORIES:
      raise ValueError(f"training_history must be one of "
                       f"{', '.join(TRAINING_HISTORIES)}, got "
                       f"{self.training_history!r}")
    weights = dict(self.event_weights)
    weights.setdefault("*", self.default_event_weight)
    for event, w in weights.items():
      if not isinstance(w, (int, float)) or w < 0:
        raise ValueError(f"event weight of {event!r} must be a number >= 0, "
                         f"got {w!r}")
    check_distribute(self.distribute)
    if self.cut is not None:
      parse_cut(self.cut)

  @property
  def embedding_dim(self) -> int:
    return int(self.tower_units[-1])

  def batch_size_for(self, num_examples: int) -> int:
    """The batch size of a training on ``num_examples`` examples.

    ``batch_size`` when set; when 0, the largest of ``AUTO_BATCH_SIZES``
    with at least ``AUTO_BATCH_MIN_STEPS`` steps per epoch, else the
    smallest. Measured (docs/experiments.md): 512 ranked best on amazon-food-
    kitchen (330k examples; its inner split about 31,500: 62 steps); on
    MovieLens windows (811 to 4,757 examples) 512 left a few steps per epoch
    and the model fell back to the popularity ranking, where 128 did not;
    on the synthetic default (11,290 examples) 256 (44 steps) ranked below
    128 beyond seed noise. 50 steps separates these cases.
    """
    if self.batch_size:
      return int(self.batch_size)
    for size in AUTO_BATCH_SIZES:
      if num_examples >= size * AUTO_BATCH_MIN_STEPS:
        return size
    return AUTO_BATCH_SIZES[-1]


@dataclasses.dataclass
class EvaluateConfig(TwoTowerConfig):
  """``gfm evaluate``: the evaluation protocol of docs/DESIGN.md section 4.

  Every two-tower option applies to the two-tower models trained here.
  """

  section: ClassVar[str] = "evaluate"

  holdout_days: int = dataclasses.field(default=14, metadata=_help(
      "days after the cut whose interactions are the targets"))
  validation: bool = dataclasses.field(default=False, metadata=_help(
      "validation mode, for choosing hyper-parameters without the test "
      "hold-out: every interaction at or after --cut (the test cut, "
      "required) is dropped on reading, and the split moves back by "
      "--holdout-days: train on [cut - holdout - train_days, cut - holdout), "
      "evaluate on [cut - holdout, cut); the embeddings' graph must be cut "
      "at or before cut - holdout"))
  cuts: int = dataclasses.field(default=1, metadata=_help(
      "rolling-origin evaluation: this many consecutive hold-out windows, "
      "--cut-step-days apart; in test mode the first window starts at the "
      "cut, in validation mode the last one ends at the test cut; the "
      "two-tower models and every baseline are retrained per window, the "
      "HGNN embeddings are the ones given (cut at or before the first "
      "window); results pool the user-windows with bootstrap intervals"))
  cut_step_days: int = dataclasses.field(default=0, metadata=_help(
      "days between consecutive cuts of --cuts (0: --holdout-days, so the "
      "windows tile time)"))
  bootstrap_resamples: int = dataclasses.field(default=1000, metadata=_help(
      "resamples of the 95%% bootstrap intervals over users (plain and "
      "paired)"))
  k: int = dataclasses.field(default=10, metadata=_help(
      "K of HR@K (the headline metric)"))
  mrr_k: int = dataclasses.field(default=100, metadata=_help(
      "list length for MRR"))
  coverage_k: int = dataclasses.field(default=100, metadata=_help(
      "list length for catalog coverage"))
  seeds: int = dataclasses.field(default=0, metadata=_help(
      "train every two-tower model (and ALS, BPR) with this many seeds "
      "(seed, seed+1, ...) and report mean and standard deviation; 0 "
      f"(default): {AUTO_SEEDS} when the (first) window has fewer than "
      f"{AUTO_SEEDS_MAX_EXAMPLES:,} training examples, else 1 (there the "
      "interval over users is far wider than the spread over seeds, and a "
      "seed costs minutes)"))
  models: tuple[str, ...] = dataclasses.field(
      default=ALL_MODELS, metadata=_help(
          "models to evaluate, of: " + ", ".join(ALL_MODELS) +
          f" ({TWO_TOWER_HGNN_RETRAINED} is added when retrained embeddings "
          "are given)", metavar="MODELS"))
  target_events: tuple[str, ...] = dataclasses.field(default=(), metadata=_help(
      "hold-out events that count as targets (empty: every event)",
      metavar="EVENTS"))
  user_chunk: int = dataclasses.field(default=2048, metadata=_help(
      "users per batched score-matrix top-K"))
  max_users: int = dataclasses.field(default=0, metadata=_help(
      "rank the targets of at most this many hold-out users, a uniform "
      "random sample drawn with --seed (the same for every model; one "
      "per window); training still uses every user (0: every hold-out user). "
      "Ranking costs users x items, so on catalogs of millions of users a "
      "sample of 100,000 gives intervals of about +-0.0014 at HR@10 0.05 in "
      "a fraction of the time"))
  knn_neighbours: int = dataclasses.field(default=100, metadata=_help(
      "item_knn: most similar items kept per item (0: all)"))
  knn_max_items: int = dataclasses.field(default=20_000, metadata=_help(
      "item_knn with --knn-neighbours 0 (all): skipped (with the reason in "
      "the results) above this many items with training interactions (its "
      "item-item matrix is then dense; with top-k neighbours it is sparse "
      "and has no limit)"))
  ease_lambda: float = dataclasses.field(default=500.0, metadata=_help(
      "ease: L2 regularisation lambda of the closed form"))
  ease_max_items: int = dataclasses.field(default=10_000, metadata=_help(
      "ease: fitted on this many of the most popular training items (the "
      "dense float32 Gram matrix takes 4 * items^2 bytes: 0.4 GB at "
      "10,000); the others score 0"))
  als_factors: int = dataclasses.field(default=64, metadata=_help(
      "als: latent factors"))
  als_regularization: float = dataclasses.field(default=0.01, metadata=_help(
      "als: L2 regularisation"))
  als_alpha: float = dataclasses.field(default=1.0, metadata=_help(
      "als: confidence of an observed (user, item) pair (unobserved: 1)"))
  als_iterations: int = dataclasses.field(default=15, metadata=_help(
      "als: alternating sweeps"))
  bpr_factors: int = dataclasses.field(default=64, metadata=_help(
      "bpr: latent factors (plus an item bias)"))
  bpr_learning_rate: float = dataclasses.field(default=0.01, metadata=_help(
      "bpr: SGD learning rate"))
  bpr_regularization: float = dataclasses.field(default=0.01, metadata=_help(
      "bpr: L2 regularisation"))
  bpr_iterations: int = dataclasses.field(default=100, metadata=_help(
      "bpr: epochs (each samples as many triples as training pairs)"))

  def validate(self) -> None:
    super().validate()
    if self.distribute == "multi_worker":
      raise ValueError("evaluate runs in one process: drop --distribute "
                       "multi_worker (gfm train-2t and gfm pretrain take it)")
    if self.seeds < 0:
      raise ValueError(f"seeds must be >= 0 (0: auto), got {self.seeds!r}")
    for name in ("holdout_days", "k", "mrr_k", "coverage_k",
                 "user_chunk", "cuts", "bootstrap_resamples",
                 "knn_max_items", "ease_max_items", "als_factors",
                 "als_iterations", "bpr_factors", "bpr_iterations"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be at least 1, got "
                         f"{getattr(self, name)!r}")
    if self.max_users < 0:
      raise ValueError(f"max_users must be >= 0 (0: every hold-out user), "
                       f"got {self.max_users!r}")
    if self.knn_neighbours < 0:
      raise ValueError(f"knn_neighbours must be >= 0 (0: all), got "
                       f"{self.knn_neighbours!r}")
    for name in ("ease_lambda", "als_alpha", "bpr_learning_rate"):
      if not getattr(self, name) > 0:
        raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
    for name in ("als_regularization", "bpr_regularization"):
      if not getattr(self, name) >= 0:
        raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
    unknown = sorted(set(self.models) - set(ALL_MODELS) -
                     {TWO_TOWER_HGNN_RETRAINED})
    if unknown:
      raise ValueError(f"unknown model(s) {unknown}; known: "
                       f"{', '.join(ALL_MODELS)}")
    if not self.models:
      raise ValueError("models must name at least one model")
    if self.cut_step_days < 0:
      raise ValueError(f"cut_step_days must be >= 0, got "
                       f"{self.cut_step_days}")
    if self.validation and self.cut is None:
      raise ValueError("validation needs --cut: the test cut, whose hold-out "
                       "it must not read (the default cut, the embeddings', "
                       "could make the validation window the test hold-out)")

  def seeds_for(self, num_examples: int) -> int:
    """The number of seeds of a window with ``num_examples`` training
    examples: ``seeds`` when set; when 0, ``AUTO_SEEDS`` below
    ``AUTO_SEEDS_MAX_EXAMPLES`` examples, else 1. Measured
    (docs/experiments.md): on amazon-food-kitchen (329,494 examples) two
    seeds of the unified model scored 0.0466 and 0.0470 against an
    interval over users of +-0.0017, and each seed of every two-tower model
    costs about 7 minutes there."""
    if self.seeds:
      return self.seeds
    return AUTO_SEEDS if num_examples < AUTO_SEEDS_MAX_EXAMPLES else 1

  def two_tower(self, **changes: Any) -> TwoTowerConfig:
    """The TwoTowerConfig part of this config, with ``changes`` applied."""
    values = {f.name: getattr(self, f.name)
              for f in dataclasses.fields(TwoTowerConfig)}
    values.update(changes)
    return TwoTowerConfig(**values)
