"""1,024 hostile requests against one gfm serve on loopback, 8 at a time.

Every class of hostile input the hardening covers (malformed HTTP, nesting,
encodings, a gzip bomb, oversized bodies and batches, huge values, fuzzed
JSON, bad paths, clients that hang up or stall), each several times, sent
over raw sockets. Asserted: no 5xx, every error is ``{"error": ...}`` of at
most 4 KB, no traceback or error in the server's log, the server still
answers, and a good request is as fast afterwards as before (median of 20:
after < 3 x before + 5 ms).
"""

import concurrent.futures
import json
import logging
import random
import socket
import statistics
import time

import pytest

from tests.serving.conftest import gzip_zeros, raw_http, request_bytes
from tfgnn_gfm.serving import (
  BackgroundServer,
  ModelServer,
  load_model_server_config,
)

TOOLBOX = "/v1/models/toolbox:predict"
GOOD = b'{"instances": [{"item_id": "b", "k": 2}]}'
MAX_ERROR_BYTES = 4096
# A client that stalls is closed 1 s after it opened or after it sent its
# headers (the header and body timeouts of the server below).
TIMEOUT_SECONDS = 1.0


@pytest.fixture(name="hardened", scope="module")
def fixture_hardened(model_root):
  """Default limits, except 1 s timeouts so stalled clients end fast."""
  config = load_model_server_config(model_root / "models.config")
  running = BackgroundServer(ModelServer(
      config, port=0, poll_wait_seconds=0, import_ops=False,
      header_timeout_seconds=TIMEOUT_SECONDS,
      body_timeout_seconds=TIMEOUT_SECONDS)).start()
  yield running
  running.stop()


def _post(body, headers=(), path=TOOLBOX):
  return request_bytes("POST", path, body, headers)


def _fuzzed(rng):
  """The good body with a few bytes replaced, inserted or deleted."""
  data = bytearray(GOOD)
  for _ in range(rng.randint(1, 4)):
    at = rng.randrange(len(data))
    action = rng.randrange(3)
    if action == 0:
      data[at] = rng.randrange(256)
    elif action == 1:
      data.insert(at, rng.choice(b'[]{}",:\\\x00\xff9eE-.'))
    else:
      del data[at]
  return _post(bytes(data))


def _hostile_requests():
  """(class, bytes to send, HTTP statuses allowed or None for any < 500,
  how many)."""
  rng = random.Random(13)
  nested = "[" * 65 + '"a"' + "]" * 65
  huge = "z" * 1_000_000
  bomb = gzip_zeros(400)
  classes = [
      ("deep array", lambda: _post(b"[" * 100000 + b"]" * 100000), {400}, 40),
      ("65 lists, columnar", lambda: _post(
          f'{{"inputs": {{"item_id": {nested}, "k": [1]}}}}'.encode()),
       {400}, 40),
      ("65 lists, rows", lambda: _post(
          f'{{"instances": [{{"item_id": {nested}, "k": 1}}]}}'.encode()),
       {400}, 40),
      ("gzip header, plain body",
       lambda: _post(GOOD, ["Content-Encoding: gzip"]), {400}, 40),
      ("deflate header, plain body",
       lambda: _post(GOOD, ["Content-Encoding: deflate"]), {400}, 40),
      ("unknown encoding", lambda: _post(GOOD, ["Content-Encoding: zstd"]),
       {415}, 20),
      ("b64 not UTF-8", lambda: _post(
          b'{"instances": [{"item_id": {"b64": "/w=="}, "k": 1}]}'), {400},
       40),
      ("bad Content-Length",
       lambda: _post(b"{}", ["Content-Length: 12abc"]), {400}, 30),
      ("negative Content-Length",
       lambda: _post(b"{}", ["Content-Length: -1"]), {400}, 20),
      ("two Content-Lengths",
       lambda: _post(b"{}", ["Content-Length: 2", "Content-Length: 9"]),
       {400}, 20),
      ("unknown method", lambda: request_bytes("BREW", "/v1/models/toolbox"),
       {400}, 30),
      ("oversized header", lambda: request_bytes(
          "GET", "/v1/models/toolbox", headers=["X-Big: " + "a" * 20000]),
       {400}, 20),
      ("oversized request line",
       lambda: request_bytes("GET", "/v1/models/" + "m" * 20000), {400}, 20),
      ("too many headers", lambda: request_bytes(
          "GET", "/v1/models/toolbox", headers=["X-H: 1"] * 300), {400}, 20),
      ("bad chunk", lambda: _post(b"zz\r\n{}\r\n0\r\n\r\n",
                                  ["Transfer-Encoding: chunked"]), {400}, 20),
      ("TLS hello", lambda: b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" +
       bytes(64), {400}, 20),
      ("HTTP/2 preface", lambda: b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {400},
       20),
      ("random bytes", lambda: bytes(rng.randrange(256) for _ in range(
          rng.randint(1, 300))) + b"\r\n\r\n", None, 50),
      ("gzip bomb", lambda: _post(bomb, ["Content-Encoding: gzip"]), {413},
       20),
      ("declared 1 GB", lambda: _post(b"", ["Content-Length: 1000000000"]),
       {413}, 20),
      ("257 instances", lambda: _post(json.dumps({"instances": [
          {"item_id": "a", "k": 1}] * 257}).encode()), {400}, 40),
      ("1 MB item id", lambda: _post(json.dumps({"instances": [
          {"item_id": huge, "k": 1}]}).encode()), {400}, 20),
      ("1 MB input name", lambda: _post(json.dumps({"instances": [
          {"item_id": "a", huge: 1}]}).encode()), {400}, 20),
      ("5000-digit integer", lambda: _post(
          b'{"instances": [{"item_id": "a", "k": ' + b"9" * 5000 + b"}]}"),
       {400}, 20),
      ("int too large for float", lambda: _post(
          b'{"instances": [1' + b"0" * 400 + b"]}",
          path="/v1/models/half_plus_two:predict"), {400}, 20),
      ("fuzzed JSON", lambda: _fuzzed(rng), None, 240),
      ("bad path", lambda: request_bytes(rng.choice(
          ["GET", "POST", "PUT", "DELETE"]), rng.choice(
              ["/v1/models/%00", "/v1/models/%ff%fe:predict", "/v1/%2e%2e/x",
               "/v1/models/toolbox/versions/99999999999999999999999",
               "/v1/models/toolbox/versions/" + "9" * 5000 + ":predict",
               "/v1/models/toolbox/labels/" + "l" * 5000, "/v1/models/é",
               "/v1/models/toolbox:predict:predict", "//v1//models"]),
                                       b"{}"), {400, 404}, 40),
  ]
  requests = []
  for name, make, allowed, count in classes:
    requests.extend((name, make(), allowed) for _ in range(count))
  return requests


