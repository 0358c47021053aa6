"""Small test datasets for the Beam pipeline: synthetic data plus bad rows.

``write_messy_dataset`` writes a small ``gfm synth`` platform as CSV and
appends rows that exercise every path of the pipeline: each kind of bad row,
an item seen only in bad rows (``bad_only``, referenced by interactions), an
orphan episode, a chain of episodes, a parent cycle, an item published after
the cut, an item type that needs sanitizing (``Video-Cast``), an isolated
item and a heavy user (more items than the per-user cap).
"""

from __future__ import annotations

import pathlib

import numpy as np

from tfgnn_gfm.data.writer import write_dataset
from tfgnn_gfm.synth import SynthConfig, generate

# Items seen only in bad rows: they must never appear in the graph.
BAD_ONLY_ITEMS = ("bad_only", "orphan_ep")


def write_messy_dataset(folder: pathlib.Path, seed: int = 5) -> pathlib.Path:
  """Writes the dataset (items.csv, interactions.csv, users.csv)."""
  platform = generate(SynthConfig(num_users=120, num_podcasts=25,
                                  num_audiobooks=15, interactions_per_user=14,
                                  seed=seed), progress=False)
  write_dataset(folder, {"items": platform.items,
                         "interactions": platform.interactions,
                         "users": platform.users},
                stage="synth", config={}, fmt="csv")
  items = platform.items
  podcasts = sorted(items.loc[(items.item_type == "podcast")
                              & items.published_at.isna(), "item_id"])
  if not podcasts:
    podcasts = sorted(items.loc[items.item_type == "podcast", "item_id"])
  show = podcasts[0]
  first_item = items.iloc[0]
  _append(folder / "items.csv", [
      # A duplicate of an existing id (the first row is kept).
      f"{first_item.item_id},podcast,Duplicate,,,en,news,",
      "bad_only,podcast,Bad Only,,,en,news,not-a-time",       # bad_timestamp
      "orphan_ep,episode,Orphan,,no_such_show,en,,",           # unknown_parent
      f"chain_1,episode,Chain one,,{show},en,,",
      "chain_2,episode,Chain two,,chain_1,en,,",               # -> chain_1
      "cyc_a,episode,Cycle A,,cyc_b,en,,",
      "cyc_b,episode,Cycle B,,cyc_a,en,,",                     # parent_cycle
      "future_pod,podcast,Future,,,en,news,2031-01-01",        # after the cut
      "vc_1,Video-Cast,Video one,Moving pictures.,,en,video,",
      "vc_2,Video-Cast,Video two,,,fr,video,",
      "lonely,audiobook,Lonely Book,Nobody reads it.,,en,fiction,",
      ",podcast,No Id,,,en,,",                                 # missing_value
      "x,y",                                                   # malformed_row
  ])
  rng = np.random.default_rng(seed)
  roots = items.parent_id.isna() | (items.parent_id == "")
  items_pool = sorted(items.loc[roots, "item_id"])
  heavy = [f"u_heavy,{i},2024-03-{1 + k % 28:02d}T08:00:00Z,stream,10"
           for k, i in enumerate(rng.choice(items_pool, size=min(
               40, len(items_pool)), replace=False))]
  first = platform.interactions.iloc[0]
  _append(folder / "interactions.csv", heavy + [
      # An exact duplicate of the first interaction.
      f"{first.user_id},{first.item_id},{first.timestamp},{first.event},"
      f"{first.weight}",
      "u_x,bad_only,2024-03-10T10:00:00Z,stream,1",            # unknown_item
      "u_y,bad_only,2024-03-11T10:00:00Z,stream,1",
      "u_x,orphan_ep,2024-03-10T11:00:00Z,stream,1",           # unknown_item
      "u_x,nope,2024-03-10T12:00:00Z,stream,1",                # unknown_item
      f"u_x,{show},yesterday,stream,1",                        # bad_timestamp
      f",{show},2024-03-10T10:00:00Z,stream,1",                # missing_value
      f"u_x,{show},2024-03-10T10:00:00Z,stream,abc",           # wrong_type
      "u_x,too,few",                                           # malformed_row
      "u_c1,chain_2,2024-03-12T10:00:00Z,stream,5",
      "u_c1,vc_1,2024-03-13T10:00:00Z,stream,5",
      f"u_c2,{podcasts[-1]},2024-03-14T10:00:00Z,stream,5",
      "u_c2,vc_1,2024-03-14T11:00:00Z,stream,5",
      "u_c2,vc_2,2024-03-15T10:00:00Z,follow,",
      "u_c2,cyc_a,2024-03-15T11:00:00Z,stream,5",
      "u_c2,future_pod,2024-03-16T10:00:00Z,stream,5",
  ])
  first_user = platform.users.iloc[0]
  _append(folder / "users.csv", [
      f"{first_user.user_id},XX,18-24,",                       # duplicate_id
  ])
  return folder


def _append(path: pathlib.Path, lines: list[str]) -> None:
  text = path.read_text(encoding="utf-8")
  if not text.endswith("\n"):
    text += "\n"
  path.write_text(text + "\n".join(lines) + "\n", encoding="utf-8")


def split_interactions(folder: pathlib.Path, out: pathlib.Path,
                       parts: int = 2) -> str:
  """Splits interactions.csv into shard files; returns their glob."""
  lines = (folder / "interactions.csv").read_text(encoding="utf-8").splitlines()
  header, rows = lines[0], lines[1:]
  out.mkdir(parents=True, exist_ok=True)
  size = -(-len(rows) // parts)
  for i in range(parts):
    chunk = rows[i * size:(i + 1) * size]
    (out / f"interactions-{i:05d}.csv").write_text(
        "\n".join([header] + chunk) + "\n", encoding="utf-8")
  return str(out / "interactions-*.csv")
