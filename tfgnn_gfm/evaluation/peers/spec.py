"""A peer's registry entry: its name, its scorer, and the flags it takes."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import numpy as np

from tfgnn_gfm.evaluation.baselines import Scorer
from tfgnn_gfm.twotower.config import EvaluateConfig
from tfgnn_gfm.twotower.examples import TrainingData


@dataclasses.dataclass(frozen=True)
class PeerSpec:
  """One peer of ``gfm evaluate``.

  Attributes:
    name: the model name (``--models``, results).
    scorer: ``scorer(data, user_rows, **options, name=...)`` builds the
      peer's Scorer (seeded peers also take ``seed`` and ``progress``);
      raises ``ModelSkipped`` when the peer cannot run on the split.
    options: the scorer's keyword -> the ``EvaluateConfig`` field (its
      ``--<peer>-*`` flag) that sets it.
    seeded: fitted once per seed (``random_state``), as the two-tower
      models are; else once.
  """

  name: str
  scorer: Callable[..., Scorer]
  options: Mapping[str, str]
  seeded: bool = False

  def fit(self, data: TrainingData, user_rows: np.ndarray,
          config: EvaluateConfig, *, seed: int = 0,
          progress: bool = False) -> Scorer:
    """The peer's Scorer on a split, with its flags from ``config``."""
    kwargs: dict[str, Any] = {k: getattr(config, field)
                              for k, field in self.options.items()}
    if self.seeded:
      kwargs.update(seed=seed, progress=progress)
    return self.scorer(data, user_rows, name=self.name, **kwargs)
