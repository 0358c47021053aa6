"""``gfm serve``: a local server with TF Serving's REST API."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys

from tfgnn_gfm.config import add_config_arguments, config_from_args
from tfgnn_gfm.serving.config import ServeConfig

_DESCRIPTION = """\
Serve SavedModels with TensorFlow Serving's REST API (same URLs, JSON and
error codes), so any client written against gfm serve works unchanged
against tensorflow/serving or google/tf-serving-scann:

  GET  /v1/models/NAME[/versions/V|/labels/L]            status
  GET  /v1/models/NAME[/versions/V|/labels/L]/metadata   signature defs
  POST /v1/models/NAME[/versions/V|/labels/L]:predict    row or columnar

A model base path holds one integer-named folder per version
(BASE/<version>/saved_model.pb); the highest is served (or as the config's
model_version_policy says). New versions are picked up by polling and
swapped in only once fully loaded; a version that fails to load is reported
in the status and the previous one keeps serving. The server imports ScaNN
and TF Text first, so ScaNN and brute-force exports both load.

With --monitoring-config-file FILE (TF Serving's MonitoringConfig text
proto, prometheus_config { enable: true }), the REST port also serves
Prometheus metrics on /monitoring/prometheus/metrics (or the file's path):
request counts and latency per model, version and signature, answers by
HTTP status, loaded versions.

Only the REST API is implemented: no gRPC (--port is accepted and
ignored), no :classify/:regress. Every option is also accepted in TF
Serving's spelling (--rest_api_port, --model_base_path, ...).

Safe defaults: the server listens on 127.0.0.1 only; give --rest-api-host
0.0.0.0 to reach it from other machines (or through a container's published
port). Requests are bounded: body size after decompression
(--max-request-bytes), instances per request (--max-batch-size), time to
send headers and body (--header-read-timeout-seconds,
--body-read-timeout-seconds); a client error is a 4xx JSON error.

examples:
  gfm serve --model-name gfm_retrieval \\
      --model-base-path out/exports/gfm_retrieval
  gfm serve --model-config-file out/exports/models.config --rest-api-port 8501
  gfm serve --model-config-file /models/models.config --rest-api-host 0.0.0.0
  gfm serve --model-config-file out/exports/models.config \\
      --monitoring-config-file serving/monitoring.config
  curl http://localhost:8501/v1/models/gfm_retrieval
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Registers ``gfm serve``."""
  parser = subparsers.add_parser(
      "serve", help="serve exported models with TF Serving's REST API",
      description=_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  add_config_arguments(parser, ServeConfig)
  # TF Serving's spellings of the same options (hidden from --help).
  for field in dataclasses.fields(ServeConfig):
    if "_" in field.name:
      parser.add_argument("--" + field.name, dest=field.name,
                          default=argparse.SUPPRESS, help=argparse.SUPPRESS)
  parser.set_defaults(func=run)
  return parser


def _model_config(config: ServeConfig):
  from tfgnn_gfm.serving import model_config
  if config.model_config_file:
    return model_config.load_model_server_config(config.model_config_file)
  if not config.model_base_path:
    raise ValueError("give --model-base-path (one model) or "
                     "--model-config-file (several models)")
  return model_config.single_model_config(config.model_name,
                                          config.model_base_path)


def _monitoring_path(config: ServeConfig) -> str | None:
  if not config.monitoring_config_file:
    return None
  from tfgnn_gfm.serving import monitoring_config
  return monitoring_config.load_monitoring_config(
      config.monitoring_config_file)


def _print_ready(server) -> None:
  print(f"serve: REST API at {server.url} (TF Serving's REST contract; gRPC "
        "not implemented)")
  if server.monitoring_path:
    print(f"serve: Prometheus metrics at {server.url}{server.monitoring_path}")
  if server.host in ("0.0.0.0", "::", ""):
    print(f"serve: listening on all interfaces ({server.host or 'all'}): "
          "reachable from other machines")
  for name in server.store.model_names:
    versions = server.store.served_versions(name)
    served = ", ".join(map(str, versions)) if versions else "none yet"
    print(f"serve:   {server.url}/v1/models/{name}  (versions: {served})")
  print("serve: ready; Ctrl-C or SIGTERM stops", flush=True)


def run(args: argparse.Namespace) -> int:
  """Serves until interrupted."""
  config = config_from_args(ServeConfig, args)
  server_config = _model_config(config)  # ModelConfigError is a ValueError.
  monitoring_path = _monitoring_path(config)  # So is MonitoringConfigError.
  if "port" in vars(args):
    logging.getLogger(__name__).warning(
        "--port %d ignored: gfm serve implements the REST API only (no gRPC)",
        config.port)
  from tfgnn_gfm.serving.server import ModelServer, run_server
  server = ModelServer(
      server_config, host=config.rest_api_host, port=config.rest_api_port,
      poll_wait_seconds=config.file_system_poll_wait_seconds,
      num_threads=config.rest_api_num_threads or None,
      timeout_ms=config.rest_api_timeout_in_ms,
      max_request_bytes=config.max_request_bytes,
      max_batch_size=config.max_batch_size,
      header_timeout_seconds=config.header_read_timeout_seconds,
      body_timeout_seconds=config.body_read_timeout_seconds,
      monitoring_path=monitoring_path)
  try:
    code = run_server(server, on_ready=_print_ready)
  except OSError as e:
    raise ValueError(f"cannot listen on {config.rest_api_host}:"
                     f"{config.rest_api_port}: {e.strerror or e}") from e
  print("serve: stopped", file=sys.stderr)
  return code
