"""One loaded model version: a SavedModel and its callable signatures.

``load_servable`` reads ``saved_model.pb`` (for the SignatureDefs, rendered
as TF Serving renders them in its metadata API) and loads the SavedModel
with ``tf.saved_model.load``. Every failure becomes a ``StatusError`` with a
canonical code, which the model store reports in the model's status.

SavedModels may use custom ops from libraries that register them when
imported: ScaNN (``Scann>ScannSearchBatched``) and TF Text (the text
encoder's tokenizer). ``import_custom_ops`` imports them; the server calls
it once before loading any model, so ScaNN and brute-force exports both load.

After loading, a version replays its TF Serving warm-up file (``warmup``)
before it is served.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import pathlib
from typing import Mapping

import numpy as np

from tfgnn_gfm.serving import codec, status, warmup
from tfgnn_gfm.serving.codec import DEFAULT_SIGNATURE, TensorSpec
from tfgnn_gfm.serving.status import StatusError, invalid_argument

_LOG = logging.getLogger(__name__)

SERVE_TAG = "serve"

#: Libraries whose import registers TensorFlow ops that exports may use.
CUSTOM_OP_MODULES = ("scann", "tensorflow_text")


def import_custom_ops(modules: tuple[str, ...] = CUSTOM_OP_MODULES
                      ) -> list[str]:
  """Imports the libraries that register custom TensorFlow ops.

  Args:
    modules: module names to import; a missing one is logged and skipped.

  Returns:
    The modules imported.
  """
  imported = []
  for name in modules:
    try:
      importlib.import_module(name)
      imported.append(name)
    except ImportError as e:
      _LOG.warning("custom ops of %s not available (%s): SavedModels that "
                   "use them will not load", name, e)
  return imported


@dataclasses.dataclass(frozen=True)
class _Signature:
  function: object
  inputs: Mapping[str, TensorSpec]
  tf_dtypes: Mapping[str, object]


class Servable:
  """A loaded version of a model, ready to run its signatures.

  Attributes:
    name: model name.
    version: version number.
    path: the version's folder.
    signature_def_map: ``{"signature_def": {key: SignatureDef JSON}}`` as TF
      Serving's metadata API renders it.
  """

  def __init__(self, name: str, version: int, path: str,
               signature_def_map: dict, signatures: dict[str, _Signature],
               loaded: object):
    self.name = name
    self.version = version
    self.path = path
    self.signature_def_map = signature_def_map
    self._signatures = signatures
    self._loaded = loaded  # Keeps the SavedModel's resources alive.

  def __repr__(self) -> str:
    return (f"Servable({self.name!r}, version={self.version}, "
            f"signatures={sorted(self._signatures)})")

  @property
  def signature_names(self) -> list[str]:
    """Names of the callable signatures."""
    return sorted(self._signatures)

  def _signature(self, signature_name: str) -> _Signature:
    key = signature_name or DEFAULT_SIGNATURE
    if key not in self._signatures:
      raise invalid_argument(
          f'Serving signature name: "{status.bounded(key, 256)}" not found '
          "in signature def")
    return self._signatures[key]

  def input_specs(self, signature_name: str) -> Mapping[str, TensorSpec]:
    """The inputs of a signature ("" for ``serving_default``).

    Raises:
      StatusError: INVALID_ARGUMENT if there is no such signature.
    """
    return self._signature(signature_name).inputs

  def warm_up(self) -> int:
    """Replays the version's TF Serving warm-up file, if any
    (``assets.extra/tf_serving_warmup_requests``, see ``warmup``), so the
    first real requests do not pay for tracing and kernel set-up.

    Returns:
      The number of requests run.

    Raises:
      StatusError: when the file cannot be read or a request fails (the
        version is then not served, as TF Serving does with a failing
        warm-up).
    """
    logs = warmup.read_warmup_file(self.path)
    for number, log in enumerate(logs, 1):
      try:
        signature_name, arrays = warmup.predict_inputs(log)
        specs = self.input_specs(signature_name)
        if set(arrays) != set(specs):
          raise invalid_argument(
              f"inputs {sorted(arrays)} do not match the signature's "
              f"{sorted(specs)}")
        codec.check_input_shapes(arrays, specs,
                                 signature_name or DEFAULT_SIGNATURE)
        self.run(signature_name, arrays)
      except StatusError as e:
        raise StatusError(e.code, f"warm-up request {number} of "
                          f"{warmup.warmup_path(self.path)} failed: "
                          f"{e.message}") from e
    return len(logs)

  def run(self, signature_name: str, inputs: Mapping[str, np.ndarray]
          ) -> dict[str, np.ndarray]:
    """Runs a signature on decoded inputs.

    Args:
      signature_name: signature key ("" for ``serving_default``).
      inputs: one array per signature input.

    Returns:
      The outputs, by name.

    Raises:
      StatusError: with the TensorFlow error's code and message when the
        model raises (e.g. INVALID_ARGUMENT from an assertion or a lookup),
        the version's folder shown as ``<base_path>/VERSION``. A message
        holding bytes that are not UTF-8 (an assertion quoting a binary
        input) is an INVALID_ARGUMENT with those bytes escaped (``\\xff``).
    """
    import tensorflow as tf
    signature = self._signature(signature_name)
    tensors = {}
    for name, array in inputs.items():
      dtype = signature.tf_dtypes[name]
      if array.size == 0:
        tensors[name] = tf.zeros(array.shape, dtype)
      else:
        tensors[name] = tf.constant(array, dtype=dtype)
    try:
      outputs = signature.function(**tensors)
    except tf.errors.OpError as e:
      raise StatusError(status.code_name(e.error_code),
                        self._public(e.message)) from e
    except UnicodeDecodeError as e:
      # TensorFlow could not turn the op's message into text: e.object is it.
      text = bytes(e.object).decode("utf-8", errors="backslashreplace")
      raise invalid_argument(self._public(text)) from e
    except (TypeError, ValueError) as e:
      raise invalid_argument(self._public(str(e))) from e
    return {name: value.numpy() for name, value in outputs.items()}

  def _public(self, message: str) -> str:
    """A model's message without the server's paths, bounded."""
    return status.without_server_paths(
        message, {self.path: f"<base_path>/{self.version}"})


def run_predict(servable, request, max_batch_size: int | None = None
                ) -> tuple[str, dict[str, np.ndarray]]:
  """Runs one parsed REST predict request on a servable.

  Args:
    servable: anything with ``input_specs(signature_name)`` and
      ``run(signature_name, arrays)`` (a ``Servable``).
    request: a ``codec.PredictRequest`` (``codec.parse_predict_request``).
    max_batch_size: the most instances the request may have (None: any).

  Returns:
    ``(request format, outputs)``; ``codec.encode_outputs`` renders them.

  Raises:
    StatusError: for any request or model error.
  """
  specs = servable.input_specs(request.signature_name)
  fmt, arrays = codec.decode_inputs(request, specs, max_batch_size)
  codec.check_input_shapes(arrays, specs,
                           request.signature_name or DEFAULT_SIGNATURE)
  return fmt, servable.run(request.signature_name, arrays)


def _saved_model_proto(path: pathlib.Path):
  """Reads saved_model.pb (or .pbtxt) of a version folder."""
  from google.protobuf import message as proto_message
  from google.protobuf import text_format
  from tensorflow.core.protobuf import saved_model_pb2
  binary, text = path / "saved_model.pb", path / "saved_model.pbtxt"
  proto = saved_model_pb2.SavedModel()
  if binary.is_file():
    try:
      proto.ParseFromString(binary.read_bytes())
    except (proto_message.DecodeError, RuntimeError) as e:
      raise StatusError(status.DATA_LOSS,
                        f"Can't parse {binary} as binary proto") from e
  elif text.is_file():
    try:
      text_format.Parse(text.read_text(encoding="utf-8"), proto)
    except (text_format.ParseError, UnicodeDecodeError) as e:
      raise StatusError(status.DATA_LOSS,
                        f"Can't parse {text} as text proto: {e}") from e
  else:
    raise StatusError(status.NOT_FOUND,
                      "Could not find SavedModel .pb or .pbtxt at supplied "
                      f"export directory path: {path}")
  return proto


def _signature_def_map(proto, path: pathlib.Path) -> dict:
  """The serve meta graph's SignatureDefs as TF Serving's metadata JSON."""
  from google.protobuf import json_format
  for meta_graph in proto.meta_graphs:
    if SERVE_TAG in meta_graph.meta_info_def.tags:
      break
  else:
    raise StatusError(status.NOT_FOUND,
                      "Could not find meta graph def matching supplied tags: "
                      f"{{ {SERVE_TAG} }} in {path}")
  signatures = {}
  for key, signature in meta_graph.signature_def.items():
    signatures[key] = json_format.MessageToDict(
        signature, preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True)
  return {"signature_def": signatures}


def _tensor_spec(spec) -> TensorSpec:
  from tensorflow.core.framework import types_pb2
  dtype = types_pb2.DataType.Name(spec.dtype.as_datatype_enum)
  if spec.shape.rank is None:
    return TensorSpec(dtype, None)
  return TensorSpec(dtype, tuple(-1 if d is None else int(d)
                                 for d in spec.shape.as_list()))


def _tf_input_specs(function) -> dict[str, object]:
  """Input name -> ``tf.TensorSpec`` of a signature function: the keyword
  inputs of a loaded signature, or the (named) specs of a tf.function's
  ``input_signature``, a dict argument giving its keys."""
  args, kwargs = function.structured_input_signature
  specs = dict(kwargs)
  for arg in args:
    if isinstance(arg, Mapping):
      specs.update(arg)
    else:
      specs[arg.name] = arg
  return specs


def signature_input_specs(function) -> dict[str, TensorSpec]:
  """The inputs of a signature function, as the REST codec reads them.

  Args:
    function: a loaded SavedModel signature, or a concrete function about
      to be saved as one.

  Returns:
    Input name -> ``codec.TensorSpec`` (dtype name and shape).
  """
  return {name: _tensor_spec(spec)
          for name, spec in _tf_input_specs(function).items()}


def _load_error(error: Exception) -> StatusError:
  import tensorflow as tf
  if isinstance(error, StatusError):
    return error
  if isinstance(error, tf.errors.OpError):
    return StatusError(status.code_name(error.error_code), error.message)
  message = f"{type(error).__name__}: {error}"
  if (isinstance(error, FileNotFoundError)
      or "Op type not registered" in str(error)):
    return StatusError(status.NOT_FOUND, message)
  return StatusError(status.UNKNOWN, message)


def load_servable(name: str, version: int, path: str | os.PathLike
                  ) -> Servable:
  """Loads one version of a model.

  Args:
    name: model name.
    version: version number.
    path: the version's folder (holds ``saved_model.pb``).

  Returns:
    The servable.

  Raises:
    StatusError: if the folder is not a loadable SavedModel (missing or
      garbage ``saved_model.pb``, missing variables, unregistered ops...).
  """
  import tensorflow as tf
  path = pathlib.Path(path)
  try:
    proto = _saved_model_proto(path)
    signature_def_map = _signature_def_map(proto, path)
    loaded = tf.saved_model.load(str(path), tags=[SERVE_TAG])
    signatures = {}
    for key, function in loaded.signatures.items():
      signatures[key] = _Signature(
          function=function, inputs=signature_input_specs(function),
          tf_dtypes={n: s.dtype
                     for n, s in _tf_input_specs(function).items()})
  except Exception as e:
    raise _load_error(e) from e
  servable = Servable(name, version, str(path), signature_def_map, signatures,
                      loaded)
  warmed = servable.warm_up()
  if warmed:
    _LOG.info("%s version %d: ran %d warm-up request(s)", name, version,
              warmed)
  return servable