def _hang_up(url, data):
  """Sends part of a request and disconnects."""
  host, port = url.removeprefix("http://").rsplit(":", 1)
  with socket.create_connection((host, int(port))) as sock:
    sock.sendall(data)


def _good_latencies(url, count=20):
  latencies = []
  for _ in range(count):
    started = time.monotonic()
    code, payload, _ = raw_http(url, _post(GOOD))
    latencies.append(time.monotonic() - started)
    assert code == 200, payload
  return latencies


def test_hostile_requests_get_bounded_4xx_and_leave_the_server_fast(
    hardened, caplog):
  caplog.set_level(logging.INFO)
  url = hardened.url
  _good_latencies(url, 5)  # Warm the connection and signature paths.
  before = statistics.median(_good_latencies(url))
  requests = _hostile_requests()
  stalls = ([("stalled headers", b"POST /v1/models/toolbox:predict "
              b"HTTP/1.1\r\nHost: x\r\n")] * 16 +
            [("stalled body", _post(b'{"inst', ["Content-Length: 500"]))] * 8)
  hang_ups = [_post(b'{"instances": [', ["Content-Length: 4000"])] * 30
  assert len(requests) + len(stalls) + len(hang_ups) >= 1000

  started = time.monotonic()
  with concurrent.futures.ThreadPoolExecutor(8) as pool:
    answers = list(pool.map(lambda r: (r[0], r[2], raw_http(url, r[1])),
                            requests))
    stalled = list(pool.map(
        lambda s: (s[0], raw_http(url, s[1], timeout=10)), stalls))
    list(pool.map(lambda data: _hang_up(url, data), hang_ups))
  hostile_seconds = time.monotonic() - started

  by_class = {}
  for name, allowed, (code, payload, _) in answers:
    by_class.setdefault(name, []).append(code)
    assert code is not None and code < 500, (name, code, payload[:300])
    if allowed is not None:
      assert code in allowed, (name, code, payload[:300])
    if code >= 400:
      assert len(payload) <= MAX_ERROR_BYTES, (name, len(payload))
      answer = json.loads(payload)
      assert set(answer) == {"error"} and isinstance(answer["error"], str), (
          name, answer)
  assert sum(code < 400 for codes in by_class.values() for code in codes) < (
      len(by_class["fuzzed JSON"]))  # Only fuzzing may give a valid body.
  for name, (code, payload, closed_after) in stalled:
    assert closed_after is not None, name  # The server closed it.
    assert closed_after < TIMEOUT_SECONDS + 1.5, (name, closed_after)
    if name == "stalled body":
      assert code == 408 and len(payload) <= MAX_ERROR_BYTES
    else:
      assert code is None
  assert hostile_seconds < 45, hostile_seconds

  # Alive, fast, and no traceback or error logged.
  code, payload, _ = raw_http(url, request_bytes("GET", "/v1/models/toolbox"))
  assert code == 200 and b"AVAILABLE" in payload
  after = statistics.median(_good_latencies(url))
  print(f"{len(requests) + len(stalls) + len(hang_ups)} hostile requests in "
        f"{hostile_seconds:.1f} s; good request median {before * 1000:.1f} ms "
        f"before, {after * 1000:.1f} ms after")
  assert after < 3 * before + 0.005, (before, after)
  deadline = time.monotonic() + 5
  while time.monotonic() < deadline and sum(
      "disconnected" in r.getMessage() for r in caplog.records) < 30:
    time.sleep(0.05)
  assert sum("disconnected" in r.getMessage() for r in caplog.records) == 30
  bad = [r for r in caplog.records
         if r.exc_info or r.levelno >= logging.ERROR]
  assert not bad, [r.getMessage()[:300] for r in bad[:5]]
