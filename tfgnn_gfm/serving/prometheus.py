"""A small metrics registry and Prometheus' text exposition format.

Counters and histograms keyed by label values, and gauges computed when
scraped, rendered in Prometheus' text format (version 0.0.4)::

  # HELP name help text
  # TYPE name counter
  name{label="value"} 3

Values are updated under one lock per registry, so request threads and the
event loop may record at any time. The standard library only.
"""

from __future__ import annotations

import math
import threading
from typing import Callable, Iterable, Sequence

#: The ``Content-Type`` of the text exposition format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def exponential_buckets(scale: float, growth: float, count: int
                        ) -> tuple[float, ...]:
  """Histogram bucket bounds ``scale * growth**i`` for ``i < count``.

  Args:
    scale: the first bound.
    growth: the ratio of two consecutive bounds (> 1).
    count: the number of bounds.

  Returns:
    The upper bounds, ascending (``+Inf`` is implicit).
  """
  return tuple(scale * growth**i for i in range(count))


def _escape(value: str) -> str:
  return (value.replace("\\", "\\\\").replace("\n", "\\n")
          .replace('"', '\\"'))


def _number(value: float) -> str:
  if math.isinf(value):
    return "+Inf" if value > 0 else "-Inf"
  if math.isnan(value):
    return "NaN"
  return repr(float(value)) if value != int(value) else str(int(value))


def _series(name: str, labels: Sequence[str], values: Sequence[str],
            value: float, extra: str = "") -> str:
  pairs = [f'{k}="{_escape(v)}"' for k, v in zip(labels, values)]
  if extra:
    pairs.append(extra)
  inner = "{" + ",".join(pairs) + "}" if pairs else ""
  return f"{name}{inner} {_number(value)}"


class _Metric:
  kind = ""

  def __init__(self, name: str, help_text: str, labels: Sequence[str],
               lock: threading.Lock):
    self.name = name
    self.help = help_text
    self.labels = tuple(labels)
    self._lock = lock

  def _key(self, values: Sequence[str]) -> tuple[str, ...]:
    key = tuple(str(v) for v in values)
    if len(key) != len(self.labels):
      raise ValueError(f"{self.name} takes labels {self.labels}, got {key}")
    return key

  def header(self) -> list[str]:
    return [f"# HELP {self.name} {self.help}",
            f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
  """A monotonically increasing count per label values."""

  kind = "counter"

  def __init__(self, *args):
    super().__init__(*args)
    self._values: dict[tuple[str, ...], float] = {}

  def inc(self, values: Sequence[str] = (), amount: float = 1.0) -> None:
    """Adds ``amount`` to the series of ``values`` (one per label)."""
    key = self._key(values)
    with self._lock:
      self._values[key] = self._values.get(key, 0.0) + amount

  def value(self, values: Sequence[str] = ()) -> float:
    """The current count of a series (0 if never incremented)."""
    with self._lock:
      return self._values.get(self._key(values), 0.0)

  def render(self) -> list[str]:
    with self._lock:
      items = sorted(self._values.items())
    return self.header() + [_series(self.name, self.labels, k, v)
                            for k, v in items]


class Histogram(_Metric):
  """Observations per label values, counted in cumulative buckets."""

  kind = "histogram"

  def __init__(self, name: str, help_text: str, labels: Sequence[str],
               lock: threading.Lock, buckets: Sequence[float]):
    super().__init__(name, help_text, labels, lock)
    self.buckets = tuple(sorted(buckets))
    # key -> (count per bucket, +Inf included; sum)
    self._values: dict[tuple[str, ...], tuple[list[int], float]] = {}

  def observe(self, values: Sequence[str], amount: float) -> None:
    """Records one observation in the series of ``values``."""
    key = self._key(values)
    with self._lock:
      counts, total = self._values.get(key, ([0] * (len(self.buckets) + 1),
                                             0.0))
      index = next((i for i, bound in enumerate(self.buckets)
                    if amount <= bound), len(self.buckets))
      counts[index] += 1
      self._values[key] = (counts, total + amount)

  def count(self, values: Sequence[str]) -> int:
    """The number of observations of a series."""
    with self._lock:
      counts, _ = self._values.get(self._key(values), ([0], 0.0))
      return sum(counts)

  def render(self) -> list[str]:
    with self._lock:
      items = sorted((k, (list(c), s)) for k, (c, s) in self._values.items())
    lines = self.header()
    for key, (counts, total) in items:
      cumulative = 0
      for bound, count in zip(self.buckets + (math.inf,), counts):
        cumulative += count
        lines.append(_series(f"{self.name}_bucket", self.labels, key,
                             cumulative, f'le="{_number(bound)}"'))
      lines.append(_series(f"{self.name}_sum", self.labels, key, total))
      lines.append(_series(f"{self.name}_count", self.labels, key,
                           cumulative))
    return lines


class Gauge(_Metric):
  """A value per label values, computed by a function at each scrape."""

  kind = "gauge"

  def __init__(self, name: str, help_text: str, labels: Sequence[str],
               lock: threading.Lock,
               collect: Callable[[], Iterable[tuple[Sequence[str], float]]]):
    super().__init__(name, help_text, labels, lock)
    self._collect = collect

  def render(self) -> list[str]:
    series = sorted((self._key(k), v) for k, v in self._collect())
    return self.header() + [_series(self.name, self.labels, k, v)
                            for k, v in series]


class Registry:
  """The metrics of one server, rendered together."""

  def __init__(self):
    self._lock = threading.Lock()
    self._metrics: list[_Metric] = []

  def _add(self, metric: _Metric) -> _Metric:
    if any(m.name == metric.name for m in self._metrics):
      raise ValueError(f"metric {metric.name} registered twice")
    self._metrics.append(metric)
    return metric

  def counter(self, name: str, help_text: str, labels: Sequence[str] = ()
              ) -> Counter:
    """Registers a counter.

    Args:
      name: metric name.
      help_text: its ``# HELP`` line.
      labels: label names.

    Returns:
      The counter.
    """
    return self._add(Counter(name, help_text, labels, self._lock))

  def histogram(self, name: str, help_text: str, labels: Sequence[str],
                buckets: Sequence[float]) -> Histogram:
    """Registers a histogram.

    Args:
      name: metric name.
      help_text: its ``# HELP`` line.
      labels: label names.
      buckets: upper bucket bounds (``+Inf`` is added).

    Returns:
      The histogram.
    """
    return self._add(Histogram(name, help_text, labels, self._lock, buckets))

  def gauge(self, name: str, help_text: str, labels: Sequence[str],
            collect: Callable[[], Iterable[tuple[Sequence[str], float]]]
            ) -> Gauge:
    """Registers a gauge whose series ``collect()`` returns at each scrape.

    Args:
      name: metric name.
      help_text: its ``# HELP`` line.
      labels: label names.
      collect: returns ``(label values, value)`` pairs.

    Returns:
      The gauge.
    """
    return self._add(Gauge(name, help_text, labels, self._lock, collect))

  def render(self) -> str:
    """Every metric in Prometheus' text exposition format."""
    lines = []
    for metric in self._metrics:
      lines.extend(metric.render())
    return "\n".join(lines) + "\n"
