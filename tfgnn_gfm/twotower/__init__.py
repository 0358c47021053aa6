"""The dynamic layer: the unified two-tower model (TFRS), its training data and
towers. Its evaluation, beside every other model, is ``tfgnn_gfm.evaluation``.

Public names are re-exported lazily (PEP 562), so that importing the config
module (``gfm --help`` does) does not load TensorFlow.
"""

from tfgnn_gfm.lazy import lazy_exports as _lazy_exports

_EXPORTS = {
    "EvaluateConfig": "config",
    "TwoTowerConfig": "config",
    "ItemTable": "items",
    "TimeSplit": "tfgnn_gfm.timesplit",
    "TrainingData": "examples",
    "TrainingExamples": "examples",
    "UserTable": "users",
    "build_training_data": "examples",
    "training_data_for": "examples",
    "load_item_table": "items",
    "validation_view": "tfgnn_gfm.timesplit",
    "window_splits": "tfgnn_gfm.timesplit",
    "CompactHistory": "towers",
    "ItemTypeTable": "towers",
    "ItemVectorTable": "towers",
    "MaskedEmbedding": "tfgnn_gfm.layers",
    "TextMatch": "towers",
    "TowerMLP": "towers",
    "TypedMeanPooling": "towers",
    "SegmentTypedMeanPooling": "towers",
    "build_item_tower": "towers",
    "build_user_tower": "towers",
    "load_tower": "towers",
    "save_tower": "towers",
    "TwoTowerModel": "model",
    "TrainedTwoTower": "train",
    "train_two_tower": "train",
    "InnerSplit": "prior",
    "choose_popularity_weight": "prior",
    "inner_split": "prior",
    "with_chosen_epochs": "prior",
    "log_popularity": "prior",
    "popularity_offset": "prior",
    "RepeatPolicy": "repeats",
    "repeat_policy": "repeats",
    "train_2t": "stage",
}

__all__ = sorted(_EXPORTS)

__getattr__ = _lazy_exports(__name__, _EXPORTS)
