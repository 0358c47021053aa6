"""Writes contract tables as a dataset folder, atomically, with a manifest."""

from __future__ import annotations

import pathlib
from typing import Any, Mapping

import pandas as pd

from tfgnn_gfm.artifacts import DatasetDir, atomic_directory, write_manifest

FORMATS = ("csv", "jsonl", "parquet")


def write_table(frame: pd.DataFrame, path: str | pathlib.Path,
                fmt: str) -> None:
  """Writes one table in a contract format (gzip when the path ends in .gz).

  Args:
    frame: the table.
    path: the output file.
    fmt: ``csv``, ``jsonl`` or ``parquet``.
  """
  path = pathlib.Path(path)
  compression = "gzip" if path.name.endswith(".gz") else None
  if fmt == "csv":
    frame.to_csv(path, index=False, compression=compression)
  elif fmt == "jsonl":
    frame.to_json(path, orient="records", lines=True, force_ascii=False,
                  compression=compression)
  elif fmt == "parquet":
    frame.to_parquet(path, index=False)
  else:
    raise ValueError(f"unknown format {fmt!r}; use one of {FORMATS}")


def write_dataset(out: str | pathlib.Path, tables: Mapping[str, pd.DataFrame],
                  *, stage: str, config: Mapping[str, Any],
                  fmt: str = "csv", compress: bool = False,
                  side_tables: Mapping[str, pd.DataFrame] | None = None,
                  inputs: Mapping[str, str | pathlib.Path] | None = None,
                  extra: Mapping[str, Any] | None = None) -> DatasetDir:
  """Writes a dataset folder (the input of ``gfm build-graph``) atomically.

  Args:
    out: the dataset folder; replaced only once everything is written.
    tables: contract tables by name (items, interactions, users).
    stage: the producing stage for the manifest (``synth``, ``import``).
    config: the producing stage's config, for the manifest.
    fmt: table format.
    compress: gzip CSV / JSON Lines.
    side_tables: extra CSV tables that are not part of the contract (e.g. the
      synthetic generator's planted truth), written under ``truth/``.
    inputs: input paths to fingerprint in the manifest.
    extra: more manifest entries.

  Returns:
    The written DatasetDir.
  """
  final = DatasetDir(pathlib.Path(out))
  with atomic_directory(final.root) as tmp:
    layout = DatasetDir(tmp)
    for name, frame in tables.items():
      write_table(frame, layout.output_path(name, fmt, compress), fmt)
    for name, frame in (side_tables or {}).items():
      layout.truth_dir.mkdir(exist_ok=True)
      frame.to_csv(layout.truth_dir / f"{name}.csv", index=False)
    write_manifest(tmp, stage=stage, config=config, inputs=inputs,
                   counts={name: len(f) for name, f in tables.items()},
                   extra=extra)
  return final
