"""How every command line runs a command: logging, and user errors as one line.

``gfm`` and ``python -m beam.build_graph`` both run through
``run_reporting_errors``: a known user error (bad configuration, a missing or
damaged input, a data contract violation) prints ``PROG: error: MESSAGE`` and
returns the error's ``exit_code`` (2 unless it says otherwise: 3 for a table
without rows) instead of a traceback; ``--verbose`` re-raises it.
"""

from __future__ import annotations

import logging
import sys
from typing import Callable

from tfgnn_gfm.artifacts import ArtifactError
from tfgnn_gfm.config import ConfigError

#: The exceptions a command reports as one line (anything else is a bug and
#: keeps its traceback).
USER_ERRORS = (ConfigError, ArtifactError, FileNotFoundError, ValueError)


def setup_logging(verbose: bool) -> None:
  """INFO logs (DEBUG with ``--verbose``) with time, level and logger."""
  logging.basicConfig(
      level=logging.DEBUG if verbose else logging.INFO,
      format="%(asctime)s %(levelname)s %(name)s: %(message)s",
      datefmt="%H:%M:%S")


def run_reporting_errors(prog: str, command: Callable[[], int | None], *,
                         verbose: bool = False) -> int:
  """Runs ``command``; returns its exit code (None: 0).

  Args:
    prog: the name the error line starts with (``gfm evaluate``).
    command: the command to run.
    verbose: re-raise user errors (with their traceback).

  Returns:
    The command's code, or the user error's ``exit_code`` (default 2).
  """
  try:
    return int(command() or 0)
  except USER_ERRORS as e:
    if verbose:
      raise
    print(f"{prog}: error: {e}", file=sys.stderr)
    return getattr(e, "exit_code", 2)
