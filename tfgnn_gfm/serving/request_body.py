"""Reading a request body within limits: its size after decompression, time.

The HTTP layer hands the body over as it arrives (not decompressed); this
module reads it chunk by chunk and inflates ``Content-Encoding: gzip`` or
``deflate`` as a stream, stopping as soon as the body would pass the limit.
So a small gzip that expands to gigabytes costs at most the limit, and a
client that stops sending is answered once the read timeout passes.

Errors are ``StatusError``s with the HTTP status the client gets: 413 for a
body over the limit, 400 for data that is not in its declared encoding, 415
for an encoding other than gzip, deflate or identity, 408 for a body not
received in time. A client that disconnects raises ``ConnectionError``.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Protocol

from tfgnn_gfm.serving import status
from tfgnn_gfm.serving.status import StatusError, invalid_argument

#: Content-Encodings a body may have (HTTP's names).
ENCODINGS = ("identity", "gzip", "x-gzip", "deflate")

# zlib's wbits for each format: gzip member, zlib stream, raw deflate.
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_DEFLATE_WBITS = -zlib.MAX_WBITS

# Most bytes one call to zlib may produce: the limit is checked between
# calls, so no call inflates much more than the limit allows.
_INFLATE_STEP = 1 << 20


class Chunks(Protocol):
  """Where the body's bytes come from (aiohttp's ``request.content``)."""

  async def readany(self) -> bytes:
    """The next bytes that arrived; b"" at the end of the body."""


def too_large(limit: int) -> StatusError:
  """The 413 error of a body over ``limit`` bytes."""
  return StatusError(
      status.RESOURCE_EXHAUSTED,
      f"Request body is larger than the server's limit of {limit} bytes "
      "(after decompression; see --max-request-bytes)", http_code=413)


class _Inflater:
  """Inflates a gzip or deflate stream, refusing more than ``limit`` bytes.

  Args:
    encoding: "gzip" (one or more gzip members) or "deflate" (a zlib stream,
      or raw deflate data, which some clients send for "deflate").
    limit: the most bytes the inflated body may have.
  """

  def __init__(self, encoding: str, limit: int):
    self.encoding = encoding
    self.limit = limit
    self.size = 0
    self._zlib = None
    self._done = False  # The last stream ended; only another gzip may follow.

  def _error(self, reason: str) -> StatusError:
    return invalid_argument(
        f"Request body is not valid {self.encoding} data "
        f"(Content-Encoding: {self.encoding}): {reason}")

  def _new_stream(self, first: bytes):
    if self.encoding == "gzip":
      return zlib.decompressobj(_GZIP_WBITS)
    # A zlib header: deflate method, and the check bits of RFC 1950.
    if (len(first) >= 2 and first[0] & 0x0F == 8
        and (first[0] << 8 | first[1]) % 31 == 0):
      return zlib.decompressobj(_ZLIB_WBITS)
    return zlib.decompressobj(_RAW_DEFLATE_WBITS)

  def feed(self, data: bytes, out: bytearray) -> None:
    """Inflates ``data`` into ``out``.

    Raises:
      StatusError: 413 past the limit, 400 for data that is not valid.
    """
    while data:
      if self._zlib is None:
        if self._done and self.encoding != "gzip":
          raise self._error("data after the end of the stream")
        self._zlib = self._new_stream(data)
      try:
        chunk = self._zlib.decompress(
            data, min(_INFLATE_STEP, self.limit - self.size + 1))
      except zlib.error as e:
        raise self._error(str(e)) from e
      self.size += len(chunk)
      if self.size > self.limit:
        raise too_large(self.limit)
      out += chunk
      if self._zlib.eof:
        data = self._zlib.unused_data
        self._zlib, self._done = None, True
      else:
        data = self._zlib.unconsumed_tail

  def finish(self, out: bytearray) -> None:
    """Checks that the stream ended (the body was not cut short)."""
    if self._zlib is not None:
      try:
        tail = self._zlib.flush()
      except zlib.error as e:
        raise self._error(str(e)) from e
      self.size += len(tail)
      if self.size > self.limit:
        raise too_large(self.limit)
      out += tail
      if not self._zlib.eof:
        raise self._error("the data ends before the end of the stream")
    elif not self._done:
      raise self._error("the body is empty")


async def read_body(chunks: Chunks, encoding: str, max_bytes: int,
                    timeout_seconds: float | None,
                    content_length: int | None = None) -> bytes:
  """Reads and decodes a request body within the limits.

  Args:
    chunks: the body as it arrives.
    encoding: the request's Content-Encoding ("" for none).
    max_bytes: the most bytes the body may have, before and after
      decompression.
    timeout_seconds: time allowed for receiving the whole body; None for no
      limit.
    content_length: the declared length, if any: a body declared larger
      than ``max_bytes`` is refused before reading any of it.

  Returns:
    The body, decompressed.

  Raises:
    StatusError: 413, 400, 415 or 408 (see the module docstring).
    ConnectionError: when the client disconnects.
  """
  if content_length is not None and content_length > max_bytes:
    raise too_large(max_bytes)
  name = encoding.strip().lower() or "identity"
  if name not in ENCODINGS:
    raise StatusError(
        status.INVALID_ARGUMENT,
        f"Unsupported Content-Encoding: {status.bounded(encoding, 64)} (use "
        "gzip, deflate or none)", http_code=415)
  inflater = None
  if name != "identity":
    inflater = _Inflater("gzip" if name.endswith("gzip") else "deflate",
                         max_bytes)
  body = bytearray()
  received = 0
  try:
    async with asyncio.timeout(timeout_seconds):
      while chunk := await chunks.readany():
        received += len(chunk)
        if received > max_bytes:
          raise too_large(max_bytes)
        if inflater is None:
          body += chunk
        else:
          inflater.feed(chunk, body)
  except TimeoutError as e:
    raise StatusError(
        status.DEADLINE_EXCEEDED,
        f"Request body not received within {timeout_seconds:g} s "
        f"({received} bytes arrived; see --body-read-timeout-seconds)",
        http_code=408) from e
  if inflater is not None:
    inflater.finish(body)
  return bytes(body)
