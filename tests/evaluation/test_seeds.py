"""How many seeds ``gfm evaluate`` trains: ``--seeds N`` or the auto rule."""

import json

import pytest

from tests.synthetic import write_synthetic_dataset
from tests.twotower.test_stage import write_embeddings
from tfgnn_gfm.artifacts import EvaluationDir
from tfgnn_gfm.cli import main
from tfgnn_gfm.twotower import config as cfg

DAY = 86_400


def test_auto_seeds_by_the_windows_training_examples():
  auto = cfg.EvaluateConfig()
  assert auto.seeds == 0
  auto.validate()
  limit = cfg.AUTO_SEEDS_MAX_EXAMPLES
  assert auto.seeds_for(0) == auto.seeds_for(limit - 1) == cfg.AUTO_SEEDS == 3
  assert auto.seeds_for(limit) == auto.seeds_for(330_000) == 1
  # A set number is used as it is.
  assert cfg.EvaluateConfig(seeds=2).seeds_for(330_000) == 2
  assert cfg.EvaluateConfig(seeds=5).seeds_for(10) == 5
  with pytest.raises(ValueError, match="seeds must be >= 0"):
    cfg.EvaluateConfig(seeds=-1).validate()


@pytest.fixture(scope="module")
def platform_dirs(tmp_path_factory):
  root = tmp_path_factory.mktemp("seeds")
  platform = write_synthetic_dataset(
      root / "data", num_users=120, num_podcasts=20, num_audiobooks=12,
      cold_item_fraction=0.15, seed=5)
  write_embeddings(root / "emb", platform, cut_shift=14 * DAY)
  return root, platform


def _evaluate(root, platform, out, *extra):
  cut = platform.cut_timestamp - 14 * DAY
  assert main(["evaluate", str(root / "data"), "--embeddings",
               str(root / "emb"), "--out", str(out), "--models",
               "popularity,als", "--als-factors", "8", "--holdout-days", "7",
               "--cut", str(cut), *extra]) == 0
  return json.loads(EvaluationDir(out).results_path.read_text())


def test_default_seeds_on_a_small_window_are_three(platform_dirs, tmp_path):
  root, platform = platform_dirs
  result = _evaluate(root, platform, tmp_path / "auto")
  assert result["models"]["als"]["seeds"] == [0, 1, 2]
  assert result["models"]["popularity"]["seeds"] == [None]
  # The report states the seeds used, not the 0 of the flag.
  assert result["config"]["seeds"] == 3
  assert "3 seed(s)" in (tmp_path / "auto" / "results.md").read_text()


def test_every_window_trains_the_first_windows_seeds(platform_dirs, tmp_path,
                                                      monkeypatch):
  """The auto rule is applied to the first window; later windows follow it
  (pooling averages each user-window over the same seeds), even where their
  own size would give another count."""
  root, platform = platform_dirs
  calls = []
  original = cfg.EvaluateConfig.seeds_for

  def seeds_for(self, num_examples):
    calls.append(self.seeds)
    if self.seeds:
      return original(self, num_examples)
    return 2 if len(calls) == 1 else 1  # What a smaller window would get.

  monkeypatch.setattr(cfg.EvaluateConfig, "seeds_for", seeds_for)
  result = _evaluate(root, platform, tmp_path / "two", "--cuts", "2")
  assert calls == [0, 2]
  assert result["models"]["als"]["seeds"] == [0, 1]
  assert result["config"]["seeds"] == 2
