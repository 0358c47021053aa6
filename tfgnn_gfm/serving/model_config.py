"""TF Serving's ModelServerConfig text proto: a strict parser for its core.

``tensorflow_model_server --model_config_file`` reads a
``tensorflow.serving.ModelServerConfig`` in protobuf text format. The
TF Serving protos are not installed here, so this module parses the subset
that matters for serving SavedModels from a file system, and rejects
anything else with the file name and line number::

  model_config_list {
    config {
      name: "gfm_retrieval"                 # required, unique
      base_path: "/models/gfm_retrieval"    # required
      model_platform: "tensorflow"          # only "tensorflow"
      model_version_policy {                # optional; default latest 1
        latest { num_versions: 1 }          # or: all {}
                                            # or: specific { versions: 3 }
      }
      version_labels { key: "stable" value: 3 }   # repeated
    }
  }

Text format details accepted: ``#`` comments, single- or double-quoted
strings (C escapes, adjacent strings concatenated), an optional ``:`` before
a message, ``{}`` or ``<>`` around messages, ``,`` or ``;`` after a field,
and ``[a, b]`` lists for repeated numbers.

This module imports nothing heavy.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import re
from typing import Any, Mapping

_LOG = logging.getLogger(__name__)

LATEST = "latest"
ALL = "all"
SPECIFIC = "specific"

_LABEL_RE = re.compile(r"^[A-Za-z0-9_]+$")
_INT64_MAX = 2**63 - 1


class ModelConfigError(ValueError):
  """A model server config that cannot be read, with file and line."""


@dataclasses.dataclass(frozen=True)
class VersionPolicy:
  """Which versions of a model are served (``ServableVersionPolicy``).

  Attributes:
    kind: ``"latest"`` (the ``num_versions`` highest), ``"all"`` or
      ``"specific"`` (exactly ``versions``).
    num_versions: for ``latest``.
    versions: for ``specific``.
  """

  kind: str = LATEST
  num_versions: int = 1
  versions: tuple[int, ...] = ()

  def select(self, available: set[int] | frozenset[int]) -> set[int]:
    """The versions to serve among those available on disk."""
    if self.kind == ALL:
      return set(available)
    if self.kind == SPECIFIC:
      return set(available) & set(self.versions)
    return set(sorted(available, reverse=True)[:max(self.num_versions, 1)])


@dataclasses.dataclass(frozen=True)
class ModelConfig:
  """One served model (``tensorflow.serving.ModelConfig``).

  Attributes:
    name: model name, the ``NAME`` of ``/v1/models/NAME``.
    base_path: folder holding one integer-named subfolder per version.
    model_platform: always ``"tensorflow"``.
    version_policy: which versions to serve.
    version_labels: label -> version, for ``/v1/models/NAME/labels/LABEL``.
  """

  name: str
  base_path: str
  model_platform: str = "tensorflow"
  version_policy: VersionPolicy = VersionPolicy()
  version_labels: Mapping[str, int] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ModelServerConfig:
  """The models one server serves (``tensorflow.serving.ModelServerConfig``).

  Attributes:
    models: the models, in file order.
  """

  models: tuple[ModelConfig, ...]

  def model(self, name: str) -> ModelConfig | None:
    """The config of a model by name, or None."""
    for model in self.models:
      if model.name == name:
        return model
    return None


def single_model_config(name: str, base_path: str | os.PathLike
                        ) -> ModelServerConfig:
  """The config of ``--model_name NAME --model_base_path PATH``.

  Args:
    name: model name.
    base_path: its base path (made absolute).

  Returns:
    A config with that one model, latest version policy.
  """
  if not name:
    raise ModelConfigError("the model name must not be empty")
  return ModelServerConfig((ModelConfig(
      name=name, base_path=os.path.abspath(os.fspath(base_path))),))


# -- Text format tokens --------------------------------------------------------

_TOKEN_RE = re.compile(r"""
    (?P<space>[ \t\r\f\v]+) |
    (?P<newline>\n) |
    (?P<comment>\#[^\n]*) |
    (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*') |
    (?P<number>[-+]?(?:0[xX][0-9A-Fa-f]+|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)) |
    (?P<ident>[A-Za-z_][A-Za-z0-9_.]*) |
    (?P<symbol>[{}<>:\[\],;])
""", re.VERBOSE)

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"',
            "a": "\a", "b": "\b", "f": "\f", "v": "\v", "?": "?"}


@dataclasses.dataclass(frozen=True)
class _Token:
  kind: str
  text: str
  line: int


def _unquote(text: str, error) -> str:
  body = text[1:-1]
  out = []
  i = 0
  while i < len(body):
    char = body[i]
    if char != "\\":
      out.append(char)
      i += 1
      continue
    nxt = body[i + 1]
    if nxt in _ESCAPES:
      out.append(_ESCAPES[nxt])
      i += 2
    elif nxt in "xX":
      match = re.match(r"[0-9A-Fa-f]{1,2}", body[i + 2:])
      if not match:
        raise error(f"bad escape in string {text}")
      out.append(chr(int(match.group(), 16)))
      i += 2 + len(match.group())
    elif nxt in "01234567":
      match = re.match(r"[0-7]{1,3}", body[i + 1:])
      out.append(chr(int(match.group(), 8)))
      i += 1 + len(match.group())
    else:
      raise error(f"bad escape \\{nxt} in string {text}")
  return "".join(out)


def _tokenize(text: str, source: str) -> list[_Token]:
  tokens = []
  line = 1
  pos = 0
  while pos < len(text):
    match = _TOKEN_RE.match(text, pos)
    if not match:
      snippet = text[pos:pos + 20].split("\n")[0]
      raise ModelConfigError(f"{source}:{line}: unexpected text {snippet!r}")
    kind = match.lastgroup
    if kind == "newline":
      line += 1
    elif kind not in ("space", "comment"):
      tokens.append(_Token(kind, match.group(), line))
    pos = match.end()
  tokens.append(_Token("end", "", line))
  return tokens


# -- Schema of the accepted subset ---------------------------------------------

# field name -> (kind, repeated, message type or None); kinds: "message",
# "string", "int", "unsupported".
_SCHEMA: dict[str, dict[str, tuple[str, bool, str | None]]] = {
    "ModelServerConfig": {
        "model_config_list": ("message", False, "ModelConfigList"),
        "custom_model_config": ("unsupported", False, None),
    },
    "ModelConfigList": {
        "config": ("message", True, "ModelConfig"),
    },
    "ModelConfig": {
        "name": ("string", False, None),
        "base_path": ("string", False, None),
        "model_platform": ("string", False, None),
        "model_version_policy": ("message", False, "ServableVersionPolicy"),
        "version_labels": ("message", True, "VersionLabel"),
        "model_type": ("unsupported", False, None),
        "logging_config": ("unsupported", False, None),
    },
    "ServableVersionPolicy": {
        "latest": ("message", False, "Latest"),
        "all": ("message", False, "All"),
        "specific": ("message", False, "Specific"),
    },
    "Latest": {"num_versions": ("int", False, None)},
    "All": {},
    "Specific": {"versions": ("int", True, None)},
    "VersionLabel": {
        "key": ("string", False, None),
        "value": ("int", False, None),
    },
}


@dataclasses.dataclass
class _Message:
  type_name: str
  line: int
  fields: dict[str, Any] = dataclasses.field(default_factory=dict)
  lines: dict[str, int] = dataclasses.field(default_factory=dict)


class _Parser:
  """Recursive-descent parser of text-format messages against _SCHEMA."""

  def __init__(self, text: str, source: str):
    self.source = source
    self.tokens = _tokenize(text, source)
    self.pos = 0

  def error(self, message: str, line: int | None = None) -> ModelConfigError:
    line = self.peek().line if line is None else line
    return ModelConfigError(f"{self.source}:{line}: {message}")

  def peek(self) -> _Token:
    return self.tokens[self.pos]

  def take(self) -> _Token:
    token = self.tokens[self.pos]
    self.pos += 1
    return token

  def accept(self, text: str) -> bool:
    if self.peek().kind == "symbol" and self.peek().text == text:
      self.pos += 1
      return True
    return False

  def parse(self) -> _Message:
    message = self.message("ModelServerConfig", line=1, close="end")
    return message

  def message(self, type_name: str, line: int, close: str) -> _Message:
    schema = _SCHEMA[type_name]
    message = _Message(type_name, line)
    while True:
      token = self.peek()
      if close == "end" and token.kind == "end":
        return message
      if token.kind == "symbol" and token.text == close:
        self.take()
        return message
      if token.kind == "end":
        raise self.error(f"missing '{close}' to close the {type_name} opened "
                         f"on line {line}")
      if token.kind != "ident":
        raise self.error(f"expected a field name of {type_name}, got "
                         f"{token.text!r}")
      self.take()
      name = token.text
      if name not in schema:
        known = ", ".join(sorted(schema)) or "none"
        raise self.error(f"unknown field {name!r} in {type_name} (known: "
                         f"{known})", token.line)
      kind, repeated, sub_type = schema[name]
      if kind == "unsupported":
        raise self.error(f"field {name!r} of {type_name} is not supported by "
                         "gfm serve", token.line)
      if kind == "message":
        self.accept(":")
        if self.accept("{"):
          value = self.message(sub_type, token.line, "}")
        elif self.accept("<"):
          value = self.message(sub_type, token.line, ">")
        else:
          raise self.error(f"expected '{{' after {name!r}")
        values = [value]
      else:
        if not self.accept(":"):
          raise self.error(f"expected ':' after {name!r}")
        if self.accept("["):
          if not repeated:
            raise self.error(f"field {name!r} is not repeated; a list is not "
                             "allowed", token.line)
          values = []
          if not self.accept("]"):
            while True:
              values.append(self.scalar(kind, name))
              if self.accept("]"):
                break
              if not self.accept(","):
                raise self.error("expected ',' or ']' in the list of "
                                 f"{name!r}")
        else:
          values = [self.scalar(kind, name)]
      if repeated:
        message.fields.setdefault(name, []).extend(values)
      else:
        if name in message.fields:
          raise self.error(f"field {name!r} of {type_name} given twice (first "
                           f"on line {message.lines[name]})", token.line)
        message.fields[name] = values[0]
      message.lines.setdefault(name, token.line)
      if not self.accept(","):
        self.accept(";")

  def scalar(self, kind: str, name: str) -> Any:
    token = self.peek()
    if kind == "string":
      if token.kind != "string":
        raise self.error(f"field {name!r} needs a quoted string, got "
                         f"{token.text!r}")
      parts = []
      while self.peek().kind == "string":
        parts.append(_unquote(self.take().text, self.error))
      return "".join(parts)
    if token.kind != "number" or not re.fullmatch(
        r"[-+]?(0[xX][0-9A-Fa-f]+|\d+)", token.text):
      raise self.error(f"field {name!r} needs an integer, got {token.text!r}")
    self.take()
    return int(token.text, 0) if "x" in token.text.lower() else int(token.text)


# -- From parsed messages to configs -------------------------------------------


def _policy(message: _Message, error) -> VersionPolicy:
  chosen = [name for name in ("latest", "all", "specific")
            if name in message.fields]
  if len(chosen) > 1:
    raise error(f"model_version_policy sets {' and '.join(chosen)}; choose one",
                message.lines[chosen[1]])
  if not chosen or chosen[0] == LATEST:
    latest = message.fields.get("latest")
    num = latest.fields.get("num_versions", 0) if latest else 0
    if num < 0:
      raise error("latest.num_versions must be >= 0", latest.line)
    return VersionPolicy(LATEST, num_versions=max(num, 1))
  if chosen[0] == ALL:
    return VersionPolicy(ALL)
  specific = message.fields["specific"]
  versions = tuple(specific.fields.get("versions", ()))
  if not versions:
    raise error("specific policy lists no versions", specific.line)
  if any(v < 0 or v > _INT64_MAX for v in versions):
    raise error("versions must be non-negative int64 values", specific.line)
  return VersionPolicy(SPECIFIC, versions=tuple(sorted(set(versions))))


def _model(message: _Message, error, base_dir: pathlib.Path | None
           ) -> ModelConfig:
  name = message.fields.get("name", "")
  if not name:
    raise error("a config has no name", message.line)
  base_path = message.fields.get("base_path", "")
  if not base_path:
    raise error(f"model {name!r} has no base_path", message.line)
  if "://" not in base_path and not os.path.isabs(base_path):
    resolved = os.path.abspath(os.path.join(base_dir or ".", base_path))
    _LOG.warning("model %s: relative base_path %r read as %s (TF Serving "
                 "requires absolute paths)", name, base_path, resolved)
    base_path = resolved
  platform = message.fields.get("model_platform", "tensorflow")
  if platform != "tensorflow":
    raise error(f"model {name!r}: model_platform {platform!r} is not "
                "supported (only 'tensorflow')",
                message.lines.get("model_platform", message.line))
  policy_message = message.fields.get("model_version_policy")
  policy = _policy(policy_message, error) if policy_message else VersionPolicy()
  labels: dict[str, int] = {}
  for entry in message.fields.get("version_labels", []):
    key = entry.fields.get("key", "")
    if not _LABEL_RE.match(key):
      raise error(f"model {name!r}: version label {key!r} must be letters, "
                  "digits and underscores", entry.line)
    if "value" not in entry.fields:
      raise error(f"model {name!r}: version label {key!r} has no value",
                  entry.line)
    if key in labels:
      raise error(f"model {name!r}: version label {key!r} given twice",
                  entry.line)
    labels[key] = entry.fields["value"]
  return ModelConfig(name=name, base_path=base_path, model_platform=platform,
                     version_policy=policy, version_labels=labels)


def parse_model_server_config(text: str, source: str = "<config>",
                              base_dir: str | os.PathLike | None = None
                              ) -> ModelServerConfig:
  """Parses a ModelServerConfig text proto.

  Args:
    text: the file's content.
    source: name used in error messages (usually the file path).
    base_dir: folder against which relative base paths are resolved
      (default: the current directory). TF Serving itself requires
      absolute base paths.

  Returns:
    The config.

  Raises:
    ModelConfigError: on any syntax error, unknown or unsupported field,
      duplicate model name or invalid value, naming the line.
  """
  parser = _Parser(text, source)
  root = parser.parse()

  def error(message: str, line: int) -> ModelConfigError:
    return ModelConfigError(f"{source}:{line}: {message}")

  config_list = root.fields.get("model_config_list")
  if config_list is None:
    raise error("no model_config_list (the only supported config)", 1)
  models = []
  seen: dict[str, int] = {}
  for message in config_list.fields.get("config", []):
    model = _model(message, error,
                   pathlib.Path(base_dir) if base_dir is not None else None)
    if model.name in seen:
      raise error(f"Illegal to list model {model.name} multiple times in "
                  f"config list (first on line {seen[model.name]})",
                  message.line)
    seen[model.name] = message.line
    models.append(model)
  if not models:
    raise error("model_config_list has no config", config_list.line)
  return ModelServerConfig(tuple(models))


def load_model_server_config(path: str | os.PathLike) -> ModelServerConfig:
  """Reads a ModelServerConfig text proto file.

  Relative base paths in it are resolved against the file's folder.

  Args:
    path: the ``--model_config_file``.

  Returns:
    The config.

  Raises:
    ModelConfigError: if the file cannot be read or parsed.
  """
  path = pathlib.Path(path)
  try:
    text = path.read_text(encoding="utf-8")
  except (OSError, UnicodeDecodeError) as e:
    raise ModelConfigError(f"cannot read model config file {path}: {e}") from e
  return parse_model_server_config(text, source=str(path),
                                   base_dir=path.resolve().parent)
