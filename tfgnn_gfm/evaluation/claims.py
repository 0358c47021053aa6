"""The paper's claims, each checked by a paired interval: one table, one plot.

The 2T-HGNN paper claims that (a) one unified model for every item type beats
one model per type, above all on the smaller type and for users who cross
types; (b) the graph foundation helps (the unified 2T-HGNN beats the same
two-tower without HGNN vectors), above all where collaborative signal is thin:
cold items, cold users, cross-type users; (c) both beat the simple models.

Every claim here is one row: the unified 2T-HGNN minus the other model, HR@K
on one item type, slice and user group, with the paired 95% bootstrap
interval over the same users (``rolling.pool``'s ``paired``), and a verdict:
*holds* when the interval lies above 0, *fails* when below, *undecided* when
it contains 0. ``claim_rows`` reads them from ``results.json``'s content;
``claims_markdown`` and ``plot_claims`` show them.
"""

from __future__ import annotations

import pathlib
from typing import Any

from tfgnn_gfm.evaluation.protocol import ALL_TYPES
from tfgnn_gfm.twotower import config as cfg

#: Verdict of a paired interval's sign.
VERDICTS = {1: "holds", 0: "undecided", -1: "fails"}
#: (slice, group, label) of the slices a claim is checked on.
_ALL = ("all_items", "all_users", "all users, all items")
_COLD_ITEMS = ("cold_items", "all_users", "cold items")
_WARM = ("all_items", "warm_users", "warm users")
_COLD_USERS = ("all_items", "cold_users", "cold users")
_CROSS = ("all_items", "cross_type_users", "cross-type users")
#: The simple models of claim (c), in report order.
_SIMPLE = (cfg.POPULARITY, cfg.LLM_KNN, cfg.HGNN_KNN, cfg.ITEM_KNN, cfg.EASE,
           cfg.ALS, cfg.BPR)


def _smaller_type(result: dict[str, Any]) -> str | None:
  """The evaluated type with the fewest candidates (None for one type)."""
  types = result.get("types") or []
  if len(types) < 2:
    return None
  counts = {}
  for entry in result["models"].values():
    for t in types:
      n = (entry.get("metrics") or {}).get(t, {}).get("candidates")
      if n is not None:
        counts[t] = n
  return min(counts, key=counts.get) if len(counts) == len(types) else None


def claim_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
  """Every claim that the run can check, in order (a), (b), (c).

  Args:
    result: ``gfm evaluate``'s result (``results.json``): needs ``paired``
      (unified 2T-HGNN minus each model), ``types`` and ``config.k``.

  Returns:
    One dict per claim: ``claim`` ("a", "b", "c"), ``text``, ``other`` (the
    compared model), ``type``, ``slice``, ``group``, ``users``, ``mean``,
    ``low``, ``high`` (unified minus other, HR@K) and ``verdict``. Claims
    whose model was not run, or whose slice has no user, are left out.
  """
  paired = result.get("paired") or {}
  key = f"hr@{result['config']['k']}"
  types = list(result.get("types") or [])
  smaller = _smaller_type(result)
  rows = []

  def add(claim: str, text: str, other: str, type_: str, where: tuple):
    slice_, group, label = where
    diff = (paired.get(other, {}).get(type_, {}).get(slice_, {})
            .get(group, {}).get(key))
    if not diff or diff.get("mean") is None:
      return
    type_label = type_ + (" (smaller type)" if type_ == smaller else "")
    rows.append({"claim": claim, "text": text.format(type=type_label),
                 "other": other, "type": type_, "slice": slice_,
                 "group": group, "where": label, "users": diff.get("n"),
                 "mean": diff["mean"], "low": diff["low"],
                 "high": diff["high"],
                 "verdict": VERDICTS[int(diff.get("sign", 0))]})

  for t in types:
    for where in (_ALL, _CROSS):
      add("a", "unified beats type-specific on {type}",
          cfg.TWO_TOWER_TYPE_SPECIFIC, t, where)
  for t in [ALL_TYPES] + types:
    add("b", "the graph foundation helps on {type}", cfg.TWO_TOWER_NO_GNN, t,
        _ALL)
  for where in (_COLD_ITEMS, _WARM, _COLD_USERS):
    add("b", "the graph foundation helps on {type}", cfg.TWO_TOWER_NO_GNN,
        ALL_TYPES, where)
  for t in types:
    add("b", "the graph foundation helps on {type}", cfg.TWO_TOWER_NO_GNN, t,
        _CROSS)
  for other in _SIMPLE:
    add("c", "unified beats " + other + " on {type}", other, ALL_TYPES, _ALL)
  return rows


