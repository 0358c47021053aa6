"""The REST client against the in-process server: every format and errors."""

import sys

import numpy as np
import pytest

from tfgnn_gfm.serving.client import (
  ServingClient,
  ServingError,
  decode_b64_values,
  to_json_value,
)


def test_importing_the_client_loads_no_tensorflow():
  import subprocess
  code = ("import sys; import tfgnn_gfm.serving as s; s.ServingClient; "
          "s.ServingError; s.parse_model_server_config; "
          "print(sorted(m for m in ('tensorflow', 'aiohttp', 'numpy') "
          "if m in sys.modules))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, check=True).stdout
  assert out.strip() == "[]"


def test_request_values_bytes_and_numpy():
  assert to_json_value({"a": b"\xff", "b": [b"x", "y"],
                        "c": np.array([[1, 2]], np.int32),
                        "d": np.float32(0.5), "e": (1, 2)}) == {
                            "a": {"b64": "/w=="},
                            "b": [{"b64": "eA=="}, "y"],
                            "c": [[1, 2]], "d": 0.5, "e": [1, 2]}
  assert decode_b64_values({"x": [{"b64": "/w=="}], "y": "s"}) == {
      "x": [b"\xff"], "y": "s"}


def test_repr_and_urls():
  client = ServingClient("http://h:1/", "m", version=3, timeout=2.5)
  assert repr(client) == ("ServingClient('http://h:1', "
                          "model='m/versions/3', timeout=2.5)")
  assert client.model_url() == "http://h:1/v1/models/m/versions/3"
  assert client.model_url(label="a b") == "http://h:1/v1/models/m/labels/a%20b"
  with pytest.raises(ValueError):
    ServingClient("http://h:1").model_url()
  with pytest.raises(ValueError):
    client.predict()


def test_status_metadata_and_versions(server):
  client = ServingClient(server.url, "half_plus_two", timeout=10)
  assert [s["version"] for s in client.status()["model_version_status"]] == [
      "123", "1"]
  assert client.served_versions() == [123, 1]
  assert client.metadata(label="old")["model_spec"]["version"] == "1"
  assert "serving_default" in client.signatures()


def test_predict_row_and_columnar(server):
  client = ServingClient(server.url, "half_plus_two")
  assert client.predict(instances=[1.0, 2.0, 5.0]) == [2.5, 3.0, 4.5]
  assert client.predict(inputs=np.array([1.0, 2.0])) == [2.5, 3.0]
  assert client.predict(instances=[1.0], version=1) == [3.5]
  assert client.predict(instances=[1.0], label="stable") == [2.5]
  pinned = ServingClient(server.url, "half_plus_two", label="old")
  assert pinned.predict(instances=[1.0]) == [3.5]


def test_predict_bytes_in_and_b64_out(server):
  client = ServingClient(server.url, "toolbox")
  answer = client.predict(instances=[b"\xff\x00", "ok"],
                          signature_name="echo")
  assert answer[0]["data_bytes"] == {"b64": "/wA="}
  decoded = client.predict(inputs=[b"\xff\x00", "ok"], signature_name="echo",
                           decode_b64=True)
  assert decoded["data_bytes"] == [b"\xff\x00", b"ok"]
  assert decoded["length"] == [2, 2]
  assert client.predict(instances=[{"item_id": b"a", "k": 3}]) == [
      {"item_type": "podcast", "score": 0.0}]


def test_errors_carry_status_and_server_message(server):
  client = ServingClient(server.url, "toolbox")
  with pytest.raises(ServingError) as e:
    client.predict(instances=[{"item_id": "nope", "k": 1}])
  assert e.value.status == 400 and "unknown item_id:" in e.value.message
  assert "nope" in e.value.message
  assert repr(e.value).startswith("ServingError(status=400, message=")
  with pytest.raises(ServingError) as e:
    client.status(model="missing")
  assert (e.value.status, e.value.message) == (
      404, "Could not find any versions of model missing")
  with pytest.raises(ServingError) as e:
    client.predict(instances=[1.0], model="missing")
  assert e.value.message == "Servable not found for request: Latest(missing)"
  with pytest.raises(ServingError) as e:
    client.predict(inputs={"item_id": ["a"]})
  assert e.value.status == 400 and "Missing named input: k" in e.value.message


def test_unreachable_server_is_a_serving_error():
  import socket
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  client = ServingClient(f"http://127.0.0.1:{port}", "m", timeout=2)
  with pytest.raises(ServingError) as e:
    client.status()
  assert e.value.status == 0 and "cannot reach" in e.value.message


class _RecordingClient(ServingClient):
  """Captures the request of a helper instead of sending it."""

  def _call(self, url, body=None):
    self.sent = (url, body)
    return {"predictions": [{"item_ids": ["x"]}]}


def test_helpers_build_one_row_format_instance():
  client = _RecordingClient("http://h:1", "gfm_retrieval")
  assert client.recommend({"user_country": "SE", "user_age": 31.0},
                          ["a", "b"], k=5) == {"item_ids": ["x"]}
  assert client.sent == ("http://h:1/v1/models/gfm_retrieval:predict", {
      "signature_name": "serving_default",
      "instances": [{"user_country": "SE", "user_age": 31.0,
                     "recent_item_ids": ["a", "b"], "k": 5,
                     "item_type": ""}]})
  client.similar_items("a", k=3, item_type="podcast", model="bf")
  assert client.sent == ("http://h:1/v1/models/bf:predict", {
      "signature_name": "similar_items",
      "instances": [{"item_id": "a", "k": 3, "item_type": "podcast"}]})
  client.search("space opera", item_type=None)
  assert client.sent[1] == {"signature_name": "search", "instances": [
      {"query": "space opera", "k": 10}]}
