"""Request bodies within limits: streamed decompression, size and time."""

import asyncio
import gzip
import re
import zlib

import pytest

from tests.serving.conftest import gzip_zeros
from tfgnn_gfm.serving.request_body import read_body
from tfgnn_gfm.serving.status import StatusError

DOC = b'{"instances": [1.0, 2.0]}' * 40


class Arriving:
  """A body arriving in pieces, counting the bytes the reader took."""

  def __init__(self, data, piece=4096, delay=0.0):
    self.pieces = [data[i:i + piece] for i in range(0, len(data), piece)]
    self.delay = delay
    self.taken = 0

  async def readany(self):
    if self.delay:
      await asyncio.sleep(self.delay)
    if not self.pieces:
      return b""
    piece = self.pieces.pop(0)
    self.taken += len(piece)
    return piece


def _read(data, encoding="", max_bytes=1 << 20, timeout=None, **kwargs):
  return asyncio.run(read_body(Arriving(data, **kwargs), encoding, max_bytes,
                               timeout))


def _error(data, encoding="", **kwargs):
  with pytest.raises(StatusError) as e:
    _read(data, encoding, **kwargs)
  return e.value


def test_plain_gzip_and_deflate_bodies_are_decoded():
  assert _read(DOC) == DOC
  assert _read(gzip.compress(DOC), "gzip") == DOC
  assert _read(gzip.compress(DOC), "X-GZIP ") == DOC
  # Two gzip members are one body (as gzip -d reads them).
  assert _read(gzip.compress(DOC[:100]) + gzip.compress(DOC[100:]),
               "gzip") == DOC
  # "deflate" is a zlib stream; some clients send raw deflate.
  assert _read(zlib.compress(DOC), "deflate") == DOC
  raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
  assert _read(raw.compress(DOC) + raw.flush(), "deflate") == DOC


def test_bodies_not_in_their_encoding_are_400():
  for data, encoding, reason in (
      (DOC, "gzip", "incorrect header check"),
      (gzip.compress(DOC)[:-12], "gzip", "ends before the end of the stream"),
      (gzip.compress(DOC) + b"junk", "gzip", "incorrect header check"),
      (zlib.compress(DOC) + b"junk", "deflate", "data after the end"),
      (b"", "gzip", "the body is empty")):
    error = _error(data, encoding)
    assert (error.code, error.http_status) == ("INVALID_ARGUMENT", 400)
    assert f"not valid {encoding} data" in error.message, error.message
    assert reason in error.message, error.message
  error = _error(gzip.compress(DOC), "br")
  assert error.http_status == 415
  assert error.message.startswith("Unsupported Content-Encoding: br")


def test_gzip_bomb_is_refused_after_reading_little_of_it():
  bomb = gzip_zeros(400)  # 400 MiB of zeros in about 415 KB.
  assert 300_000 < len(bomb) < 500_000
  source = Arriving(bomb)
  with pytest.raises(StatusError) as e:
    asyncio.run(read_body(source, "gzip", 1 << 20, None))
  assert e.value.http_status == 413
  assert "limit of 1048576 bytes (after decompression" in e.value.message
  # 1 MiB of zeros is about 1 KB of this gzip: a few 4 KB pieces were read.
  assert source.taken <= 3 * 4096, source.taken


def test_size_limit_before_decompression_and_declared_length():
  assert _read(b"x" * 1000, max_bytes=1000) == b"x" * 1000
  assert _error(b"x" * 1001, max_bytes=1000).http_status == 413
  # A declared Content-Length over the limit is refused before reading.
  source = Arriving(b"x" * 10)
  with pytest.raises(StatusError) as e:
    asyncio.run(read_body(source, "", 1000, None, content_length=1001))
  assert e.value.http_status == 413 and source.taken == 0


def test_a_body_that_does_not_arrive_in_time_is_408():
  error = _error(DOC, timeout=0.3, piece=100, delay=0.1)
  assert (error.code, error.http_status) == ("DEADLINE_EXCEEDED", 408)
  arrived = re.search(r"not received within 0\.3 s \((\d+) bytes arrived",
                      error.message)
  assert arrived and int(arrived.group(1)) < len(DOC), error.message
  assert _read(DOC, timeout=5.0, piece=500, delay=0.01) == DOC
