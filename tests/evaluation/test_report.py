"""Margins and the verdict of the report."""

import pytest

from tfgnn_gfm.evaluation import report


def _leaf(values):
  import numpy as np
  return {"mean": float(np.mean(values)), "std": float(np.std(values)),
          "values": list(values)}


def _models(hgnn, spec, pop):
  def entry(values, seeded):
    return {"seeded": seeded, "metrics": {"podcast": {"all_items": {
        "all_users": {"users": 10, "hr@10": _leaf(values)}}}}}
  return {"popularity": entry(pop, False),
          "2t_type_specific": entry(spec, True),
          "2t_hgnn": entry(hgnn, True)}


def test_margins_are_seed_by_seed():
  models = _models([0.5, 0.6], [0.4, 0.7], [0.3])
  m = report.margins(models, "2t_hgnn", "2t_type_specific", "podcast")
  assert m["mean"] == pytest.approx(0.0)
  assert m["std"] == pytest.approx(0.1)
  assert (m["wins"], m["runs"]) == (1, 2)
  m = report.margins(models, "2t_hgnn", "popularity", "podcast")
  assert m["values"] == pytest.approx([0.2, 0.3])
  assert m["relative"] == pytest.approx(0.25 / 0.3)
  assert report.margins(models, "2t_hgnn", "nope", "podcast") is None


def test_verdict_flags():
  good = report.verdict(_models([0.6, 0.7], [0.5, 0.6], [0.3]), ["podcast"])
  assert good["per_type"]["podcast"]["winner"] == "2t_hgnn"
  assert good["unified_beats_all_baselines"]
  assert good["unified_beats_type_specific"]
  bad = report.verdict(_models([0.5, 0.6], [0.6, 0.7], [0.3]), ["podcast"])
  assert bad["per_type"]["podcast"]["winner"] == "2t_type_specific"
  assert not bad["unified_beats_all_baselines"]
  assert not bad["unified_beats_type_specific"]


def test_summary_calls_equal_means_a_tie():
  split = {"cut_utc": "2024-01-01T00:00:00Z",
           "holdout_end_utc": "2024-01-15T00:00:00Z"}

  def summary(models):
    return report.summary_text({
        "verdict": report.verdict(models, ["podcast"]), "models": models,
        "config": {"k": 10, "seeds": 1}, "split": split})

  tied = summary(_models([0.5], [0.5], [0.3]))
  assert ("- podcast: a tie at 0.500 between 2T type-specific, "
          "2T-HGNN unified.") in tied
  assert "wins" not in tied.split("\n")[1]
  ahead = summary(_models([0.6], [0.5], [0.3]))
  assert "- podcast: 2T-HGNN unified wins with 0.600" in ahead


def test_the_repeat_policy_is_named_in_summary_and_tables():
  policy = {"threshold": 0.1, "types": {
      "food": {"keep": False, "repeat_rate": 0.0, "consumption_days": 9,
               "decided_by": "rule"},
      "podcast": {"keep": True, "repeat_rate": 0.01, "consumption_days": 4,
                  "decided_by": "flag"}}}
  line = report.repeats_text(policy)
  assert line.startswith("Items a user consumed before the cut: food left "
                         "out (repeat rate 0.000); podcast ranked again (set "
                         "by --repeats) (threshold 0.1).")
  assert report.repeats_text(None) is None
  assert report.repeats_text({"types": {}}) is None
