"""TF Serving's REST contract, over real HTTP, against the in-process server.

The requests and answers are the documented ones (TF Serving's REST API
page and its handler tests): half_plus_two status, row and columnar predict,
versions, labels, metadata, and the error codes and messages.
"""

import math

import pytest

from tests.serving.conftest import http


def _url(server, path):
  return server.url + path


# -- Status --------------------------------------------------------------------


def test_status_lists_every_version_highest_first(server):
  status, body = http("GET", _url(server, "/v1/models/half_plus_two"))
  assert status == 200
  assert body == {"model_version_status": [
      {"version": "123", "state": "AVAILABLE",
       "status": {"error_code": "OK", "error_message": ""}},
      {"version": "1", "state": "AVAILABLE",
       "status": {"error_code": "OK", "error_message": ""}}]}


def test_status_of_a_version_and_of_a_label(server):
  for path in ("/v1/models/half_plus_two/versions/123",
               "/v1/models/half_plus_two/labels/stable"):
    status, body = http("GET", _url(server, path))
    assert status == 200, path
    assert [s["version"] for s in body["model_version_status"]] == ["123"]


def test_status_errors(server):
  assert http("GET", _url(server, "/v1/models/foo")) == (
      404, {"error": "Could not find any versions of model foo"})
  assert http("GET", _url(server, "/v1/models/half_plus_two/versions/9")) == (
      404, {"error": "Could not find version 9 of model half_plus_two"})
  assert http("GET", _url(server, "/v1/models/half_plus_two/labels/nope")) == (
      400, {"error": "Unrecognized servable version label: nope"})
  assert http("GET", _url(server, "/v1/models")) == (
      400, {"error": "Missing model name in request."})


# -- Metadata ------------------------------------------------------------------


def test_metadata_renders_signature_defs_like_tf_serving(server):
  status, body = http("GET", _url(server, "/v1/models/half_plus_two/metadata"))
  assert status == 200
  assert body["model_spec"] == {"name": "half_plus_two", "signature_name": "",
                                "version": "123"}
  signatures = body["metadata"]["signature_def"]["signature_def"]
  default = signatures["serving_default"]
  assert default["method_name"] == "tensorflow/serving/predict"
  assert default["inputs"]["x"]["dtype"] == "DT_FLOAT"
  assert default["inputs"]["x"]["tensor_shape"] == {"dim": [],
                                                    "unknown_rank": True}
  assert default["outputs"]["y"]["dtype"] == "DT_FLOAT"
  assert "__saved_model_init_op" in signatures
  status, body = http("GET", _url(server, "/v1/models/toolbox/metadata"))
  shape = body["metadata"]["signature_def"]["signature_def"]["matrix"][
      "inputs"]["m"]["tensor_shape"]
  assert shape == {"dim": [{"size": "-1", "name": ""},
                           {"size": "2", "name": ""}], "unknown_rank": False}


def test_metadata_of_versions_labels_and_unknown_models(server):
  status, body = http("GET", _url(
      server, "/v1/models/half_plus_two/labels/old/metadata"))
  assert status == 200 and body["model_spec"]["version"] == "1"
  status, body = http("GET", _url(
      server, "/v1/models/half_plus_two/versions/123/metadata"))
  assert status == 200 and body["model_spec"]["version"] == "123"
  assert http("GET", _url(server, "/v1/models/foo/metadata")) == (
      404, {"error": "Servable not found for request: Latest(foo)"})
  assert http("GET", _url(
      server, "/v1/models/half_plus_two/versions/3/metadata")) == (
          404, {"error": "Servable not found for request: "
                         "Specific(half_plus_two, 3)"})


# -- Predict: the documented requests ------------------------------------------


def test_documented_row_format_predict(server):
  url = _url(server, "/v1/models/half_plus_two:predict")
  assert http("POST", url, {"instances": [1.0, 2.0, 5.0]}) == (
      200, {"predictions": [2.5, 3.0, 4.5]})
  assert http("POST", url, {"instances": [[1.0, 2.0], [3.0, 4.0]]}) == (
      200, {"predictions": [[2.5, 3.0], [3.5, 4.0]]})


def test_documented_columnar_predict(server):
  url = _url(server, "/v1/models/half_plus_two:predict")
  assert http("POST", url, {"inputs": [1.0, 2.0, 5.0]}) == (
      200, {"outputs": [2.5, 3.0, 4.5]})
  assert http("POST", url, {"inputs": {"x": [[1.0], [2.0]]}}) == (
      200, {"outputs": [[2.5], [3.0]]})
  assert http("POST", url, {"inputs": 1.0}) == (200, {"outputs": 2.5})


def test_predict_by_version_and_label(server):
  body = {"instances": [1.0, 2.0]}
  for path, expected in (("/versions/123", [2.5, 3.0]),
                         ("/labels/stable", [2.5, 3.0]),
                         ("/versions/1", [3.5, 4.0]),
                         ("/labels/old", [3.5, 4.0])):
    url = _url(server, f"/v1/models/half_plus_two{path}:predict")
    assert http("POST", url, body) == (200, {"predictions": expected}), path


