"""Beam's portable path on loopback: a job service and an SDK worker pool.

``portable_services()`` starts, as subprocesses of the test,

* ``apache_beam.runners.portability.local_job_service_main``: the job
  service a ``PortableRunner`` submits to (the role Flink's, Spark's or
  Dataflow's job service plays), and
* ``apache_beam.runners.worker.worker_pool_main``: the worker pool that the
  job service asks for SDK harnesses (``--environment_type=EXTERNAL``); each
  harness is a separate Python process the pool starts,

each on a free port of 127.0.0.1, and yields the Beam options that run a
pipeline through them. Workers get this checkout through ``PYTHONPATH`` (a
path shared with the driver, as a cluster's workers get the package from
``--setup_file`` or their container image) and nothing else of the driver:
DoFns reach them pickled, files through paths they read. Start-up is bounded
by a timeout and both processes are killed on exit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
from typing import Iterator

import psutil

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 60.0


@dataclasses.dataclass
class PortableServices:
  """The running job service and worker pool.

  Attributes:
    beam_args: Beam options that run a pipeline through them.
    job_service_pid: pid of the job service process.
    worker_pool_pid: pid of the worker pool process (the SDK harnesses are
      its child processes).
    log_dir: where both processes' output goes.
  """

  beam_args: list[str]
  job_service_pid: int
  worker_pool_pid: int
  log_dir: pathlib.Path

  def harness_pids(self) -> set[int]:
    """Pids of the SDK harness processes the worker pool runs now.

    Returns:
      The pool's descendant processes.
    """
    try:
      pool = psutil.Process(self.worker_pool_pid)
      return {p.pid for p in pool.children(recursive=True)}
    except psutil.NoSuchProcess:
      return set()


def free_port() -> int:
  """A TCP port of 127.0.0.1 that was free a moment ago.

  Returns:
    The port number.
  """
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, what: str,
                   deadline: float) -> None:
  while time.monotonic() < deadline:
    if process.poll() is not None:
      raise RuntimeError(f"the {what} exited with {process.returncode}")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
      s.settimeout(1.0)
      if s.connect_ex(("127.0.0.1", port)) == 0:
        return
    time.sleep(0.2)
  raise TimeoutError(f"the {what} did not listen on 127.0.0.1:{port} within "
                     f"{START_TIMEOUT_SECONDS:.0f}s")


def _worker_environment() -> dict[str, str]:
  """The worker pool's environment: this interpreter and this checkout.

  The pool starts each harness as ``python`` from ``PATH``: the venv's.
  ``TF_USE_LEGACY_KERAS=1`` is part of the workers' environment, as a
  cluster's worker image must set it: a harness may unpickle a coder of
  TF-GNN values (which imports ``tensorflow_gnn``) before any of the
  package's code runs, so the package cannot set it in time itself (the
  test failed that way when a fresh harness took the embedding stage).
  """
  env = dict(os.environ)
  env["TF_USE_LEGACY_KERAS"] = "1"
  env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable),
                                 env.get("PATH", "")])
  paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
  env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT)] + paths)
  env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  return env


def _stop(process: subprocess.Popen) -> None:
  """Ends ``process`` and its children (SDK harnesses): TERM, then KILL."""
  try:
    family = psutil.Process(process.pid).children(recursive=True)
  except psutil.NoSuchProcess:
    family = []
  for p in [process, *family]:
    with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
      p.terminate()
  try:
    process.wait(timeout=10)
  except subprocess.TimeoutExpired:
    process.kill()
    process.wait(timeout=10)
  _, alive = psutil.wait_procs(family, timeout=10)
  for p in alive:
    with contextlib.suppress(psutil.NoSuchProcess):
      p.kill()


@contextlib.contextmanager
def portable_services(log_dir: pathlib.Path | None = None
                      ) -> Iterator[PortableServices]:
  """Runs a job service and a worker pool on loopback for the duration.

  Args:
    log_dir: where the processes' output goes (default: a temporary folder).

  Yields:
    The ``PortableServices``; its ``beam_args`` select the ``PortableRunner``
    against the job service with ``--environment_type=EXTERNAL`` workers.
  """
  log_dir = pathlib.Path(log_dir or tempfile.mkdtemp(prefix="gfm-portable-"))
  log_dir.mkdir(parents=True, exist_ok=True)
  job_port, pool_port = free_port(), free_port()
  env = _worker_environment()
  started = []
  with contextlib.ExitStack() as stack:
    stack.callback(lambda: [_stop(p) for p in reversed(started)])
    job_log = stack.enter_context(open(log_dir / "job_service.log", "wb"))
    pool_log = stack.enter_context(open(log_dir / "worker_pool.log", "wb"))
    job = subprocess.Popen(
        [sys.executable, "-m",
         "apache_beam.runners.portability.local_job_service_main",
         "--port", str(job_port)],
        env=env, stdout=job_log, stderr=subprocess.STDOUT, cwd=log_dir)
    started.append(job)
    pool = subprocess.Popen(
        [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
         "--service_port", str(pool_port)],
        env=env, stdout=pool_log, stderr=subprocess.STDOUT, cwd=log_dir)
    started.append(pool)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    _wait_for_port(job_port, job, "job service", deadline)
    _wait_for_port(pool_port, pool, "worker pool", deadline)
    yield PortableServices(
        beam_args=["--runner=PortableRunner",
                   f"--job_endpoint=localhost:{job_port}",
                   "--environment_type=EXTERNAL",
                   f"--environment_config=localhost:{pool_port}"],
        job_service_pid=job.pid, worker_pool_pid=pool.pid, log_dir=log_dir)
