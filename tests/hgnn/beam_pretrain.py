"""A tiny graph pretrained by ``gfm pretrain --sampler beam`` (shared)."""

from __future__ import annotations

import pathlib
from typing import Sequence

from tests.synthetic import write_synthetic_graph
from tfgnn_gfm.cli import main

FANOUTS = (1000, 1000)  # Cover every neighbourhood: samples keep everything.
SET = "podcast"
EDGE_SET = "podcast_to_podcast"


def pretrain_with_beam_sampler(root: pathlib.Path, *, epochs: int,
                               batch_size: int, beam_args: Sequence[str],
                               extra: Sequence[str] = ()) -> None:
  """Writes ``root/graph`` (synthetic, no users) and trains ``root/hgnn`` on
  ``EDGE_SET`` with the Beam sampler, 8-d, ``FANOUTS``.

  Args:
    root: the folder to write into.
    epochs: training epochs.
    batch_size: positives per step.
    beam_args: Beam pipeline options of the sampler step.
    extra: more ``gfm pretrain`` options.
  """
  write_synthetic_graph(root, users=False, num_users=150, num_podcasts=24,
                        num_audiobooks=16, seed=4)
  assert main(["pretrain", str(root / "graph"), "--out", str(root / "hgnn"),
               "--sampler", "beam", "--edge-sets", EDGE_SET,
               "--fanouts", ",".join(map(str, FANOUTS)),
               "--epochs", str(epochs), "--batch-size", str(batch_size),
               "--embedding-dim", "8", "--hidden-dim", "8", *extra,
               *beam_args]) == 0
