"""Stage configuration: a dataclass per stage, from defaults, a file and flags.

Every stage of tfgnn-gfm is configured by a frozen-free ``@dataclass`` whose
field defaults come from docs/DESIGN.md section 6. This module turns such a
dataclass into command-line flags (help text from
``field(metadata={"help": ...})``), loads it from a YAML or JSON file, and
applies the flags the user actually typed on top of the file. The precedence
is: dataclass defaults < a command's preset < ``--config FILE`` < explicit
flags (``load_config``). A field may name older spellings of itself
(``option_help(..., aliases=("old_name",))``): they are accepted as keys of a
file and as flags, and mean the field.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import types
import typing
from typing import Any, Mapping, Type, TypeVar

import yaml

ConfigT = TypeVar("ConfigT")


class ConfigError(ValueError):
  """Raised for an unknown key, a wrong type or an unreadable config file."""


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
  """Returns (inner type, is_optional) for ``Optional[X]`` / ``X | None``."""
  origin = typing.get_origin(tp)
  if origin in (typing.Union, types.UnionType):
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if len(args) == 1:
      return args[0], True
  return tp, False


def _field_types(cls: type) -> dict[str, Any]:
  hints = typing.get_type_hints(cls)
  return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _aliases(cls: type) -> dict[str, str]:
  """Older key -> field name, from the fields' ``aliases`` metadata."""
  out = {}
  for f in dataclasses.fields(cls):
    for alias in f.metadata.get("aliases", ()):
      out[alias] = f.name
  return out


def _coerce(value: Any, tp: Any, name: str) -> Any:
  """Coerces a value read from a file or a flag to the field's declared type."""
  inner, optional = _unwrap_optional(tp)
  if value is None:
    if optional:
      return None
    raise ConfigError(f"config key {name!r} may not be null")
  origin = typing.get_origin(inner)
  try:
    if inner is bool:
      if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
          return True
        if lowered in ("0", "false", "no", "off"):
          return False
        raise ValueError(value)
      return bool(value)
    if inner in (int, float, str):
      if inner is int and isinstance(value, float) and not value.is_integer():
        raise ValueError(value)
      return inner(value)
    if origin in (list, tuple):
      (item_tp, *_) = typing.get_args(inner) or (str,)
      if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
      elif isinstance(value, (int, float)):  # One value: a list of one.
        value = [value]
      items = [_coerce(v, item_tp, name) for v in value]
      return tuple(items) if origin is tuple else items
    if origin is dict or inner is dict:
      if isinstance(value, str):
        value = json.loads(value)
      if not isinstance(value, Mapping):
        raise ValueError(value)
      return dict(value)
  except (TypeError, ValueError) as e:
    raise ConfigError(
        f"config key {name!r}: cannot read {value!r} as {inner}") from e
  return value


def option_help(text: str, **extra: Any) -> dict[str, Any]:
  """Field metadata of a config option: its ``--help`` text and argparse extras.

  Use as ``dataclasses.field(default=..., metadata=option_help("...",
  choices=(...)))``; ``add_config_arguments`` reads ``help``, ``choices`` and
  ``metavar`` from it, and ``aliases`` (older names of the option, still
  accepted as config keys and flags).
  """
  return {"help": text, **extra}


def config_from_dict(cls: Type[ConfigT], values: Mapping[str, Any],
                     base: ConfigT | None = None) -> ConfigT:
  """Builds a config from a mapping, on top of ``base`` (or the defaults).

  Args:
    cls: the stage's config dataclass.
    values: keys are field names or their aliases (``-`` and ``_`` are
      interchangeable).
    base: an instance to update; defaults to ``cls()``.

  Returns:
    A new instance of ``cls``.

  Raises:
    ConfigError: on an unknown key, a value of the wrong type, or a field
      given twice (by its name and an alias).
  """
  types_by_name = _field_types(cls)
  aliases = _aliases(cls)
  updates, given_as = {}, {}
  for key, value in values.items():
    spelled = key.replace("-", "_")
    name = aliases.get(spelled, spelled)
    if name in given_as and (spelled in aliases or given_as[name][1]):
      raise ConfigError(f"config keys {given_as[name][0]!r} and {key!r} both "
                        f"set {name!r} of {cls.__name__}; keep one")
    given_as[name] = (key, spelled in aliases)
    if name not in types_by_name:
      known = ", ".join(sorted(types_by_name))
      raise ConfigError(
          f"unknown config key {key!r} for {cls.__name__}; known keys: {known}")
    updates[name] = _coerce(value, types_by_name[name], name)
  return dataclasses.replace(base if base is not None else cls(), **updates)


