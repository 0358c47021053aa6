"""Client errors are 4xx JSON, resources are bounded, defaults are safe.

One server with small limits (1 MiB bodies, 8 instances, 1 s to send the
headers or the body) over the session's real SavedModels; raw sockets on
loopback for what an HTTP library would not send.
"""

import gzip
import json
import logging
import shutil
import time
import zlib

import pytest

from tests.serving.conftest import gzip_zeros, http, raw_http, request_bytes
from tfgnn_gfm.cli.gfm import build_parser
from tfgnn_gfm.config import config_from_args
from tfgnn_gfm.serving import (
  BackgroundServer,
  ModelServer,
  ServeConfig,
  load_model_server_config,
  single_model_config,
)
from tfgnn_gfm.serving.codec import TensorSpec

TOOLBOX = "/v1/models/toolbox:predict"
GOOD = b'{"instances": [{"item_id": "b", "k": 2}]}'
GOOD_ANSWER = {"predictions": [{"item_type": "audiobook", "score": 2.0}]}
LIMIT_BYTES = 1 << 20


@pytest.fixture(name="limited", scope="module")
def fixture_limited(model_root):
  config = load_model_server_config(model_root / "models.config")
  running = BackgroundServer(ModelServer(
      config, port=0, poll_wait_seconds=0, import_ops=False,
      max_request_bytes=LIMIT_BYTES, max_batch_size=8,
      header_timeout_seconds=1.0, body_timeout_seconds=1.0)).start()
  yield running
  running.stop()


def _post(server, body, headers=(), path=TOOLBOX, timeout=10.0):
  """(status, parsed JSON body) of a raw POST."""
  code, payload, _ = raw_http(server.url, request_bytes(
      "POST", path, body, headers), timeout)
  return code, json.loads(payload)


def _error(server, body, headers=(), path=TOOLBOX):
  code, answer = _post(server, body, headers, path)
  assert set(answer) == {"error"}, answer
  return code, answer["error"]


# -- 1. Client errors are 4xx with TF Serving's {"error": ...} -----------------


def test_deeply_nested_json_is_400(limited):
  code, message = _error(limited, b"[" * 100000 + b"]" * 100000)
  assert (code, message) == (400, "JSON Parse error: The document is nested "
                                  "too deep")
  nested = "[" * 65 + '"a"' + "]" * 65
  for body in (f'{{"inputs": {{"item_id": {nested}, "k": [1]}}}}',
               f'{{"instances": [{{"item_id": {nested}, "k": 1}}]}}'):
    code, message = _error(limited, body.encode())
    assert code == 400
    assert "nested more than 32 lists deep" in message
    assert "item_id" in message
  assert _post(limited, GOOD) == (200, GOOD_ANSWER)


def test_content_encoding_that_the_body_does_not_have_is_400(limited):
  for encoding in ("gzip", "deflate"):
    code, message = _error(limited, GOOD, [f"Content-Encoding: {encoding}"])
    assert code == 400
    assert message.startswith(f"Request body is not valid {encoding} data")
  code, message = _error(limited, GOOD, ["Content-Encoding: br"])
  assert code == 415 and "Unsupported Content-Encoding: br" in message
  # Bodies that are what they say are decoded.
  assert _post(limited, gzip.compress(GOOD), ["Content-Encoding: gzip"]) == (
      200, GOOD_ANSWER)
  assert _post(limited, zlib.compress(GOOD),
               ["Content-Encoding: deflate"]) == (200, GOOD_ANSWER)


def test_b64_that_is_not_utf8_is_400_naming_the_bytes(limited):
  code, message = _error(
      limited, b'{"instances": [{"item_id": {"b64": "/w=="}, "k": 1}]}')
  assert code == 400
  assert "unknown item_id:] [\\xff]" in message, message
  assert "codec" not in message


def test_numbers_json_cannot_hold_are_400(limited):
  half = "/v1/models/half_plus_two:predict"
  code, message = _error(limited, b'{"instances": [' + b"1" * 5000 + b"]}",
                         path=half)
  assert code == 400 and message.startswith("JSON Parse error: Exceeds the "
                                            "limit (4300 digits)")
  code, message = _error(limited, b'{"instances": [1' + b"0" * 400 + b"]}",
                         path=half)
  assert code == 400 and "is not of expected type: float" in message
  code, message = _error(limited, GOOD, path="/v1/models/toolbox/versions/" +
                         "9" * 5000 + ":predict")
  assert code == 400 and message.startswith("Failed to convert version: 999")
  assert len(message) < 400


