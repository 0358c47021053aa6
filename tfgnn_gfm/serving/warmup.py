"""TF Serving's warm-up file: PredictionLog records replayed at load.

TF Serving runs the records of ``assets.extra/tf_serving_warmup_requests``
in a SavedModel version once after loading it and before serving it, so the
first real requests do not pay for tracing and kernel set-up. The file is a
TFRecord of ``tensorflow.serving.PredictionLog`` messages
(``tensorflow_serving.apis.prediction_log_pb2``); each record here holds a
``PredictLog`` whose ``PredictRequest`` names its signature
(``model_spec.signature_name``) and carries one ``TensorProto`` per input.

``gfm export`` writes one record per signature of each version
(``example_logs``, from the export's example REST requests), and
``gfm serve`` replays the same file (``Servable.warm_up``), so one file
warms both servers. As in TF Serving, a failing record fails the load, and
a file of more than ``MAX_RECORDS`` records is refused.
"""

from __future__ import annotations

import json
import os
import pathlib
from typing import Any, Iterable, Mapping

import numpy as np

from tfgnn_gfm.artifacts import SERVING_WARMUP_FILE
from tfgnn_gfm.serving import codec, status
from tfgnn_gfm.serving.codec import DEFAULT_SIGNATURE, TensorSpec
from tfgnn_gfm.serving.status import StatusError, invalid_argument

#: TF Serving's limit on warm-up records (``WarmupConsts::kMaxNumRecords``).
MAX_RECORDS = 1000


def predict_log(signature_name: str, inputs: Mapping[str, Any],
                model_name: str = "", dtypes: Mapping[str, Any] | None = None
                ) -> Any:
  """One warm-up record: a PredictLog with a PredictRequest.

  Args:
    signature_name: the signature the request runs.
    inputs: input name -> array-like value.
    model_name: ``model_spec.name`` (TF Serving ignores it in warm-up).
    dtypes: input name -> TensorFlow dtype; by default each array's own.

  Returns:
    The ``PredictionLog`` message.
  """
  import tensorflow as tf
  from tensorflow_serving.apis import prediction_log_pb2
  log = prediction_log_pb2.PredictionLog()
  request = log.predict_log.request
  request.model_spec.name = model_name
  request.model_spec.signature_name = signature_name
  for name, value in inputs.items():
    dtype = (dtypes or {}).get(name)
    request.inputs[name].CopyFrom(tf.make_tensor_proto(value, dtype=dtype))
  return log


def example_logs(examples: Iterable[Mapping[str, Any]],
                 specs: Mapping[str, Mapping[str, TensorSpec]],
                 model_name: str = "") -> list[Any]:
  """Warm-up records from REST predict bodies, typed by the signatures.

  Each body (``{"signature_name": ..., "instances": [...]}`` or
  ``"inputs"``) is decoded by the REST API's own rules (``codec``) against
  its signature's inputs, so a record holds exactly the tensors the same
  REST request would feed.

  Args:
    examples: REST predict request bodies, as dicts.
    specs: signature key -> its inputs (``servable.signature_input_specs``).
    model_name: written as each request's ``model_spec.name``.

  Returns:
    One ``PredictionLog`` per example, in order.

  Raises:
    StatusError: INVALID_ARGUMENT when an example does not fit its
      signature, or names a signature that is not in ``specs``.
  """
  from tensorflow.core.framework import types_pb2
  logs = []
  for example in examples:
    signature = example.get("signature_name") or DEFAULT_SIGNATURE
    if signature not in specs:
      raise invalid_argument(f"no signature {signature!r} for the warm-up "
                             f"example (signatures: {sorted(specs)})")
    request = codec.parse_predict_request(json.dumps(example))
    _, arrays = codec.decode_inputs(request, specs[signature])
    logs.append(predict_log(
        signature, arrays, model_name,
        {name: types_pb2.DataType.Value(spec.dtype)
         for name, spec in specs[signature].items()}))
  return logs


def warmup_path(version_dir: str | os.PathLike) -> pathlib.Path:
  """The warm-up file of a version folder."""
  return pathlib.Path(version_dir) / SERVING_WARMUP_FILE


def write_warmup_file(version_dir: str | os.PathLike, logs: Iterable[Any]
                      ) -> pathlib.Path:
  """Writes PredictionLog records as a version's warm-up file.

  Args:
    version_dir: the SavedModel version folder.
    logs: ``PredictionLog`` messages.

  Returns:
    The file written (``assets.extra/tf_serving_warmup_requests``).
  """
  import tensorflow as tf
  path = warmup_path(version_dir)
  path.parent.mkdir(parents=True, exist_ok=True)
  with tf.io.TFRecordWriter(str(path)) as writer:
    for log in logs:
      writer.write(log.SerializeToString())
  return path


def read_warmup_file(version_dir: str | os.PathLike) -> list[Any]:
  """Reads a version's warm-up records.

  Args:
    version_dir: the SavedModel version folder.

  Returns:
    The ``PredictionLog`` messages, in file order (none without a file).

  Raises:
    StatusError: INVALID_ARGUMENT for a record that is not a PredictionLog
      or more than ``MAX_RECORDS`` records; DATA_LOSS (or the reader's
      code) for a file that is not a TFRecord file.
  """
  import tensorflow as tf
  from google.protobuf import message as proto_message
  from tensorflow_serving.apis import prediction_log_pb2
  path = warmup_path(version_dir)
  if not path.is_file():
    return []
  logs = []
  try:
    for record in tf.data.TFRecordDataset(str(path)):
      if len(logs) == MAX_RECORDS:
        raise invalid_argument("Number of warmup records exceeds the maximum "
                               f"({MAX_RECORDS}) at {path}")
      try:
        logs.append(prediction_log_pb2.PredictionLog.FromString(
            record.numpy()))
      except proto_message.DecodeError as e:
        raise invalid_argument(f"Failed to parse warmup record {len(logs) + 1}"
                               f" from {path}") from e
  except tf.errors.OpError as e:
    raise StatusError(status.code_name(e.error_code),
                      f"cannot read warmup file {path}: {e.message}") from e
  return logs


def predict_inputs(log: Any) -> tuple[str, dict[str, np.ndarray]]:
  """The signature and input arrays of a warm-up record.

  Args:
    log: a ``PredictionLog``.

  Returns:
    (signature name, input name -> array).

  Raises:
    StatusError: UNIMPLEMENTED for a record other than a PredictLog
      (gfm serve has no classify, regress or multi-inference API).
  """
  import tensorflow as tf
  kind = log.WhichOneof("log_type")
  if kind != "predict_log":
    raise StatusError(status.UNIMPLEMENTED,
                      f"gfm serve replays PredictLog records only, not {kind}")
  request = log.predict_log.request
  return (request.model_spec.signature_name,
          {name: tf.make_ndarray(tensor)
           for name, tensor in request.inputs.items()})
