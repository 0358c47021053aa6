"""Atomic outputs: a stage's directory or file is replaced only on success.

A stage writes into a temporary sibling directory and swaps it with the final
path only when it has finished, so a crash mid-run never corrupts an earlier
good output, the output path exists at every moment, and the next run removes
what a killed run left behind.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import logging
import os
import pathlib
import shutil
import uuid
from typing import Iterator

_LOG = logging.getLogger(__name__)

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: pathlib.Path, b: pathlib.Path) -> bool:
  """Swaps two paths in one atomic step (Linux ``renameat2``); False when the
  platform or file system cannot."""
  try:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = libc.renameat2
  except (OSError, AttributeError):
    return False
  renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                        ctypes.c_char_p, ctypes.c_uint]
  if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b),
               _RENAME_EXCHANGE) == 0:
    return True
  error = ctypes.get_errno()
  if error in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EXDEV):
    return False
  raise OSError(error, f"cannot swap {a} and {b}: {os.strerror(error)}")


def _pid_alive(pid: int) -> bool:
  try:
    os.kill(pid, 0)
  except ProcessLookupError:
    return False
  except PermissionError:
    return True
  return True


def remove_leftovers(final: str | os.PathLike) -> list[pathlib.Path]:
  """Deletes the ``.NAME.tmp-*`` / ``.NAME.old-*`` siblings of a killed run.

  A sibling is named ``.NAME.tmp-<pid>-<hex>`` by the process that made it;
  it is left alone while that process is alive (another run of the stage at
  the same time), and removed otherwise. Names without a pid (older runs)
  are always removed.

  Args:
    final: a stage's output directory.

  Returns:
    The paths removed.
  """
  final = pathlib.Path(final)
  if not final.parent.is_dir():
    return []
  removed = []
  for kind in ("tmp", "old"):
    for path in final.parent.glob(f".{glob.escape(final.name)}.{kind}-*"):
      pid, _, rest = path.name[len(final.name) + len(kind) + 3:].partition("-")
      if rest and pid.isdigit() and (int(pid) == os.getpid()
                                     or _pid_alive(int(pid))):
        continue
      if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
      else:
        path.unlink(missing_ok=True)
      removed.append(path)
  return removed


@contextlib.contextmanager
def atomic_directory(final: str | os.PathLike) -> Iterator[pathlib.Path]:
  """Yields a temporary directory that replaces ``final`` only on success.

  The temporary directory is a sibling of ``final`` (same file system). If
  the body raises, it is deleted and ``final`` is left exactly as it was. On
  success it takes ``final``'s place in one atomic swap (``renameat2`` with
  ``RENAME_EXCHANGE``), so ``final`` exists at every moment, holding either
  the old or the new output; where the platform cannot swap, the old output
  is moved aside and the new one renamed in (a gap of one rename). Leftovers
  of a killed earlier run (``remove_leftovers``) are deleted first.

  Args:
    final: the directory the stage's output should end up in.

  Yields:
    The temporary directory to write into.
  """
  final = pathlib.Path(final)
  final.parent.mkdir(parents=True, exist_ok=True)
  for path in remove_leftovers(final):
    _LOG.info("removed %s, left by a killed run", path)
  tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
  tmp = final.parent / f".{final.name}.tmp-{tag}"
  tmp.mkdir()
  try:
    yield tmp
  except BaseException:
    shutil.rmtree(tmp, ignore_errors=True)
    raise
  if os.path.lexists(final) and _exchange(tmp, final):
    shutil.rmtree(tmp, ignore_errors=True)  # Now holds the old output.
    return
  old = None
  if os.path.lexists(final):
    old = final.parent / f".{final.name}.old-{tag}"
    os.rename(final, old)
  os.rename(tmp, final)
  if old is not None:
    shutil.rmtree(old, ignore_errors=True)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
  """Writes a text file via a temporary sibling and a rename."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
  tmp.write_text(text, encoding="utf-8")
  os.replace(tmp, path)
