"""Which worker processes did a pipeline's work: a Beam counter per process.

A DoFn that calls ``count_elements(n)`` adds ``n`` to the counter named
``<host>/<pid>`` of its worker process, in the namespace
``WORKERS_NAMESPACE``. After the run, ``worker_processes(result)`` reads them
back: elements processed per worker process. The stages record it in their
manifests (``beam.worker_processes``), which shows how the work was spread and
that, on a portable runner, it ran in SDK harness processes and not in the
driver. Runners that report no metrics give an empty mapping.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from tfgnn_gfm.pipelines.counters import pipeline_counters

WORKERS_NAMESPACE = "gfm.workers"


def worker_key() -> str:
  """``<host>/<pid>`` of the calling process.

  Returns:
    The counter name of this worker process.
  """
  return f"{socket.gethostname()}/{os.getpid()}"


def count_elements(count: int = 1) -> None:
  """Adds ``count`` to this worker process's counter (call inside a DoFn).

  Args:
    count: elements (or rows) just processed.
  """
  from apache_beam.metrics import Metrics
  Metrics.counter(WORKERS_NAMESPACE, worker_key()).inc(int(count))


def worker_processes(result: Any) -> dict[str, int]:
  """Elements counted per worker process in a finished run.

  Args:
    result: the ``PipelineResult``.

  Returns:
    ``<host>/<pid>`` -> elements; empty when the runner reports no metrics.
  """
  return pipeline_counters(result, WORKERS_NAMESPACE)
