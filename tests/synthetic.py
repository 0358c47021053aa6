"""A small synthetic dataset on disk, shared by the stage tests."""

import pathlib

from tfgnn_gfm.data import write_dataset
from tfgnn_gfm.synth import SynthConfig, generate


def write_synthetic_dataset(out: pathlib.Path, **config):
  """Generates ``SynthConfig(**config)`` data, writes it as a DatasetDir at
  ``out`` and returns the generated platform."""
  platform = generate(SynthConfig(**config), progress=False)
  write_dataset(out, {"items": platform.items,
                      "interactions": platform.interactions,
                      "users": platform.users},
                stage="synth", config={})
  return platform
