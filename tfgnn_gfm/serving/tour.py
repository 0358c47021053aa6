"""A scripted tour of a served export over TF Serving's REST API.

``gfm demo`` runs it against ``gfm serve`` on loopback: it asks for
recommendations for a real user (features and recent items from the data),
for a cold user, for items similar to an item and for a free-text search,
times a few calls, and returns every request and answer with a ready-to-run
``curl`` command, so the report shows exactly what a client sends and gets.
Works unchanged against TF Serving (it only speaks the REST API).
"""

from __future__ import annotations

import json
import time
from typing import Any, Mapping, Sequence

from tfgnn_gfm.serving.client import ServingClient


def default_value(spec: Mapping[str, Any]) -> Any:
  """A neutral value for one signature input (from its metadata):
  ``""`` for strings, NaN-free zeros for numbers, lists for vectors."""
  dims = [int(d.get("size", -1)) for d in spec.get("tensor_shape", {}).get(
      "dim", [])]
  scalar = "" if spec.get("dtype") == "DT_STRING" else 0.0
  if len(dims) >= 2 and dims[1] > 0:
    return [scalar] * dims[1]
  if len(dims) >= 2:
    return []
  return scalar


def user_instance(inputs: Mapping[str, Mapping[str, Any]],
                  user: Mapping[str, Any],
                  recent_item_ids: Sequence[str], k: int = 10,
                  item_type: str = "") -> dict[str, Any]:
  """One row-format ``serving_default`` instance.

  Args:
    inputs: the signature's inputs (``metadata``'s ``inputs`` map).
    user: user columns by name (``country`` or ``user_country``); an
      ``interest_vector`` may be a list.
    recent_item_ids: most recent first.
    k: number of items.
    item_type: type filter ("" for all).

  Returns:
    ``{input name: value}`` with every input of the signature set.
  """
  instance = {}
  for name, spec in inputs.items():
    if name == "recent_item_ids":
      instance[name] = list(recent_item_ids)
    elif name == "k":
      instance[name] = int(k)
    elif name == "item_type":
      instance[name] = item_type
    else:
      column = name[len("user_"):] if name.startswith("user_") else name
      value = user.get(name, user.get(column))
      if value is None or (isinstance(value, float) and value != value):
        value = default_value(spec)
      elif hasattr(value, "tolist"):
        value = value.tolist()
      elif isinstance(value, str) and spec.get("dtype") != "DT_STRING":
        # The data contract's CSV form of a vector: floats joined by ';'.
        value = [float(x) for x in value.split(";") if x.strip()]
      elif spec.get("dtype") == "DT_STRING":
        value = str(value)
      instance[name] = value
  return instance


def curl_command(url: str, model: str, body: Mapping[str, Any]) -> str:
  """The ``curl`` line that sends ``body`` to ``model``'s predict."""
  return (f"curl -s -X POST {url}/v1/models/{model}:predict "
          f"-d '{json.dumps(body)}'")


def _timed(client: ServingClient, model: str, body: dict[str, Any]
           ) -> tuple[Any, float]:
  start = time.perf_counter()
  answer = client.predict(instances=body["instances"],
                          signature_name=body.get("signature_name"),
                          model=model)
  return answer, (time.perf_counter() - start) * 1000


def walkthrough(url: str, *, user: Mapping[str, Any],
                recent_item_ids: Sequence[str], item_id: str, query: str,
                titles: Mapping[str, str] | None = None,
                model: str = "gfm_retrieval",
                timing_calls: int = 20) -> dict[str, Any]:
  """Runs the tour against a server and returns what happened.

  Args:
    url: the server's base URL.
    user: the user's columns (for the personalised request).
    recent_item_ids: the user's recent items, most recent first.
    item_id: the item of the "similar items" request.
    query: the free-text search.
    titles: item id -> title, to make answers readable.
    model: the retrieval model to ask.
    timing_calls: extra calls per signature to time (p50 in the result).

  Returns:
    ``{"url", "model", "calls": [{"name", "signature", "request", "answer",
    "latency_ms", "titles"}], "curl", "latency_p50_ms"}``.
  """
  client = ServingClient(url, model)
  inputs = client.signatures()["serving_default"]["inputs"]
  titles = titles or {}
  bodies = {
      "recommend (warm user)": {
          "signature_name": "serving_default",
          "instances": [user_instance(inputs, user, recent_item_ids)]},
      "recommend (cold user: metadata only)": {
          "signature_name": "serving_default",
          "instances": [user_instance(inputs, user, [])]},
      "similar items": {
          "signature_name": "similar_items",
          "instances": [{"item_id": item_id, "k": 10, "item_type": ""}]},
      "search": {
          "signature_name": "search",
          "instances": [{"query": query, "k": 10, "item_type": ""}]},
  }
  calls, latencies = [], {}
  for name, body in bodies.items():
    answer, ms = _timed(client, model, body)
    times = sorted([ms] + [_timed(client, model, body)[1]
                           for _ in range(timing_calls)])
    latencies[name] = round(times[len(times) // 2], 2)
    ids = answer[0].get("item_ids", [])
    calls.append({"name": name, "signature": body["signature_name"],
                  "request": body, "answer": answer[0],
                  "latency_ms": round(ms, 2),
                  "titles": [titles.get(i, "") for i in ids]})
  return {"url": url, "model": model, "calls": calls,
          "curl": curl_command(url, model, bodies["similar items"]),
          "latency_p50_ms": latencies}
