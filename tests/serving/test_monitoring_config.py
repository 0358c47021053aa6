"""TF Serving's --monitoring_config_file: the MonitoringConfig text proto."""

import pathlib

import pytest
from google.protobuf import text_format

from tfgnn_gfm.serving.monitoring_config import (
  DEFAULT_PATH,
  MonitoringConfig,
  MonitoringConfigError,
  load_monitoring_config,
)

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_repository_monitoring_config_enables_the_default_path():
  assert DEFAULT_PATH == "/monitoring/prometheus/metrics"
  assert load_monitoring_config(ROOT / "serving" / "monitoring.config") == (
      DEFAULT_PATH)


def test_message_is_tf_servings(tmp_path):
  message = MonitoringConfig.DESCRIPTOR
  assert message.full_name == "tensorflow.serving.MonitoringConfig"
  prometheus = message.fields_by_name["prometheus_config"]
  assert prometheus.number == 1
  assert prometheus.message_type.full_name == (
      "tensorflow.serving.PrometheusConfig")
  assert [(f.name, f.number) for f in prometheus.message_type.fields] == [
      ("enable", 1), ("path", 2)]
  text = text_format.MessageToString(MonitoringConfig(
      prometheus_config={"enable": True, "path": "/m"}))
  path = tmp_path / "monitoring.config"
  path.write_text(text)
  assert load_monitoring_config(path) == "/m"


@pytest.mark.parametrize("text, expected", [
    ("prometheus_config { enable: true }", DEFAULT_PATH),
    ("prometheus_config { enable: false path: '/x' }", None),
    ("", None),
])
def test_enabled_and_default_path(tmp_path, text, expected):
  path = tmp_path / "m.config"
  path.write_text(text)
  assert load_monitoring_config(path) == expected


@pytest.mark.parametrize("text, message", [
    ("prometheus_config {\n  enabled: true\n}",
     ':2:3: Message type "tensorflow.serving.PrometheusConfig" has no field '
     'named "enabled".'),
    ("prometheus_config { enable: true path: 'metrics' }",
     "prometheus_config.path 'metrics' must start with '/'"),
])
def test_errors_are_one_line_naming_the_file(tmp_path, text, message):
  path = tmp_path / "m.config"
  path.write_text(text)
  with pytest.raises(MonitoringConfigError) as e:
    load_monitoring_config(path)
  assert str(e.value).startswith(str(path)) and message in str(e.value)
  with pytest.raises(MonitoringConfigError, match="cannot read monitoring"):
    load_monitoring_config(tmp_path / "missing.config")
