"""What ``gfm serve`` measures, exposed like TF Serving's Prometheus metrics.

With a ``--monitoring_config_file`` that enables Prometheus
(``monitoring_config``), ``GET /monitoring/prometheus/metrics`` (or the
configured path) on the REST port answers in Prometheus' text format:

- ``:tensorflow:serving:request_count`` (counter): predict requests by
  ``model_name`` and ``status`` (the canonical code, ``OK`` or e.g.
  ``INVALID_ARGUMENT``), as TF Serving counts them, plus ``model_version``
  and ``signature_name``;
- ``:tensorflow:serving:request_latency`` (histogram, microseconds, TF
  Serving's buckets 10 * 1.8^i): wall time of predict requests, from the
  request line to the answer, by ``model_name``, ``API`` (``predict``) and
  ``entrypoint`` (``REST``) as TF Serving, plus ``model_version`` and
  ``signature_name``;
- ``gfm_serve_http_response_count`` (counter): every answer of the REST
  port by HTTP status ``code``, including errors of the HTTP layer;
- ``gfm_serve_loaded_versions`` (gauge): versions served per ``model_name``,
  and ``gfm_serve_loaded_version`` (gauge, 1): each served ``model_version``.

Label values come from the configuration, never from the client as such: a
request for an unknown model, version or signature is counted with an empty
``model_name``, ``model_version`` or ``signature_name``, so hostile requests
cannot grow the number of series.
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

from tfgnn_gfm.serving import prometheus
from tfgnn_gfm.serving.model_store import ModelStore

#: TF Serving's buckets of request latency (``Buckets::Exponential(10, 1.8,
#: 33)``, microseconds: 10 us to about 20 minutes).
LATENCY_BUCKETS_US = prometheus.exponential_buckets(10, 1.8, 33)
PREDICT_API = "predict"
REST_ENTRYPOINT = "REST"


@dataclasses.dataclass
class PredictLabels:
  """The labels of one predict request, filled in as it is resolved.

  Attributes:
    model_name: a configured model's name, or "".
    model_version: the version that answered, or "".
    signature_name: the signature that ran, or "".
  """

  model_name: str = ""
  model_version: str = ""
  signature_name: str = ""


class ServingMetrics:
  """The metrics of one ``gfm serve``.

  Args:
    store: the served models (for the names and the loaded versions).
  """

  def __init__(self, store: ModelStore):
    self._store = store
    self.registry = prometheus.Registry()
    self.request_count = self.registry.counter(
        ":tensorflow:serving:request_count", "The total number of requests.",
        ("model_name", "status", "model_version", "signature_name"))
    self.request_latency = self.registry.histogram(
        ":tensorflow:serving:request_latency",
        "Distribution of wall time (in microseconds) for Tensorflow Serving "
        "request.",
        ("model_name", "API", "entrypoint", "model_version",
         "signature_name"), LATENCY_BUCKETS_US)
    self.http_response_count = self.registry.counter(
        "gfm_serve_http_response_count",
        "Answers of the REST port by HTTP status code.", ("code",))
    self.registry.gauge(
        "gfm_serve_loaded_versions", "Versions served per model.",
        ("model_name",), self._loaded_counts)
    self.registry.gauge(
        "gfm_serve_loaded_version", "1 for each version served.",
        ("model_name", "model_version"), self._loaded_versions)

  def __repr__(self) -> str:
    return f"ServingMetrics(models={self._store.model_names})"

  def predict_labels(self, model_name: str) -> PredictLabels:
    """Labels for a predict request on ``model_name`` (kept only when it is
    a configured model)."""
    known = model_name in self._store.model_names
    return PredictLabels(model_name=model_name if known else "")

  def record_predict(self, labels: PredictLabels, code: str,
                     seconds: float) -> None:
    """Counts one predict request and its wall time.

    Args:
      labels: what the request resolved to.
      code: its canonical status code (``"OK"`` on success).
      seconds: its wall time.
    """
    self.request_count.inc((labels.model_name, code, labels.model_version,
                            labels.signature_name))
    self.request_latency.observe(
        (labels.model_name, PREDICT_API, REST_ENTRYPOINT,
         labels.model_version, labels.signature_name), seconds * 1e6)

  def record_response(self, http_status: int) -> None:
    """Counts one answer of the REST port by its HTTP status."""
    self.http_response_count.inc((str(http_status),))

  def _loaded_counts(self) -> Iterable[tuple[tuple[str], float]]:
    for name in self._store.model_names:
      yield (name,), len(self._store.served_versions(name))

  def _loaded_versions(self) -> Iterable[tuple[tuple[str, str], float]]:
    for name in self._store.model_names:
      for version in self._store.served_versions(name):
        yield (name, str(version)), 1

  def render(self) -> str:
    """The metrics in Prometheus' text exposition format."""
    return self.registry.render()
