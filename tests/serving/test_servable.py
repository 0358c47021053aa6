"""Loading one version: its TF Serving warm-up file is replayed before it is
served."""

import numpy as np
import pytest

from tests.serving import models
from tfgnn_gfm.serving import StatusError, load_servable, warmup
from tfgnn_gfm.serving.codec import TensorSpec
from tfgnn_gfm.serving.servable import signature_input_specs


def _with_warmup(tmp_path, logs):
  path = tmp_path / "half_plus_two" / "1"
  models.save_half_plus(path)
  warmup.write_warmup_file(path, logs)
  return path


def test_warm_up_records_run_at_load(tmp_path):
  path = _with_warmup(tmp_path, [
      warmup.predict_log("serving_default",
                         {"x": np.array([1.0, 2.0], np.float32)}),
      warmup.predict_log("", {"x": np.array([[3.0]], np.float32)})])
  servable = load_servable("half_plus_two", 1, path)
  assert servable.warm_up() == 2
  assert servable.run("", {"x": np.array([[4.0]], np.float32)})[
      "y"].tolist() == [[4.0]]  # 0.5 * 4 + 2.


def test_a_failing_warm_up_request_fails_the_load(tmp_path):
  path = _with_warmup(tmp_path, [
      warmup.predict_log("", {"x": np.array([1.0], np.float32)}),
      warmup.predict_log("", {"nope": np.array([1.0], np.float32)})])
  with pytest.raises(StatusError, match="warm-up request 2 of .*"
                     "tf_serving_warmup_requests failed: inputs"):
    load_servable("half_plus_two", 1, path)


def test_a_request_of_the_wrong_shape_or_signature_fails_the_load(tmp_path):
  path = tmp_path / "toolbox" / "1"
  models.save_toolbox(path)
  warmup.write_warmup_file(path, [warmup.predict_log(
      "matrix", {"m": np.zeros((1, 3), np.float32)})])
  with pytest.raises(StatusError, match="input 'm' of signature 'matrix' "
                     "has shape"):
    load_servable("toolbox", 1, path)
  warmup.write_warmup_file(path, [warmup.predict_log(
      "nope", {"m": np.zeros((1, 2), np.float32)})])
  with pytest.raises(StatusError, match="signature name: \"nope\" not found"):
    load_servable("toolbox", 1, path)


def test_example_requests_of_real_signatures_replay(tmp_path):
  path = tmp_path / "toolbox" / "1"
  models.save_toolbox(path)
  servable = load_servable("toolbox", 1, path)
  specs = {name: servable.input_specs(name)
           for name in servable.signature_names}
  warmup.write_warmup_file(path, warmup.example_logs([
      {"signature_name": "serving_default",
       "instances": [{"item_id": "a", "k": 2}, {"item_id": "c", "k": 1}]},
      {"signature_name": "echo", "instances": [{"b64": "/w=="}]},
      {"signature_name": "mixed",
       "inputs": {"a": [1], "b": [True], "c": [0.5]}},
  ], specs, model_name="toolbox"))
  assert load_servable("toolbox", 1, path).warm_up() == 3


def test_signature_specs_are_the_same_before_saving_and_after_loading(
    tmp_path):
  import tensorflow as tf

  @tf.function(input_signature=[{
      "item_id": tf.TensorSpec([None], tf.string, name="item_id"),
      "m": tf.TensorSpec([None, 2], tf.float32, name="m")}])
  def serve(request):
    return {"n": tf.strings.length(request["item_id"]) + 0 * tf.cast(
        tf.reduce_sum(request["m"], axis=1), tf.int32)}

  concrete = serve.get_concrete_function()
  module = tf.Module()
  module.serve = serve
  tf.saved_model.save(module, str(tmp_path / "m"),
                      signatures={"serving_default": concrete})
  before = signature_input_specs(concrete)
  assert before == {"item_id": TensorSpec("DT_STRING", (-1,)),
                    "m": TensorSpec("DT_FLOAT", (-1, 2))}
  assert load_servable("m", 1, tmp_path / "m").input_specs("") == before


def test_no_warm_up_file_is_fine(tmp_path):
  path = tmp_path / "m" / "1"
  models.save_half_plus(path)
  assert load_servable("m", 1, path).warm_up() == 0
