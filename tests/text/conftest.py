"""Shared fixtures of the text tests: the built-in encoder, built once.

The SavedModel is built once per test session into a temporary cache
(``$TFGNN_GFM_CACHE`` points there for the whole session), so the user's own
cache is never touched.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)

FIXTURE_PATH = (pathlib.Path(__file__).parent / "fixtures"
                / "minilm_reference.npz")


@pytest.fixture(scope="session")
def text_cache(tmp_path_factory) -> pathlib.Path:
  """A session-wide temporary $TFGNN_GFM_CACHE."""
  cache = tmp_path_factory.mktemp("tfgnn_gfm_cache")
  with pytest.MonkeyPatch.context() as mp:
    mp.setenv("TFGNN_GFM_CACHE", str(cache))
    yield cache


@pytest.fixture(scope="session")
def saved_model_path(text_cache) -> pathlib.Path:
  """The built-in encoder's SavedModel, built once into the session cache."""
  from tfgnn_gfm.text import encoder
  path = encoder.build_text_encoder()
  assert path.is_relative_to(text_cache)
  return path


@pytest.fixture(scope="session")
def encoder_layer(saved_model_path):
  """The built-in encoder loaded the project's way (hub.KerasLayer)."""
  from tfgnn_gfm.text import encoder
  return encoder.load_text_encoder()


@pytest.fixture(scope="session")
def encoder_module(saved_model_path):
  """The SavedModel loaded with tf.saved_model.load (for ``tokenize``)."""
  import tensorflow as tf
  import tensorflow_text  # noqa: F401
  return tf.saved_model.load(str(saved_model_path))


@pytest.fixture(scope="session")
def reference() -> dict:
  """The parity fixture of scripts/make_text_encoder_fixture.py."""
  data = np.load(FIXTURE_PATH, allow_pickle=False)
  lengths = data["token_lengths"]
  ids = np.split(data["token_ids"], np.cumsum(lengths)[:-1])
  return {
      "texts": json.loads(data["texts_json"].tobytes().decode("utf-8")),
      "embeddings": data["embeddings"],
      "token_ids": [row.tolist() for row in ids],
      "meta": json.loads(data["meta_json"].tobytes().decode("utf-8")),
  }
