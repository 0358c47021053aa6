"""Shared fixtures: real SavedModels and one in-process server on loopback."""

import json
import urllib.error
import urllib.request

import pytest

MODELS_CONFIG = """\
# Two models; half_plus_two keeps two versions and names them.
model_config_list {{
  config {{
    name: "half_plus_two"
    base_path: "{root}/half_plus_two"
    model_platform: "tensorflow"
    model_version_policy {{ all {{}} }}
    version_labels {{ key: "stable" value: 123 }}
    version_labels {{ key: "old" value: 1 }}
    version_labels {{ key: "ghost" value: 77 }}
  }}
  config {{
    name: "toolbox"
    base_path: "{root}/toolbox"
    model_platform: "tensorflow"
  }}
}}
"""


@pytest.fixture(scope="session")
def model_root(tmp_path_factory):
  """half_plus_two (v1: 0.5x+3, v123: 0.5x+2), toolbox (v1) and a config."""
  from tests.serving import models  # pylint: disable=g-import-not-at-top
  root = tmp_path_factory.mktemp("models")
  models.save_half_plus(root / "half_plus_two" / "1", offset=3.0)
  models.save_half_plus(root / "half_plus_two" / "123", offset=2.0)
  models.save_toolbox(root / "toolbox" / "1")
  (root / "models.config").write_text(MODELS_CONFIG.format(root=root))
  return root


@pytest.fixture(scope="session")
def server(model_root):
  """A running gfm serve (in a background thread) over ``model_root``."""
  from tfgnn_gfm.serving import BackgroundServer, ModelServer  # pylint: disable=g-import-not-at-top
  from tfgnn_gfm.serving import load_model_server_config  # pylint: disable=g-import-not-at-top
  config = load_model_server_config(model_root / "models.config")
  running = BackgroundServer(ModelServer(
      config, host="127.0.0.1", port=0, poll_wait_seconds=0,
      import_ops=False)).start()
  yield running
  running.stop()


def http(method, url, body=None, raw=None):
  """One HTTP call; returns (status, parsed JSON body or raw text)."""
  data = raw if raw is not None else (
      json.dumps(body).encode() if body is not None else None)
  request = urllib.request.Request(url, data=data, method=method)
  try:
    with urllib.request.urlopen(request, timeout=30) as response:
      status, payload = response.status, response.read()
  except urllib.error.HTTPError as e:
    status, payload = e.code, e.read()
  try:
    return status, json.loads(payload)
  except ValueError:
    return status, payload.decode("utf-8", errors="replace")
