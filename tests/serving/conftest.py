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
  from tests.serving import models
  root = tmp_path_factory.mktemp("models")
  models.save_half_plus(root / "half_plus_two" / "1", offset=3.0)
  models.save_half_plus(root / "half_plus_two" / "123", offset=2.0)
  models.save_toolbox(root / "toolbox" / "1")
  (root / "models.config").write_text(MODELS_CONFIG.format(root=root))
  return root


@pytest.fixture(scope="session")
def server(model_root):
  """A running gfm serve (in a background thread) over ``model_root``."""
  from tfgnn_gfm.serving import (
    BackgroundServer,
    ModelServer,
    load_model_server_config,
  )
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


def raw_http(url, data, timeout=10.0):
  """Sends raw bytes to a server and reads until it closes the connection.

  Args:
    url: the server's base URL (``http://127.0.0.1:PORT``).
    data: the bytes to send (a request, or garbage).
    timeout: seconds to wait for the server to answer and close.

  Returns:
    (HTTP status or None if no answer, body bytes, seconds until closed or
    None if still open after ``timeout``).
  """
  import socket
  import time
  host, port = url.removeprefix("http://").rsplit(":", 1)
  started = time.monotonic()
  received = b""
  closed_after = None
  with socket.create_connection((host, int(port)), timeout=timeout) as sock:
    try:
      sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
      pass
    try:
      while chunk := sock.recv(65536):
        received += chunk
      closed_after = time.monotonic() - started
    except ConnectionResetError:
      closed_after = time.monotonic() - started
    except socket.timeout:
      pass
  # Skip interim answers (100 Continue).
  while received.startswith(b"HTTP/1.1 100"):
    received = received.split(b"\r\n\r\n", 1)[1]
  if not received.startswith(b"HTTP/"):
    return None, received, closed_after
  head, _, body = received.partition(b"\r\n\r\n")
  return int(head.split()[1]), body, closed_after


def request_bytes(method, path, body=b"", headers=()):
  """A raw HTTP/1.1 request that asks the server to close afterwards."""
  lines = [f"{method} {path} HTTP/1.1", "Host: localhost",
           "Connection: close", *headers]
  if body and not any(h.lower().startswith(("content-length",
                                            "transfer-encoding"))
                      for h in headers):
    lines.append(f"Content-Length: {len(body)}")
  return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def gzip_zeros(mib):
  """A valid one-member gzip of ``mib`` MiB of zero bytes (about 1 KB per
  MiB): a decompression bomb, built without compressing it all."""
  import struct
  import zlib
  zeros = bytes(1 << 20)
  compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
  # After a full flush the compressor starts afresh, so the same MiB gives
  # the same bytes again.
  first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
  block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
  crc = 0
  for _ in range(mib):
    crc = zlib.crc32(zeros, crc)
  # An empty last block (fixed Huffman), then gzip's CRC-32 and size.
  tail = b"\x03\x00" + struct.pack("<II", crc, (mib << 20) & 0xFFFFFFFF)
  return first + block * (mib - 1) + tail
