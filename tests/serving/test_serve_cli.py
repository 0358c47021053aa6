"""``gfm serve`` as a process: a ScaNN and a plain model from a config file.

The server runs in a fresh Python process that never imports TF
Recommenders, so the ScaNN model loads only because the server imports
``scann`` itself before loading models.
"""

import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from tests.serving import models
from tfgnn_gfm.cli import main
from tfgnn_gfm.serving import ServingClient, ServingError

ROOT = pathlib.Path(__file__).resolve().parents[2]

CONFIG = """\
model_config_list {{
  config {{ name: "gfm_retrieval" base_path: "{root}/gfm_retrieval"
           model_platform: "tensorflow" }}
  config {{ name: "half_plus_two" base_path: "{root}/half_plus_two"
           model_platform: "tensorflow" }}
}}
"""


def _start(args, timeout=180.0):
  """Starts gfm serve; returns (process, URL) once it prints it is ready."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
  process = subprocess.Popen(
      [sys.executable, "-c",
       "import sys; from tfgnn_gfm.cli import main; sys.exit(main())",
       "serve", *args],
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
  deadline = time.monotonic() + timeout
  url = None
  while time.monotonic() < deadline:
    line = process.stdout.readline()
    if not line:
      break
    if line.startswith("serve: REST API at "):
      url = line.split()[4]
    if line.startswith("serve: ready"):
      return process, url
  process.kill()
  raise AssertionError(f"gfm serve did not start: {process.stderr.read()}")


def test_gfm_serve_process_serves_scann_and_shuts_down_on_sigterm(tmp_path):
  _, embeddings, ids = models.save_scann(tmp_path / "gfm_retrieval" / "1")
  models.save_half_plus(tmp_path / "half_plus_two" / "1")
  config = tmp_path / "models.config"
  config.write_text(CONFIG.format(root=tmp_path))
  # TF Serving's flag spellings work too; --port (gRPC) is only accepted.
  # Without --rest-api-host the server listens on loopback only.
  monitoring = ROOT / "serving" / "monitoring.config"
  process, url = _start([f"--model_config_file={config}", "--rest_api_port=0",
                         "--file-system-poll-wait-seconds", "0",
                         "--port", "8500",
                         f"--monitoring_config_file={monitoring}"])
  try:
    assert url.startswith("http://127.0.0.1:")
    client = ServingClient(url, "gfm_retrieval", timeout=60)
    assert client.served_versions() == [1]
    answer = client.predict(inputs={"query": embeddings[:2].tolist()})
    expected = np.argsort(-(embeddings[:2] @ embeddings.T), axis=1)[:, :3]
    assert answer["item_ids"] == [[ids[i] for i in row] for row in expected]
    assert np.allclose(answer["scores"],
                       np.sort(embeddings[:2] @ embeddings.T, axis=1)
                       [:, ::-1][:, :3], atol=1e-4)
    rows = client.predict(instances=[{"query": embeddings[5].tolist()}])
    assert rows[0]["item_ids"][0] == ids[5]
    assert client.predict(instances=[1.0], model="half_plus_two") == [2.5]
    with pytest.raises(ServingError) as e:
      client.predict(inputs={"query": [[1.0, 2.0]]})
    assert e.value.status == 400 and "input 'query'" in e.value.message
    with urllib.request.urlopen(url + "/monitoring/prometheus/metrics",
                                timeout=30) as response:
      scraped = response.read().decode()
    assert (':tensorflow:serving:request_count{model_name="gfm_retrieval",'
            'status="OK",model_version="1",signature_name="serving_default"}'
            ' 2') in scraped
    assert ('gfm_serve_loaded_versions{model_name="half_plus_two"} 1'
            in scraped)
  finally:
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
  assert process.returncode == 0, stderr
  assert "Successfully loaded servable version {name: gfm_retrieval" in stderr
  assert "Unloaded servable version {name: gfm_retrieval version: 1}" in stderr
  assert "--port 8500 ignored" in stderr


def test_gfm_serve_argument_errors(tmp_path, capsys):
  assert main(["serve"]) == 2
  assert "--model-base-path" in capsys.readouterr().err
  assert main(["serve", "--model-base-path", str(tmp_path),
               "--model-config-file", str(tmp_path / "x")]) == 2
  assert "not both" in capsys.readouterr().err
  bad = tmp_path / "bad.config"
  bad.write_text("model_config_list {\n  config { nam: 'x' }\n}\n")
  assert main(["serve", "--model_config_file", str(bad)]) == 2
  assert (f'{bad}:2:12: Message type "tensorflow.serving.ModelConfig" has '
          'no field named "nam".') in capsys.readouterr().err
  monitoring = tmp_path / "monitoring.config"
  monitoring.write_text("prometheus_config { enable: yes_please }\n")
  assert main(["serve", "--model-base-path", str(tmp_path),
               "--monitoring_config_file", str(monitoring)]) == 2
  assert f"{monitoring}:1:29: " in capsys.readouterr().err


def test_gfm_serve_port_in_use_is_one_line_error(tmp_path, capsys):
  import socket
  with socket.socket() as busy:
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    assert main(["serve", "--model-base-path", str(tmp_path),
                 "--rest-api-host", "127.0.0.1", "--rest-api-port", str(port),
                 "--file-system-poll-wait-seconds", "0"]) == 2
  assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