def claim_verdicts(rows: list[dict[str, Any]]) -> dict[str, str]:
  """One line per claim family: how many of its rows hold, fail, undecided."""
  names = {"a": "(a) unified beats type-specific",
           "b": "(b) the graph foundation helps",
           "c": "(c) unified beats every simple model (all types)"}
  out = {}
  for claim, name in names.items():
    mine = [r for r in rows if r["claim"] == claim]
    if not mine:
      out[claim] = f"{name}: not checked (a model it needs was not run)."
      continue
    counts = {v: sum(r["verdict"] == v for r in mine)
              for v in VERDICTS.values()}
    word = ("holds" if counts["holds"] == len(mine) else
            "fails" if counts["fails"] == len(mine) else "partly")
    out[claim] = (f"{name}: {word} ({counts['holds']} of {len(mine)} rows "
                  f"hold, {counts['fails']} fail, {counts['undecided']} "
                  "undecided).")
  return out


def claims_markdown(result: dict[str, Any]) -> list[str]:
  """Markdown: the claims table and a verdict line per claim family."""
  rows = claim_rows(result)
  if not rows:
    return []
  k = result["config"]["k"]
  out = [f"## Claims: unified 2T-HGNN minus the other model, HR@{k} "
         "(paired 95% bootstrap interval over users; holds only when the "
         "interval lies above 0)", "",
         "| claim | against | slice | users | difference [95%] | verdict |",
         "|---|---|---|---:|---:|---|"]
  for r in rows:
    out.append(f"| ({r['claim']}) {r['text']} | {r['other']} | {r['where']} "
               f"| {r['users']} | {r['mean']:+.4f} [{r['low']:+.4f}, "
               f"{r['high']:+.4f}] | {r['verdict']} |")
  out.append("")
  out.extend(f"- {line}" for line in claim_verdicts(rows).values())
  out.append("")
  return out


def plot_claims(result: dict[str, Any], path: pathlib.Path) -> bool:
  """A forest plot of the claims (one row each, its interval, 0 marked).

  Returns:
    False (and writes nothing) when there is no claim to plot.
  """
  rows = claim_rows(result)
  if not rows:
    return False
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  colors = {"holds": "tab:green", "undecided": "tab:gray",
            "fails": "tab:red"}
  fig, ax = plt.subplots(figsize=(10, 0.38 * len(rows) + 1.4))
  for i, r in enumerate(rows):
    y = len(rows) - 1 - i
    ax.errorbar(r["mean"], y, xerr=[[r["mean"] - r["low"]],
                                    [r["high"] - r["mean"]]],
                fmt="o", color=colors[r["verdict"]], capsize=3)
  ax.axvline(0.0, color="black", linewidth=0.8)
  ax.set_yticks(range(len(rows)),
                [f"({r['claim']}) vs {r['other']}: {r['type']}, {r['where']}"
                 for r in reversed(rows)], fontsize=8)
  ax.set_xlabel(f"unified 2T-HGNN minus the other model, "
                f"HR@{result['config']['k']} (green: holds, red: fails, "
                "gray: undecided)")
  ax.set_title("The paper's claims, paired 95% intervals over users",
               fontsize=10)
  fig.tight_layout()
  fig.savefig(path, dpi=110)
  plt.close(fig)
  return True
