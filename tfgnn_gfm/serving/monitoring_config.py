"""TF Serving's MonitoringConfig (``--monitoring_config_file``).

``tensorflow_model_server --monitoring_config_file FILE`` reads a
``tensorflow.serving.MonitoringConfig`` text proto; with::

  prometheus_config {
    enable: true,
    path: "/monitoring/prometheus/metrics"   # optional; this is the default
  }

the REST port also answers ``GET PATH`` with the server's metrics in
Prometheus' text format. ``gfm serve`` reads the same file.

tensorflow-serving-api 2.20.0 does not ship ``monitoring_config_pb2``, so
the two messages are declared here field for field as in TF Serving's
``tensorflow_serving/config/monitoring_config.proto`` (same package, names
and numbers, proto3), in a descriptor pool of their own; a file written for
TF Serving parses identically.

This module imports no TensorFlow.
"""

from __future__ import annotations

import os

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from tfgnn_gfm.serving.text_proto import read_text_proto

#: TF Serving's default metrics path (``PrometheusExporter::kPrometheusPath``).
DEFAULT_PATH = "/monitoring/prometheus/metrics"


class MonitoringConfigError(ValueError):
  """A monitoring config that cannot be read, naming the file."""


def _message_classes():
  """PrometheusConfig and MonitoringConfig, as monitoring_config.proto has
  them."""
  field = descriptor_pb2.FieldDescriptorProto
  proto = descriptor_pb2.FileDescriptorProto(
      name="tensorflow_serving/config/monitoring_config.proto",
      package="tensorflow.serving", syntax="proto3")
  prometheus = proto.message_type.add(name="PrometheusConfig")
  prometheus.field.add(name="enable", number=1, type=field.TYPE_BOOL,
                       label=field.LABEL_OPTIONAL, json_name="enable")
  prometheus.field.add(name="path", number=2, type=field.TYPE_STRING,
                       label=field.LABEL_OPTIONAL, json_name="path")
  monitoring = proto.message_type.add(name="MonitoringConfig")
  monitoring.field.add(name="prometheus_config", number=1,
                       type=field.TYPE_MESSAGE, label=field.LABEL_OPTIONAL,
                       type_name=".tensorflow.serving.PrometheusConfig",
                       json_name="prometheusConfig")
  pool = descriptor_pool.DescriptorPool()
  pool.Add(proto)
  return tuple(message_factory.GetMessageClass(pool.FindMessageTypeByName(
      f"tensorflow.serving.{name}"))
               for name in ("PrometheusConfig", "MonitoringConfig"))


PrometheusConfig, MonitoringConfig = _message_classes()


def prometheus_path(config) -> str | None:
  """The path a MonitoringConfig exposes metrics on.

  Args:
    config: a ``MonitoringConfig`` message.

  Returns:
    The path (``DEFAULT_PATH`` when unset), or None when Prometheus is not
    enabled.

  Raises:
    MonitoringConfigError: for a path that does not start with ``/``.
  """
  prometheus = config.prometheus_config
  if not prometheus.enable:
    return None
  path = prometheus.path or DEFAULT_PATH
  if not path.startswith("/"):
    raise MonitoringConfigError(f"prometheus_config.path {path!r} must start "
                                "with '/'")
  return path


def load_monitoring_config(path: str | os.PathLike) -> str | None:
  """Reads a ``--monitoring_config_file``.

  Args:
    path: the file (a MonitoringConfig text proto).

  Returns:
    The metrics path, or None when Prometheus is not enabled in it.

  Raises:
    MonitoringConfigError: if the file cannot be read or parsed, naming it.
  """
  config = read_text_proto(path, MonitoringConfig(), "monitoring config file",
                           MonitoringConfigError)
  try:
    return prometheus_path(config)
  except MonitoringConfigError as e:
    raise MonitoringConfigError(f"{path}: {e}") from e
