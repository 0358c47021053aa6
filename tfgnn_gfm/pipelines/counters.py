"""Reading a finished pipeline's Beam counters (by namespace)."""

from __future__ import annotations

from typing import Any


def pipeline_counters(result: Any, namespace: str) -> dict[str, int]:
  """The committed values (attempted where a runner has none) of the
  pipeline's counters in ``namespace``, summed by name and sorted.

  Args:
    result: the ``PipelineResult`` of a finished run.
    namespace: the counters' namespace.

  Returns:
    Counter name -> value; empty when the runner cannot report metrics.
  """
  out: dict[str, int] = {}
  try:
    metrics = result.metrics().query()
  except Exception:  # Some runners lack it.
    return out
  for counter in metrics.get("counters", []):
    if counter.key.metric.namespace != namespace:
      continue
    value = counter.committed if counter.committed is not None else (
        counter.attempted)
    name = counter.key.metric.name
    out[name] = out.get(name, 0) + int(value or 0)
  return dict(sorted(out.items()))
