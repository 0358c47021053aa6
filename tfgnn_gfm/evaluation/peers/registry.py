"""The registry of peers: each name to its spec, and fitting one by name."""

from __future__ import annotations

import numpy as np

from tfgnn_gfm.evaluation.baselines import Scorer
from tfgnn_gfm.evaluation.peers import als, bpr, ease, item_knn
from tfgnn_gfm.evaluation.peers.spec import PeerSpec
from tfgnn_gfm.twotower.config import EvaluateConfig
from tfgnn_gfm.twotower.examples import TrainingData

#: Every peer by name, in the order ``gfm evaluate`` runs them.
PEERS: dict[str, PeerSpec] = {
    spec.name: spec for spec in (item_knn.SPEC, ease.SPEC, als.SPEC, bpr.SPEC)}


def peer_scorer(name: str, data: TrainingData, user_rows: np.ndarray,
                config: EvaluateConfig, *, seed: int = 0,
                progress: bool = False) -> Scorer:
  """The Scorer of peer ``name`` (a key of ``PEERS``) with its flags.

  Args:
    name: the peer.
    data: the training data of the split.
    user_rows: evaluated users (sorted).
    config: the evaluation options (the peer's ``knn_*``, ``ease_*``,
      ``als_*`` or ``bpr_*`` flags).
    seed: random_state of the seeded peers.
    progress: show implicit's progress bars.

  Returns:
    The Scorer.

  Raises:
    ModelSkipped: the peer cannot run on this split (the reason).
    ValueError: ``name`` is not a peer.
  """
  if name not in PEERS:
    raise ValueError(f"{name!r} is not a peer (peers: {', '.join(PEERS)})")
  return PEERS[name].fit(data, user_rows, config, seed=seed,
                         progress=progress)
