"""Exports for TF Serving: retrieval SavedModels with ScaNN and brute force.

Public names are re-exported lazily (PEP 562), so that importing the config
module (``gfm --help`` does) does not load TensorFlow.
"""

from tfgnn_gfm.lazy import lazy_exports as _lazy_exports

_EXPORTS = {
    "ExportConfig": "config",
    "MODEL_NAMES": "config",
    "ItemLookup": "lookups",
    "UserFeatureResolver": "lookups",
    "RetrievalModule": "signatures",
    "UserTowerModule": "signatures",
    "BruteForceTopK": "topk",
    "ScannIndex": "topk",
    "ScannParameters": "topk",
    "ScannTopK": "topk",
    "scann_parameters": "topk",
    "BuiltExport": "stage",
    "ExportInputs": "stage",
    "build_export": "stage",
    "export": "stage",
    "read_two_tower": "stage",
}

__all__ = sorted(_EXPORTS)

__getattr__ = _lazy_exports(__name__, _EXPORTS)
