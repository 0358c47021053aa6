"""Apache Beam plumbing shared by every pipeline of the package.

The graph pipeline (top-level ``beam/``), the HGNN's Beam sampler and the Beam
embedding job all use these: pipeline options from unknown command-line
arguments and the runner choice (``options``), reading a finished run's
counters (``counters``) and the per-worker-process element counts that show
where the work ran (``workers``). Nothing here imports the top-level ``beam``
package: it imports this one.
"""

from tfgnn_gfm.pipelines.counters import pipeline_counters
from tfgnn_gfm.pipelines.options import (
  BeamArgsParser,
  create_runner,
  pass_beam_options,
  pipeline_options,
  runner_name,
)
from tfgnn_gfm.pipelines.workers import (
  WORKERS_NAMESPACE,
  count_elements,
  worker_processes,
)
