"""The BPR peer (its Scorer and its registry spec).

``implicit`` BPR (Rendle et al. 2009). BPR has no user
fold-in, so a user's factors are the fitted ones: every user with a
history has a row in the training matrix (the history is built from the
same window), which may hold more items than the history's
``max_history`` most recent ones. The item bias is the last factor (the
user's is 1), so the dot product includes it.
"""

from __future__ import annotations

import time

import numpy as np

from tfgnn_gfm.evaluation.baselines import Scorer
from tfgnn_gfm.evaluation.peers.matrices import factor_scorer, training_matrix
from tfgnn_gfm.evaluation.peers.spec import PeerSpec
from tfgnn_gfm.twotower import config as cfg
from tfgnn_gfm.twotower.examples import TrainingData


def bpr_scorer(data: TrainingData, user_rows: np.ndarray, *,
               factors: int = 64, learning_rate: float = 0.01,
               regularization: float = 0.01, iterations: int = 100,
               seed: int = 0, progress: bool = False,
               name: str = "bpr") -> Scorer:
  """``implicit`` BPR on the training matrix; the fitted user factors.

  One thread, so that a seed gives one result (several threads update
  the factors without locks, in an order that varies run to run).

  Args:
    data: the training data.
    user_rows: evaluated users (sorted).
    factors: latent factors (implicit adds the item bias as one more).
    learning_rate: SGD learning rate.
    regularization: L2 regularisation.
    iterations: epochs (each samples as many triples as training pairs).
    seed: random_state of the initial factors and the sampling.
    progress: show implicit's tqdm bar.
    name: model name.

  Returns:
    The Scorer (``info``: training seconds, training items, fallback users).
  """
  import implicit.bpr
  import threadpoolctl
  start = time.perf_counter()
  x, train_items = training_matrix(data)
  user_rows = np.asarray(user_rows)
  has_history = (data.users.history[user_rows] >= 0).any(axis=1)
  with threadpoolctl.threadpool_limits(1, "blas"):
    model = implicit.bpr.BayesianPersonalizedRanking(
        factors=factors, learning_rate=learning_rate,
        regularization=regularization, iterations=iterations, use_gpu=False,
        num_threads=1, random_state=seed)
    model.fit(x, show_progress=progress)
  user_factors = np.asarray(model.user_factors)[user_rows[has_history]]
  return factor_scorer(
      name, data, user_rows, train_items, user_factors, has_history,
      np.asarray(model.item_factors), started=start,
      user_factors_note="fitted (training-window row of the user)")


#: The registry entry (``tfgnn_gfm.evaluation.peers.PEERS``).
SPEC = PeerSpec(name=cfg.BPR, scorer=bpr_scorer, seeded=True, options={
    "factors": "bpr_factors", "learning_rate": "bpr_learning_rate",
    "regularization": "bpr_regularization", "iterations": "bpr_iterations"})
