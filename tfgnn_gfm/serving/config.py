"""Configuration of ``gfm serve``, with TF Serving's flag names and defaults.

Each option is also accepted in TF Serving's spelling
(``--rest_api_port``, ``--model_base_path``, ...), so a
``tensorflow_model_server`` command line works with ``gfm serve``.

Two defaults differ from TF Serving's, for safety: the server listens on
127.0.0.1 only (``--rest-api-host 0.0.0.0`` exposes it, e.g. inside a
container), and requests are bounded (body size, instances, read times).

This module imports no TensorFlow (``gfm --help`` reads it).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from tfgnn_gfm.config import ConfigError
from tfgnn_gfm.config import option_help as _help


@dataclasses.dataclass
class ServeConfig:
  """``gfm serve``: the local TF-Serving-compatible REST server."""

  section: ClassVar[str] = "serve"

  model_name: str = dataclasses.field(default="default", metadata=_help(
      "name of the model when serving one (--model-base-path)",
      metavar="NAME"))
  model_base_path: str | None = dataclasses.field(default=None, metadata=_help(
      "folder of the model's versions (BASE/<int>/saved_model.pb); serves "
      "one model", metavar="PATH"))
  model_config_file: str | None = dataclasses.field(
      default=None, metadata=_help(
          "ModelServerConfig text proto listing several models (name, "
          "base_path, model_version_policy, version_labels); replaces "
          "--model-name/--model-base-path", metavar="FILE"))
  monitoring_config_file: str | None = dataclasses.field(
      default=None, metadata=_help(
          "MonitoringConfig text proto; with prometheus_config { enable: "
          "true } the REST port serves Prometheus metrics on its path "
          "(default /monitoring/prometheus/metrics)", metavar="FILE"))
  rest_api_port: int = dataclasses.field(default=8501, metadata=_help(
      "port of the REST API (0: any free port, printed at start)",
      metavar="PORT"))
  rest_api_host: str = dataclasses.field(default="127.0.0.1", metadata=_help(
      "interface to listen on: this machine only by default; 0.0.0.0 for "
      "all (as TF Serving; e.g. inside a container)", metavar="HOST"))
  port: int = dataclasses.field(default=8500, metadata=_help(
      "gRPC port of TF Serving: accepted for compatibility, but gfm serve "
      "does NOT implement gRPC (REST only)", metavar="PORT"))
  file_system_poll_wait_seconds: float = dataclasses.field(
      default=1.0, metadata=_help(
          "seconds between polls of the base paths for new versions; 0 loads "
          "once at start-up", metavar="SECONDS"))
  rest_api_timeout_in_ms: int = dataclasses.field(default=30000, metadata=_help(
      "time limit of one prediction (504 after it); 0 for none", metavar="MS"))
  rest_api_num_threads: int = dataclasses.field(default=0, metadata=_help(
      "threads running predictions (0: 4 per CPU, as TF Serving)",
      metavar="N"))
  max_request_bytes: int = dataclasses.field(
      default=16 * 1024 * 1024, metadata=_help(
          "largest request body in bytes, after gzip/deflate decompression "
          "(413 above; decompression stops at the limit)", metavar="BYTES"))
  max_batch_size: int = dataclasses.field(default=256, metadata=_help(
      "most instances per predict request (rows of 'instances', or the "
      "0-th dimension of each columnar input; 400 above); 0 for no limit",
      metavar="N"))
  header_read_timeout_seconds: float = dataclasses.field(
      default=10.0, metadata=_help(
          "seconds a connection has to send a request's line and headers, "
          "from its opening or its previous answer; then it is closed (idle "
          "keep-alive connections too)", metavar="SECONDS"))
  body_read_timeout_seconds: float = dataclasses.field(
      default=30.0, metadata=_help(
          "seconds a request has to send its whole body (408 after); 0 for "
          "no limit", metavar="SECONDS"))

  def __post_init__(self):
    if self.model_config_file and self.model_base_path:
      raise ConfigError("give --model-config-file or --model-base-path, not "
                        "both")
    if not 0 <= self.rest_api_port <= 65535:
      raise ConfigError(f"rest_api_port {self.rest_api_port} is not a port")
    if self.file_system_poll_wait_seconds < 0:
      raise ConfigError("file_system_poll_wait_seconds must be >= 0")
    if self.rest_api_timeout_in_ms < 0 or self.rest_api_num_threads < 0:
      raise ConfigError("rest_api_timeout_in_ms and rest_api_num_threads must "
                        "be >= 0")
    if self.max_request_bytes <= 0 or self.header_read_timeout_seconds <= 0:
      raise ConfigError("max_request_bytes and header_read_timeout_seconds "
                        "must be > 0")
    if self.max_batch_size < 0 or self.body_read_timeout_seconds < 0:
      raise ConfigError("max_batch_size and body_read_timeout_seconds must "
                        "be >= 0")
