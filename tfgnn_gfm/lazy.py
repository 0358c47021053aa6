"""Lazy re-exports for packages whose modules import TensorFlow or Beam.

A package ``__init__`` re-exports its public names through PEP 562
``__getattr__``, so importing one light module of it (a config, for
``gfm --help``) does not load TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]
                 ) -> Callable[[str], Any]:
  """Returns a module ``__getattr__`` that imports ``exports[name]`` on use.

  Args:
    package: the package's ``__name__`` (for error messages and relative
      module names).
    exports: public name -> module that defines it (a name relative to
      ``package`` unless it contains a dot).

  Returns:
    The ``__getattr__`` function to assign in the package's ``__init__``.
  """

  def __getattr__(name: str) -> Any:
    if name in exports:
      module = exports[name]
      if "." not in module:
        module = f"{package}.{module}"
      return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module {package!r} has no attribute {name!r}")

  return __getattr__