def load_config(cls: Type[ConfigT], path: str | pathlib.Path | None = None,
                overrides: Mapping[str, Any] | None = None, *,
                preset: Mapping[str, Any] | None = None) -> ConfigT:
  """Loads a stage config from a YAML or JSON file, then applies overrides.

  The one precedence rule of every stage: dataclass defaults < ``preset``
  (a command's own settings, such as ``gfm demo``'s quick run) < the file <
  ``overrides`` (the flags a user typed). Every key present in the file
  counts, also one whose value equals the dataclass default.

  Args:
    cls: the stage's config dataclass.
    path: a ``.yaml``/``.yml``/``.json`` file holding a mapping of field names,
      or None for the defaults. A file may also hold the config under a key
      named after the stage section (``cls.section``), so one file can
      configure every stage.
    overrides: field values that win over the file.
    preset: field values that win over the defaults but not over the file.

  Returns:
    The config instance.
  """
  config = config_from_dict(cls, preset) if preset else cls()
  if path is not None:
    path = pathlib.Path(path)
    try:
      text = path.read_text(encoding="utf-8")
    except OSError as e:
      raise ConfigError(f"cannot read config file {path}: {e}") from e
    try:
      data = (json.loads(text) if path.suffix == ".json"
              else yaml.safe_load(text)) or {}
    except (json.JSONDecodeError, yaml.YAMLError) as e:
      raise ConfigError(f"config file {path} is not valid: {e}") from e
    if not isinstance(data, Mapping):
      raise ConfigError(f"config file {path} must hold a mapping of keys")
    section = getattr(cls, "section", None)
    if section and isinstance(data.get(section), Mapping):
      data = data[section]
    elif data and all(isinstance(v, Mapping) for v in data.values()):
      data = {}  # A file of stage sections without one for this stage.
    config = config_from_dict(cls, data, config)
  if overrides:
    config = config_from_dict(cls, overrides, config)
  return config


def config_to_dict(config: Any) -> dict[str, Any]:
  """Returns a JSON-serializable dict of a config dataclass (for manifests)."""
  out = {}
  for f in dataclasses.fields(config):
    value = getattr(config, f.name)
    out[f.name] = list(value) if isinstance(value, tuple) else value
  return out


def add_config_arguments(parser: argparse.ArgumentParser, cls: type,
                         skip: tuple[str, ...] = ()) -> None:
  """Adds ``--config`` and one ``--flag`` per field of ``cls`` to a parser.

  Flags default to ``argparse.SUPPRESS`` so that only the flags a user typed
  override the config file (see ``config_from_args``).

  Args:
    parser: the subcommand's parser.
    cls: the stage's config dataclass.
    skip: field names not to expose as flags (e.g. positional arguments).
  """
  group = parser.add_argument_group(
      f"{cls.__name__} (also settable with --config FILE)")
  group.add_argument(
      "--config", default=None, metavar="FILE",
      help="YAML or JSON file with any of the options below; flags win over "
           "it.")
  defaults = cls()
  for f in dataclasses.fields(cls):
    if f.name in skip:
      continue
    tp, _ = _unwrap_optional(_field_types(cls)[f.name])
    default = getattr(defaults, f.name)
    help_text = f.metadata.get("help", "")
    shown = (",".join(map(str, default))
             if isinstance(default, (list, tuple)) else default)
    help_text = f"{help_text} (default: {shown})".strip()
    flags = ["--" + n.replace("_", "-")
             for n in (f.name, *f.metadata.get("aliases", ()))]
    if tp is bool:
      group.add_argument(*flags, dest=f.name,
                         action=argparse.BooleanOptionalAction,
                         default=argparse.SUPPRESS, help=help_text)
    else:
      metavar = f.metadata.get("metavar", f.name.upper())
      choices = f.metadata.get("choices")
      group.add_argument(*flags, dest=f.name, default=argparse.SUPPRESS,
                         metavar=None if choices else metavar, choices=choices,
                         help=help_text)


def config_from_args(cls: Type[ConfigT], args: argparse.Namespace,
                     **forced: Any) -> ConfigT:
  """Builds a config from ``--config FILE`` plus the flags given on the CLI.

  Args:
    cls: the stage's config dataclass.
    args: parsed arguments from a parser set up by ``add_config_arguments``.
    **forced: values that win over everything (e.g. positional arguments).

  Returns:
    The config instance.
  """
  names = {f.name for f in dataclasses.fields(cls)}
  overrides = {k: v for k, v in vars(args).items() if k in names}
  overrides.update({k: v for k, v in forced.items() if v is not None})
  return load_config(cls, getattr(args, "config", None), overrides)
