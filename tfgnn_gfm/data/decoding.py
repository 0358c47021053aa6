"""From a file's bytes to text lines: gzip, encodings, size limits, damage.

A damaged stream (truncated gzip, undecodable bytes) keeps what was read
before the damage and reports the rest as dead letters.
"""

from __future__ import annotations

import io
import logging
import os
import pathlib
import zlib
from typing import Any, BinaryIO

from tfgnn_gfm.data.dead_letters import DataContractError, dead_letter

_LOG = logging.getLogger(__name__)


_GZIP_MAGIC = b"\x1f\x8b"


# The most bytes of one CSV or JSON Lines file after decompression (the
# reader holds a file's text in memory): a larger file, or a gzip that
# expands beyond it, is a one-line error, and decompression stops there.
# ``--max-input-bytes`` of gfm validate and gfm build-graph sets it.
MAX_INPUT_BYTES = 2 << 30


_GZIP_CHUNK = 1 << 16


# A dead letter quotes at most this much of an unparsable record.
MAX_QUOTED = 10_000


def decompress(path: str | pathlib.PurePath, stream: BinaryIO,
                limit: int | None = None) -> tuple[bytes, str | None, bool]:
  """A gzip stream's bytes, why it ends early (None when whole), and whether
  it was read to its end.

  Two kinds of damage are told apart, because deflate only reveals changed
  bytes at the member's checksum (bit flips decompress to wrong rows that
  look fine until then):

  * **corrupt** (the deflate data or a checksum fails): no row of the file
    can be trusted, so the file is refused as a whole (``DataContractError``,
    a one-line error with exit 2);
  * **truncated** (the stream stops before its end, without a failed
    check): the bytes decompressed before the cut are kept (input is fed in
    chunks, so little is lost) and the damage is returned.

  Concatenated gzip members are read one after another; zero padding after
  the last member is allowed (as gzip allows), other bytes after it are
  ignored with a warning (as ``gzip -d`` does: the members before them
  passed their checksums).

  Args:
    path: the file's name, for messages.
    stream: the compressed bytes, read from the current position.
    limit: stop once this many bytes are decompressed (None: read all).

  Raises:
    DataContractError: the stream does not start with the gzip magic bytes,
      or is corrupt.
  """
  pending = stream.read(_GZIP_CHUNK)
  if pending[:2] != _GZIP_MAGIC:
    raise DataContractError(
        f"{path}: not a gzip file (it does not start with the gzip magic "
        "bytes); name it without .gz if it is not compressed")
  chunks: list[bytes] = []
  size = 0
  member = zlib.decompressobj(wbits=31)
  while True:
    if not pending:
      pending = stream.read(_GZIP_CHUNK)
      if not pending:
        break
    if member.eof:
      if not pending.strip(b"\x00"):
        pending = b""  # Zero padding after the last member, as gzip allows.
        continue
      if not _GZIP_MAGIC.startswith(pending[:2]):  # Not another member.
        ignored = len(pending) + len(stream.read())
        _LOG.warning("%s: %d bytes after the end of the gzip stream are "
                     "ignored (every member before them passed its "
                     "checksum)", path, ignored)
        return b"".join(chunks), None, True
      member = zlib.decompressobj(wbits=31)
    try:
      piece = member.decompress(pending, 0 if limit is None else limit - size)
    except zlib.error as e:
      raise DataContractError(
          f"{path}: the gzip stream is corrupt after {size:,} decompressed "
          f"bytes ({e}); deflate shows such damage only at the checksum, so "
          "no row of this file can be trusted: restore or re-create the "
          "file") from None
    chunks.append(piece)
    size += len(piece)
    pending = member.unused_data if member.eof else member.unconsumed_tail
    if limit is not None and size >= limit:
      return b"".join(chunks), None, False
  if not member.eof:
    return b"".join(chunks), (
        f"the gzip stream is truncated after {size:,} decompressed bytes"), True
  return b"".join(chunks), None, True