@pytest.mark.parametrize("data,reason", [
    (b"POST /v1/models/toolbox:predict HTTP/1.1\r\nHost: x\r\n"
     b"Content-Length: abc\r\n\r\n{}", "Content-Length"),
    (b"POST /v1/models/toolbox:predict HTTP/1.1\r\nHost: x\r\n"
     b"Content-Length: -5\r\n\r\n{}", "Content-Length"),
    (b"POST /v1/models/toolbox:predict HTTP/1.1\r\nHost: x\r\n"
     b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", ""),
    (b"FOO /v1/models/toolbox HTTP/1.1\r\nHost: x\r\n\r\n", "method"),
    (b"GET /v1/models/toolbox HTTP/1.1\r\nHost: x\r\nX-Big: " +
     b"a" * 20000 + b"\r\n\r\n", "8190 bytes"),
    (b"GET /v1/models/" + b"m" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
     "8190 bytes"),
    (b"GET / HTTP/1.1\r\n" + b"X-H: 1\r\n" * 200 + b"\r\n", "headers"),
    (b"POST /v1/models/toolbox:predict HTTP/1.1\r\nHost: x\r\n"
     b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", "chunk"),
    (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(64), ""),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ""),
    (b"\x00\xff garbage\r\n\r\n", ""),
])
def test_http_level_errors_answer_json(limited, data, reason):
  code, payload, closed_after = raw_http(limited.url, data)
  assert code is not None and 400 <= code < 500, (code, payload)
  answer = json.loads(payload)
  assert set(answer) == {"error"}
  assert answer["error"].startswith("Malformed HTTP request: ")
  assert reason in answer["error"], answer
  assert len(payload) < 1024
  assert closed_after is not None  # The server closed the connection.


# -- 2. Bounded resources ------------------------------------------------------


def test_gzip_bomb_is_413_without_expanding_it(limited):
  bomb = gzip_zeros(400)  # 400 MiB in about 415 KB: under the raw limit.
  started = time.monotonic()
  code, message = _error(limited, bomb, ["Content-Encoding: gzip"])
  assert code == 413
  assert message.startswith("Request body is larger than the server's limit "
                            f"of {LIMIT_BYTES} bytes (after decompression")
  # Inflating all of it takes seconds on this machine; 1 MiB does not.
  assert time.monotonic() - started < 1.5


def test_body_over_the_limit_is_413(limited):
  code, message = _error(limited, b" " * (LIMIT_BYTES + 1) + GOOD)
  assert code == 413 and "limit of 1048576 bytes" in message
  # Declared but never sent: refused at once, before reading.
  started = time.monotonic()
  code, payload, _ = raw_http(limited.url, request_bytes(
      "POST", TOOLBOX, headers=["Content-Length: 1000000000"]), timeout=5)
  assert code == 413 and b"limit of 1048576 bytes" in payload
  chunked = b"".join(b"10000\r\n" + b" " * 0x10000 + b"\r\n"
                     for _ in range(17)) + b"0\r\n\r\n"
  code, message = _error(limited, chunked, ["Transfer-Encoding: chunked"])
  assert code == 413
  assert time.monotonic() - started < 5
  assert _post(limited, b" " * (LIMIT_BYTES - len(GOOD)) + GOOD) == (
      200, GOOD_ANSWER)


def test_instances_per_request_are_bounded(limited):
  rows = [{"item_id": "a", "k": 1}] * 8
  assert http("POST", limited.url + TOOLBOX, {"instances": rows})[0] == 200
  code, body = http("POST", limited.url + TOOLBOX,
                    {"instances": rows + rows[:1]})
  assert code == 400
  assert body["error"] == ("'instances' has 9 instances, more than the "
                           "server's limit of 8 per request "
                           "(--max-batch-size); split the request")
  code, body = http("POST", limited.url + TOOLBOX,
                    {"inputs": {"item_id": ["a"] * 9, "k": [1] * 9}})
  assert code == 400 and "an input of 'inputs' has 9 instances" in (
      body["error"])


def test_partial_headers_and_idle_connections_are_closed(limited):
  for data in (b"", b"POST /v1/models/toolbox:predict HTTP/1.1\r\nHost: x",
               b"GET /v1/models/toolbox HTTP/1.1\r\nHost: x\r\n"):
    code, _, closed_after = raw_http(limited.url, data, timeout=10)
    assert code is None, data
    # 1 s header timeout; the timer's check may run up to a second late.
    assert closed_after is not None and 0.9 < closed_after < 2.5, (
        data, closed_after)


def test_partial_body_is_408_and_closed(limited):
  code, payload, closed_after = raw_http(limited.url, request_bytes(
      "POST", TOOLBOX, b'{"instances"', ["Content-Length: 100"]), timeout=10)
  assert code == 408
  assert json.loads(payload) == {"error": (
      "Request body not received within 1 s (12 bytes arrived; see "
      "--body-read-timeout-seconds)")}
  assert closed_after is not None and 0.9 < closed_after < 2.0, closed_after


def test_error_messages_quote_a_few_hundred_characters(limited):
  huge = "z" * 500_000
  for body in ({"instances": [{"item_id": huge, "k": 1}]},  # model error
               {"instances": [{"item_id": "a", huge: 1}]},  # input name
               {"instances": [{"item_id": "a", "k": huge}]},  # dtype
               {"signature_name": huge, "instances": [1]}):
    code, payload, _ = raw_http(limited.url, request_bytes(
        "POST", TOOLBOX, json.dumps(body).encode()))
    assert code == 400
    assert len(payload) < 1024, len(payload)
    assert "zzzz" in json.loads(payload)["error"]
  code, payload, _ = raw_http(limited.url, request_bytes(
      "GET", "/v1/models/" + "n" * 8000))
  assert code == 404 and len(payload) < 1024


def test_a_dropped_client_is_one_log_line(limited, caplog):
  caplog.set_level(logging.INFO)
  import socket
  host, port = limited.url.removeprefix("http://").rsplit(":", 1)
  with socket.create_connection((host, int(port))) as sock:
    sock.sendall(request_bytes("POST", TOOLBOX, b'{"inst',
                               ["Content-Length: 1000"]))
    time.sleep(0.2)
  deadline = time.monotonic() + 5
  while time.monotonic() < deadline and not any(
      "disconnected" in r.getMessage() for r in caplog.records):
    time.sleep(0.05)
  time.sleep(0.2)
  lines = [r for r in caplog.records if "disconnected" in r.getMessage()]
  assert len(lines) == 1, [r.getMessage() for r in caplog.records]
  assert lines[0].getMessage() == (
      "POST /v1/models/toolbox:predict: client 127.0.0.1 disconnected "
      "(ConnectionResetError)")
  assert not [r for r in caplog.records if r.exc_info], caplog.text
  assert _post(limited, GOOD) == (200, GOOD_ANSWER)


# -- 3. Safe defaults ----------------------------------------------------------


class _LeakyServable:
  """Raises an error naming a server file, as a buggy model might."""

  version = 1
  signature_def_map = {"signature_def": {}}

  def __init__(self, name, version, path):
    self.path = path

  def input_specs(self, signature_name):
    del signature_name
    return {"x": TensorSpec("DT_FLOAT", (-1,))}

  def run(self, signature_name, inputs):
    del signature_name, inputs
    raise FileNotFoundError(f"[Errno 2] No such file: '{self.path}/x/y.txt'")


def test_gfm_serve_binds_loopback_unless_told(tmp_path):
  args = build_parser().parse_args(["serve", "--model-base-path", "m"])
  config = config_from_args(ServeConfig, args)
  assert config.rest_api_host == "127.0.0.1"
  assert (config.max_request_bytes, config.max_batch_size,
          config.header_read_timeout_seconds,
          config.body_read_timeout_seconds) == (16 << 20, 256, 10.0, 30.0)
  args = build_parser().parse_args(["serve", "--model-base-path", "m",
                                    "--rest_api_host", "0.0.0.0",
                                    "--max-batch-size", "0"])
  assert config_from_args(ServeConfig, args).rest_api_host == "0.0.0.0"
  (tmp_path / "1").mkdir()
  with BackgroundServer(ModelServer(
      single_model_config("leaky", tmp_path), port=0, poll_wait_seconds=0,
      import_ops=False, loader=_LeakyServable)) as running:
    assert running.url.startswith("http://127.0.0.1:")
    code, body = http("POST", running.url + "/v1/models/leaky:predict",
                      {"instances": [1.0]})
  assert code == 500
  assert body == {"error": "FileNotFoundError: [Errno 2] No such file: "
                           "'.../y.txt'"}


def test_status_shows_load_errors_without_server_paths(model_root, tmp_path):
  base = tmp_path / "m"
  good = model_root / "half_plus_two" / "1"
  shutil.copytree(good, base / "3")
  (base / "2").mkdir()
  (base / "2" / "saved_model.pb").write_bytes(b"\xff garbage")
  shutil.copytree(good, base / "1")
  shutil.rmtree(base / "1" / "variables")
  (tmp_path / "models.config").write_text(
      'model_config_list { config { name: "m" base_path: "m" '
      "model_platform: 'tensorflow' model_version_policy { all {} } } }")
  config = load_model_server_config(tmp_path / "models.config")
  with BackgroundServer(ModelServer(
      config, port=0, poll_wait_seconds=0, import_ops=False)) as running:
    code, payload, _ = raw_http(running.url, request_bytes(
        "GET", "/v1/models/m"))
  assert code == 200
  assert str(tmp_path).encode() not in payload
  assert b"/tmp" not in payload
  states = {s["version"]: s for s in json.loads(payload)[
      "model_version_status"]}
  assert states["3"]["state"] == "AVAILABLE"
  assert states["2"]["status"] == {
      "error_code": "DATA_LOSS",
      "error_message": "Can't parse <base_path>/2/saved_model.pb as binary "
                       "proto"}
  assert states["1"]["state"] == "END"
  assert ("Failed to find any matching files for <base_path>/1/variables/"
          "variables") in states["1"]["status"]["error_message"]
