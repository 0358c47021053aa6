"""Shared test set-up: quiet TensorFlow logs and keep caches out of $HOME."""

import os
import tempfile

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Built artifacts (the text encoder) go to a throwaway cache, never ~/.cache.
os.environ["TFGNN_GFM_CACHE"] = tempfile.mkdtemp(prefix="tfgnn_gfm_tests_")

import tfgnn_gfm  # noqa: E402,F401  (sets TF_USE_LEGACY_KERAS before TF loads)


@pytest.fixture(scope="module")
def portable_runner(tmp_path_factory):
  """A Beam job service and SDK worker pool on loopback, once per module.

  Yields ``tests.portable.PortableServices``: its ``beam_args`` run a
  pipeline on the ``PortableRunner`` with workers in other processes.
  """
  from tests.portable import portable_services
  with portable_services(tmp_path_factory.mktemp("portable")) as services:
    yield services
