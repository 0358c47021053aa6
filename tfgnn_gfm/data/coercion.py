"""Coercion of raw cells to the contract's types: strings, numbers, lists,
timestamps (ISO 8601 or epoch seconds, in a checked range).
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# The supported time range, [1800-01-01, 2200-01-01) UTC, for ISO-8601 and
# epoch seconds alike: wide enough for publication dates and logs, narrow
# enough that no later stage overflows (nanosecond times end in 2262) and that
# epoch milliseconds are rejected.
MIN_TIMESTAMP = -5_364_662_400  # 1800-01-01T00:00:00Z


MAX_TIMESTAMP = 7_258_118_400  # 2200-01-01T00:00:00Z, exclusive


TIME_RANGE_TEXT = "1800-01-01T00:00:00Z <= t < 2200-01-01T00:00:00Z"


_ISO_YEAR = re.compile(r"^\s*([+-]?\d{4,})-")


def arrow_strings(series: pd.Series):
  """The column as a pyarrow string array when every value is a str, else None.

  CSV columns are all strings; for them the checks below run in Arrow's C++
  kernels instead of a Python call per value.
  """
  if len(series) and pd.api.types.infer_dtype(series, skipna=False) == "string":
    return pa.array(series.to_numpy(dtype=object), type=pa.string())
  return None


def is_empty(series: pd.Series) -> pd.Series:
  """True where a value is missing: None, NaN, or a blank string."""
  arrow = arrow_strings(series)
  if arrow is not None:
    blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(arrow)), 0)
    return pd.Series(blank.to_numpy(zero_copy_only=False), index=series.index)
  as_text = series.map(lambda v: v.strip() if isinstance(v, str) else v)
  return as_text.isna() | as_text.map(
      lambda v: isinstance(v, str) and not v).astype(bool)


# String fields that also take a list of strings (joined by ";"), as the
# schema says of them; in any other string field (an id) a list is wrong_type.
LIST_FIELDS = frozenset({"genres"})


def to_string(series: pd.Series, lists: bool = False
               ) -> tuple[pd.Series, pd.Series]:
  """(values as str, bad mask): numbers become their text; with ``lists``,
  a list of strings joins with ``;`` (else it is bad)."""
  arrow = arrow_strings(series)
  if arrow is not None:
    values = pd.Series(pc.utf8_trim_whitespace(arrow).to_numpy(
        zero_copy_only=False), index=series.index, dtype=object)
    return values, pd.Series(False, index=series.index)

  def convert(v):
    if isinstance(v, str):
      return v.strip()
    if isinstance(v, bool):
      return None
    if isinstance(v, (int, np.integer)):
      return str(int(v))
    if isinstance(v, (float, np.floating)):
      return str(int(v)) if float(v).is_integer() else str(v)
    if lists and isinstance(v, (list, tuple, np.ndarray)) and all(
        isinstance(x, str) for x in v):
      return ";".join(x.strip() for x in v)
    return None
  out = series.map(convert)
  return out, out.isna()


def to_number(series: pd.Series) -> tuple[pd.Series, pd.Series]:
  if arrow_strings(series) is not None:
    out = pd.to_numeric(series, errors="coerce").astype("float64")
  else:
    def convert(v):
      if isinstance(v, bool):
        return np.nan
      if isinstance(v, (int, float, np.integer, np.floating)):
        return float(v)
      if isinstance(v, str):
        try:
          return float(v)
        except ValueError:
          return np.nan
      return np.nan
    out = series.map(convert).astype("float64")
  return out, out.isna() | ~np.isfinite(out.fillna(0.0))


_NUMBER = r"^\s*-?\d+(\.\d+)?\s*$"


def _datetimes_to_seconds(values: pd.Series) -> np.ndarray:
  """Datetimes (any unit, naive = UTC) as int64 epoch seconds; NaT = min."""
  utc = pd.to_datetime(values, utc=True).dt.tz_convert(None)
  return utc.to_numpy().astype("datetime64[s]").astype(np.int64)


def _has_huge_year(value: Any) -> bool:
  match = _ISO_YEAR.match(value) if isinstance(value, str) else None
  return bool(match) and len(match.group(1).lstrip("+-")) > 4


def parse_timestamps(series: pd.Series
                     ) -> tuple[pd.Series, pd.Series, pd.Series]:
  """Parses ISO-8601 strings, epoch seconds or datetimes to int64 epoch seconds.

  A time without a zone is taken as UTC. Times outside
  ``[MIN_TIMESTAMP, MAX_TIMESTAMP)`` are bad, whatever their spelling.

  Args:
    series: values of any of those kinds (no empties).

  Returns:
    (epoch seconds as int64 with 0 where bad, bad mask, the part of the bad
    mask that is a valid time outside the supported range).
  """
  index = series.index
  secs = pd.Series(np.zeros(len(series), dtype=np.int64), index=index)
  bad = pd.Series(np.zeros(len(series), dtype=bool), index=index)
  out_of_range = bad.copy()
  if pd.api.types.is_datetime64_any_dtype(series):
    raw = _datetimes_to_seconds(series)
    nat = raw == np.iinfo(np.int64).min
    outside = ~nat & ((raw < MIN_TIMESTAMP) | (raw >= MAX_TIMESTAMP))
    secs[:] = np.where(nat | outside, 0, raw)
    return secs, pd.Series(nat | outside, index=index), pd.Series(
        outside, index=index)
  values = series.map(lambda v: v.isoformat() if isinstance(v, pd.Timestamp)
                      else v)
  arrow = arrow_strings(values)
  if arrow is not None:
    is_num = pd.Series(pc.match_substring_regex(arrow, _NUMBER).to_numpy(
        zero_copy_only=False), index=index)
    numeric = pd.to_numeric(values.where(is_num), errors="coerce")
  else:
    numeric = values.map(
        lambda v: float(v) if isinstance(
            v, (int, float, np.integer, np.floating))
        and not isinstance(v, bool) else (
            float(v) if isinstance(v, str) and re.fullmatch(_NUMBER, v)
            else np.nan)).astype("float64")
    is_num = numeric.notna()
  if is_num.any():
    num = numeric[is_num].astype("float64")
    outside = ~((num >= MIN_TIMESTAMP) & (num < MAX_TIMESTAMP))
    secs[is_num] = np.floor(num.where(~outside, 0)).astype(np.int64)
    bad[is_num] = outside
    out_of_range[is_num] = outside & np.isfinite(num)
  text = values[~is_num]
  if len(text):
    as_str = text.map(lambda v: v if isinstance(v, str) else None)
    parsed = pd.to_datetime(as_str, format="ISO8601", utc=True,
                            errors="coerce")
    raw = _datetimes_to_seconds(parsed)
    nat = raw == np.iinfo(np.int64).min
    outside = ~nat & ((raw < MIN_TIMESTAMP) | (raw >= MAX_TIMESTAMP))
    # A year pandas cannot hold at all (+10000-01-01) is out of range too.
    huge = nat & text.map(_has_huge_year).to_numpy(bool)
    ok = ~nat & ~outside
    secs[text.index[ok]] = raw[ok]
    bad[text.index[~ok]] = True
    out_of_range[text.index[outside | huge]] = True
  return secs, bad, out_of_range


def to_array(series: pd.Series) -> tuple[pd.Series, pd.Series]:
  def convert(v):
    if isinstance(v, str):
      text = v.strip()
      try:
        parts = (json.loads(text) if text.startswith("[")
                 else [float(x) for x in text.split(";")])
      except (ValueError, json.JSONDecodeError):
        return None
    elif isinstance(v, (list, tuple, np.ndarray)):
      parts = list(v)
    else:
      return None
    try:
      arr = np.asarray(parts, dtype=np.float32)
    except (TypeError, ValueError):
      return None
    return arr if arr.ndim == 1 and np.all(np.isfinite(arr)) else None
  out = series.map(convert)
  return out, out.isna()
