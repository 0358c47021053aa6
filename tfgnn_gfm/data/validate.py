"""The ``validate`` stage: check a dataset folder against the contract.

Writes the dead letters (every rejected row with its line and reason) and a
summary of good and bad rows per table and reason, with a manifest.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Any, ClassVar

from tfgnn_gfm.artifacts import (
  DatasetDir,
  ValidationDir,
  atomic_directory,
  write_manifest,
)
from tfgnn_gfm.config import config_to_dict
from tfgnn_gfm.data.dataset import Dataset, read_dataset, write_dead_letters
from tfgnn_gfm.data.reader import MAX_INPUT_BYTES


@dataclasses.dataclass
class ValidateConfig:
  """Configuration of ``gfm validate``."""

  section: ClassVar[str] = "validate"

  max_bad_fraction: float = dataclasses.field(default=0.5, metadata={
      "help": "fail (exit 3) when more than this share of a table's rows is "
              "bad; bad rows are written to the dead letters either way"})
  max_input_bytes: int = dataclasses.field(default=MAX_INPUT_BYTES, metadata={
      "help": "the most bytes of one CSV or JSON Lines file after gzip "
              "decompression (a larger file is an error, exit 2; "
              "decompression stops there)", "metavar": "BYTES"})


class TooManyBadRowsError(ValueError):
  """Raised when a table's share of bad rows exceeds ``max_bad_fraction``."""


def check_node_set_names(dataset: Dataset) -> None:
  """Refuses item types that ``gfm build-graph`` could not tell apart.

  Each type of a root item (an item without parent) names a node set; two
  types that map to one name (``Audio Book`` and ``audio_book``) are the
  same one-line error here as in ``gfm build-graph``.

  Raises:
    tfgnn_gfm.graph.schema.GraphSchemaError: two types share a name.
  """
  from tfgnn_gfm.graph.schema import node_set_names
  items = dataset.items.frame
  if not len(items) or "item_type" not in items.columns:
    return
  roots = items.loc[items["parent_id"].astype(str) == "", "item_type"]
  node_set_names(roots.unique().tolist())


def validate_dataset(data_dir: str | pathlib.Path, out_dir: str | pathlib.Path,
                     config: ValidateConfig | None = None
                     ) -> tuple[Dataset, dict[str, Any]]:
  """Validates a dataset folder and writes the validation stage's output.

  Args:
    data_dir: the dataset folder (items, interactions, optional users).
    out_dir: where dead letters, summary and manifest go.
    config: thresholds.

  Returns:
    (the validated Dataset, the summary dict).

  Raises:
    TooManyBadRowsError: after writing the output, when a table is mostly bad.
    tfgnn_gfm.graph.schema.GraphSchemaError: two item types share a node
      set name (nothing is written).
  """
  config = config or ValidateConfig()
  dataset = read_dataset(data_dir, config.max_input_bytes)
  check_node_set_names(dataset)
  summary = dataset.summary()
  layout = DatasetDir(pathlib.Path(data_dir))
  inputs = {t.table: t.path for t in dataset.tables}
  with atomic_directory(out_dir) as tmp:
    stage = ValidationDir(tmp)
    write_dead_letters(dataset.dead_letters(), stage.dead_letter_path)
    stage.summary_path.write_text(json.dumps(summary, indent=2) + "\n",
                                  encoding="utf-8")
    write_manifest(tmp, stage="validate", config=config_to_dict(config),
                   inputs=inputs, counts={
                       "good_rows": summary["good_rows"],
                       "bad_rows": summary["bad_rows"]},
                   extra={"dataset": str(layout.root)})
  for name, table in summary["tables"].items():
    if table["rows_read"] and (table["bad_total"] / table["rows_read"]
                               > config.max_bad_fraction):
      raise TooManyBadRowsError(
          f"{table['bad_total']} of {table['rows_read']} rows of {name} are "
          f"bad (more than {config.max_bad_fraction:.0%}); see "
          f"{ValidationDir(pathlib.Path(out_dir)).dead_letter_path}")
  return dataset, summary


def format_summary(summary: dict[str, Any]) -> str:
  """Renders a dataset summary as a small text table for the terminal."""
  lines = [f"{'table':<14}{'rows':>10}{'good':>10}{'bad':>8}  reasons"]
  for name, t in summary["tables"].items():
    reasons = ", ".join(f"{r}={n}" for r, n in t["bad"].items()) or "-"
    lines.append(f"{name:<14}{t['rows_read']:>10}{t['good']:>10}"
                 f"{t['bad_total']:>8}  {reasons}")
    if t["extra_columns"]:
      lines.append(f"{'':<14}extra columns kept as metadata: "
                   f"{', '.join(t['extra_columns'])}")
  types = ", ".join(f"{k}={v}" for k, v in summary["item_types"].items())
  events = ", ".join(f"{k}={v}" for k, v in summary["events"].items())
  lines.append(f"item types: {types}")
  lines.append(f"events: {events}; users with interactions: "
               f"{summary['users_with_interactions']}")
  if summary["time_range"]:
    import datetime
    lo, hi = (datetime.datetime.fromtimestamp(s, datetime.timezone.utc)
              .strftime("%Y-%m-%d") for s in summary["time_range"])
    lines.append(f"time range: {lo} .. {hi}")
  return "\n".join(lines)
