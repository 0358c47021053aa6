"""JSON <-> arrays by TF Serving's rules (no TensorFlow needed)."""

import numpy as np
import pytest

from tfgnn_gfm.serving import codec
from tfgnn_gfm.serving.codec import TensorSpec
from tfgnn_gfm.serving.status import StatusError

FLOAT = TensorSpec("DT_FLOAT", (-1,))
STRING = TensorSpec("DT_STRING", (-1,))


def _decode(document, specs):
  request = codec.parse_predict_request(codec.dumps(document))
  return codec.decode_inputs(request, specs)


def _error(fn, *args):
  with pytest.raises(StatusError) as e:
    fn(*args)
  return e.value


def test_row_format_batches_instances():
  fmt, arrays = _decode({"instances": [{"x": 1, "s": "a"},
                                       {"x": 2.5, "s": {"b64": "/w=="}}]},
                        {"x": FLOAT, "s": STRING})
  assert fmt == codec.ROW
  np.testing.assert_array_equal(arrays["x"], np.array([1, 2.5], np.float32))
  assert arrays["x"].dtype == np.float32
  assert arrays["s"].tolist() == [b"a", b"\xff"]
  _, arrays = _decode({"instances": [[[1, 2]], [[3, 4]]]},
                      {"x": TensorSpec("DT_INT64", None)})
  assert arrays["x"].shape == (2, 1, 2) and arrays["x"].dtype == np.int64


def test_columnar_format_and_empty_lists():
  fmt, arrays = _decode({"inputs": {"ids": [["a", "b"], ["c", "d"]],
                                    "k": [1, 2], "extra": 1}},
                        {"ids": TensorSpec("DT_STRING", (-1, -1)),
                         "k": TensorSpec("DT_INT32", (-1,))})
  assert fmt == codec.COLUMNAR and set(arrays) == {"ids", "k"}
  assert arrays["ids"].shape == (2, 2) and arrays["k"].dtype == np.int32
  _, arrays = _decode({"inputs": [[]]}, {"x": STRING})
  assert arrays["x"].shape == (1, 0)


@pytest.mark.parametrize("document, message", [
    ({"instances": [[1, 2], [3]]}, "Expecting tensor size: 2 but got: 1"),
    ({"instances": [[1, [2]]]}, "Encountered list at unexpected level: 1 "
     "expected < 1"),
    ({"instances": [[[1], 2]]}, "JSON Value: 2 found at incorrect level: 2 "
     "in the JSON DOM. Expected at level: 2"),
    ({"instances": [[[1, 2], [3]]]}, "Encountered list at unexpected size: 1 "
     "at level: 1 expected size: 2"),
    ({"instances": [[1, 2], [[3], [4]]]}, "Expecting shape [2] but got: [2,1]"),
    ({"instances": [True]}, "JSON Value: true Type: True is not of expected "
     "type: float"),
    ({"instances": [None]}, "Type: Null is not of expected type: float"),
    ({"instances": [{"x": 1}, [1]]}, "Expecting object but got list at item 1"),
    ({"instances": [1, {"x": 1}]}, "Expecting value/list but got object at "
     "item 1 of input list"),
    ({"inputs": {"y": 1}}, "Missing named input: x in 'inputs' object."),
])
def test_row_and_columnar_errors(document, message):
  error = _error(_decode, document, {"x": FLOAT})
  assert error.code == "INVALID_ARGUMENT" and error.http_status == 400
  assert message in error.message


def test_integer_ranges_and_unsupported_dtypes():
  int8 = {"x": TensorSpec("DT_INT8", (-1,))}
  assert _decode({"inputs": [-128, 127]}, int8)[1]["x"].tolist() == [-128, 127]
  assert "not of expected type: int8" in _error(
      _decode, {"inputs": [128]}, int8).message
  uint64 = {"x": TensorSpec("DT_UINT64", (-1,))}
  assert _decode({"inputs": [2**64 - 1]}, uint64)[1]["x"].tolist() == [
      2**64 - 1]
  error = _error(_decode, {"inputs": [1]},
                 {"x": TensorSpec("DT_COMPLEX64", (-1,))})
  assert error.code == "UNIMPLEMENTED" and error.http_status == 501


def test_shape_check_names_the_input():
  arrays = {"m": np.zeros((3, 3), np.float32)}
  error = _error(codec.check_input_shapes, arrays,
                 {"m": TensorSpec("DT_FLOAT", (-1, 2))}, "matrix")
  assert error.message == (
      "input 'm' of signature 'matrix' has shape [3,3], not compatible with "
      "the signature's shape [-1,2] (-1: any size)")
  codec.check_input_shapes(arrays, {"m": TensorSpec("DT_FLOAT", None)}, "s")


def test_outputs_row_columnar_floats_and_bytes():
  outputs = {"scores": np.array([[0.1, 0.2]], np.float32),
             "ids": np.array([[b"a", b"\xff"]], object),
             "raw_bytes": np.array([b"\xff"], object)}
  assert codec.encode_outputs(outputs, codec.ROW) == {"predictions": [
      {"ids": ["a", "\ufffd"], "raw_bytes": {"b64": "/w=="},
       "scores": [0.1, 0.2]}]}
  assert codec.encode_outputs({"y": np.array(2.5, np.float32)},
                              codec.COLUMNAR) == {"outputs": 2.5}
  assert codec.encode_outputs({"y": np.array([1, 2], np.int64)},
                              codec.ROW) == {"predictions": [1, 2]}
  error = _error(codec.encode_outputs, {"y": np.array(1.0)}, codec.ROW)
  assert "Tensor name: y has no shape information" in error.message
  assert codec.dumps({"x": [float("nan"), float("inf")]}) == (
      b'{"x": [NaN, Infinity]}')


@pytest.mark.parametrize("body, message", [
    (b"", "JSON Parse error: The document is empty"),
    (b"  ", "JSON Parse error: The document is empty"),
    (b"{", "JSON Parse error: "),
    (b"\xff\xfe{}", "JSON Parse error: "),
    (b'"text"', "Is not object"),
    (b'{"signature_name": ["a"]}', "'signature_name' key must be a string"),
])
def test_request_parse_errors(body, message):
  assert message in _error(codec.parse_predict_request, body).message


def test_signature_without_inputs():
  request = codec.parse_predict_request(b'{"instances": [1]}')
  assert _error(codec.decode_inputs, request, {}).message == (
      "Failed to get input map for signature: DEFAULT")
