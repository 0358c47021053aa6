"""Beam pipeline options and runner choice for every pipeline of the package.

Every argument a Beam-running command (``gfm build-graph``, ``gfm pretrain
--sampler beam``, ``gfm embed --beam``) does not know is a Beam pipeline option
(``--runner``, ``--direct_num_workers``, ``--direct_running_mode``,
``--temp_location``, ``--setup_file``, ``--project``, ``--flink_master``,
...). ``pipeline_options`` checks them against every option Beam defines and
raises ``ConfigError`` for a misspelt or unknown one (Beam itself would only
log a warning and drop it) or an invalid value. ``BeamArgsParser`` is the
command-line parser that sets those arguments aside as ``beam_args``;
``pass_beam_options`` gives a subcommand's parser that behaviour.

Runner: the DirectRunner of Beam 2.77 first tries to download the Prism
runner binary; offline that fails and it falls back to the classic engine
after a delay and log noise (docs/DESIGN.md section 7.2). For ``--runner``
unset or ``DirectRunner`` this module selects the classic local engine, Beam's
``FnApiRunner``, directly: it honours ``--direct_num_workers`` and
``--direct_running_mode`` (``in_memory``, ``multi_threading``,
``multi_processing``). ``--runner=PrismRunner`` still selects Prism, and any
other runner (``DataflowRunner``, ``FlinkRunner``, ``SparkRunner``, ...) is
passed to Beam by name.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import pathlib
import sys
from typing import Any, Sequence

from tfgnn_gfm.config import ConfigError

_LOG = logging.getLogger(__name__)
_LOCAL_RUNNERS = (None, "DirectRunner", "direct", "SwitchingDirectRunner")
_PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[2]


class BeamArgsParser(argparse.ArgumentParser):
  """An argument parser that keeps unknown arguments as ``beam_args``.

  The arguments the command does not define are Beam pipeline options; they
  are collected, in order, in the namespace's ``beam_args`` list (checked
  strictly later by ``pipeline_options``) instead of failing the parse.
  """

  def parse_known_args(self, args=None, namespace=None):
    """Parses ``args``; unknown arguments are appended to ``beam_args``.

    Args:
      args: the arguments (default: ``sys.argv[1:]``).
      namespace: the namespace to fill (default: a new one).

    Returns:
      (namespace, []): nothing is left over.
    """
    namespace, extras = super().parse_known_args(args, namespace)
    namespace.beam_args = list(getattr(namespace, "beam_args", None) or [])
    namespace.beam_args += extras
    return namespace, []


def pass_beam_options(parser: argparse.ArgumentParser
                      ) -> argparse.ArgumentParser:
  """Makes a command keep its unknown arguments as Beam pipeline options.

  ``argparse`` builds every subcommand's parser with the class of the
  ``gfm`` parser; this gives one subcommand the ``BeamArgsParser``
  behaviour (unknown arguments collected in ``args.beam_args``, checked
  strictly by ``pipeline_options`` when the pipeline is built; ``[]``
  without any).

  Args:
    parser: the subcommand's parser (a plain ``ArgumentParser``).

  Returns:
    The same parser, now a ``BeamArgsParser``.
  """
  if not isinstance(parser, BeamArgsParser):
    parser.__class__ = BeamArgsParser
  return parser


def pipeline_options(beam_args: Sequence[str]) -> Any:
  """Builds ``PipelineOptions`` from the leftover arguments, strictly.

  Args:
    beam_args: arguments such as ``["--runner=DataflowRunner", "--project",
      "p"]``.

  Returns:
    The ``apache_beam.options.pipeline_options.PipelineOptions``.

  Raises:
    ConfigError: for an argument that no Beam option class defines, or an
      invalid value (e.g. ``--direct_running_mode=fast``).
  """
  from apache_beam.options.pipeline_options import PipelineOptions
  beam_args = list(beam_args)
  parsers = []
  stderr = io.StringIO()
  try:
    with contextlib.redirect_stderr(stderr):
      options = PipelineOptions(beam_args)
      options.get_all_options(add_extra_args_fn=parsers.append)
      _, unknown = parsers[0].parse_known_args(beam_args)
  except SystemExit as e:
    message = stderr.getvalue().strip().splitlines()
    raise ConfigError("bad Beam pipeline option: "
                      + (message[-1] if message else str(e))) from None
  if unknown:
    raise ConfigError(
        f"unknown option(s) {' '.join(unknown)}: neither an option of the "
        "graph command (see --help) nor a Beam pipeline option")
  return options


def runner_name(options: Any) -> str:
  """The runner the options select (``DirectRunner`` when unset)."""
  from apache_beam.options.pipeline_options import StandardOptions
  runner = options.view_as(StandardOptions).runner
  if runner is None or runner in _LOCAL_RUNNERS:
    return "DirectRunner"
  return runner if isinstance(runner, str) else type(runner).__name__


def create_runner(options: Any) -> Any:
  """The runner to use: the classic local engine for the DirectRunner.

  Args:
    options: the PipelineOptions.

  Returns:
    A ``PipelineRunner`` instance, or None to let Beam choose from
    ``--runner``.
  """
  from apache_beam.options.pipeline_options import (
    DirectOptions,
    StandardOptions,
  )
  runner = options.view_as(StandardOptions).runner
  if runner not in _LOCAL_RUNNERS:
    return None
  from apache_beam.portability.api import beam_provision_api_pb2
  from apache_beam.runners.portability.fn_api_runner import fn_runner
  from apache_beam.runners.portability.portable_runner import JobServiceHandle
  direct = options.view_as(DirectOptions)
  if direct.direct_running_mode == "multi_processing":
    _export_project_path()
  _LOG.info("runner: classic DirectRunner engine (FnApiRunner, %s, %s "
            "workers); Prism is not used", direct.direct_running_mode,
            direct.direct_num_workers or 1)
  encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
  provision_info = fn_runner.ExtendedProvisionInfo(
      beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded))
  return fn_runner.FnApiRunner(provision_info=provision_info)


def _export_project_path() -> None:
  """Lets local worker subprocesses import ``beam`` and ``tfgnn_gfm``.

  ``multi_processing`` workers are fresh interpreters; when this checkout is
  not installed (or installed before ``beam/`` existed), they find the
  pipeline's modules through ``PYTHONPATH``.
  """
  root = str(_PROJECT_ROOT)
  paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
  if root not in paths:
    os.environ["PYTHONPATH"] = os.pathsep.join([root] + [p for p in paths
                                                         if p])
  if root not in sys.path:
    sys.path.insert(0, root)
