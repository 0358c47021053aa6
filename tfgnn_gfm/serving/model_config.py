"""TF Serving's ModelServerConfig (``--model_config_file``), read and written
with TF Serving's own protos.

``tensorflow_model_server --model_config_file`` reads a
``tensorflow.serving.ModelServerConfig`` in protobuf text format; so does
``gfm serve``. The file is parsed by ``google.protobuf.text_format``
(``text_proto``) into
``tensorflow_serving.config.model_server_config_pb2.ModelServerConfig``
(tensorflow-serving-api), then checked for what ``gfm serve`` serves::

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

Every error is one line naming the file: ``FILE:LINE:COLUMN: ...`` for a
syntax error, an unknown field or a field given twice (protobuf's parser),
``FILE: model 'NAME': ...`` for a value ``gfm serve`` does not accept
(``custom_model_config``, ``logging_config``, another platform, a bad
label, ...).

This module imports no TensorFlow (the config protos need protobuf only).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import re
from typing import Mapping

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from tfgnn_gfm.serving.text_proto import parse_text_proto, read_text_proto

_LOG = logging.getLogger(__name__)

LATEST = "latest"
ALL = "all"
SPECIFIC = "specific"
PLATFORM = "tensorflow"

_LABEL_RE = re.compile(r"^[A-Za-z0-9_]+$")


class ModelConfigError(ValueError):
  """A model server config that cannot be read, naming the file."""


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
    """The versions to serve among those available on disk.

    Args:
      available: versions found under the base path.

    Returns:
      The subset to serve.
    """
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
  model_platform: str = PLATFORM
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

  def to_proto(self) -> model_server_config_pb2.ModelServerConfig:
    """This config as TF Serving's ``ModelServerConfig`` message."""
    proto = model_server_config_pb2.ModelServerConfig()
    for model in self.models:
      entry = proto.model_config_list.config.add(
          name=model.name, base_path=model.base_path,
          model_platform=model.model_platform)
      policy = model.version_policy
      if policy.kind == ALL:
        entry.model_version_policy.all.SetInParent()
      elif policy.kind == SPECIFIC:
        entry.model_version_policy.specific.versions.extend(policy.versions)
      elif policy != VersionPolicy():
        entry.model_version_policy.latest.num_versions = policy.num_versions
      entry.version_labels.update(model.version_labels)
    return proto


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


def _policy(proto, error) -> VersionPolicy:
  chosen = proto.WhichOneof("policy_choice")
  if chosen in (None, LATEST):
    return VersionPolicy(LATEST, num_versions=max(proto.latest.num_versions,
                                                  1))
  if chosen == ALL:
    return VersionPolicy(ALL)
  versions = tuple(sorted(set(proto.specific.versions)))
  if not versions:
    raise error("the specific version policy lists no versions")
  if versions[0] < 0:
    raise error(f"version {versions[0]} of the specific policy is negative")
  return VersionPolicy(SPECIFIC, versions=versions)


def _model(proto, index: int, source: str, base_dir: pathlib.Path | None
           ) -> ModelConfig:
  """Checks one ``ModelConfig`` message and turns it into a ModelConfig."""
  name = proto.name

  def error(message: str) -> ModelConfigError:
    which = f"model {name!r}" if name else f"config {index + 1}"
    return ModelConfigError(f"{source}: {which}: {message}")

  if not name:
    raise error("a config has no name")
  if not proto.base_path:
    raise error("it has no base_path")
  if proto.HasField("logging_config"):
    raise error("field 'logging_config' is not supported by gfm serve")
  if proto.model_type:
    raise error("field 'model_type' (deprecated in TF Serving) is not "
                "supported by gfm serve; use model_platform")
  platform = proto.model_platform or PLATFORM
  if platform != PLATFORM:
    raise error(f"model_platform {platform!r} is not supported (only "
                f"{PLATFORM!r})")
  base_path = proto.base_path
  if "://" not in base_path and not os.path.isabs(base_path):
    resolved = os.path.abspath(os.path.join(base_dir or ".", base_path))
    _LOG.warning("model %s: relative base_path %r read as %s (TF Serving "
                 "requires absolute paths)", name, base_path, resolved)
    base_path = resolved
  for label in sorted(proto.version_labels):
    if not _LABEL_RE.match(label):
      raise error(f"version label {label!r} must be letters, digits and "
                  "underscores")
  return ModelConfig(name=name, base_path=base_path, model_platform=platform,
                     version_policy=_policy(proto.model_version_policy, error),
                     version_labels=dict(proto.version_labels))


def from_proto(proto: model_server_config_pb2.ModelServerConfig,
               source: str = "<config>",
               base_dir: str | os.PathLike | None = None
               ) -> ModelServerConfig:
  """Checks a ``ModelServerConfig`` message and turns it into a config.

  Args:
    proto: the message.
    source: name used in error messages (usually the file path).
    base_dir: folder against which relative base paths are resolved
      (default: the current directory).

  Returns:
    The config.

  Raises:
    ModelConfigError: for what gfm serve does not serve (no model list, a
      custom config, a duplicate name, another platform, a bad label...).
  """
  if proto.HasField("custom_model_config"):
    raise ModelConfigError(f"{source}: custom_model_config is not supported "
                           "by gfm serve (use model_config_list)")
  if not proto.HasField("model_config_list"):
    raise ModelConfigError(f"{source}: no model_config_list (the only "
                           "supported config)")
  configs = proto.model_config_list.config
  if not configs:
    raise ModelConfigError(f"{source}: model_config_list has no config")
  base = pathlib.Path(base_dir) if base_dir is not None else None
  models = []
  seen: dict[str, int] = {}
  for index, message in enumerate(configs):
    model = _model(message, index, source, base)
    if model.name in seen:
      raise ModelConfigError(
          f"{source}: Illegal to list model {model.name} multiple times in "
          f"config list (configs {seen[model.name] + 1} and {index + 1})")
    seen[model.name] = index
    models.append(model)
  return ModelServerConfig(tuple(models))


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
    ModelConfigError: on a syntax error, an unknown field or one given
      twice (``SOURCE:LINE:COLUMN: ...``), or a value gfm serve does not
      serve (``SOURCE: model 'NAME': ...``).
  """
  proto = parse_text_proto(text, model_server_config_pb2.ModelServerConfig(),
                           source, ModelConfigError)
  return from_proto(proto, source, base_dir)


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
  proto = read_text_proto(path, model_server_config_pb2.ModelServerConfig(),
                          "model config file", ModelConfigError)
  return from_proto(proto, str(path), path.resolve().parent)


def model_server_config_text(config: ModelServerConfig) -> str:
  """A config as a ``--model_config_file`` (ModelServerConfig text proto).

  Args:
    config: the models.

  Returns:
    The text proto, as protobuf's ``text_format`` writes it; TF Serving and
    ``parse_model_server_config`` read it back.
  """
  return text_format.MessageToString(config.to_proto())
