"""Shared test set-up: quiet TensorFlow logs and keep caches out of $HOME."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tfgnn_gfm  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TF loads)
