"""A small synthetic dataset on disk, shared by the stage tests."""

import pathlib

from tfgnn_gfm.data import write_dataset
from tfgnn_gfm.synth import SynthConfig, generate


def write_synthetic_dataset(out: pathlib.Path, *, users: bool = True,
                            **config):
  """Generates ``SynthConfig(**config)`` data, writes it as a DatasetDir at
  ``out`` (with the users table unless ``users`` is False) and returns the
  generated platform."""
  platform = generate(SynthConfig(**config), progress=False)
  tables = {"items": platform.items, "interactions": platform.interactions}
  if users:
    tables["users"] = platform.users
  write_dataset(out, tables, stage="synth", config={})
  return platform


def write_synthetic_graph(root: pathlib.Path, *, encoder_dir: str = "encoder",
                          users: bool = True, **config):
  """``root/data`` from ``write_synthetic_dataset``, then ``root/graph`` from
  the Beam graph pipeline (2 shards, the 16-d hashing text encoder at
  ``root/encoder_dir``). Returns the platform."""
  from beam.build_graph import build_graph
  from tfgnn_gfm.graph.config import GraphBuildConfig
  from tfgnn_gfm.graph.hashing_encoder import build_hashing_encoder
  platform = write_synthetic_dataset(root / "data", users=users, **config)
  encoder = build_hashing_encoder(root / encoder_dir)
  build_graph(root / "data", root / "graph",
              GraphBuildConfig(num_shards=2, text_encoder=str(encoder)))
  return platform
