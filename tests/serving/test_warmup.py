"""TF Serving's warm-up file: real PredictionLog TFRecords, written and read."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from tfgnn_gfm.artifacts import SERVING_WARMUP_FILE
from tfgnn_gfm.serving import warmup
from tfgnn_gfm.serving.codec import TensorSpec
from tfgnn_gfm.serving.status import StatusError

SPECS = {
    "serving_default": {"item_id": TensorSpec("DT_STRING", (-1,)),
                        "k": TensorSpec("DT_INT32", (-1,))},
    "matrix": {"m": TensorSpec("DT_FLOAT", (-1, 2))},
}


def _records(version_dir):
  """The raw records of the file, parsed by TF Serving's proto alone."""
  path = version_dir / "assets.extra" / "tf_serving_warmup_requests"
  return [prediction_log_pb2.PredictionLog.FromString(r.numpy())
          for r in tf.data.TFRecordDataset(str(path))]


def test_file_is_tf_servings_name_and_format(tmp_path):
  assert SERVING_WARMUP_FILE == "assets.extra/tf_serving_warmup_requests"
  logs = warmup.example_logs([
      {"signature_name": "serving_default",
       "instances": [{"item_id": "a", "k": 3}, {"item_id": "b", "k": 1}]},
      {"signature_name": "matrix", "inputs": {"m": [[1.0, 2.0]]}},
  ], SPECS, model_name="toolbox")
  path = warmup.write_warmup_file(tmp_path, logs)
  assert path == tmp_path / SERVING_WARMUP_FILE
  first, second = _records(tmp_path)
  request = first.predict_log.request
  assert request.model_spec.name == "toolbox"
  assert request.model_spec.signature_name == "serving_default"
  assert request.inputs["item_id"].dtype == tf.string.as_datatype_enum
  assert tf.make_ndarray(request.inputs["item_id"]).tolist() == [b"a", b"b"]
  assert request.inputs["k"].dtype == tf.int32.as_datatype_enum
  assert tf.make_ndarray(request.inputs["k"]).tolist() == [3, 1]
  matrix = second.predict_log.request
  assert matrix.model_spec.signature_name == "matrix"
  assert tf.make_ndarray(matrix.inputs["m"]).dtype == np.float32
  assert tf.make_ndarray(matrix.inputs["m"]).shape == (1, 2)
  # Read back through the module: the same messages and arrays.
  assert warmup.read_warmup_file(tmp_path) == [first, second]
  signature, arrays = warmup.predict_inputs(second)
  assert signature == "matrix" and arrays["m"].tolist() == [[1.0, 2.0]]


def test_examples_that_do_not_fit_their_signature_are_refused():
  with pytest.raises(StatusError, match="no signature 'nope'"):
    warmup.example_logs([{"signature_name": "nope", "instances": [1.0]}],
                        SPECS)
  with pytest.raises(StatusError) as e:
    warmup.example_logs([{"signature_name": "matrix",
                          "inputs": {"m": "text"}}], SPECS)
  assert e.value.code == "INVALID_ARGUMENT"


def test_no_file_unparsable_records_and_too_many(tmp_path):
  assert warmup.read_warmup_file(tmp_path) == []
  path = tmp_path / SERVING_WARMUP_FILE
  path.parent.mkdir(parents=True)
  with tf.io.TFRecordWriter(str(path)) as writer:
    writer.write(warmup.predict_log("", {"x": [1.0]}).SerializeToString())
    writer.write(b"\xff\xffmalformed_record")
  with pytest.raises(StatusError, match="Failed to parse warmup record 2"):
    warmup.read_warmup_file(tmp_path)
  path.write_bytes(b"not a TFRecord file at all")
  with pytest.raises(StatusError, match="cannot read warmup file"):
    warmup.read_warmup_file(tmp_path)
  one = warmup.predict_log("", {"x": [1.0]})
  warmup.write_warmup_file(tmp_path, [one] * (warmup.MAX_RECORDS + 1))
  with pytest.raises(StatusError, match=r"exceeds the maximum \(1000\)"):
    warmup.read_warmup_file(tmp_path)
  warmup.write_warmup_file(tmp_path, [one] * warmup.MAX_RECORDS)
  assert len(warmup.read_warmup_file(tmp_path)) == warmup.MAX_RECORDS


def test_only_predict_logs_are_replayed():
  log = prediction_log_pb2.PredictionLog()
  log.classify_log.request.model_spec.name = "m"
  with pytest.raises(StatusError, match="PredictLog records only, not "
                     "classify_log") as e:
    warmup.predict_inputs(log)
  assert e.value.code == "UNIMPLEMENTED"
