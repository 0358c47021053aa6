"""tfgnn-gfm: a graph foundation model for personalization on TensorFlow.

TF-GNN and TensorFlow Recommenders are Keras 2 libraries. TensorFlow 2.20 ships
Keras 3 by default; ``TF_USE_LEGACY_KERAS=1`` makes ``tf.keras`` the Keras 2
implementation from ``tf_keras``, and it must be set before TensorFlow is first
imported. Importing ``tfgnn_gfm`` sets it, so users never have to.
"""

import os as _os

_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from tfgnn_gfm import artifacts, config
from tfgnn_gfm.version import __version__
