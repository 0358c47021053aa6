"""``gfm serve``: TF Serving's REST API over a model base path, on aiohttp.

Endpoints (exactly TF Serving's; ``[...]`` is optional, ``/versions/V`` and
``/labels/L`` pick a version, otherwise the highest served one is used):

  GET  /v1/models/NAME[/versions/V|/labels/L]            model status
  GET  /v1/models/NAME[/versions/V|/labels/L]/metadata   signature defs
  POST /v1/models/NAME[/versions/V|/labels/L]:predict    row or columnar
  GET  /monitoring/prometheus/metrics                    with monitoring

Answers and errors are TF Serving's: JSON bodies, ``{"error": "..."}`` with
404 for an unknown model or version, 400 for a malformed request, a request
that does not fit the signature or an invalid argument raised by the model
(its message is passed on), 500 otherwise. Predictions run in a thread pool,
off the event loop, so the server keeps answering while models work; the
model store (``model_store``) polls the base paths and swaps in new versions
once they are loaded. ``:classify`` and ``:regress`` (tf.Example APIs) answer
404 for an unknown model and 400 otherwise, as TF Serving does for a model
without such signatures; gRPC is not implemented. With a monitoring path
(``--monitoring_config_file``) the same port serves Prometheus metrics
(``monitoring``).

Hostile or broken clients get a 4xx JSON error and cost bounded resources:
malformed HTTP (a bad Content-Length, an unknown method, an oversized
header) is answered by aiohttp's parser with the same ``{"error": ...}``
body; a body is read within a size limit, also after decompression, and a
time limit (``request_body``); a request has at most ``max_batch_size``
instances; a connection must send its request line and headers within
``header_timeout_seconds``; error messages are cut to
``status.MAX_MESSAGE_CHARS`` and show no server path; a client that hangs up
is one log line.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import re
import signal
import threading
import time
import urllib.parse
from typing import Callable

from aiohttp import web

from tfgnn_gfm.serving import codec, request_body, status
from tfgnn_gfm.serving.config import ServeConfig
from tfgnn_gfm.serving.model_config import ModelServerConfig
from tfgnn_gfm.serving.model_store import Loader, ModelStore
from tfgnn_gfm.serving.monitoring import PredictLabels, ServingMetrics
from tfgnn_gfm.serving.prometheus import CONTENT_TYPE as _METRICS_CONTENT_TYPE
from tfgnn_gfm.serving.servable import run_predict
from tfgnn_gfm.serving.status import StatusError, invalid_argument

_LOG = logging.getLogger(__name__)

_INT64_MAX = 2**63 - 1
_SHUTDOWN_TIMEOUT_S = 30.0
# After refusing a body, the rest is read and dropped for at most this long
# (so the client sees the answer), then the connection is closed.
_LINGER_SECONDS = 2.0
# Characters of a client's path or name quoted in a message.
_QUOTED_CHARS = 256

# The limits' defaults are those of the gfm serve flags.
_FLAGS = ServeConfig()
DEFAULT_MAX_REQUEST_BYTES = _FLAGS.max_request_bytes
DEFAULT_MAX_BATCH_SIZE = _FLAGS.max_batch_size
DEFAULT_HEADER_TIMEOUT_SECONDS = _FLAGS.header_read_timeout_seconds
DEFAULT_BODY_TIMEOUT_SECONDS = _FLAGS.body_read_timeout_seconds

# A model name or label is any run of characters other than '/' and ':'.
_SELECTOR = r"(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
_PREDICT_PATH = re.compile(
    r"/v1/models/(?P<name>[^/:]+)" + _SELECTOR +
    r":(?P<verb>classify|regress|predict)", re.IGNORECASE)
_STATUS_PATH = re.compile(
    r"/v1/models(?:/(?P<name>[^/:]+))?" + _SELECTOR +
    r"(?:/(?P<metadata>metadata))?", re.IGNORECASE)
_API_PATH = re.compile(r"/v1/.*", re.IGNORECASE | re.DOTALL)


def _json_response(body: dict | bytes, http_status: int = 200
                   ) -> web.Response:
  if isinstance(body, dict):
    body = codec.dumps(body)
  return web.Response(body=body, status=http_status,
                      content_type="application/json")


def _error_response(error: StatusError) -> web.Response:
  response = _json_response({"error": status.bounded(error.message)},
                            error.http_status)
  if error.http_status in (408, 413):  # The body is not read to its end.
    response.force_close()
  return response


def _parser_message(exc: BaseException | None, message: str | None) -> str:
  """One line from an aiohttp parser error (its caret lines dropped)."""
  text = message or getattr(exc, "message", "") or str(exc or "")
  lines = [line.strip() for line in str(text).splitlines()]
  return " ".join(line for line in lines if line.strip("^ ")) or "Bad Request"


async def _answer_and_close(request: web.BaseRequest,
                            response: web.StreamResponse
                            ) -> web.StreamResponse:
  """Sends ``response`` and closes the connection at once: the rest of a
  body that is too slow in coming is not waited for."""
  await response.prepare(request)
  await response.write_eof()
  request.protocol.force_close()
  return response


class _JsonErrorProtocol(web.RequestHandler):
  """aiohttp's HTTP/1.1 protocol, with TF Serving's JSON error bodies.

  aiohttp answers requests its parser rejects (a bad request line or
  Content-Length, an unknown method, an oversized header) itself, in plain
  text and logging a traceback; here they get ``{"error": ...}`` and one
  log line.
  """

  #: Called with the HTTP status of each error answered here (metrics).
  on_error: Callable[[int], None] | None = None

  def handle_error(self, request, http_code=500, exc=None, message=None):
    if request.writer.output_size > 0:
      raise ConnectionError("response already started; cannot send an error")
    if self.on_error is not None:
      self.on_error(http_code)
    if http_code >= 500:
      _LOG.error("HTTP error %d for %s", http_code, request.remote,
                 exc_info=exc)
      text = "Internal server error"
    else:
      text = "Malformed HTTP request: " + _parser_message(exc, message)
      _LOG.info("%d for %s: %s", http_code, request.remote,
                status.bounded(text, _QUOTED_CHARS))
    response = _error_response(StatusError(status.INVALID_ARGUMENT, text,
                                           http_code=http_code))
    response.force_close()
    return response


class _JsonErrorServer(web.Server):
  """aiohttp's low-level server, speaking ``_JsonErrorProtocol``.

  Args:
    handler: answers each request.
    on_error: called with the HTTP status of each malformed-HTTP answer.
    **protocol_kwargs: options of each connection's ``RequestHandler``.
  """

  def __init__(self, handler, on_error: Callable[[int], None] | None = None,
               **protocol_kwargs):
    super().__init__(handler, **protocol_kwargs)
    self._on_error = on_error
    self._protocol_kwargs = protocol_kwargs

  def __call__(self) -> web.RequestHandler:
    protocol = _JsonErrorProtocol(self, loop=asyncio.get_running_loop(),
                                  **self._protocol_kwargs)
    protocol.on_error = self._on_error
    return protocol


class _Request:
  """What a REST path asks for: model, version or label, and the verb."""

  def __init__(self, method: str, path: str):
    match = None
    if method == "POST":
      match = _PREDICT_PATH.fullmatch(path)
    elif method == "GET":
      match = _STATUS_PATH.fullmatch(path)
    if match is None:
      raise invalid_argument(f"Malformed request: {method} "
                             f"{status.bounded(path, _QUOTED_CHARS)}")
    groups = match.groupdict()
    self.name = urllib.parse.unquote(groups["name"] or "")
    self.verb = (groups.get("verb") or "").lower()
    self.metadata = bool(groups.get("metadata"))
    self.label = (urllib.parse.unquote(groups["label"])
                  if groups["label"] else None)
    self.version = None
    if groups["version"]:
      # More digits than an int64 has are refused before converting them.
      digits = groups["version"].lstrip("0") or "0"
      version = int(digits) if len(digits) <= 19 else _INT64_MAX + 1
      if version > _INT64_MAX:
        raise invalid_argument(
            "Failed to convert version: "
            f"{status.bounded(groups['version'], _QUOTED_CHARS)} to numeric.")
      self.version = version
    if self.version is not None and self.label is not None:
      raise invalid_argument(
          f"Both model version ({self.version}) and model version label "
          f"({self.label}) cannot be supplied.")


class RestApi:
  """The request handlers of the REST API.

  Args:
    store: the served models.
    executor: where predictions run.
    timeout_seconds: a prediction that takes longer answers 504 (the
      computation itself is not interrupted); None for no limit.
    max_request_bytes: the most bytes a request body may have, after
      decompression (413 above).
    max_batch_size: the most instances of a predict request (400 above);
      None for no limit.
    body_timeout_seconds: time allowed for receiving a body (408 after);
      None for no limit.
    metrics: where requests are counted (default: a new ``ServingMetrics``).
    metrics_path: the path answering ``GET`` with the metrics in
      Prometheus' text format; None to not expose them.
  """

  def __init__(self, store: ModelStore,
               executor: concurrent.futures.Executor,
               timeout_seconds: float | None = 30.0, *,
               max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
               max_batch_size: int | None = DEFAULT_MAX_BATCH_SIZE,
               body_timeout_seconds: float | None = (
                   DEFAULT_BODY_TIMEOUT_SECONDS),
               metrics: ServingMetrics | None = None,
               metrics_path: str | None = None):
    self.store = store
    self.metrics = metrics or ServingMetrics(store)
    self.metrics_path = metrics_path
    self.executor = executor
    self.timeout_seconds = timeout_seconds
    self.max_request_bytes = max_request_bytes
    self.max_batch_size = max_batch_size
    self.body_timeout_seconds = body_timeout_seconds

  def web_server(self, header_timeout_seconds: float = (
      DEFAULT_HEADER_TIMEOUT_SECONDS)) -> web.Server:
    """An aiohttp low-level server answering every path with ``handle``.

    Args:
      header_timeout_seconds: a connection that has not sent a complete
        request line and headers this long after it opened, or after its
        previous answer, is closed (idle keep-alive connections too).
    """
    return _JsonErrorServer(self.handle,
                            on_error=self.metrics.record_response,
                            access_log=None,
                            keepalive_timeout=header_timeout_seconds,
                            lingering_time=_LINGER_SECONDS,
                            auto_decompress=False)

  async def handle(self, request: web.BaseRequest) -> web.Response:
    """Dispatches one request and counts its answer; never raises."""
    response = await self._dispatch(request)
    self.metrics.record_response(response.status)
    return response

  async def _dispatch(self, request: web.BaseRequest) -> web.Response:
    path = request.rel_url.raw_path
    if self.metrics_path is not None and path == self.metrics_path:
      if request.method != "GET":
        return _json_response({"error": f"Use GET for {path}"}, 405)
      return web.Response(body=self.metrics.render().encode("utf-8"),
                          headers={"Content-Type": _METRICS_CONTENT_TYPE})
    if not _API_PATH.fullmatch(path):
      return _json_response(
          {"error": f"Not found: {status.bounded(path, _QUOTED_CHARS)}"}, 404)
    try:
      parsed = _Request(request.method, path)
      if request.method == "GET":
        if not parsed.name:
          raise invalid_argument("Missing model name in request.")
        if parsed.metadata:
          return _json_response(self.metadata(parsed))
        return _json_response(self.store.status(
            parsed.name, parsed.version, parsed.label))
      if parsed.verb != "predict":
        # As TF Serving answers a model without such a signature: an
        # unknown model or version is a 404, a known one a 400 naming the
        # method (our exports have predict signatures only).
        self.store.get(parsed.name, parsed.version, parsed.label)
        raise invalid_argument(
            f"Expected {parsed.verb} signature method_name to be "
            f"tensorflow/serving/{parsed.verb}. Was: "
            "tensorflow/serving/predict (gfm serve answers :predict only)")
      return _json_response(await self._predict_counted(request, parsed))
    except StatusError as e:
      if e.http_status >= 500:
        _LOG.error("%s %s: %s", request.method, path,
                   status.bounded(e.to_string()))
      if e.http_status == 408:
        return await _answer_and_close(request, _error_response(e))
      return _error_response(e)
    except ConnectionError as e:
      _LOG.info("%s %s: client %s disconnected (%s)", request.method,
                status.bounded(path, _QUOTED_CHARS), request.remote,
                type(e).__name__)
      return _json_response({"error": "client disconnected"}, 400)
    except Exception as e:
      _LOG.exception("%s %s failed", request.method, path)
      return _error_response(StatusError(
          status.INTERNAL,
          status.without_server_paths(f"{type(e).__name__}: {e}")))

  async def _read_body(self, request: web.BaseRequest) -> bytes:
    """The body, decompressed, within the size and time limits.

    Raises:
      StatusError: 413, 400, 415 or 408 (see ``request_body``).
      ConnectionError: when the client hangs up before the body's end.
    """
    if (request.version >= (1, 1) and
        request.headers.get("Expect", "").lower() == "100-continue" and
        (request.content_length or 0) <= self.max_request_bytes):
      await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
      request.writer.output_size = 0  # The answer has not started yet.
    try:
      return await request_body.read_body(
          request.content, request.headers.get("Content-Encoding", ""),
          self.max_request_bytes, self.body_timeout_seconds,
          request.content_length)
    except web.RequestPayloadError as e:  # Broken chunks or a cut body.
      if request.transport is None or request.transport.is_closing():
        raise ConnectionResetError(str(e)) from e
      raise invalid_argument(
          f"Malformed request body: {_parser_message(e.__cause__ or e, None)}"
      ) from e

  def metadata(self, parsed: _Request) -> dict:
    """The ``GetModelMetadataResponse`` JSON of the requested version."""
    servable = self.store.get(parsed.name, parsed.version, parsed.label)
    return {
        "model_spec": {"name": parsed.name, "signature_name": "",
                       "version": str(servable.version)},
        "metadata": {"signature_def": servable.signature_def_map},
    }

  async def _predict_counted(self, request: web.BaseRequest,
                             parsed: _Request) -> bytes:
    """Reads and runs a predict request, counting it and its wall time."""
    started = time.perf_counter()
    labels = self.metrics.predict_labels(parsed.name)
    code = status.INTERNAL
    try:
      answer = await self._predict_async(
          parsed, await self._read_body(request), labels)
      code = status.OK
      return answer
    except StatusError as e:
      code = e.code
      raise
    except ConnectionError:
      code = status.CANCELLED
      raise
    finally:
      self.metrics.record_predict(labels, code,
                                  time.perf_counter() - started)

  async def _predict_async(self, parsed: _Request, body: bytes,
                           labels: PredictLabels) -> bytes:
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(self.executor, self.predict, parsed.name,
                                  parsed.version, parsed.label, body, labels)
    if self.timeout_seconds is None:
      return await future
    try:
      return await asyncio.wait_for(future, self.timeout_seconds)
    except asyncio.TimeoutError as e:
      raise StatusError(status.DEADLINE_EXCEEDED,
                        "Deadline exceeded: the prediction took longer than "
                        f"{self.timeout_seconds * 1000:.0f} ms") from e

  def predict(self, name: str, version: int | None, label: str | None,
              body: bytes, labels: PredictLabels | None = None) -> bytes:
    """Runs one predict request (blocking); returns the response body.

    Args:
      name: model name.
      version: requested version, or None.
      label: requested version label, or None.
      body: the request body.
      labels: filled in with the version and signature that answer, once
        they are known to exist (for the metrics).

    Raises:
      StatusError: for any request or model error.
    """
    labels = labels or PredictLabels()
    request = codec.parse_predict_request(body)
    servable = self.store.get(name, version, label)
    labels.model_version = str(servable.version)
    servable.input_specs(request.signature_name)  # Raises if there is none.
    labels.signature_name = request.signature_name or codec.DEFAULT_SIGNATURE
    fmt, outputs = run_predict(servable, request, self.max_batch_size)
    return codec.dumps(codec.encode_outputs(outputs, fmt))


class ModelServer:
  """A TF-Serving-compatible REST server over configured model base paths.

  Args:
    config: the models to serve.
    host: interface to listen on: loopback by default ("0.0.0.0" for all,
      as TF Serving, e.g. inside a container).
    port: REST port; 0 picks a free one (see ``port`` once started).
    poll_wait_seconds: seconds between file-system polls for new versions;
      0 loads what is there at start-up and polls no more.
    num_threads: prediction threads (default: 4 per CPU, as TF Serving).
    timeout_ms: per-prediction time limit (TF Serving's default 30000);
      0 for none.
    loader: loads one version (default: ``servable.load_servable``).
    import_ops: import ScaNN and TF Text before loading models, so their
      custom ops are registered.
    max_request_bytes: the most bytes of a request body, after
      decompression (413 above).
    max_batch_size: the most instances of a predict request (400 above);
      0 for no limit.
    header_timeout_seconds: time a connection has for sending a request
      line and headers, from its opening or its previous answer.
    body_timeout_seconds: time a request has for sending its body (408
      after); 0 for no limit.
    monitoring_path: the REST path answering with Prometheus metrics
      (``monitoring_config.DEFAULT_PATH`` as TF Serving); None for none.
  """

  def __init__(self, config: ModelServerConfig, *, host: str = "127.0.0.1",
               port: int = 8501, poll_wait_seconds: float = 1.0,
               num_threads: int | None = None, timeout_ms: int = 30000,
               loader: Loader | None = None, import_ops: bool = True,
               max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
               max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
               header_timeout_seconds: float = DEFAULT_HEADER_TIMEOUT_SECONDS,
               body_timeout_seconds: float = DEFAULT_BODY_TIMEOUT_SECONDS,
               monitoring_path: str | None = None):
    self.config = config
    self.host = host
    self._port = port
    self.poll_wait_seconds = poll_wait_seconds
    self.num_threads = num_threads or 4 * (os.cpu_count() or 1)
    self.timeout_ms = timeout_ms
    self.import_ops = import_ops
    self.max_request_bytes = max_request_bytes
    self.max_batch_size = max_batch_size
    self.header_timeout_seconds = header_timeout_seconds
    self.body_timeout_seconds = body_timeout_seconds
    self.store = ModelStore(config, loader=loader)
    self.monitoring_path = monitoring_path
    self.metrics = ServingMetrics(self.store)
    self._executor: concurrent.futures.ThreadPoolExecutor | None = None
    self._runner: web.AppRunner | None = None

  def __repr__(self) -> str:
    state = "running" if self._runner else "stopped"
    return (f"ModelServer({self.url}, models={self.store.model_names}, "
            f"{state})")

  @property
  def port(self) -> int:
    """The REST port (the actual one once started with port 0)."""
    return self._port

  @property
  def url(self) -> str:
    """Base URL of the REST API, e.g. ``http://localhost:8501``."""
    host = "localhost" if self.host in ("0.0.0.0", "::", "") else self.host
    if ":" in host:
      host = f"[{host}]"
    return f"http://{host}:{self._port}"

  async def start(self) -> None:
    """Loads the models, starts polling and listening."""
    loop = asyncio.get_running_loop()
    if self.import_ops:
      from tfgnn_gfm.serving.servable import import_custom_ops
      await loop.run_in_executor(None, import_custom_ops)
    await loop.run_in_executor(None, lambda: self.store.poll(initial=True))
    self.store.start_polling(self.poll_wait_seconds)
    self._executor = concurrent.futures.ThreadPoolExecutor(
        max_workers=self.num_threads, thread_name_prefix="gfm-serve-predict")
    api = RestApi(
        self.store, self._executor,
        self.timeout_ms / 1000 if self.timeout_ms > 0 else None,
        max_request_bytes=self.max_request_bytes,
        max_batch_size=self.max_batch_size or None,
        body_timeout_seconds=self.body_timeout_seconds or None,
        metrics=self.metrics, metrics_path=self.monitoring_path)
    self._runner = web.ServerRunner(
        api.web_server(self.header_timeout_seconds), handle_signals=False,
        shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
    await self._runner.setup()
    site = web.TCPSite(self._runner, self.host, self._port)
    await site.start()
    self._port = self._runner.addresses[0][1]
    _LOG.info("Exporting HTTP/REST API at %s", self.url)

  async def stop(self) -> None:
    """Stops listening (in-flight requests finish), polling, and unloads."""
    if self._runner is not None:
      await self._runner.cleanup()
      self._runner = None
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, self.store.stop)
    if self._executor is not None:
      self._executor.shutdown(wait=True)
      self._executor = None


class BackgroundServer:
  """Runs a ``ModelServer`` on its own event loop in a background thread.

  For tests, notebooks and tools that need a live server in-process::

    with BackgroundServer(ModelServer(config, port=0)) as running:
      ServingClient(running.url, "my_model").predict(instances=[1.0])

  Args:
    server: the server to run.
  """

  def __init__(self, server: ModelServer):
    self.server = server
    self._loop: asyncio.AbstractEventLoop | None = None
    self._thread: threading.Thread | None = None

  def __repr__(self) -> str:
    return f"BackgroundServer({self.server!r})"

  @property
  def url(self) -> str:
    """Base URL of the running server."""
    return self.server.url

  @property
  def store(self) -> ModelStore:
    """The server's model store."""
    return self.server.store

  def start(self, timeout: float = 300.0) -> "BackgroundServer":
    """Starts the server; returns once it listens."""
    self._loop = asyncio.new_event_loop()
    self._thread = threading.Thread(target=self._loop.run_forever,
                                    name="gfm-serve-loop", daemon=True)
    self._thread.start()
    future = asyncio.run_coroutine_threadsafe(self.server.start(), self._loop)
    try:
      future.result(timeout)
    except BaseException:
      self.stop()
      raise
    return self

  def stop(self, timeout: float = 60.0) -> None:
    """Stops the server and its thread."""
    if self._loop is None:
      return
    try:
      asyncio.run_coroutine_threadsafe(self.server.stop(),
                                       self._loop).result(timeout)
    finally:
      self._loop.call_soon_threadsafe(self._loop.stop)
      self._thread.join(timeout)
      self._loop.close()
      self._loop = None
      self._thread = None

  def __enter__(self) -> "BackgroundServer":
    return self.start()

  def __exit__(self, *exc_info) -> None:
    self.stop()


def run_server(server: ModelServer,
               on_ready: Callable[[ModelServer], None] | None = None) -> int:
  """Runs a server until SIGINT or SIGTERM, then shuts down gracefully.

  Args:
    server: the server.
    on_ready: called once it listens (e.g. to print the URL).

  Returns:
    The exit code (0).

  Raises:
    OSError: if the port cannot be bound (the models are unloaded first).
  """

  async def main() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
      loop.add_signal_handler(sig, stop.set)
    try:
      await server.start()
    except BaseException:
      await server.stop()
      raise
    if on_ready is not None:
      on_ready(server)
    await stop.wait()
    _LOG.info("Shutting down: finishing in-flight requests")
    await server.stop()

  asyncio.run(main())
  return 0