def test_documented_not_found_error(server):
  status, body = http("POST", _url(server, "/v1/models/half:predict"),
                      {"instances": [1.0, 5.0]})
  assert (status, body) == (
      404, {"error": "Servable not found for request: Latest(half)"})
  status, body = http("POST", _url(
      server, "/v1/models/foo/versions/50:predict"), {"instances": [1]})
  assert (status, body) == (
      404, {"error": "Servable not found for request: Specific(foo, 50)"})
  # A label pointing at a version that is not loaded.
  status, body = http("POST", _url(
      server, "/v1/models/half_plus_two/labels/ghost:predict"),
                      {"instances": [1.0]})
  assert status == 404 and "Specific(half_plus_two, 77)" in body["error"]


def test_predict_request_errors_are_400_with_tf_serving_messages(server):
  url = _url(server, "/v1/models/half_plus_two:predict")
  cases = [
      (b"", "JSON Parse error: The document is empty"),
      (b"instances = [1, 2]", "JSON Parse error: Invalid value"),
      (b'{"instances": ["x", "y"]}', "not of expected type: float"),
      (b'{"signature_name": 100}',
       "'signature_name' key must be a string value."),
      (b'{"instances": [1.0], "inputs": [1.0]}',
       "expecting only one of 'inputs' or 'instances' keys to exist"),
      (b'{"instances": []}', "No values in 'instances' array"),
      (b'{"instances": 1.0}', "Expecting 'instances' to be an list/array"),
      (b'{"foo": 1}', "Missing 'inputs' or 'instances' key"),
      (b'[1, 2]', "Is not object"),
      (b'{"instances": [[1.0, 2.0], [3.0]]}',
       "Failed to process element: 1 of 'instances' list. Error: "
       "INVALID_ARGUMENT: Expecting tensor size: 2 but got: 1"),
      (b'{"instances": [1.0], "signature_name": "nope"}',
       'Serving signature name: "nope" not found in signature def'),
  ]
  for raw, message in cases:
    status, body = http("POST", url, raw=raw)
    assert status == 400, (raw, body)
    assert message in body["error"], (raw, body)


def test_label_errors_on_predict(server):
  status, body = http("POST", _url(
      server, "/v1/models/half_plus_two/labels/nope:predict"),
                      {"instances": [1.0]})
  assert (status, body) == (
      400, {"error": "Unrecognized servable version label: nope"})


def test_malformed_paths(server):
  for method, path in (("GET", "/v1/foo"), ("POST", "/v1/foo"),
                       ("GET", "/v1/models/foo:predict"),
                       ("GET", "/v1/models/debug/model_name"),
                       ("POST", "/v1/models"),
                       ("POST", "/v1/models/foo/version/50:predict"),
                       ("POST", "/v1/models/foo/versions/HELLO:predict"),
                       ("POST", "/v1/models/foo/metadata"),
                       ("POST", "/v1/models/foo/versions/5/labels/x:predict"),
                       ("PUT", "/v1/models/foo")):
    status, body = http(method, _url(server, path), raw=b"{}")
    assert status == 400, (method, path)
    assert body == {"error": f"Malformed request: {method} {path}"}
  huge = "9" * 25
  status, body = http("POST", _url(server, f"/v1/models/x/versions/{huge}"
                                           ":predict"), {"instances": [1]})
  assert status == 400 and "Failed to convert version" in body["error"]
  status, _ = http("GET", _url(server, "/statuspage"))
  assert status == 404


@pytest.mark.parametrize("verb", ["classify", "regress"])
def test_classify_and_regress_answer_as_tf_serving_does(server, verb):
  """A model without such a signature: 400 naming the method; an unknown
  model: 404. Never 501."""
  status, body = http("POST", _url(server, f"/v1/models/half_plus_two:{verb}"),
                      {"examples": [{"x": 1.0}]})
  assert status == 400, body
  assert f"tensorflow/serving/{verb}" in body["error"]
  status, body = http("POST", _url(server, f"/v1/models/nope:{verb}"),
                      {"examples": [{"x": 1.0}]})
  assert status == 404, body
  assert set(body) == {"error"}


# -- Predict: inputs, outputs and model errors ---------------------------------


def test_string_inputs_multiple_outputs_row_and_columnar(server):
  url = _url(server, "/v1/models/toolbox:predict")
  assert http("POST", url, {"instances": [{"item_id": "a", "k": 2},
                                          {"item_id": "c", "k": 3}]}) == (
      200, {"predictions": [{"item_type": "podcast", "score": 0.0},
                            {"item_type": "podcast", "score": 6.0}]})
  assert http("POST", url, {"inputs": {"item_id": ["b"], "k": [5]}}) == (
      200, {"outputs": {"item_type": ["audiobook"], "score": [5.0]}})
  # b64 string inputs are decoded.
  assert http("POST", url, {"instances": [{"item_id": {"b64": "Yg=="},
                                           "k": 1}]}) == (
      200, {"predictions": [{"item_type": "audiobook", "score": 1.0}]})


