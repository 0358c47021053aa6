"""A synchronous client of TF Serving's REST API (and of ``gfm serve``).

``ServingClient`` speaks the REST API that TF Serving and ``gfm serve``
share: model status, metadata and predict, in row format (``instances`` ->
``predictions``) or columnar format (``inputs`` -> ``outputs``). Bytes in a
request are sent as ``{"b64": ...}``; ``decode_b64=True`` turns such objects
in an answer back into bytes. A failed call raises ``ServingError`` with the
HTTP status and the server's ``error`` message.

It uses only the standard library (no TensorFlow, no numpy needed; numpy
arrays are accepted as values), so it is cheap to import in any process::

  client = ServingClient("http://localhost:8501", "gfm_retrieval_bf")
  client.similar_items("podcast:42", k=5)
  client.predict(instances=[{"item_id": "podcast:42", "k": 5,
                             "item_type": ""}], signature_name="similar_items")
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Mapping, Sequence

DEFAULT_URL = "http://localhost:8501"


class ServingError(Exception):
  """A REST call that failed.

  Attributes:
    status: the HTTP status (0 when the server could not be reached).
    message: the server's ``error`` message (or the transport error).
    url: the requested URL.
  """

  def __init__(self, status: int, message: str, url: str):
    super().__init__(f"HTTP {status}: {message}" if status else message)
    self.status = status
    self.message = message
    self.url = url

  def __repr__(self) -> str:
    return f"ServingError(status={self.status}, message={self.message!r})"


def to_json_value(value: Any) -> Any:
  """Converts a request value to JSON: bytes become ``{"b64": ...}``.

  Lists, tuples, mappings and numpy arrays/scalars (via ``tolist``) are
  converted recursively.

  Args:
    value: a Python or numpy value.

  Returns:
    A JSON-serializable value.
  """
  if isinstance(value, (bytes, bytearray, memoryview)):
    return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
  if isinstance(value, Mapping):
    return {str(k): to_json_value(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [to_json_value(v) for v in value]
  if hasattr(value, "tolist") and not isinstance(value, (str, int, float)):
    return to_json_value(value.tolist())
  return value


def decode_b64_values(value: Any) -> Any:
  """Replaces every ``{"b64": ...}`` object in a JSON value with bytes."""
  if isinstance(value, dict):
    if len(value) == 1 and isinstance(value.get("b64"), str):
      return base64.b64decode(value["b64"])
    return {k: decode_b64_values(v) for k, v in value.items()}
  if isinstance(value, list):
    return [decode_b64_values(v) for v in value]
  return value


class ServingClient:
  """Client of one REST server (TF Serving or ``gfm serve``).

  Args:
    url: base URL, e.g. ``http://localhost:8501``.
    model: default model name for calls that do not name one.
    version: default version (None: the highest served).
    label: default version label (instead of a version).
    timeout: seconds to wait for each answer.
  """

  def __init__(self, url: str = DEFAULT_URL, model: str | None = None, *,
               version: int | None = None, label: str | None = None,
               timeout: float = 30.0):
    self.url = url.rstrip("/")
    self.model = model
    self.version = version
    self.label = label
    self.timeout = timeout

  def __repr__(self) -> str:
    target = self.model or "?"
    if self.version is not None:
      target += f"/versions/{self.version}"
    elif self.label is not None:
      target += f"/labels/{self.label}"
    return (f"ServingClient({self.url!r}, model={target!r}, "
            f"timeout={self.timeout})")

  # -- Transport ---------------------------------------------------------------

  def model_url(self, model: str | None = None, version: int | None = None,
                label: str | None = None) -> str:
    """The URL of a model (version or label), without the verb."""
    model = model or self.model
    if not model:
      raise ValueError("no model name: pass model=... or set it on the client")
    if version is None and label is None:
      version, label = self.version, self.label
    if version is not None and label is not None:
      raise ValueError("give a version or a label, not both")
    url = f"{self.url}/v1/models/{urllib.parse.quote(model, safe='')}"
    if version is not None:
      url += f"/versions/{int(version)}"
    elif label is not None:
      url += f"/labels/{urllib.parse.quote(label, safe='')}"
    return url

  def _call(self, url: str, body: Mapping[str, Any] | None = None) -> Any:
    data = None
    headers = {"Accept": "application/json"}
    if body is not None:
      data = json.dumps(body, allow_nan=True).encode("utf-8")
      headers["Content-Type"] = "application/json"
    request = urllib.request.Request(
        url, data=data, headers=headers,
        method="POST" if body is not None else "GET")
    try:
      with urllib.request.urlopen(request, timeout=self.timeout) as response:
        payload = response.read()
    except urllib.error.HTTPError as e:
      raise ServingError(e.code, _error_message(e.read(), e.reason),
                         url) from None
    except (urllib.error.URLError, OSError) as e:
      reason = getattr(e, "reason", e)
      raise ServingError(0, f"cannot reach {url}: {reason}", url) from None
    try:
      return json.loads(payload)
    except ValueError as e:
      raise ServingError(200, f"answer is not JSON: {payload[:200]!r}",
                         url) from e

  # -- The REST API ------------------------------------------------------------

  def status(self, model: str | None = None, version: int | None = None,
             label: str | None = None) -> dict:
    """``GET /v1/models/NAME[...]``: the state of each version.

    Returns:
      ``{"model_version_status": [{"version", "state", "status"}, ...]}``.
    """
    return self._call(self.model_url(model, version, label))

  def metadata(self, model: str | None = None, version: int | None = None,
               label: str | None = None) -> dict:
    """``GET /v1/models/NAME[...]/metadata``: the signature defs.

    Returns:
      ``{"model_spec": ..., "metadata": {"signature_def": {"signature_def":
      {name: SignatureDef}}}}``.
    """
    return self._call(self.model_url(model, version, label) + "/metadata")

  def signatures(self, model: str | None = None, version: int | None = None,
                 label: str | None = None) -> dict:
    """The signature defs by name (from ``metadata``)."""
    metadata = self.metadata(model, version, label)
    return metadata["metadata"]["signature_def"]["signature_def"]

  def served_versions(self, model: str | None = None) -> list[int]:
    """Versions whose state is AVAILABLE, highest first."""
    states = self.status(model)["model_version_status"]
    return sorted((int(s["version"]) for s in states
                   if s["state"] == "AVAILABLE"), reverse=True)

  def predict(self, instances: Sequence[Any] | None = None,
              inputs: Any = None, *, signature_name: str | None = None,
              model: str | None = None, version: int | None = None,
              label: str | None = None, decode_b64: bool = False) -> Any:
    """``POST /v1/models/NAME[...]:predict``.

    Args:
      instances: row format: one value (single-input signature) or one
        ``{input: value}`` object per example.
      inputs: columnar format: ``{input: batched value}`` or one value.
      signature_name: default ``serving_default``.
      model: model name (default: the client's).
      version: a specific version.
      label: a version label.
      decode_b64: turn ``{"b64": ...}`` objects of the answer into bytes.

    Returns:
      The ``predictions`` (row format) or ``outputs`` (columnar format).

    Raises:
      ServingError: on any HTTP error (status and the server's message).
      ValueError: unless exactly one of instances and inputs is given.
    """
    if (instances is None) == (inputs is None):
      raise ValueError("give exactly one of instances (row format) and "
                       "inputs (columnar format)")
    body: dict[str, Any] = {}
    if signature_name:
      body["signature_name"] = signature_name
    if instances is not None:
      body["instances"] = to_json_value(list(instances))
    else:
      body["inputs"] = to_json_value(inputs)
    answer = self._call(self.model_url(model, version, label) + ":predict",
                        body)
    result = answer["predictions"] if instances is not None else answer[
        "outputs"]
    return decode_b64_values(result) if decode_b64 else result

  # -- Helpers for the gfm exports ---------------------------------------------

  def _top_k(self, signature_name: str, instance: dict[str, Any], k: int,
             item_type: str | None, model: str | None,
             decode_b64: bool) -> Any:
    """Sends ``instance`` plus ``k`` and the type filter as one row-format
    example; returns its prediction."""
    instance = {**instance, "k": int(k)}
    if item_type is not None:
      instance["item_type"] = item_type
    predictions = self.predict(instances=[instance],
                               signature_name=signature_name, model=model,
                               decode_b64=decode_b64)
    return predictions[0]

  def recommend(self, user: Mapping[str, Any] | None = None,
                recent_item_ids: Sequence[str] = (), k: int = 10,
                item_type: str | None = "", *, model: str | None = None,
                decode_b64: bool = False) -> Any:
    """Top-k items for one user (signature ``serving_default``).

    Sends one row-format instance: the user's feature columns, the recent
    item ids, ``k`` and the ``item_type`` filter ("" for every type; None
    to leave the input out).

    Args:
      user: user feature columns as the signature names them (e.g.
        ``{"user_country": "SE"}``).
      recent_item_ids: the user's recent item ids, in the order the
        export expects (gfm exports: most recent first).
      k: number of items.
      item_type: item type filter.
      model: model name (default: the client's).
      decode_b64: decode ``{"b64": ...}`` values.

    Returns:
      The first prediction: ``{output: value}`` (e.g. ``item_ids``,
      ``scores``, ``item_types``).
    """
    instance = {**(user or {}), "recent_item_ids": list(recent_item_ids)}
    return self._top_k("serving_default", instance, k, item_type, model,
                       decode_b64)

  def similar_items(self, item_id: str, k: int = 10,
                    item_type: str | None = "", *, model: str | None = None,
                    decode_b64: bool = False) -> Any:
    """Items most similar to one item (signature ``similar_items``).

    Args:
      item_id: the query item.
      k: number of items.
      item_type: item type filter ("" for every type; None to omit).
      model: model name (default: the client's).
      decode_b64: decode ``{"b64": ...}`` values.

    Returns:
      The first prediction: ``{output: value}``.
    """
    return self._top_k("similar_items", {"item_id": item_id}, k, item_type,
                       model, decode_b64)

  def search(self, query: str, k: int = 10, item_type: str | None = "", *,
             model: str | None = None, decode_b64: bool = False) -> Any:
    """Items matching a free-text query (signature ``search``).

    Args:
      query: the text.
      k: number of items.
      item_type: item type filter ("" for every type; None to omit).
      model: model name (default: the client's).
      decode_b64: decode ``{"b64": ...}`` values.

    Returns:
      The first prediction: ``{output: value}``.
    """
    return self._top_k("search", {"query": query}, k, item_type, model,
                       decode_b64)


def _error_message(payload: bytes, reason: str) -> str:
  try:
    body = json.loads(payload)
  except ValueError:
    text = payload.decode("utf-8", errors="replace").strip()
    return text or str(reason)
  if isinstance(body, dict) and isinstance(body.get("error"), str):
    return body["error"]
  return str(reason)

