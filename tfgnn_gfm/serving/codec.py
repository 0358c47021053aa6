"""JSON <-> tensors for the predict API, by TF Serving's REST rules.

A predict request is a JSON object with an optional ``signature_name`` and
exactly one of ``instances`` (row format: a list with one element per
example, every input sharing the 0-th dimension) or ``inputs`` (columnar
format: one value per input, or a bare value when the signature has one
input). Values follow the signature's input dtypes: numbers for integer and
float inputs (``NaN``/``Infinity`` accepted), ``true``/``false`` for bools,
strings or ``{"b64": ...}`` objects for string inputs. Lists must be dense
(every list at one level has the same length).

Answers mirror the request's format: ``predictions`` (a list; of objects
when the signature has several outputs) or ``outputs`` (the value, or an
object of named values). String outputs whose name ends in ``_bytes`` are
written as ``{"b64": ...}``; other strings are written as text.

Error messages follow TF Serving's where it has one, so that a client sees
the same text from ``gfm serve`` and from ``tensorflow_model_server``. Every
malformed request is an INVALID_ARGUMENT (400), also one nested deeper than
``MAX_RANK`` lists or too deep for the JSON parser; values quoted in a
message are cut to a few hundred characters. ``decode_inputs`` can refuse
requests of more than a given number of instances.

This module needs numpy only (no TensorFlow).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from typing import Any, Callable, Mapping

import numpy as np

from tfgnn_gfm.serving import status
from tfgnn_gfm.serving.status import StatusError, invalid_argument

ROW = "row"
COLUMNAR = "columnar"
#: The signature of a request that names none (``signature_name`` "").
DEFAULT_SIGNATURE = "serving_default"

_BYTES_SUFFIX = "_bytes"
_DEBUG_CHARS = 256

#: Most dimensions of an input value: deeper nesting than any signature
#: here takes (numpy itself stops at 64).
MAX_RANK = 32

# dtype name -> (JSON kind, numpy dtype, TF's short name used in messages).
_DTYPES = {
    "DT_FLOAT": ("float", np.float32, "float"),
    "DT_DOUBLE": ("float", np.float64, "double"),
    "DT_HALF": ("float", np.float16, "half"),
    "DT_INT8": ("int", np.int8, "int8"),
    "DT_UINT8": ("int", np.uint8, "uint8"),
    "DT_INT16": ("int", np.int16, "int16"),
    "DT_UINT16": ("int", np.uint16, "uint16"),
    "DT_INT32": ("int", np.int32, "int32"),
    "DT_UINT32": ("int", np.uint32, "uint32"),
    "DT_INT64": ("int", np.int64, "int64"),
    "DT_UINT64": ("int", np.uint64, "uint64"),
    "DT_BOOL": ("bool", np.bool_, "bool"),
    "DT_STRING": ("string", object, "string"),
}


@dataclasses.dataclass(frozen=True)
class TensorSpec:
  """The dtype and shape of one signature input, as a SignatureDef has them.

  Attributes:
    dtype: TensorFlow DataType name, e.g. ``"DT_FLOAT"``.
    shape: dimensions, -1 for a dimension of any size; None when the rank is
      unknown (any shape).
  """

  dtype: str
  shape: tuple[int, ...] | None = None

  def shape_string(self) -> str:
    """The shape as ``[-1,1]`` (``[?]`` for an unknown rank)."""
    return "[?]" if self.shape is None else _shape_string(self.shape)


@dataclasses.dataclass(frozen=True)
class PredictRequest:
  """A parsed predict request body, before its values are converted.

  Attributes:
    signature_name: the requested signature ("" for the default one).
    document: the whole JSON object.
  """

  signature_name: str
  document: dict[str, Any]


def _shape_string(shape) -> str:
  return "[" + ",".join(str(int(d)) for d in shape) + "]"


def debug_string(value: Any) -> str:
  """A JSON value as compact text for an error message (truncated)."""
  if isinstance(value, str) and len(value) > _DEBUG_CHARS:
    value = value[:_DEBUG_CHARS]
  try:
    text = json.dumps(value, ensure_ascii=False, allow_nan=True)
  except RecursionError:
    return "(a value nested too deep to show)"
  return text if len(text) <= _DEBUG_CHARS else text[:_DEBUG_CHARS]


def _quote(text: str) -> str:
  """A name from the request (e.g. an input name) cut for a message."""
  return status.bounded(text, _DEBUG_CHARS)


def _json_type(value: Any) -> str:
  if value is None:
    return "Null"
  if value is True:
    return "True"
  if value is False:
    return "False"
  if isinstance(value, dict):
    return "Object"
  if isinstance(value, list):
    return "Array"
  if isinstance(value, str):
    return "String"
  return "Number"


def _is_b64_object(value: Any) -> bool:
  return (type(value) is dict and len(value) == 1
          and type(value.get("b64")) is str)


def _is_named_object(value: Any) -> bool:
  return type(value) is dict and not _is_b64_object(value)


def decode_b64(value: Mapping[str, Any]) -> bytes:
  """Decodes a ``{"b64": ...}`` object; raises StatusError if malformed."""
  if not _is_b64_object(value):
    raise invalid_argument(f"JSON Value: {debug_string(value)} not formatted "
                           "correctly for base64 data")
  text = value["b64"]
  try:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
  except (binascii.Error, ValueError) as e:
    raise invalid_argument("Unable to base64 decode") from e


def _leaf_converter(dtype: str) -> Callable[[Any], Any]:
  """Returns a function that checks and converts one JSON leaf value."""
  if dtype not in _DTYPES:
    def unsupported(value):
      raise StatusError(status.UNIMPLEMENTED,
                        f"Conversion of JSON Value: {debug_string(value)} to "
                        f"type: {dtype.removeprefix('DT_').lower()}")
    return unsupported
  kind, np_dtype, type_name = _DTYPES[dtype]

  def type_error(value):
    return invalid_argument(
        f"JSON Value: {debug_string(value)} Type: {_json_type(value)} is not "
        f"of expected type: {type_name}")

  if kind == "float":
    def to_float(value):
      if type(value) is float:
        return value
      if type(value) is int:
        try:
          return float(value)
        except OverflowError:
          pass
      raise type_error(value)
    return to_float
  if kind == "int":
    info = np.iinfo(np_dtype)
    low, high = int(info.min), int(info.max)

    def to_int(value):
      if type(value) is int and low <= value <= high:
        return value
      raise type_error(value)
    return to_int
  if kind == "bool":
    def to_bool(value):
      if type(value) is bool:
        return value
      raise type_error(value)
    return to_bool

  def to_bytes(value):
    if type(value) is str:
      try:
        return value.encode("utf-8")
      except UnicodeEncodeError as e:
        raise invalid_argument(
            f"JSON Value: {debug_string(value)} is not valid UTF-8 text; "
            "send binary values as {\"b64\": ...}") from e
    if type(value) is dict:
      return decode_b64(value)
    raise type_error(value)
  return to_bytes


def _dense_shape(value: Any) -> list[int]:
  """The shape implied by the first element at each nesting level.

  Raises:
    StatusError: INVALID_ARGUMENT for more than ``MAX_RANK`` levels.
  """
  shape = []
  while type(value) is list:
    if len(shape) == MAX_RANK:
      raise invalid_argument(
          f"JSON Value is nested more than {MAX_RANK} lists deep (the most "
          "dimensions an input may have)")
    shape.append(len(value))
    if not value:
      break
    value = value[0]
  return shape


def _fill(value: Any, level: int, shape: list[int],
          leaf: Callable[[Any], Any], out: list[Any]) -> None:
  """Appends the leaves of a dense nested list to ``out``, checking shape."""
  rank = len(shape)
  if type(value) is not list:
    if level != rank:
      raise invalid_argument(
          f"JSON Value: {debug_string(value)} found at incorrect level: "
          f"{level + 1} in the JSON DOM. Expected at level: {rank}")
    out.append(leaf(value))
    return
  if level >= rank:
    raise invalid_argument(f"Encountered list at unexpected level: {level} "
                           f"expected < {rank}")
  if len(value) != shape[level]:
    raise invalid_argument(
        f"Encountered list at unexpected size: {len(value)} at level: "
        f"{level} expected size: {shape[level]}")
  if level == rank - 1:
    for item in value:
      if type(item) is list:
        raise invalid_argument(
            f"Encountered list at unexpected level: {level + 1} expected < "
            f"{rank}")
      out.append(leaf(item))
  else:
    for item in value:
      _fill(item, level + 1, shape, leaf, out)


def _to_array(values: list[Any], shape: list[int], dtype: str) -> np.ndarray:
  np_dtype = _DTYPES[dtype][1]
  if np_dtype is object:
    array = np.empty(len(values), dtype=object)
    array[:] = values
  else:
    array = np.array(values, dtype=np_dtype)
  return array.reshape(shape)


def json_to_array(value: Any, spec: TensorSpec) -> np.ndarray:
  """Converts one JSON value (scalar or dense nested list) to an array.

  Args:
    value: the decoded JSON value.
    spec: the input's dtype (its shape is not checked here).

  Returns:
    A numpy array (object dtype holding bytes for string inputs).

  Raises:
    StatusError: INVALID_ARGUMENT for a wrong type or a ragged list.
  """
  shape = _dense_shape(value)
  values: list[Any] = []
  _fill(value, 0, shape, _leaf_converter(spec.dtype), values)
  return _to_array(values, shape, spec.dtype)


def parse_predict_request(body: bytes | str) -> PredictRequest:
  """Parses a predict request body (JSON) and its ``signature_name``.

  Args:
    body: the HTTP request body.

  Returns:
    The parsed request.

  Raises:
    StatusError: INVALID_ARGUMENT for malformed JSON, a body that is not an
      object, or a ``signature_name`` that is not a string.
  """
  if not body or not body.strip():
    raise invalid_argument("JSON Parse error: The document is empty")
  try:
    document = json.loads(body)
  except json.JSONDecodeError as e:
    reason = "Invalid value." if e.msg == "Expecting value" else e.msg
    raise invalid_argument(
        f"JSON Parse error: {reason} at offset: {e.pos}") from e
  except UnicodeDecodeError as e:
    raise invalid_argument("JSON Parse error: Invalid encoding in string. "
                           f"at offset: {e.start}") from e
  except RecursionError as e:
    raise invalid_argument("JSON Parse error: The document is nested too "
                           "deep") from e
  except ValueError as e:  # e.g. an integer of over 4300 digits
    raise invalid_argument(f"JSON Parse error: {status.bounded(str(e))}"
                           ) from e
  if not isinstance(document, dict):
    raise invalid_argument(f"JSON Value: {debug_string(document)} Is not "
                           "object")
  signature_name = document.get("signature_name", "")
  if not isinstance(signature_name, str):
    raise invalid_argument(
        f"JSON Value: {debug_string(document)} not formatted correctly. "
        "'signature_name' key must be a string value.")
  return PredictRequest(signature_name, document)


def _check_batch_size(rows: int, max_batch_size: int | None,
                      what: str) -> None:
  if max_batch_size is not None and rows > max_batch_size:
    raise invalid_argument(
        f"{what} {rows} instances, more than the server's limit of "
        f"{max_batch_size} per request (--max-batch-size); split the request")


def decode_inputs(request: PredictRequest, specs: Mapping[str, TensorSpec],
                  max_batch_size: int | None = None
                  ) -> tuple[str, dict[str, np.ndarray]]:
  """Converts a request's ``instances`` or ``inputs`` to input arrays.

  Args:
    request: the parsed request.
    specs: the signature's inputs, by name.
    max_batch_size: the most instances a request may have (the length of
      ``instances``, or the 0-th dimension of each columnar input); None
      for no limit.

  Returns:
    (format, arrays): ``ROW`` or ``COLUMNAR``, and one array per input.

  Raises:
    StatusError: INVALID_ARGUMENT for any request that does not fit the
      signature (names, dtypes, dense shapes, common 0-th dimension), or
      that has more than ``max_batch_size`` instances.
  """
  if not specs:
    raise invalid_argument("Failed to get input map for signature: "
                           f"{_quote(request.signature_name or 'DEFAULT')}")
  document = request.document
  if "instances" in document:
    if "inputs" in document:
      raise invalid_argument(
          f"JSON Value: {debug_string(document)} Not formatted correctly "
          "expecting only one of 'inputs' or 'instances' keys to exist ")
    instances = document["instances"]
    if not isinstance(instances, list):
      raise invalid_argument(f"JSON Value: {debug_string(document)} Expecting "
                             "'instances' to be an list/array")
    if not instances:
      raise invalid_argument(f"JSON Value: {debug_string(document)} No values "
                             "in 'instances' array")
    _check_batch_size(len(instances), max_batch_size, "'instances' has")
    return ROW, _decode_instances(instances, specs)
  if "inputs" in document:
    inputs = document["inputs"]
    columns = inputs.values() if _is_named_object(inputs) else [inputs]
    for column in columns:
      if type(column) is list:
        _check_batch_size(len(column), max_batch_size, "an input of 'inputs' "
                          "has")
    return COLUMNAR, _decode_columns(inputs, specs)
  raise invalid_argument("Missing 'inputs' or 'instances' key")


class _Batch:
  """Collects the rows of one input in row format, checking they agree."""

  def __init__(self, spec: TensorSpec):
    self.spec = spec
    self.leaf = _leaf_converter(spec.dtype)
    self.values: list[Any] = []
    self.shape: list[int] | None = None
    self.size = 0
    self.rows = 0

  def add(self, value: Any) -> None:
    shape = _dense_shape(value)
    values: list[Any] = []
    _fill(value, 0, shape, self.leaf, values)
    if self.shape is None:
      self.shape, self.size = shape, len(values)
    elif len(values) != self.size:
      raise invalid_argument(f"Expecting tensor size: {self.size} but got: "
                             f"{len(values)}")
    elif shape != self.shape:
      raise invalid_argument(f"Expecting shape {_shape_string(self.shape)} but "
                             f"got: {_shape_string(shape)}")
    self.values.extend(values)
    self.rows += 1

  def array(self) -> np.ndarray:
    return _to_array(self.values, [self.rows] + list(self.shape or []),
                     self.spec.dtype)


def _decode_instances(instances: list[Any], specs: Mapping[str, TensorSpec]
                      ) -> dict[str, np.ndarray]:
  names = sorted(specs)
  if not isinstance(instances[0], dict) and len(names) > 1:
    raise invalid_argument(
        "instances is a plain list, but expecting list of objects as multiple "
        "input tensors required as per tensorinfo_map")
  objects = _is_named_object(instances[0])
  batches = {name: _Batch(specs[name]) for name in names}
  for index, element in enumerate(instances):
    if objects:
      if not _is_named_object(element):
        raise invalid_argument(f"Expecting object but got list at item {index} "
                               "of input list")
      for key, value in element.items():
        try:
          if key not in batches:
            raise invalid_argument(
                f"JSON object: does not have named input: {_quote(key)}")
          batches[key].add(value)
        except StatusError as e:
          raise StatusError(
              e.code, f"Failed to process element: {index} key: "
              f"{_quote(key)} of 'instances' list. Error: {e.to_string()}"
          ) from e
      if set(element) != set(names):
        raise invalid_argument(
            f"Failed to process element: {index} of 'instances' list. JSON "
            f"object: {debug_string(element)} keys must be equal to: "
            f"{','.join(names)}")
    else:
      if _is_named_object(element):
        raise invalid_argument(f"Expecting value/list but got object at item "
                               f"{index} of input list")
      try:
        batches[names[0]].add(element)
      except StatusError as e:
        raise StatusError(
            e.code, f"Failed to process element: {index} of 'instances' list. "
            f"Error: {e.to_string()}") from e
  return {name: batch.array() for name, batch in batches.items()}


def _decode_columns(value: Any, specs: Mapping[str, TensorSpec]
                    ) -> dict[str, np.ndarray]:
  names = sorted(specs)
  if not _is_named_object(value):
    if len(names) > 1:
      raise invalid_argument(
          "inputs is a plain value/list, but expecting an object as multiple "
          "input tensors required as per tensorinfo_map")
    return {names[0]: _column(names[0], value, specs[names[0]])}
  arrays = {}
  for name in names:
    if name not in value:
      raise invalid_argument(f"Missing named input: {name} in 'inputs' "
                             "object.")
    arrays[name] = _column(name, value[name], specs[name])
  return arrays


def _column(name: str, value: Any, spec: TensorSpec) -> np.ndarray:
  try:
    return json_to_array(value, spec)
  except StatusError as e:
    raise StatusError(e.code, f"Failed to process input: {name} of 'inputs' "
                      f"object. Error: {e.to_string()}") from e


def check_input_shapes(arrays: Mapping[str, np.ndarray],
                       specs: Mapping[str, TensorSpec],
                       signature_name: str) -> None:
  """Checks each input array against its signature shape.

  Args:
    arrays: decoded inputs.
    specs: the signature's inputs.
    signature_name: for the message.

  Raises:
    StatusError: INVALID_ARGUMENT naming the first input whose shape is not
      compatible (rank differs, or a fixed dimension differs).
  """
  for name in sorted(arrays):
    spec = specs[name]
    if spec.shape is None:
      continue
    shape = arrays[name].shape
    if len(shape) != len(spec.shape) or any(
        want not in (-1, got) for want, got in zip(spec.shape, shape)):
      raise invalid_argument(
          f"input '{name}' of signature '{signature_name}' has shape "
          f"{_shape_string(shape)}, not compatible with the signature's shape "
          f"{spec.shape_string()} (-1: any size)")


def _float_list(array: np.ndarray) -> Any:
  """Floats as the shortest decimals that round-trip in their own precision."""
  if array.dtype == np.float64:
    return array.tolist()
  return array.astype(str).astype(np.float64).tolist()


def _map_nested(value: Any, fn: Callable[[Any], Any]) -> Any:
  if isinstance(value, list):
    return [_map_nested(v, fn) for v in value]
  return fn(value)


def _to_b64(value: bytes) -> dict[str, str]:
  return {"b64": base64.b64encode(value).decode("ascii")}


def _to_text(value: Any) -> str:
  if isinstance(value, bytes):
    return value.decode("utf-8", errors="replace")
  return str(value)


def array_to_json(name: str, array: np.ndarray) -> Any:
  """Converts one output array to a JSON value (nested lists).

  Args:
    name: the output name (a string output named ``*_bytes`` is written as
      ``{"b64": ...}`` objects).
    array: the output value.

  Returns:
    A JSON-serializable value.
  """
  array = np.asarray(array)
  kind = array.dtype.kind
  if kind == "f":
    return _float_list(array)
  if kind in "iub":
    return array.tolist()
  if kind in "OSU":
    as_bytes = name.endswith(_BYTES_SUFFIX)
    return _map_nested(array.tolist(), _to_b64 if as_bytes else _to_text)
  raise invalid_argument(
      f"Failed to write JSON value for tensor type: {array.dtype}")


def encode_outputs(outputs: Mapping[str, np.ndarray], fmt: str
                   ) -> dict[str, Any]:
  """Builds the response object of a predict call.

  Args:
    outputs: the signature's outputs, by name.
    fmt: ``ROW`` (answer ``predictions``) or ``COLUMNAR`` (answer
      ``outputs``), the format of the request.

  Returns:
    The JSON-serializable response.

  Raises:
    StatusError: INVALID_ARGUMENT when row format cannot represent the
      outputs (a scalar output, or outputs of different 0-th dimensions).
  """
  if not outputs:
    raise invalid_argument("Cannot convert empty tensor map to JSON")
  names = sorted(outputs)
  arrays = {name: np.asarray(outputs[name]) for name in names}
  if fmt == COLUMNAR:
    values = {name: array_to_json(name, arrays[name]) for name in names}
    if len(names) == 1:
      return {"outputs": values[names[0]]}
    return {"outputs": values}
  batch = None
  for name in names:
    array = arrays[name]
    if array.ndim == 0:
      raise invalid_argument(f"Tensor name: {name} has no shape information ")
    if batch is not None and array.shape[0] != batch:
      raise invalid_argument(
          f"Tensor name: {name} has inconsistent batch size: "
          f"{array.shape[0]} expecting: {batch}")
    batch = array.shape[0]
  values = {name: array_to_json(name, arrays[name]) for name in names}
  if len(names) == 1:
    return {"predictions": values[names[0]]}
  return {"predictions": [{name: values[name][i] for name in names}
                          for i in range(batch)]}


def dumps(obj: Any) -> bytes:
  """Serializes a response; NaN and infinities as TF Serving writes them."""
  return json.dumps(obj, allow_nan=True).encode("utf-8")
