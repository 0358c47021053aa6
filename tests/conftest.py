"""Shared test set-up: quiet TensorFlow logs and keep caches out of $HOME."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Built artifacts (the text encoder) go to a throwaway cache, never ~/.cache.
os.environ["TFGNN_GFM_CACHE"] = tempfile.mkdtemp(prefix="tfgnn_gfm_tests_")

import tfgnn_gfm  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TF loads)
