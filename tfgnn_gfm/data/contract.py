"""The input data contract (docs/DESIGN.md section 2), read from ``schemas/``.

Each table's Frictionless Table Schema is the single source of truth: the reader
validates against it, the README documents it, and tests check examples in it.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import json
import pathlib
from typing import Any

from tfgnn_gfm.artifacts import TABLES

FIELD_TYPES = ("string", "number", "integer", "datetime", "array")


@dataclasses.dataclass(frozen=True)
class FieldSpec:
  """One column of a table.

  Attributes:
    name: column name.
    type: one of FIELD_TYPES.
    required: the column must exist and every value must be non-empty.
    default: value used when an optional column is absent or a value is empty.
    description: what the column means.
    minimum: the smallest valid value of a number (None: any).
    max_length: the most characters of a string (None: any).
  """

  name: str
  type: str
  required: bool = False
  default: Any = None
  description: str = ""
  minimum: float | None = None
  max_length: int | None = None


@dataclasses.dataclass(frozen=True)
class TableSpec:
  """A table of the contract: its fields, primary key and foreign keys."""

  name: str
  fields: tuple[FieldSpec, ...]
  primary_key: tuple[str, ...]
  foreign_keys: tuple[tuple[str, str, str], ...]  # (field, table, field)
  description: str = ""

  @property
  def field_names(self) -> tuple[str, ...]:
    return tuple(f.name for f in self.fields)

  @property
  def required(self) -> tuple[str, ...]:
    return tuple(f.name for f in self.fields if f.required)

  def field(self, name: str) -> FieldSpec:
    for f in self.fields:
      if f.name == name:
        return f
    raise KeyError(f"table {self.name!r} has no field {name!r}")


def _parse(raw: dict[str, Any]) -> TableSpec:
  fields = []
  for f in raw["fields"]:
    if f["type"] not in FIELD_TYPES:
      raise ValueError(f"schema {raw['name']}: unknown type {f['type']!r}")
    constraints = f.get("constraints", {})
    fields.append(FieldSpec(
        name=f["name"], type=f["type"],
        required=bool(constraints.get("required", False)),
        default=f.get("default"), description=f.get("description", ""),
        minimum=constraints.get("minimum"),
        max_length=constraints.get("maxLength")))
  foreign = tuple((fk["fields"][0], fk["reference"]["resource"],
                   fk["reference"]["fields"][0])
                  for fk in raw.get("foreignKeys", []))
  return TableSpec(name=raw["name"], fields=tuple(fields),
                   primary_key=tuple(raw.get("primaryKey", [])),
                   foreign_keys=foreign, description=raw.get("description", ""))


@functools.lru_cache(maxsize=None)
def table_spec(table: str) -> TableSpec:
  """Returns the contract of ``table`` (items, interactions or users)."""
  if table not in TABLES:
    raise ValueError(f"unknown table {table!r}; the contract has {TABLES}")
  return _parse(json.loads((_schema_dir() / f"{table}.schema.json").read_text(
      encoding="utf-8")))


def _schema_dir():
  """``schemas/`` beside this package in a source tree, else the installed copy.

  An editable install maps ``tfgnn_gfm.schemas`` to the checkout it was made
  from; a second checkout (a git worktree) must read its own schemas.
  """
  source = pathlib.Path(__file__).resolve().parents[2] / "schemas"
  if (source / "items.schema.json").exists():
    return source
  return importlib.resources.files("tfgnn_gfm.schemas")
