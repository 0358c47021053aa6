"""A peer's registry entry: its name, whether it is seeded, how it is fitted."""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from tfgnn_gfm.evaluation.baselines import Scorer
from tfgnn_gfm.twotower.config import EvaluateConfig
from tfgnn_gfm.twotower.examples import TrainingData

#: ``fit(data, user_rows, config, seed, progress) -> Scorer``; raises
#: ``ModelSkipped`` when the peer cannot run on the split.
FitFn = Callable[[TrainingData, np.ndarray, EvaluateConfig, int, bool], Scorer]


@dataclasses.dataclass(frozen=True)
class PeerSpec:
  """One peer of ``gfm evaluate``.

  Attributes:
    name: the model name (``--models``, results).
    seeded: fitted once per seed (``random_state``), as the two-tower
      models are; else once.
    fit: builds the peer's Scorer from the split's training data and the
      evaluation options (its own ``--<peer>-*`` flags).
  """

  name: str
  seeded: bool
  fit: FitFn
