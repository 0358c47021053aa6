"""Prometheus metrics of gfm serve, scraped over loopback HTTP after real
good and bad requests."""

import re
import urllib.request

import pytest

from tests.serving.conftest import http, raw_http, request_bytes
from tfgnn_gfm.serving import (
  BackgroundServer,
  ModelServer,
  load_model_server_config,
)
from tfgnn_gfm.serving.monitoring_config import DEFAULT_PATH
from tfgnn_gfm.serving.prometheus import CONTENT_TYPE


@pytest.fixture(name="monitored", scope="module")
def fixture_monitored(model_root):
  running = BackgroundServer(ModelServer(
      load_model_server_config(model_root / "models.config"),
      host="127.0.0.1", port=0, poll_wait_seconds=0, import_ops=False,
      monitoring_path=DEFAULT_PATH)).start()
  yield running
  running.stop()


def _scrape(url, path=DEFAULT_PATH):
  with urllib.request.urlopen(url + path, timeout=30) as response:
    assert response.status == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE
    return response.read().decode("utf-8")


def _samples(text):
  """{(name, frozenset of label pairs): value} of a text exposition."""
  samples = {}
  for line in text.splitlines():
    if not line or line.startswith("#"):
      continue
    match = re.fullmatch(r"([^{ ]+)(?:\{(.*)\})? (\S+)", line)
    assert match, line
    labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"',
                                  match.group(2) or ""))
    samples[(match.group(1), labels)] = float(match.group(3))
  return samples


def _value(samples, name, **labels):
  return samples.get((name, frozenset(labels.items())), 0.0)


def test_counts_latency_errors_and_loaded_versions(monitored):
  url = monitored.url
  before = _samples(_scrape(url))
  good = url + "/v1/models/half_plus_two/versions/123:predict"
  for _ in range(3):
    assert http("POST", good, {"instances": [1.0, 2.0]})[0] == 200
  assert http("POST", url + "/v1/models/toolbox:predict", {
      "signature_name": "matrix", "instances": [[1.0, 2.0]]})[0] == 200
  # Bad requests: an unknown id raised by the model, an unknown signature,
  # an unknown model and version, a malformed body, an unknown path and
  # malformed HTTP.
  assert http("POST", url + "/v1/models/toolbox:predict", {
      "instances": [{"item_id": "zzz", "k": 1}]})[0] == 400
  assert http("POST", good, {"signature_name": "nope",
                             "instances": [1.0]})[0] == 400
  assert http("POST", url + "/v1/models/ghost:predict",
              {"instances": [1.0]})[0] == 404
  assert http("POST", url + "/v1/models/half_plus_two/versions/9:predict",
              {"instances": [1.0]})[0] == 404
  assert http("POST", good, raw=b"{not json")[0] == 400
  assert http("GET", url + "/nowhere")[0] == 404
  assert raw_http(url, request_bytes("GET", "/v1/models/toolbox",
                                     headers=["Content-Length: x"]))[0] == 400
  samples = _samples(_scrape(url))

  def delta(name, **labels):
    return _value(samples, name, **labels) - _value(before, name, **labels)

  count = ":tensorflow:serving:request_count"
  assert delta(count, model_name="half_plus_two", status="OK",
               model_version="123", signature_name="serving_default") == 3
  assert delta(count, model_name="toolbox", status="OK", model_version="1",
               signature_name="matrix") == 1
  assert delta(count, model_name="toolbox", status="INVALID_ARGUMENT",
               model_version="1", signature_name="serving_default") == 1
  # Names the server does not know are not label values.
  assert delta(count, model_name="half_plus_two", status="INVALID_ARGUMENT",
               model_version="123", signature_name="") == 1  # "nope".
  assert delta(count, model_name="half_plus_two", status="INVALID_ARGUMENT",
               model_version="", signature_name="") == 1  # Not JSON.
  assert delta(count, model_name="", status="NOT_FOUND", model_version="",
               signature_name="") == 1
  assert delta(count, model_name="half_plus_two", status="NOT_FOUND",
               model_version="", signature_name="") == 1
  assert not [key for key in samples if "ghost" in str(key) or
              "nope" in str(key)]
  latency = ":tensorflow:serving:request_latency"
  labels = dict(model_name="half_plus_two", API="predict", entrypoint="REST",
                model_version="123", signature_name="serving_default")
  assert delta(latency + "_count", **labels) == 3
  assert delta(latency + "_bucket", le="+Inf", **labels) == 3
  assert 0 < delta(latency + "_sum", **labels) < 3 * 30e6  # Microseconds.
  buckets = sorted(
      (float(dict(key[1])["le"]), value) for key, value in samples.items()
      if key[0] == latency + "_bucket" and
      {k: v for k, v in key[1] if k != "le"} == labels)
  assert len(buckets) == 34 and buckets[0][0] == 10
  assert [v for _, v in buckets] == sorted(v for _, v in buckets)
  responses = "gfm_serve_http_response_count"
  assert delta(responses, code="200") >= 4 + 1  # Predicts, one scrape.
  assert delta(responses, code="400") == 4
  assert delta(responses, code="404") == 3
  assert _value(samples, "gfm_serve_loaded_versions",
                model_name="half_plus_two") == 2
  assert _value(samples, "gfm_serve_loaded_versions",
                model_name="toolbox") == 1
  for version in ("1", "123"):
    assert _value(samples, "gfm_serve_loaded_version",
                  model_name="half_plus_two", model_version=version) == 1


def test_metrics_are_served_only_when_enabled(monitored, server):
  assert http("GET", server.url + DEFAULT_PATH)[0] == 404
  status, body = http("POST", monitored.url + DEFAULT_PATH, {})
  assert status == 405 and "GET" in body["error"]
