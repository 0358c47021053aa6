"""The public API is pinned: each package's names against a checked-in list.

As TF-GNN's ``api_def`` symbol lists do, ``tests/api/public_api.txt`` holds
every public name each package re-exports (``package: name`` per line), so
adding or losing one is a deliberate change of that file. A package declares
its names once: the ``from ... import`` lines of an eager ``__init__`` or the
``_EXPORTS`` table of a lazy one (``tfgnn_gfm.lazy``).

No public name may be shadowed by a submodule of the same name: importing
the submodule would rebind the package attribute (the bug where
``twotower.evaluate`` was a function on first use and a module after).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pathlib
import pkgutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "api" / "public_api.txt"
TOP_PACKAGES = ("tfgnn_gfm", "beam")


def _packages() -> list[str]:
  out = []
  for top in TOP_PACKAGES:
    out.append(top)
    path = ROOT / top
    for info in pkgutil.walk_packages([str(path)], prefix=f"{top}."):
      if info.ispkg:
        out.append(info.name)
  return sorted(out)


def _declared(package: str) -> list[str]:
  """Names the package's __init__ declares public (imports, _EXPORTS keys)."""
  init = ROOT / package.replace(".", "/") / "__init__.py"
  tree = ast.parse(init.read_text(encoding="utf-8"))
  names = set()
  for node in tree.body:
    if isinstance(node, ast.ImportFrom):
      names.update(a.asname or a.name for a in node.names)
    elif isinstance(node, ast.Assign) and any(
        isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets):
      names.update(k.value for k in node.value.keys)
  return sorted(n for n in names if not n.startswith("_") or n == "__version__")


def _current() -> list[str]:
  return [f"{p}: {n}" for p in _packages() for n in _declared(p)]


def test_public_names_equal_the_checked_in_list():
  expected = [line for line in GOLDEN.read_text(encoding="utf-8").splitlines()
              if line and not line.startswith("#")]
  current = _current()
  added = sorted(set(current) - set(expected))
  lost = sorted(set(expected) - set(current))
  assert not added and not lost, (
      f"public API changed: added {added}, lost {lost}. If deliberate, update "
      f"{GOLDEN.relative_to(ROOT)} (one 'package: name' line each).")


def test_lazy_packages_declare_all_once():
  for package in _packages():
    module = importlib.import_module(package)
    if "_EXPORTS" in vars(module):
      assert module.__all__ == sorted(module._EXPORTS), package


def _module_reexports(package: str) -> set[str]:
  """Submodules the __init__ re-exports as modules (``from pkg import mod``)."""
  init = ROOT / package.replace(".", "/") / "__init__.py"
  tree = ast.parse(init.read_text(encoding="utf-8"))
  return {a.asname or a.name for node in tree.body
          if isinstance(node, ast.ImportFrom) and node.module == package
          for a in node.names}


@pytest.mark.parametrize("package", _packages())
def test_no_public_name_is_shadowed_by_a_submodule(package):
  module = importlib.import_module(package)
  submodules = {info.name for info in pkgutil.iter_modules(module.__path__)}
  clashes = set(_declared(package)) & submodules
  assert clashes <= _module_reexports(package), (
      f"{package}: public names {sorted(clashes)} are also submodules; "
      "importing the submodule rebinds the name: rename one of them")
  before = {n: getattr(module, n) for n in _declared(package)}
  for name in submodules:  # Importing every submodule rebinds nothing.
    importlib.import_module(f"{package}.{name}")
  for n, value in before.items():
    assert getattr(module, n) is value, f"{package}.{n} was rebound"


def test_documented_python_api_survives_second_use():
  """twotower.README's Python API: train_2t then evaluate, both functions."""
  from tfgnn_gfm import evaluation, serving, twotower
  assert callable(twotower.train_2t)
  importlib.import_module("tfgnn_gfm.evaluation.protocol")
  importlib.import_module("tfgnn_gfm.evaluation.stage")
  assert inspect.isfunction(evaluation.evaluate)
  assert inspect.isfunction(evaluation.evaluate)
  assert inspect.isfunction(serving.walkthrough)
  assert inspect.isfunction(serving.walkthrough)
