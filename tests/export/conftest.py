"""A tiny two-tower run and its export, shared by the export tests.

The HGNN stage is replaced by a hand-made EmbeddingsDir (as in the two-tower
tests) and the text encoder by the 16-d hashing encoder, so the fixture
takes seconds; everything after that (train-2t, export) is the real stage.
"""

import pathlib

import pytest

from tests.synthetic import write_synthetic_dataset
from tests.twotower.test_stage import SMALL, write_embeddings
from tfgnn_gfm.cli import main
from tfgnn_gfm.graph.hashing_encoder import build_hashing_encoder


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
  """(root, platform): root has data/, emb/, 2t/, encoder/ and exports/ with
  version 1 of every model."""
  root = tmp_path_factory.mktemp("export")
  platform = write_synthetic_dataset(
      root / "data", num_users=160, num_podcasts=30, num_audiobooks=20,
      cold_item_fraction=0.15, seed=3)
  encoder = build_hashing_encoder(root / "encoder")
  write_embeddings(root / "emb", platform, text_dim=16)
  assert main(["train-2t", str(root / "data"), "--embeddings",
               str(root / "emb"), "--out", str(root / "2t"),
               "--popularity-weights", "1.0"] + SMALL) == 0
  assert main(["export", str(root / "2t"), "--out", str(root / "exports"),
               "--text-encoder", str(encoder), "--max-k", "50",
               "--recall-queries", "200"]) == 0
  return pathlib.Path(root), platform
