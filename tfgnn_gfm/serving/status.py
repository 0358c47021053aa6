"""Canonical error codes of the serving stack and their HTTP statuses.

TF Serving reports every failure as a status (a canonical error code, as in
``tensorflow/core/protobuf/error_codes.proto``, plus a message) and its REST
layer turns the code into an HTTP status with a fixed table. ``StatusError``
carries such a status through ``gfm serve``; the table below is the one TF
Serving's REST server uses, so clients see the same HTTP codes from both.

Messages a client sees are bounded (``bounded``) and name no server path
(``without_server_paths``): a hostile value cannot blow up an error body, and
a status or error body does not tell a client where the models live.

This module imports nothing heavy (no TensorFlow).
"""

from __future__ import annotations

import os
import re
from typing import Mapping

OK = "OK"
CANCELLED = "CANCELLED"
UNKNOWN = "UNKNOWN"
INVALID_ARGUMENT = "INVALID_ARGUMENT"
DEADLINE_EXCEEDED = "DEADLINE_EXCEEDED"
NOT_FOUND = "NOT_FOUND"
ALREADY_EXISTS = "ALREADY_EXISTS"
PERMISSION_DENIED = "PERMISSION_DENIED"
RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
FAILED_PRECONDITION = "FAILED_PRECONDITION"
ABORTED = "ABORTED"
OUT_OF_RANGE = "OUT_OF_RANGE"
UNIMPLEMENTED = "UNIMPLEMENTED"
INTERNAL = "INTERNAL"
UNAVAILABLE = "UNAVAILABLE"
DATA_LOSS = "DATA_LOSS"
UNAUTHENTICATED = "UNAUTHENTICATED"

#: Canonical code names by their number (``tf.errors.OpError.error_code``).
CODE_NAMES = (OK, CANCELLED, UNKNOWN, INVALID_ARGUMENT, DEADLINE_EXCEEDED,
              NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED,
              RESOURCE_EXHAUSTED, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE,
              UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS,
              UNAUTHENTICATED)

# TF Serving's mapping from status code to HTTP status (its REST server).
_HTTP_STATUS = {
    OK: 200,
    CANCELLED: 499,
    UNKNOWN: 500,
    INVALID_ARGUMENT: 400,
    DEADLINE_EXCEEDED: 504,
    NOT_FOUND: 404,
    ALREADY_EXISTS: 409,
    PERMISSION_DENIED: 403,
    RESOURCE_EXHAUSTED: 429,
    FAILED_PRECONDITION: 400,
    ABORTED: 409,
    OUT_OF_RANGE: 400,
    UNIMPLEMENTED: 501,
    INTERNAL: 500,
    UNAVAILABLE: 503,
    DATA_LOSS: 500,
    UNAUTHENTICATED: 401,
}


#: Longest message a client is sent (the rest is cut, saying how much).
MAX_MESSAGE_CHARS = 512

# An absolute POSIX path of two or more components, not inside a URL or a
# relative path.
_ABSOLUTE_PATH = re.compile(
    r"(?<![\w.~:/%>-])(?:/[^\s/'\"`<>()\[\]{},;:]+){2,}")


def code_name(code: int) -> str:
  """Returns the canonical name of a numeric error code (UNKNOWN if none)."""
  if 0 <= code < len(CODE_NAMES):
    return CODE_NAMES[code]
  return UNKNOWN


def http_status(code: str) -> int:
  """Returns the HTTP status TF Serving's REST API gives for a code name."""
  return _HTTP_STATUS.get(code, 500)


class StatusError(Exception):
  """A failed request or load: a canonical error code and a message.

  Args:
    code: canonical code name, e.g. ``"INVALID_ARGUMENT"``.
    message: the message shown to the client (``{"error": message}``).
    http_code: the HTTP status, for errors of the HTTP layer that TF
      Serving's code table has no status for (e.g. 413 for a body over the
      size limit); None for the table's.
  """

  def __init__(self, code: str, message: str, http_code: int | None = None):
    super().__init__(message)
    self.code = code
    self.message = message
    self._http_code = http_code

  @property
  def http_status(self) -> int:
    """The HTTP status of this error on the REST API: TF Serving's for the
    code, unless the error was raised with an HTTP-level one (413, 408...)."""
    return self._http_code or http_status(self.code)

  def to_string(self) -> str:
    """``CODE: message``, the form TF Serving nests inside other messages."""
    return f"{self.code}: {self.message}"

  def __repr__(self) -> str:
    return f"StatusError({self.code}, {self.message!r})"


def invalid_argument(message: str) -> StatusError:
  """Returns an INVALID_ARGUMENT error (HTTP 400)."""
  return StatusError(INVALID_ARGUMENT, message)


def not_found(message: str) -> StatusError:
  """Returns a NOT_FOUND error (HTTP 404)."""
  return StatusError(NOT_FOUND, message)


def bounded(text: str, limit: int = MAX_MESSAGE_CHARS, more: int = 0) -> str:
  """``text`` cut to at most ``limit`` characters, saying how many were cut.

  Args:
    text: a message, or a client's value quoted in one.
    limit: the most characters returned, the note on the cut included (so
      a bounded text is not cut again).
    more: characters already cut off the end of ``text``, for the count.

  Returns:
    ``text``, or its start and ``... (N more characters)``.
  """
  if len(text) <= limit and not more:
    return text
  longest_note = len(f"... ({len(text) + more} more characters)")
  keep = max(0, min(len(text), limit - longest_note))
  return f"{text[:keep]}... ({len(text) - keep + more} more characters)"


def without_server_paths(message: str,
                         known: Mapping[str, str] | None = None,
                         limit: int = MAX_MESSAGE_CHARS) -> str:
  """A message as a client may see it: no server paths, and bounded.

  Args:
    message: e.g. a load error or a model's error message.
    known: paths to replace by a label (``{base_path: "<base_path>"}``);
      each also matches in its absolute and resolved (symlink-free) forms.
      Any other absolute path is shortened to ``.../LAST_COMPONENT``.
    limit: the most characters returned (see ``bounded``); only the start
      of a long message is searched for paths, so hostile input costs
      little.

  Returns:
    The message without server paths, cut to ``limit``.
  """
  window = message[:2 * limit]
  replacements = {}
  for path, label in (known or {}).items():
    for form in (path, os.path.abspath(path), os.path.realpath(path)):
      if len(form.strip(os.sep)) > 0:
        replacements[form.rstrip(os.sep)] = label
  for path in sorted(replacements, key=len, reverse=True):
    window = window.replace(path, replacements[path])
  window = _ABSOLUTE_PATH.sub(
      lambda m: ".../" + m.group(0).rsplit("/", 1)[1], window)
  return bounded(window, limit, more=len(message) - min(len(message),
                                                         2 * limit))