def test_model_invalid_argument_reaches_the_client_as_400(server):
  status, body = http("POST", _url(server, "/v1/models/toolbox:predict"),
                      {"instances": [{"item_id": "zzz-unknown", "k": 1}]})
  assert status == 400
  assert "unknown item_id:" in body["error"]
  assert "zzz-unknown" in body["error"]
  # The server is still fine afterwards.
  assert http("POST", _url(server, "/v1/models/toolbox:predict"),
              {"inputs": {"item_id": ["a"], "k": [1]}})[0] == 200


def test_input_name_dtype_and_shape_errors_name_the_input(server):
  url = _url(server, "/v1/models/toolbox:predict")
  cases = [
      ({"instances": [{"item_id": "a", "kk": 1}]},
       "does not have named input: kk"),
      ({"instances": [{"item_id": "a"}]}, "keys must be equal to: item_id,k"),
      ({"instances": ["a"]}, "instances is a plain list"),
      ({"inputs": {"item_id": ["a"]}}, "Missing named input: k in 'inputs'"),
      ({"inputs": ["a"]}, "inputs is a plain value/list"),
      ({"inputs": {"item_id": ["a"], "k": [1.5]}},
       "input: k of 'inputs' object. Error: INVALID_ARGUMENT: JSON Value: 1.5 "
       "Type: Number is not of expected type: int32"),
      ({"inputs": {"item_id": [1], "k": [1]}},
       "is not of expected type: string"),
      ({"inputs": {"item_id": ["a"], "k": [[1]]}},
       "input 'k' of signature 'serving_default' has shape [1,1], not "
       "compatible with the signature's shape [-1]"),
      ({"inputs": {"item_id": [{"b64": "%%%"}], "k": [1]}},
       "Unable to base64 decode"),
      ({"inputs": {"item_id": [{"b64": "YQ==", "x": 1}], "k": [1]}},
       "not formatted correctly for base64 data"),
  ]
  for request, message in cases:
    status, body = http("POST", url, request)
    assert status == 400, (request, body)
    assert message in body["error"], (request, body)
  status, body = http("POST", url, {"signature_name": "matrix",
                                    "instances": [[1.0, 2.0, 3.0]]})
  assert status == 400 and "input 'm'" in body["error"]
  assert "[-1,2]" in body["error"]


def test_bytes_outputs_are_b64_only_when_named_bytes(server):
  url = _url(server, "/v1/models/toolbox:predict")
  status, body = http("POST", url, {"signature_name": "echo", "instances": [
      {"b64": "/w=="}, "hé"]})
  assert status == 200
  assert body == {"predictions": [
      {"data_bytes": {"b64": "/w=="}, "length": 1, "text": "\ufffd"},
      {"data_bytes": {"b64": "aMOp"}, "length": 3, "text": "hé"}]}


def test_dtypes_scalars_and_fixed_shapes(server):
  url = _url(server, "/v1/models/toolbox:predict")
  assert http("POST", url, {"signature_name": "mixed", "instances": [
      {"a": 1, "b": True, "c": 0.25}, {"a": -5, "b": False, "c": 1e300}]}) == (
          200, {"predictions": [{"a": 2, "b": False, "c": 0.5},
                                {"a": -4, "b": True, "c": 2e300}]})
  assert http("POST", url, {"signature_name": "matrix",
                            "inputs": [[1.0, 2.0], [0.1, 0.2]]}) == (
      200, {"outputs": [3.0, 0.3]})
  assert http("POST", url, {"signature_name": "scalar", "inputs": 1.5}) == (
      200, {"outputs": 3.0})
  status, body = http("POST", url, {"signature_name": "scalar",
                                    "instances": [1.0]})
  assert status == 400 and "has shape [1]" in body["error"]
  # NaN and Infinity tokens are accepted and written back.
  status, body = http("POST", _url(server, "/v1/models/half_plus_two:predict"),
                      raw=b'{"instances": [NaN, Infinity, -Infinity]}')
  assert status == 200
  assert math.isnan(body["predictions"][0])
  assert body["predictions"][1:] == [math.inf, -math.inf]


def test_row_format_needs_outputs_with_one_batch_size(server):
  url = _url(server, "/v1/models/toolbox:predict")
  status, body = http("POST", url, {"signature_name": "uneven",
                                    "instances": [1.0, 2.0]})
  assert status == 400
  assert "has inconsistent batch size: 1 expecting: 2" in body["error"]
  assert http("POST", url, {"signature_name": "uneven",
                            "inputs": [1.0, 2.0]}) == (
      200, {"outputs": {"first": [1.0, 2.0], "total": [3.0]}})
