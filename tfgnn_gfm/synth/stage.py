"""The synth stage: generate a synthetic platform and write it as a dataset.

``gfm synth`` and ``gfm demo`` both run this, so the dataset folder (tables,
the planted topics as side tables, the cut in the manifest) is written the
same way by both.
"""

from __future__ import annotations

import pathlib

from tfgnn_gfm.artifacts import DatasetDir
from tfgnn_gfm.config import config_to_dict
from tfgnn_gfm.data.writer import write_dataset
from tfgnn_gfm.synth.generator import SynthConfig, SyntheticPlatform, generate


def synth(out: str | pathlib.Path, config: SynthConfig
          ) -> tuple[SyntheticPlatform, DatasetDir]:
  """Generates the platform of ``config`` and writes it to ``out``.

  Args:
    out: the dataset folder (replaced atomically).
    config: the generator's settings (deterministic by ``config.seed``).

  Returns:
    The generated platform (tables and planted truth) and the written
    dataset folder.
  """
  platform = generate(config)
  layout = write_dataset(
      out, {"items": platform.items, "interactions": platform.interactions,
            "users": platform.users},
      stage="synth", config=config_to_dict(config),
      fmt=config.format, compress=config.compress,
      side_tables={"item_topics": platform.item_topics,
                   "user_topics": platform.user_topics},
      extra={"cut_timestamp": platform.cut_timestamp})
  return platform, layout
