"""The manifest each stage writes: config, input fingerprints, counts."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import pathlib
from typing import Any, Mapping

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def fingerprint(path: str | os.PathLike) -> dict[str, Any]:
  """Content fingerprint of a file or directory (blake2b over bytes and names).

  Args:
    path: a file, or a directory (hashed over its sorted relative paths and
      contents; manifests inside are left out so a rerun hashes the same).

  Returns:
    ``{"path", "bytes", "blake2b"}``.
  """
  path = pathlib.Path(path)
  digest = hashlib.blake2b(digest_size=16)
  total = 0
  files = ([path] if path.is_file() else
           sorted(p for p in path.rglob("*")
                  if p.is_file() and p.name != MANIFEST_NAME))
  for f in files:
    if f is not path:
      digest.update(str(f.relative_to(path)).encode())
    with open(f, "rb") as fh:
      for chunk in iter(lambda: fh.read(1 << 20), b""):
        digest.update(chunk)
        total += len(chunk)
  return {"path": str(path), "bytes": total, "blake2b": digest.hexdigest()}


def write_manifest(stage_dir: str | os.PathLike, *, stage: str,
                   config: Mapping[str, Any] | None = None,
                   inputs: Mapping[str, str | os.PathLike] | None = None,
                   counts: Mapping[str, Any] | None = None,
                   metrics: Mapping[str, Any] | None = None,
                   extra: Mapping[str, Any] | None = None) -> pathlib.Path:
  """Writes ``manifest.json`` into a stage directory.

  Args:
    stage_dir: the directory (usually ``atomic_directory``'s temporary one).
    stage: the stage name, e.g. ``"synth"``.
    config: the stage config as a dict.
    inputs: name -> path of every input; each is fingerprinted.
    counts: row/node/edge counts.
    metrics: quality or speed figures.
    extra: anything else the stage wants to record.

  Returns:
    The manifest's path.
  """
  from tfgnn_gfm import __version__
  manifest = {
      "manifest_version": MANIFEST_VERSION,
      "stage": stage,
      "tfgnn_gfm_version": __version__,
      "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
          timespec="seconds"),
      "config": dict(config or {}),
      "inputs": {k: fingerprint(v) for k, v in (inputs or {}).items()},
      "counts": dict(counts or {}),
      "metrics": dict(metrics or {}),
  }
  if extra:
    manifest.update(extra)
  path = pathlib.Path(stage_dir) / MANIFEST_NAME
  path.write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str)
                  + "\n", encoding="utf-8")
  return path
