"""The claims table: paired intervals of the unified 2T-HGNN, one row per
claim, with a verdict."""

from tfgnn_gfm.evaluation import claims, report


def _diff(mean, low, high, n=100):
  sign = 1 if low > 0 else (-1 if high < 0 else 0)
  return {"hr@10": {"mean": mean, "low": low, "high": high, "n": n,
                    "sign": sign}}


def _result():
  def slices(all_users, cross=None, cold_items=None, warm=None, cold=None):
    out = {"all_items": {"all_users": all_users}}
    if cross:
      out["all_items"]["cross_type_users"] = cross
    if warm:
      out["all_items"]["warm_users"] = warm
    if cold:
      out["all_items"]["cold_users"] = cold
    if cold_items:
      out["cold_items"] = {"all_users": cold_items}
    return out

  paired = {
      "2t_type_specific": {
          "food": slices(_diff(0.02, 0.01, 0.03), cross=_diff(0.1, 0.05, 0.2,
                                                              n=7)),
          "kitchen": slices(_diff(-0.01, -0.02, -0.005))},
      "2t_no_gnn": {
          "all_types": slices(_diff(0.01, -0.01, 0.02),
                              cold_items=_diff(0.2, 0.1, 0.3),
                              warm=_diff(0.0, -0.01, 0.01),
                              cold=_diff(0.03, 0.01, 0.05))},
      "ease": {"all_types": slices(_diff(0.004, 0.001, 0.007))},
      "popularity": {"all_types": slices(_diff(0.03, 0.02, 0.04))},
  }
  metrics = {"food": {"candidates": 10}, "kitchen": {"candidates": 30}}
  return {"config": {"k": 10}, "types": ["food", "kitchen"],
          "paired": paired,
          "models": {"2t_hgnn": {"metrics": metrics}}}


def test_claim_rows_and_verdicts_by_hand():
  rows = claims.claim_rows(_result())
  got = [(r["claim"], r["other"], r["type"], r["where"], r["verdict"])
         for r in rows]
  assert got == [
      ("a", "2t_type_specific", "food", "all users, all items", "holds"),
      ("a", "2t_type_specific", "food", "cross-type users", "holds"),
      ("a", "2t_type_specific", "kitchen", "all users, all items", "fails"),
      ("b", "2t_no_gnn", "all_types", "all users, all items", "undecided"),
      ("b", "2t_no_gnn", "all_types", "cold items", "holds"),
      ("b", "2t_no_gnn", "all_types", "warm users", "undecided"),
      ("b", "2t_no_gnn", "all_types", "cold users", "holds"),
      ("c", "popularity", "all_types", "all users, all items", "holds"),
      ("c", "ease", "all_types", "all users, all items", "holds"),
  ]
  # The type with fewer candidates is named the smaller one.
  assert rows[0]["text"] == "unified beats type-specific on food (smaller type)"
  assert rows[1]["users"] == 7
  verdicts = claims.claim_verdicts(rows)
  assert verdicts["a"] == ("(a) unified beats type-specific: partly (2 of 3 "
                           "rows hold, 1 fail, 0 undecided).")
  assert verdicts["b"].startswith("(b) the graph foundation helps: partly")
  assert verdicts["c"].startswith("(c) unified beats every simple model "
                                  "(all types): holds (2 of 2")
  assert claims.claim_verdicts([])["a"].endswith("not checked (a model it "
                                                 "needs was not run).")


def test_claims_table_summary_and_plot(tmp_path):
  result = _result()
  table = "\n".join(claims.claims_markdown(result))
  assert ("| (c) unified beats ease on all_types | ease | all users, all "
          "items | 100 | +0.0040 [+0.0010, +0.0070] | holds |") in table
  assert "- (a) unified beats type-specific: partly" in table
  assert claims.plot_claims(result, tmp_path / "c.png")
  assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
  # Nothing paired (e.g. the unified model was not run): no table, no plot.
  empty = {"config": {"k": 10}, "types": ["food"], "models": {}}
  assert claims.claims_markdown(empty) == []
  assert not claims.plot_claims(empty, tmp_path / "none.png")
  assert not (tmp_path / "none.png").exists()
  summary = report.summary_text({
      "verdict": report.verdict({}, []), "models": {}, "config": {
          "k": 10, "seeds": 1}, "split": {
              "cut_utc": "a", "holdout_end_utc": "b"}, **{
          k: v for k, v in result.items() if k in ("paired", "types")}})
  assert "Claims (paired 95% intervals; results.md, claims.png):" in summary
