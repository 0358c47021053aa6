"""TF Serving's config files: protobuf text format, with one-line errors.

``--model_config_file`` and ``--monitoring_config_file`` are protobuf
messages in text format. ``parse_text_proto`` reads one with
``google.protobuf.text_format`` and turns protobuf's parse error into one
line naming the file, line and column (``FILE:LINE:COLUMN: message``).

This module imports no TensorFlow.
"""

from __future__ import annotations

import os
import pathlib
import re
from typing import TypeVar

from google.protobuf import message as proto_message
from google.protobuf import text_format

Message = TypeVar("Message", bound=proto_message.Message)

# protobuf's ParseError text starts with "LINE:COLUMN : ".
_POSITION_RE = re.compile(r"^(\d+):(\d+) : ")


def parse_text_proto(text: str, message: Message, source: str,
                     error: type[ValueError] = ValueError) -> Message:
  """Parses a text-format message into ``message``.

  Args:
    text: the file's content.
    message: an empty message of the file's type (filled and returned).
    source: name used in error messages (usually the file path).
    error: the exception raised on a bad file.

  Returns:
    ``message``.

  Raises:
    error: ``SOURCE:LINE:COLUMN: ...`` for a syntax error, an unknown
      field or a field given twice.
  """
  try:
    return text_format.Parse(text, message)
  except text_format.ParseError as e:
    match = _POSITION_RE.match(str(e))
    where = f"{source}:{match.group(1)}:{match.group(2)}" if match else source
    raise error(f"{where}: {str(e)[match.end() if match else 0:]}") from e


def read_text_proto(path: str | os.PathLike, message: Message, what: str,
                    error: type[ValueError] = ValueError) -> Message:
  """Reads a text-format message from a file.

  Args:
    path: the file.
    message: an empty message of the file's type (filled and returned).
    what: the kind of file, for messages (e.g. ``"model config file"``).
    error: the exception raised on a bad file.

  Returns:
    ``message``.

  Raises:
    error: when the file cannot be read or parsed, naming it.
  """
  path = pathlib.Path(path)
  try:
    text = path.read_text(encoding="utf-8")
  except (OSError, UnicodeDecodeError) as e:
    raise error(f"cannot read {what} {path}: {e}") from e
  return parse_text_proto(text, message, str(path), error)
