"""Evaluation of every model on the same split: the protocol and the models.

The protocol: the hold-out of each split (``holdout``), ranking metrics with
one tie rule (``ranking``, ``metrics``), scoring a model on every slice
(``protocol``), paired bootstrap intervals (``intervals``), rolling windows
(``rolling``), the report and the paper's claims (``report``, ``claims``).
The models: popularity and the kNN models (``baselines``), item-kNN, EASE, ALS
and BPR (``peers``) and the two-tower variants, each one spec of the registry
(``models.MODELS``), compared on one split by ``comparison``;
``stage.evaluate`` is ``gfm evaluate``.

Public names are re-exported lazily (PEP 562), so that importing a config
module (``gfm --help`` does) does not load TensorFlow.
"""

from tfgnn_gfm.lazy import lazy_exports as _lazy_exports

_EXPORTS = {
    "Holdout": "holdout",
    "build_holdout": "holdout",
    "Scorer": "baselines",
    "knn_scorer": "baselines",
    "popularity_scorer": "baselines",
    "ModelSkipped": "peers",
    "als_scorer": "peers",
    "bpr_scorer": "peers",
    "ease_scorer": "peers",
    "item_knn_scorer": "peers",
    "peer_scorer": "peers",
    "evaluate_scorer": "protocol",
    "MODELS": "models",
    "ModelSpec": "models",
    "ScoredRun": "models",
    "SplitData": "models",
    "Comparison": "comparison",
    "ModelResult": "comparison",
    "compare_models": "comparison",
    "evaluate": "stage",
}

__all__ = sorted(_EXPORTS)

__getattr__ = _lazy_exports(__name__, _EXPORTS)
