"""Canonical error codes of the serving stack and their HTTP statuses.

TF Serving reports every failure as a status (a canonical error code, as in
``tensorflow/core/protobuf/error_codes.proto``, plus a message) and its REST
layer turns the code into an HTTP status with a fixed table. ``StatusError``
carries such a status through ``gfm serve``; the table below is the one TF
Serving's REST server uses, so clients see the same HTTP codes from both.

This module imports nothing heavy (no TensorFlow).
"""

from __future__ import annotations

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

  Attributes:
    code: canonical code name, e.g. ``"INVALID_ARGUMENT"``.
    message: the message shown to the client (``{"error": message}``).
  """

  def __init__(self, code: str, message: str):
    super().__init__(message)
    self.code = code
    self.message = message

  @property
  def http_status(self) -> int:
    """The HTTP status of this error on the REST API."""
    return http_status(self.code)

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
