"""Server behaviour with a fake model: responsiveness, timeouts, crashes."""

import threading
import time

import pytest

from tfgnn_gfm.serving import (
  BackgroundServer,
  ModelServer,
  ServingClient,
  ServingError,
  single_model_config,
)
from tfgnn_gfm.serving.codec import TensorSpec


class SlowServable:
  """Sleeps ``x`` seconds; ``x < 0`` raises a plain Python error."""

  version = 1
  signature_def_map = {"signature_def": {}}

  def __init__(self, name, version, path):
    del name, version, path

  def input_specs(self, signature_name):
    del signature_name
    return {"x": TensorSpec("DT_FLOAT", (-1,))}

  def run(self, signature_name, inputs):
    del signature_name
    seconds = float(inputs["x"][0])
    if seconds < 0:
      raise RuntimeError("boom")
    time.sleep(seconds)
    return {"y": inputs["x"]}


@pytest.fixture(name="slow_server")
def fixture_slow_server(tmp_path):
  (tmp_path / "1").mkdir()
  server = BackgroundServer(ModelServer(
      single_model_config("slow", tmp_path), host="127.0.0.1", port=0,
      poll_wait_seconds=0, timeout_ms=1500, num_threads=4, import_ops=False,
      loader=SlowServable)).start()
  yield server
  server.stop()


def test_server_answers_while_a_prediction_runs(slow_server):
  client = ServingClient(slow_server.url, "slow", timeout=30)
  answers = []
  worker = threading.Thread(
      target=lambda: answers.append(client.predict(instances=[1.0])))
  worker.start()
  time.sleep(0.2)
  started = time.monotonic()
  assert client.served_versions() == [1]
  assert time.monotonic() - started < 0.5
  worker.join()
  assert answers == [[1.0]]


def test_timeouts_and_crashes_do_not_kill_the_server(slow_server):
  client = ServingClient(slow_server.url, "slow", timeout=30)
  with pytest.raises(ServingError) as e:
    client.predict(instances=[3.0])
  assert e.value.status == 504 and "1500 ms" in e.value.message
  with pytest.raises(ServingError) as e:
    client.predict(instances=[-1.0])
  assert (e.value.status, e.value.message) == (500, "RuntimeError: boom")
  assert client.predict(inputs=[0.0]) == [0.0]


def test_repr_shows_url_and_models(slow_server):
  assert repr(slow_server.server) == (
      f"ModelServer({slow_server.url}, models=['slow'], running)")
