"""Loading one version: warm-up requests run before it is served."""

import json

import numpy as np
import pytest

from tests.serving import models
from tfgnn_gfm.serving import StatusError, load_servable
from tfgnn_gfm.serving.servable import WARMUP_FILE


def _with_warmup(tmp_path, requests):
  path = tmp_path / "half_plus_two" / "1"
  models.save_half_plus(path)
  warmup = path / WARMUP_FILE
  warmup.parent.mkdir(parents=True, exist_ok=True)
  warmup.write_text("".join(json.dumps(r) + "\n" for r in requests))
  return path


def test_warm_up_requests_run_at_load(tmp_path):
  path = _with_warmup(tmp_path, [{"instances": [1.0, 2.0]},
                                 {"inputs": [3.0]}])
  servable = load_servable("half_plus_two", 1, path)
  assert servable.warm_up() == 2
  assert servable.run("", {"x": np.array([[4.0]], np.float32)})[
      "y"].tolist() == [[4.0]]  # 0.5 * 4 + 2.


def test_a_failing_warm_up_request_fails_the_load(tmp_path):
  path = _with_warmup(tmp_path, [{"instances": [1.0]},
                                 {"instances": [{"nope": 1.0}]}])
  with pytest.raises(StatusError, match="warm-up request 2 of .* failed"):
    load_servable("half_plus_two", 1, path)


def test_no_warm_up_file_is_fine(tmp_path):
  path = tmp_path / "m" / "1"
  models.save_half_plus(path)
  assert load_servable("m", 1, path).warm_up() == 0
