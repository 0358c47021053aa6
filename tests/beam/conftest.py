"""Shared fixtures of the Beam tests: encoders, datasets, pipeline runs.

Pipeline runs are session-scoped and reused by several tests, so the whole
suite runs each configuration once. Encoders and caches live in temporary
directories: the user's own ``~/.cache/tfgnn_gfm`` is never touched.
"""

from __future__ import annotations

import pathlib

import pytest

from tests.beam import datasets
from tests.graph import tiny
from tfgnn_gfm.graph.config import GraphBuildConfig


@pytest.fixture(scope="session")
def hashing_encoder(tmp_path_factory) -> str:
  """A tiny deterministic TF-Hub-compatible SavedModel (16 dimensions)."""
  from tfgnn_gfm.graph.hashing_encoder import build_hashing_encoder
  return str(build_hashing_encoder(tmp_path_factory.mktemp("encoder") / "bow"))


@pytest.fixture(scope="session")
def messy_dataset(tmp_path_factory) -> pathlib.Path:
  return datasets.write_messy_dataset(tmp_path_factory.mktemp("messy") / "data")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> pathlib.Path:
  return tiny.write(tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture(scope="session")
def config_a(hashing_encoder) -> GraphBuildConfig:
  """Caps that bind on the messy dataset; small chunks and shards."""
  return GraphBuildConfig(num_shards=3, read_chunk_rows=400,
                          max_items_per_user=6, max_edges_per_node=5,
                          text_encoder=hashing_encoder)


def _build(data, out, config, **kwargs):
  from beam.build_graph import build_graph
  return build_graph(data, out, config, **kwargs)


@pytest.fixture(scope="session")
def run_a(messy_dataset, config_a, tmp_path_factory):
  """Config A on the DirectRunner, in_memory mode."""
  out = tmp_path_factory.mktemp("run_a") / "graph"
  summary = _build(messy_dataset, out, config_a,
                   beam_args=["--direct_running_mode=in_memory"])
  return out, summary


@pytest.fixture(scope="session")
def run_a_multiprocessing(messy_dataset, config_a, tmp_path_factory):
  """Config A on the DirectRunner, multi_processing mode with 2 workers,
  reading interactions from a glob of 2 shard files."""
  base = tmp_path_factory.mktemp("run_a_mp")
  glob = datasets.split_interactions(messy_dataset, base / "shards")
  out = base / "graph"
  summary = _build(messy_dataset, out, config_a, interactions=glob,
                   beam_args=["--direct_num_workers=2",
                              "--direct_running_mode=multi_processing"])
  return out, summary


@pytest.fixture(scope="session")
def builtin_encoder_cache(tmp_path_factory) -> pathlib.Path:
  """A session-wide temporary $TFGNN_GFM_CACHE holding the built-in MiniLM."""
  cache = tmp_path_factory.mktemp("tfgnn_gfm_cache")
  with pytest.MonkeyPatch.context() as mp:
    mp.setenv("TFGNN_GFM_CACHE", str(cache))
    from tfgnn_gfm.text.encoder import build_text_encoder
    build_text_encoder()
    yield cache