def decode(path: str | pathlib.PurePath, data: bytes) -> tuple[str, bool]:
  """Decodes a file's bytes as UTF-8; returns (text, clean).

  ``clean`` is False when some bytes were not UTF-8: they are kept as
  surrogate escapes, so those records become ``bad_encoding`` dead letters.

  Raises:
    DataContractError: the file is UTF-16.
  """
  if data.startswith((b"\xff\xfe", b"\xfe\xff")):
    raise DataContractError(
        f"{path}: the file is UTF-16 encoded; the contract needs UTF-8 "
        "(re-save it as UTF-8)")
  head = data[:4096]
  if head.count(b"\x00") > len(head) // 4:
    raise DataContractError(
        f"{path}: the file looks UTF-16 encoded (every other byte is 0, no "
        "byte-order mark); the contract needs UTF-8")
  if data.startswith(b"\xef\xbb\xbf"):
    data = data[3:]
  try:
    return data.decode("utf-8"), True
  except UnicodeDecodeError:
    return data.decode("utf-8", errors="surrogateescape"), False


def _too_large(path: str | pathlib.PurePath,
               max_bytes: int) -> DataContractError:
  return DataContractError(
      f"{path}: more than {max_bytes:,} bytes after decompression (the "
      "reader's limit, --max-input-bytes); split the table into several "
      "files or raise the limit")


def read_text(path: pathlib.Path, compressed: bool,
               max_bytes: int = MAX_INPUT_BYTES
               ) -> tuple[str, bool, str | None]:
  """Returns (text, clean, damage).

  ``clean`` is as in ``decode``; ``damage`` says why the file ends early
  (a damaged gzip stream), else None.

  Raises:
    DataContractError: the file is not gzip although named so, or is UTF-16.
  """
  with open(path, "rb") as stream:
    if compressed:
      # Decompression stops one byte past the limit: a gzip bomb costs
      # at most the limit.
      data, damage, _ = decompress(path, stream, limit=max_bytes + 1)
      too_large = len(data) > max_bytes
    else:
      too_large = os.fstat(stream.fileno()).st_size > max_bytes
      data, damage = (b"", None) if too_large else (stream.read(), None)
  if too_large:
    raise _too_large(path, max_bytes)
  return (*decode(path, data), damage)


def damage_letters(table: str, path: pathlib.Path, line: int, damage: str,
                    rest: str) -> list[dict[str, Any]]:
  """The dead letter for the cut-off record of a truncated file, if any.

  A truncated stream that stops inside a record loses that record: one
  ``damaged_file`` letter holds its text and counts as its row. A stream
  cut at a record boundary (a missing gzip trailer, say) loses no record
  that can be seen: no letter (good + dead stays equal to the rows read),
  a warning instead.
  """
  if not rest.strip("\r\n"):
    _LOG.warning("%s: %s at the end of line %d; every row before it is "
                 "kept and none was cut", path.name, damage, line - 1)
    return []
  return [dead_letter(table, path, line, "damaged_file",
                       f"{path.name}: {damage}; the rows before line {line} "
                       "are kept", {"text": rest[:MAX_QUOTED]})]


class TextLines:
  """Physical lines of a text, with push-back, for re-parsing CSV records.

  ``taken`` holds the lines handed out since the last ``start_record``.
  """

  def __init__(self, text: str):
    self._it = iter(io.StringIO(text, newline=""))
    self._back: list[str] = []
    self.taken: list[str] = []

  def __iter__(self) -> "TextLines":
    return self

  def __next__(self) -> str:
    line = self._back.pop() if self._back else next(self._it)
    self.taken.append(line)
    return line

  def start_record(self) -> None:
    self.taken = []

  def push_back(self, lines: list[str]) -> None:
    self._back.extend(reversed(lines))


def headless_error(path: str | pathlib.PurePath, damage: str
                   ) -> DataContractError:
  """The error for a damaged CSV file that ends before its header does."""
  return DataContractError(f"{path}: {damage}; not even a header could be "
                           "read")
