"""The ALS peer (its Scorer and its registry spec).

``implicit`` ALS (Hu, Koren, Volinsky 2008, conjugate
gradient). The evaluated users' factors are recomputed from their history
rows against the fitted item factors (``recalculate_user``: the exact
least-squares user step of ALS), so ALS sees the same history as every
other model.
"""

from __future__ import annotations

import time

import numpy as np

from tfgnn_gfm.evaluation.baselines import Scorer
from tfgnn_gfm.evaluation.peers.matrices import (
  factor_scorer,
  history_matrix,
  threads,
  training_matrix,
)
from tfgnn_gfm.evaluation.peers.spec import PeerSpec
from tfgnn_gfm.twotower import config as cfg
from tfgnn_gfm.twotower.examples import TrainingData


def als_scorer(data: TrainingData, user_rows: np.ndarray, *,
               factors: int = 64, regularization: float = 0.01,
               alpha: float = 1.0, iterations: int = 15, seed: int = 0,
               progress: bool = False, name: str = "als") -> Scorer:
  """``implicit`` ALS on the training matrix; users folded in from history.

  Args:
    data: the training data.
    user_rows: evaluated users (sorted).
    factors: latent factors.
    regularization: L2 regularisation.
    alpha: confidence of a positive (implicit's ``alpha``: the binary
      matrix times alpha; unobserved pairs weigh 1).
    iterations: ALS sweeps.
    seed: random_state of the initial factors.
    progress: show implicit's tqdm bar.
    name: model name.

  Returns:
    The Scorer (``info``: training seconds, training items, fallback users).
  """
  import implicit.als
  import threadpoolctl
  start = time.perf_counter()
  x, train_items = training_matrix(data)
  hist = history_matrix(data.users.history[user_rows], train_items)
  has_history = np.diff(hist.indptr) > 0
  # implicit parallelises over users itself; BLAS threads only slow it.
  with threadpoolctl.threadpool_limits(1, "blas"):
    model = implicit.als.AlternatingLeastSquares(
        factors=factors, regularization=regularization, alpha=alpha,
        iterations=iterations, use_gpu=False, num_threads=threads(),
        random_state=seed)
    model.fit(x, show_progress=progress)
    users = np.flatnonzero(has_history)
    user_factors = (model.recalculate_user(users, hist[users])
                    if len(users) else np.zeros((0, factors), np.float32))
  return factor_scorer(name, data, user_rows, train_items,
                       np.asarray(user_factors).reshape(len(users), -1),
                       has_history, np.asarray(model.item_factors),
                       started=start,
                       user_factors_note="recalculated from the history row")


#: The registry entry (``tfgnn_gfm.evaluation.peers.PEERS``).
SPEC = PeerSpec(name=cfg.ALS, scorer=als_scorer, seeded=True, options={
    "factors": "als_factors", "regularization": "als_regularization",
    "alpha": "als_alpha", "iterations": "als_iterations"})
