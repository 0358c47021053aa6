"""Serving: TF Serving's REST API, as a client and as a local server.

- ``ServingClient`` talks to TF Serving or ``gfm serve`` (status, metadata,
  predict in row and columnar format; standard library only).
- ``ModelServer`` (``gfm serve``) serves SavedModel versions from model base
  paths with TF Serving's REST contract, on aiohttp; ``ModelStore`` polls the
  base paths and swaps in new versions once loaded.
- ``load_model_server_config`` reads TF Serving's ``--model_config_file``
  and ``model_server_config_text`` writes one (TF Serving's protos);
  ``load_monitoring_config`` reads its ``--monitoring_config_file``, and
  ``ServingMetrics`` is what ``gfm serve`` exposes to Prometheus.

Public names are re-exported lazily (PEP 562): ``import tfgnn_gfm.serving``
does not import TensorFlow or aiohttp, so the client stays light.
"""

from tfgnn_gfm.lazy import lazy_exports as _lazy_exports

_EXPORTS = {
    "ServingClient": "client",
    "ServingError": "client",
    "ServeConfig": "config",
    "TensorSpec": "codec",
    "ModelConfig": "model_config",
    "ModelConfigError": "model_config",
    "ModelServerConfig": "model_config",
    "VersionPolicy": "model_config",
    "load_model_server_config": "model_config",
    "model_server_config_text": "model_config",
    "parse_model_server_config": "model_config",
    "single_model_config": "model_config",
    "ModelStore": "model_store",
    "MonitoringConfigError": "monitoring_config",
    "load_monitoring_config": "monitoring_config",
    "ServingMetrics": "monitoring",
    "VersionState": "model_store",
    "Servable": "servable",
    "import_custom_ops": "servable",
    "load_servable": "servable",
    "BackgroundServer": "server",
    "ModelServer": "server",
    "run_server": "server",
    "StatusError": "status",
    "user_instance": "tour",
    "walkthrough": "tour",
}

__all__ = sorted(_EXPORTS)

__getattr__ = _lazy_exports(__name__, _EXPORTS)
