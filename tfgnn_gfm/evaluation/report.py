"""The evaluation report: JSON, Markdown tables, PNG bar charts, a verdict.

Every number comes from the aggregated results of ``compare_models``
(mean and standard deviation over seeds; deterministic models have one run).
Margins between two seeded models are computed seed by seed (seed i against
seed i) and then averaged; against a deterministic model, each seed is
compared to its single value.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any, Sequence

import numpy as np

from tfgnn_gfm.evaluation import claims
from tfgnn_gfm.evaluation.protocol import ALL_TYPES
from tfgnn_gfm.twotower import config as cfg

DISPLAY_NAMES = {
    cfg.POPULARITY: "Popularity",
    cfg.LLM_KNN: "LLM-kNN (text)",
    cfg.HGNN_KNN: "HGNN-kNN",
    cfg.ITEM_KNN: "item-kNN (cosine)",
    cfg.EASE: "EASE",
    cfg.ALS: "ALS (implicit)",
    cfg.BPR: "BPR (implicit)",
    cfg.TWO_TOWER_NO_GNN: "2T without GNN (item ids)",
    cfg.TWO_TOWER_TYPE_SPECIFIC: "2T type-specific",
    cfg.TWO_TOWER_HGNN: "2T-HGNN unified",
    cfg.TWO_TOWER_HGNN_RETRAINED: "2T-HGNN unified, retrained HGNN",
}
#: (title, slice, group, metric kind) of each Markdown table.
TABLES = (
    ("HR@{k}, all users, all items (headline)", "all_items", "all_users", "hr"),
    ("HR@{k}, new items only (not consumed before the cut)", "new_items",
     "all_users", "hr"),
    ("HR@{k}, warm users", "all_items", "warm_users", "hr"),
    ("HR@{k}, cold users (first seen after the cut)", "all_items",
     "cold_users", "hr"),
    ("HR@{k}, cold items (no interaction before the cut)", "cold_items",
     "all_users", "hr"),
    ("HR@{k}, cross-type users (training examples, none of the type)",
     "all_items", "cross_type_users", "hr"),
    ("MRR@{mrr_k}, all users, all items", "all_items", "all_users", "mrr"),
    ("Coverage@{coverage_k}, all users, all items", "all_items", "all_users",
     "coverage"),
)


def ordered(models: dict) -> dict:
  """The models in report order (baselines first, unified 2T-HGNN last)."""
  order = list(cfg.ALL_MODELS) + [cfg.TWO_TOWER_HGNN_RETRAINED]
  return {m: models[m] for m in sorted(
      models, key=lambda m: (order.index(m) if m in order else len(order), m))}


def _key(kind: str, k: int, mrr_k: int, coverage_k: int) -> str:
  return {"hr": f"hr@{k}", "mrr": f"mrr@{mrr_k}",
          "coverage": f"coverage@{coverage_k}"}[kind]


def _leaf(models: dict, model: str, type_: str, slice_: str, group: str,
          key: str) -> dict | None:
  try:
    value = models[model]["metrics"][type_][slice_][group][key]
  except (KeyError, TypeError):
    return None
  return value if isinstance(value, dict) else None


def _cell(leaf: dict | None, seeded: bool) -> str:
  if leaf is None:
    return "-"
  text = f"{leaf['mean']:.3f}"
  if seeded and len(leaf["values"]) > 1:
    text += f" ± {leaf['std']:.3f}"
  if leaf.get("ci_low") is not None:
    text += f" [{leaf['ci_low']:.3f}, {leaf['ci_high']:.3f}]"
  return text


#: (name, slice, group) of the comparisons the paired verdict reads.
PAIRED_SLICES = (("all items", "all_items", "all_users"),
                 ("new items", "new_items", "all_users"),
                 ("cold items", "cold_items", "all_users"))


def paired_verdict(paired: dict[str, Any], types: Sequence[str],
                   k: int = 10) -> dict[str, Any]:
  """Win, tie or loss of the unified 2T-HGNN against every other model.

  A win is called only when the paired 95% interval of (unified minus
  model) HR@K over the same user-windows lies above 0; a loss when it lies
  below; a tie otherwise.

  Args:
    paired: ``rolling.pool``'s paired differences.
    types: the evaluated item types (``all_types`` is added).
    k: K of HR@K.

  Returns:
    ``{slice name: {type: {"wins", "ties", "losses" (model lists),
    "beats_all" (bool)}}}``.
  """
  key = f"hr@{k}"
  out: dict[str, Any] = {}
  for name, slice_, group in PAIRED_SLICES:
    per_type = {}
    for t in list(types) + [ALL_TYPES]:
      entry = {"wins": [], "ties": [], "losses": []}
      for model, by_type in paired.items():
        if model == cfg.TWO_TOWER_HGNN_RETRAINED:
          continue
        diff = by_type.get(t, {}).get(slice_, {}).get(group, {}).get(key)
        if diff is None or diff["mean"] is None:
          continue
        bucket = {1: "wins", 0: "ties", -1: "losses"}[diff["sign"]]
        entry[bucket].append(model)
      if any(entry.values()):
        entry["beats_all"] = not entry["ties"] and not entry["losses"]
        per_type[t] = entry
    out[name] = per_type
  return out


def _paired_text(diff: dict | None) -> str:
  if diff is None or diff.get("mean") is None:
    return "n/a"
  word = {1: "win", 0: "tie", -1: "loss"}[diff["sign"]]
  return (f"{diff['mean']:+.3f} [{diff['low']:+.3f}, {diff['high']:+.3f}] "
          f"{word}")


def paired_table(result: dict[str, Any]) -> list[str]:
  """Markdown: unified minus each model, HR@K with paired 95% intervals."""
  paired = result.get("paired") or {}
  if not paired:
    return []
  k = result["config"]["k"]
  key = f"hr@{k}"
  types = result["types"] + [ALL_TYPES]
  out = [f"## Paired differences: unified 2T-HGNN minus each model, HR@{k}, "
         "all users (mean [95% bootstrap interval over users]; a win only "
         "when the interval excludes 0)", ""]
  header = ["model"] + [f"{t}: {name}" for t in types
                        for name, _, _ in PAIRED_SLICES]
  out.append("| " + " | ".join(header) + " |")
  out.append("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
  for model in ordered(paired):
    row = [DISPLAY_NAMES.get(model, model)]
    for t in types:
      for _, slice_, group in PAIRED_SLICES:
        row.append(_paired_text(paired[model].get(t, {}).get(slice_, {})
                                .get(group, {}).get(key)))
    out.append("| " + " | ".join(row) + " |")
  out.append("")
  return out


def margins(models: dict, a: str, b: str, type_: str, slice_: str = "all_items",
            group: str = "all_users", key: str = "hr@10"
            ) -> dict[str, Any] | None:
  """Seed-by-seed margin of model ``a`` over model ``b``.

  Returns:
    ``{"a", "b", "mean", "std", "relative", "wins", "runs", "values"}``
    (``relative``: mean margin over b's mean), or None when either model
    has no value.
  """
  la = _leaf(models, a, type_, slice_, group, key)
  lb = _leaf(models, b, type_, slice_, group, key)
  if la is None or lb is None:
    return None
  va, vb = la["values"], lb["values"]
  if len(vb) == 1:
    vb = vb * len(va)
  if len(va) == 1:
    va = va * len(vb)
  n = min(len(va), len(vb))
  diff = np.array(va[:n]) - np.array(vb[:n])
  base = float(np.mean(vb[:n]))
  return {"a": a, "b": b, "mean": float(diff.mean()),
          "std": float(diff.std()),
          "relative": float(diff.mean() / base) if base > 0 else None,
          "wins": int((diff > 0).sum()), "runs": int(n),
          "values": diff.tolist()}


def verdict(models: dict, types: Sequence[str], k: int = 10
            ) -> dict[str, Any]:
  """Who wins per type on the headline metric, and by how much.

  Returns:
    ``{"per_type": {type: {"ranking", "winner", "runner_up", "margin",
    "unified_vs": {model: margin}}}, "unified_beats_all_baselines",
    "unified_beats_type_specific", "static_vs_retrained"}``.
  """
  key = f"hr@{k}"
  out: dict[str, Any] = {"per_type": {}}
  baselines = [m for m in models if m not in (cfg.TWO_TOWER_HGNN,
                                              cfg.TWO_TOWER_HGNN_RETRAINED)]
  beats_all, beats_specific = True, True
  for t in list(types) + [ALL_TYPES]:
    scored = [(m, _leaf(models, m, t, "all_items", "all_users", key))
              for m in models]
    scored = [(m, leaf["mean"]) for m, leaf in scored if leaf is not None]
    if not scored:
      continue
    scored.sort(key=lambda x: -x[1])
    entry = {"ranking": [{"model": m, key: v} for m, v in scored],
             "winner": scored[0][0],
             "runner_up": scored[1][0] if len(scored) > 1 else None}
    if len(scored) > 1:
      entry["margin"] = margins(models, scored[0][0], scored[1][0], t,
                                key=key)
    if cfg.TWO_TOWER_HGNN in models:
      entry["unified_vs"] = {
          m: margins(models, cfg.TWO_TOWER_HGNN, m, t, key=key)
          for m in models if m != cfg.TWO_TOWER_HGNN and
          margins(models, cfg.TWO_TOWER_HGNN, m, t, key=key) is not None}
      if t != ALL_TYPES:
        for m in baselines:
          mg = entry["unified_vs"].get(m)
          if mg is not None and mg["mean"] <= 0:
            beats_all = False
            if m == cfg.TWO_TOWER_TYPE_SPECIFIC:
              beats_specific = False
    out["per_type"][t] = entry
  if cfg.TWO_TOWER_HGNN in models:
    out["unified_beats_all_baselines"] = beats_all
    out["unified_beats_type_specific"] = (
        beats_specific if cfg.TWO_TOWER_TYPE_SPECIFIC in models else None)
  if cfg.TWO_TOWER_HGNN_RETRAINED in models and cfg.TWO_TOWER_HGNN in models:
    out["static_vs_retrained"] = {
        t: margins(models, cfg.TWO_TOWER_HGNN, cfg.TWO_TOWER_HGNN_RETRAINED, t,
                   key=key) for t in list(types) + [ALL_TYPES]}
  return out


def _pct(m: dict | None) -> str:
  if m is None:
    return "n/a"
  rel = f" ({m['relative'] * 100:+.1f}%)" if m["relative"] is not None else ""
  spread = f" ± {m['std']:.3f}" if m["runs"] > 1 else ""
  return (f"{m['mean']:+.3f}{spread}{rel}, ahead in {m['wins']}/{m['runs']} "
          "seeds")


def _window(result: dict[str, Any]) -> str:
  """What the targets are: the test hold-out or the validation window."""
  windows = result.get("windows") or [{"split": result["split"]}]
  first, last = windows[0]["split"], windows[-1]["split"]
  span = (f"window [{first['cut_utc']}, {last['holdout_end_utc']})"
          if len(windows) == 1 else
          f"{len(windows)} rolling windows from {first['cut_utc']} to "
          f"{last['holdout_end_utc']} (user-windows pooled)")
  if result.get("mode") == "validation":
    return (f"the validation {span} (the test hold-out after "
            f"{result['validation']['test_cut_utc']} is not read)")
  return f"the hold-out {span}"


def repeats_text(repeats: dict[str, Any] | None) -> str | None:
  """One sentence on the repeat policy (``RepeatPolicy.to_dict``), or None."""
  if not repeats or not repeats.get("types"):
    return None
  parts = []
  for t, entry in repeats["types"].items():
    rate = entry.get("repeat_rate")
    why = ("set by --repeats" if entry.get("decided_by") == "flag" else
           "no data" if rate is None else f"repeat rate {rate:.3f}")
    parts.append(f"{t} {'ranked again' if entry['keep'] else 'left out'} "
                 f"({why})")
  return ("Items a user consumed before the cut: " + "; ".join(parts) +
          f" (threshold {repeats.get('threshold')}). A left-out type's "
          "repeat targets count as misses.")


def summary_text(result: dict[str, Any]) -> str:
  """A few sentences: who wins per type and by how much."""
  v = result["verdict"]
  k = result["config"]["k"]
  seeds = result["config"]["seeds"]
  lines = [f"HR@{k} on {_window(result)} (all users, all items), {seeds} "
           "seed(s) for the two-tower models:"]

  for t, entry in v["per_type"].items():
    winner = DISPLAY_NAMES.get(entry["winner"], entry["winner"])
    best = entry["ranking"][0][f"hr@{k}"]
    tied = [DISPLAY_NAMES.get(r["model"], r["model"])
            for r in entry["ranking"] if r[f"hr@{k}"] == best]
    if len(tied) > 1:
      # Equal means: no model is ahead, whatever the ranking's order.
      lines.append(f"- {t}: a tie at {best:.3f} between " +
                   ", ".join(tied) + ".")
    elif entry.get("runner_up"):
      runner = DISPLAY_NAMES.get(entry["runner_up"], entry["runner_up"])
      lines.append(f"- {t}: {winner} wins with {best:.3f}; next is {runner} "
                   f"({entry['ranking'][1][f'hr@{k}']:.3f}); margin "
                   f"{_pct(entry.get('margin'))}.")
    else:
      lines.append(f"- {t}: {winner} ({best:.3f}).")
    spec = entry.get("unified_vs", {}).get(cfg.TWO_TOWER_TYPE_SPECIFIC)
    if spec is not None:
      lines.append(f"  unified 2T-HGNN vs type-specific 2T: {_pct(spec)}.")
  if "unified_beats_all_baselines" in v:
    lines.append("Unified 2T-HGNN beats every baseline on every item type: "
                 + ("yes" if v["unified_beats_all_baselines"] else "NO") + ".")
  if v.get("unified_beats_type_specific") is not None:
    lines.append("Unified 2T-HGNN beats the type-specific 2T on each type: "
                 + ("yes" if v["unified_beats_type_specific"] else "NO") + ".")
  for name, per_type in (v.get("paired") or {}).items():
    for t, entry in per_type.items():
      if entry["beats_all"]:
        lines.append(f"Paired 95% intervals, {name}, {t}: the unified "
                     "2T-HGNN beats every other model (each interval above "
                     "0).")
      else:
        parts = [f"{len(entry['wins'])} win(s)"]
        if entry["ties"]:
          parts.append("ties with " + ", ".join(
              DISPLAY_NAMES.get(m, m) for m in entry["ties"]))
        if entry["losses"]:
          parts.append("loses to " + ", ".join(
              DISPLAY_NAMES.get(m, m) for m in entry["losses"]))
        lines.append(f"Paired 95% intervals, {name}, {t}: NOT a win over "
                     "every model: " + "; ".join(parts) + ".")
  if v.get("static_vs_retrained"):
    lines.append("Static vs retrained HGNN (2T-HGNN with --embeddings minus "
                 "2T-HGNN with --retrained-embeddings):")
    for t, m in v["static_vs_retrained"].items():
      lines.append(f"- {t}: {_pct(m)}")
  times = [f"{DISPLAY_NAMES.get(m, m)} {e['wall_seconds']:.0f} s"
           for m, e in result["models"].items() if "wall_seconds" in e]
  if times:
    lines.append("Time per model (fitting and ranking, all seeds): "
                 + ", ".join(times) + ".")
  rows = claims.claim_rows(result)
  if rows:
    lines.append("Claims (paired 95% intervals; results.md, claims.png):")
    lines.extend(f"- {line}" for line in
                 claims.claim_verdicts(rows).values())
  repeats = repeats_text(result.get("repeats"))
  if repeats:
    lines.append(repeats)
  if "seconds" in result:
    lines.append(f"Evaluation: {result['seconds']:.0f} s in all"
                 + (f", peak memory {result['peak_rss_mb'] / 1024:.1f} GiB"
                    if "peak_rss_mb" in result else "") + ".")
  return "\n".join(lines) + "\n"


def markdown_tables(result: dict[str, Any]) -> str:
  """Every table of TABLES, models as rows and item types as columns."""
  c = result["config"]
  models, types = ordered(result["models"]), result["types"] + [ALL_TYPES]
  title = ("Validation" if result.get("mode") == "validation"
           else "Evaluation")
  out = [f"# {title} ({c['seeds']} seed(s); mean ± std over seeds for "
         "the seeded models; [95% bootstrap interval over users])", ""]
  for i, window in enumerate(result.get("windows") or
                             [{"split": result["split"]}]):
    split = window["split"]
    out.append(f"- Window {i + 1}: cut {split['cut_utc']}; training window "
               f"from {split['train_start_utc']}; hold-out until "
               f"{split['holdout_end_utc']}"
               + (f"; {window['counts']['evaluated_users']} users"
                  if "counts" in window else "") + ".")
  out.append("")
  if result.get("mode") == "validation":
    out.append(f"Validation mode: targets are {_window(result)}; "
               f"{result['validation']['dropped_interactions']} interactions "
               "at or after the test cut were dropped on reading.")
  counts = result["counts"]
  out.append(f"Evaluated users: {counts['evaluated_users']} "
             f"({counts['evaluated_warm_users']} warm, "
             f"{counts['evaluated_cold_users']} cold); candidates: "
             f"{counts['candidates']} ({counts['cold_candidates']} cold "
             "items).")
  repeats = repeats_text(result.get("repeats"))
  if repeats:
    out.append(repeats)
  for m, entry in models.items():
    if entry.get("skipped"):
      out.append(f"{DISPLAY_NAMES.get(m, m)} was not run: "
                 f"{entry['skipped']}.")
  out.append("")
  for title, slice_, group, kind in TABLES:
    key = _key(kind, c["k"], c["mrr_k"], c["coverage_k"])
    out.append("## " + title.format(**c))
    out.append("")
    header = ["model"] + types
    out.append("| " + " | ".join(header) + " |")
    out.append("|" + "|".join(["---"] + ["---:"] * len(types)) + "|")
    users_row = ["users (candidates)"]
    for t in types:
      n = next((models[m]["metrics"][t][slice_][group]["users"]
                for m in models if t in models[m]["metrics"]), None)
      cands = next((models[m]["metrics"][t]["candidates"]
                    for m in models if t in models[m]["metrics"]), None)
      users_row.append(f"{n} ({cands})" if n is not None else "-")
    for m in models:
      row = [DISPLAY_NAMES.get(m, m)]
      for t in types:
        row.append(_cell(_leaf(models, m, t, slice_, group, key),
                         models[m]["seeded"]))
      out.append("| " + " | ".join(row) + " |")
    out.append("| " + " | ".join(users_row) + " |")
    out.append("")
  out.extend(paired_table(result))
  out.extend(claims.claims_markdown(result))
  out.append("## Verdict")
  out.append("")
  out.append(summary_text(result))
  return "\n".join(out)


def plot_results(result: dict[str, Any], hr_path: pathlib.Path,
                 other_path: pathlib.Path) -> None:
  """Bar charts: HR@K per type for four slices; MRR and coverage."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  c = result["config"]
  models, types = ordered(result["models"]), result["types"] + [ALL_TYPES]

  def bars(ax, slice_, group, key, title):
    x = np.arange(len(types))
    width = 0.8 / max(len(models), 1)
    for i, m in enumerate(models):
      leaves = [_leaf(models, m, t, slice_, group, key) for t in types]
      means = np.array([lf["mean"] if lf else np.nan for lf in leaves])
      # Error bars: the 95% interval over users where there is one, else
      # the spread over seeds.
      low = np.array([lf["ci_low"] if lf and lf.get("ci_low") is not None
                      else (lf["mean"] - lf["std"] if lf else np.nan)
                      for lf in leaves])
      high = np.array([lf["ci_high"] if lf and lf.get("ci_high") is not None
                       else (lf["mean"] + lf["std"] if lf else np.nan)
                       for lf in leaves])
      err = np.nan_to_num(np.stack([means - low, high - means]))
      # Past the 10 default colours, tab20 keeps every model distinct.
      color = f"C{i}" if len(models) <= 10 else plt.cm.tab20(i % 20)
      ax.bar(x - 0.4 + width * (i + 0.5), means, width, yerr=err,
             capsize=2, color=color, label=DISPLAY_NAMES.get(m, m) + (
                 " (not run)" if models[m].get("skipped") else ""))
    ax.set_xticks(x, types)
    ax.set_title(title, fontsize=10)
    ax.set_ylim(bottom=0)

  hr = f"hr@{c['k']}"
  fig, axes = plt.subplots(2, 2, figsize=(13, 8), sharey=True)
  for ax, (slice_, group, title) in zip(axes.ravel(), (
      ("all_items", "all_users", "all users, all items"),
      ("new_items", "all_users", "new items only"),
      ("all_items", "warm_users", "warm users"),
      ("all_items", "cold_users", "cold users"))):
    bars(ax, slice_, group, hr, f"HR@{c['k']}: {title}")
  handles, labels = axes[0, 0].get_legend_handles_labels()
  fig.legend(handles, labels, loc="lower center",
             ncol=min(len(labels), 6), fontsize=8)
  fig.suptitle(f"HR@{c['k']} per item type (mean over {c['seeds']} seeds; "
               "bars: 95% bootstrap interval over users)")
  fig.tight_layout(rect=(0, 0.08, 1, 1))
  fig.savefig(hr_path, dpi=110)
  plt.close(fig)
  fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
  bars(axes[0], "all_items", "all_users", f"mrr@{c['mrr_k']}",
       f"MRR@{c['mrr_k']}")
  bars(axes[1], "all_items", "all_users", f"coverage@{c['coverage_k']}",
       f"coverage@{c['coverage_k']}")
  bars(axes[2], "cold_items", "all_users", hr,
       f"HR@{c['k']}: cold items (first seen after the cut)")
  handles, labels = axes[0].get_legend_handles_labels()
  fig.legend(handles, labels, loc="lower center",
             ncol=min(len(labels), 6), fontsize=8)
  fig.tight_layout(rect=(0, 0.12, 1, 1))
  fig.savefig(other_path, dpi=110)
  plt.close(fig)


def write_json(result: dict[str, Any], path: pathlib.Path) -> None:
  path.write_text(json.dumps(result, indent=2, default=str)
                  + "\n", encoding="utf-8")
