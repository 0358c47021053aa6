"""The text encoder: build and cache, TF Hub loading, encode_texts, the CLI."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)
from tfgnn_gfm import artifacts
from tfgnn_gfm.cli.gfm import main as gfm_main
from tfgnn_gfm.text import encoder, minilm

SENTENCES = [
    "A podcast about the history of jazz.",
    "Audiobook: a mystery novel set in Stockholm.",
    "Weekly football news and interviews",
    "Crème brûlée à la française",
    "日本語のテキスト",
    "😀 emoji only 🎧",
    "",
]


def _cos(a, b):
  return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


# --- build, cache, SavedModel ------------------------------------------------


def test_build_writes_saved_model_with_version(saved_model_path, text_cache):
  encoder_dir = artifacts.text_encoder_dir()
  assert saved_model_path == encoder_dir.saved_model
  assert (saved_model_path / "saved_model.pb").is_file()
  info = encoder.read_saved_model_info(saved_model_path)
  assert info["converter_version"] == minilm.CONVERTER_VERSION
  assert info["max_tokens"] == 256
  assert info["embedding_dim"] == 384
  assert set(info["sources"]) == set(minilm.SOURCE_FILES)
  manifest = encoder_dir.read_manifest()
  assert manifest["stage"] == "text_encoder"
  assert manifest["text_encoder"]["sources"] == info["sources"]
  # No temporary build directories are left behind.
  assert [p.name for p in encoder_dir.root.parent.iterdir()] == [
      encoder_dir.root.name]


def test_build_reuses_current_cache(saved_model_path):
  pb = saved_model_path / "saved_model.pb"
  mtime = pb.stat().st_mtime_ns
  start = time.perf_counter()
  assert encoder.build_text_encoder() == saved_model_path
  assert time.perf_counter() - start < 10
  assert pb.stat().st_mtime_ns == mtime


def test_cache_is_current_detects_stale(saved_model_path):
  encoder_dir = artifacts.text_encoder_dir()
  info = encoder.read_saved_model_info(saved_model_path)
  expected = {k: info[k] for k in ("model", "converter_version", "max_tokens",
                                   "sources")}
  assert encoder.cache_is_current(encoder_dir, expected)
  assert not encoder.cache_is_current(
      encoder_dir, {**expected, "converter_version": -1})
  assert not encoder.cache_is_current(encoder_dir, {**expected, "sources": {}})
  assert not encoder.cache_is_current(
      artifacts.TextEncoderDir(encoder_dir.root / "nowhere"), expected)


def test_stale_cache_is_rebuilt(saved_model_path, tmp_path, monkeypatch):
  monkeypatch.setenv("TFGNN_GFM_CACHE", str(tmp_path))
  encoder_dir = artifacts.text_encoder_dir()
  shutil.copytree(saved_model_path.parent, encoder_dir.root)
  info_path = encoder_dir.saved_model / "assets.extra" / encoder.INFO_FILE
  info = json.loads(info_path.read_text())
  info["converter_version"] = minilm.CONVERTER_VERSION - 1
  info_path.write_text(json.dumps(info))
  path = encoder.build_text_encoder()
  assert path == encoder_dir.saved_model
  assert (encoder.read_saved_model_info(path)["converter_version"]
          == minilm.CONVERTER_VERSION)


def test_build_rejects_bad_handles(text_cache):
  with pytest.raises(ValueError, match="unknown built-in"):
    encoder.build_text_encoder("builtin:no-such-model")
  with pytest.raises(ValueError, match="max_tokens"):
    encoder.build_text_encoder(encoder.TextEncoderConfig(max_tokens=1000))
  with pytest.raises(ValueError, match="not a built-in"):
    encoder.build_text_encoder("/some/saved_model")
  with pytest.raises(ValueError, match="neither"):
    encoder.load_text_encoder(str(text_cache / "does-not-exist"))


def test_saved_model_round_trip(saved_model_path, encoder_layer):
  import tensorflow as tf
  import tensorflow_text  # noqa: F401
  loaded = tf.saved_model.load(str(saved_model_path))
  direct = loaded(tf.constant(SENTENCES)).numpy()
  served = loaded.signatures["serving_default"](
      texts=tf.constant(SENTENCES))["embeddings"].numpy()
  via_hub = encoder.encode_texts(encoder_layer, SENTENCES)
  np.testing.assert_allclose(direct, via_hub, atol=1e-6)
  np.testing.assert_allclose(served, direct, atol=1e-6)


# --- loading with TF Hub -----------------------------------------------------


def test_loads_as_hub_keras_layer(encoder_layer):
  import tensorflow as tf
  import tensorflow_hub as hub
  assert isinstance(encoder_layer, hub.KerasLayer)
  assert not encoder_layer.trainable
  assert len(encoder_layer.weights) == 5 + 6 * 12
  inputs = tf.keras.Input(shape=(), dtype=tf.string)
  model = tf.keras.Model(inputs, encoder_layer(inputs))
  assert model.output_shape == (None, 384)
  out = model(tf.constant(["hello world"]))
  assert out.shape == (1, 384)


def test_any_compatible_savedmodel_replaces_it(tmp_path, capsys):
  """A stand-in for e.g. the Universal Sentence Encoder: strings -> vectors."""
  import tensorflow as tf

  class HashEncoder(tf.Module):

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, texts):
      buckets = tf.strings.to_hash_bucket_fast(texts, 1000)
      return tf.one_hot(buckets % 8, 8) + 0.5

  path = tmp_path / "hash_encoder"
  tf.saved_model.save(HashEncoder(), str(path))
  config = encoder.TextEncoderConfig(text_encoder=str(path))
  layer = encoder.load_text_encoder(config)
  out = encoder.encode_texts(layer, ["a", "b", "c"])
  assert out.shape == (3, 8) and out.dtype == np.float32
  # The same through the CLI's --text-encoder / --config.
  cfg_file = tmp_path / "cfg.yaml"
  cfg_file.write_text(f"text_encoder:\n  text_encoder: {path}\n")
  texts_file = tmp_path / "texts.txt"
  texts_file.write_text("a\nb\n", encoding="utf-8")
  out_file = tmp_path / "out.npy"
  assert gfm_main(["text-encoder", "encode", "--config", str(cfg_file),
                        "-i", str(texts_file), "-o", str(out_file)]) == 0
  np.testing.assert_allclose(np.load(out_file), out[:2])
  capsys.readouterr()
  assert gfm_main(["text-encoder", "build", "--text-encoder",
                        str(path)]) == 0
  assert capsys.readouterr().out.strip().splitlines()[-1] == str(path)


# --- encode_texts ------------------------------------------------------------


def test_shape_dtype_and_norm(encoder_layer):
  out = encoder.encode_texts(encoder_layer, SENTENCES)
  assert out.shape == (len(SENTENCES), 384)
  assert out.dtype == np.float32
  np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
  assert np.isfinite(out).all()


def test_deterministic(encoder_layer):
  a = encoder.encode_texts(encoder_layer, SENTENCES * 3, batch_size=8)
  b = encoder.encode_texts(encoder_layer, SENTENCES * 3, batch_size=8)
  np.testing.assert_array_equal(a, b)


def test_batch_equals_single(encoder_layer):
  batch = encoder.encode_texts(encoder_layer, SENTENCES, batch_size=256)
  for i, text in enumerate(SENTENCES):
    single = encoder.encode_texts(encoder_layer, [text])[0]
    np.testing.assert_allclose(batch[i], single, atol=1e-5, rtol=0)
  unsorted = encoder.encode_texts(encoder_layer, SENTENCES, batch_size=3,
                                  sort_by_length=False)
  np.testing.assert_allclose(batch, unsorted, atol=1e-5, rtol=0)


def test_semantics_sanity(encoder_layer):
  a, b, c = encoder.encode_texts(encoder_layer, [
      "A podcast about football", "Soccer talk show episode",
      "Quantum chromodynamics lecture notes"])
  assert _cos(a, b) > _cos(a, c)


def test_empty_strings(encoder_layer, reference):
  out = encoder.encode_texts(encoder_layer, ["", "   ", "\n\t", "", "x"])
  assert np.isfinite(out).all()
  np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
  # Empty and whitespace-only texts are all just [CLS] [SEP].
  np.testing.assert_allclose(out[1], out[0], atol=1e-6)
  np.testing.assert_allclose(out[2], out[0], atol=1e-6)
  # The same text at another batch row: equal up to float rounding (on some
  # CPUs a batched matmul rounds rows differently, by ~2e-7); the same batch
  # twice is bit-identical.
  np.testing.assert_allclose(out[3], out[0], atol=1e-6)
  again = encoder.encode_texts(encoder_layer, ["", "   ", "\n\t", "", "x"])
  np.testing.assert_array_equal(again, out)
  ref = reference["embeddings"][reference["texts"].index("")]
  assert _cos(out[0], ref) > 0.999


def test_empty_batch(encoder_layer):
  out = encoder.encode_texts(encoder_layer, [])
  assert out.shape == (0, 384) and out.dtype == np.float32


def test_very_long_strings_are_truncated(encoder_layer, encoder_module):
  import tensorflow as tf
  words = ("the history of jazz music in new york and chicago".split()
           * 40)  # 400 words of one word piece each
  base = " ".join(words[:300])
  tail_a = base + " and everyone was happy ever after"
  tail_b = base + " but it ended in tragic ruin zebra"
  head_changed = " ".join(["zebra"] + words[1:300])
  near_limit = " ".join(words[:250] + ["zebra"] + words[251:300])
  huge = "lorem ipsum " * 50_000  # 600k characters
  out = encoder.encode_texts(
      encoder_layer, [tail_a, tail_b, head_changed, near_limit, huge])
  np.testing.assert_allclose(out[0], out[1], atol=1e-6)
  assert not np.allclose(out[0], out[2], atol=1e-3)
  assert not np.allclose(out[0], out[3], atol=1e-3)
  assert np.isfinite(out[4]).all()
  lengths = encoder_module.tokenize(tf.constant([tail_a, huge])).row_lengths()
  assert lengths.numpy().tolist() == [256, 256]


def test_exact_truncation_boundary(encoder_layer):
  # 254 word pieces fit with [CLS] and [SEP]; the 255th is dropped.
  words = ["word"] * 300
  differs_at_254 = " ".join(words[:253] + ["zebra"] + words[254:])
  differs_at_255 = " ".join(words[:254] + ["zebra"] + words[255:])
  plain, at254, at255 = encoder.encode_texts(
      encoder_layer, [" ".join(words), differs_at_254, differs_at_255])
  assert not np.allclose(plain, at254, atol=1e-4)
  np.testing.assert_allclose(plain, at255, atol=1e-6)


@pytest.mark.parametrize("texts, match", [
    ([1, 2], r"texts\[0\] is int"),
    (["ok", None], r"texts\[1\] is NoneType.*compose_item_text"),
    (["ok", float("nan")], r"texts\[1\] is float.*compose_item_text"),
    (["ok", b"bytes"], r"texts\[1\] is bytes"),
    ("a single string", "not a single str"),
    (42, "sequence of strings"),
])
def test_non_string_input_raises_type_error(encoder_layer, texts, match):
  with pytest.raises(TypeError, match=match):
    encoder.encode_texts(encoder_layer, texts)


def test_graph_rejects_non_string_tensors(encoder_layer):
  import tensorflow as tf
  with pytest.raises((TypeError, ValueError), match="string"):
    encoder_layer(tf.constant([1.0, 2.0]))
  with pytest.raises((TypeError, ValueError)):
    encoder_layer(tf.constant([["a", "b"]]))  # rank 2


def test_bad_batch_size(encoder_layer):
  with pytest.raises(ValueError, match="batch_size"):
    encoder.encode_texts(encoder_layer, ["a"], batch_size=0)


def test_accepts_arrays_and_series(encoder_layer):
  import pandas as pd
  texts = ["alpha", "beta"]
  a = encoder.encode_texts(encoder_layer, texts)
  b = encoder.encode_texts(encoder_layer, np.array(texts, dtype=object))
  c = encoder.encode_texts(encoder_layer, pd.Series(texts))
  np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(a, c)


# --- CLI ---------------------------------------------------------------------


def test_cli_build_prints_path_last(saved_model_path, capsys):
  assert gfm_main(["text-encoder", "build"]) == 0
  lines = capsys.readouterr().out.strip().splitlines()
  assert lines[-1] == str(saved_model_path)


def test_cli_encode(saved_model_path, encoder_layer, tmp_path, monkeypatch):
  import io
  texts = ["first line", "", "Straße und Fußball"]
  src = tmp_path / "in.txt"
  src.write_text("\n".join(texts) + "\n", encoding="utf-8")
  out = tmp_path / "sub" / "emb.npy"
  assert gfm_main(["text-encoder", "encode", "-i", str(src), "-o",
                        str(out), "--batch-size", "2"]) == 0
  expected = encoder.encode_texts(encoder_layer, texts)
  np.testing.assert_allclose(np.load(out), expected, atol=1e-6)
  # JSON lines from stdin (texts with newlines).
  stdin = io.TextIOWrapper(io.BytesIO(
      (json.dumps("two\nlines") + "\n" + json.dumps("x") + "\n").encode()))
  monkeypatch.setattr(sys, "stdin", stdin)
  out2 = tmp_path / "emb2.npy"
  assert gfm_main(["text-encoder", "encode", "--format", "jsonl", "-o",
                        str(out2)]) == 0
  np.testing.assert_allclose(
      np.load(out2), encoder.encode_texts(encoder_layer, ["two\nlines", "x"]),
      atol=1e-6)


def test_cli_encode_bad_input(saved_model_path, tmp_path, capsys):
  src = tmp_path / "in.jsonl"
  src.write_text("[1, 2]\n", encoding="utf-8")
  assert gfm_main(["text-encoder", "encode", "--format", "jsonl", "-i",
                        str(src), "-o", str(tmp_path / "o.npy")]) == 2
  assert "expected a JSON string" in capsys.readouterr().err


def test_cli_module_does_not_import_tensorflow():
  repo = pathlib.Path(__file__).resolve().parents[2]
  code = ("import sys, tfgnn_gfm.cli.text_encoder_cmd, tfgnn_gfm.text; "
          "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
  env = {**os.environ, "PYTHONPATH": str(repo)}
  proc = subprocess.run([sys.executable, "-c", code], capture_output=True,
                        text=True, check=False, env=env, cwd=repo)
  assert proc.returncode == 0, proc.stderr


def test_the_largest_legal_search_request_encodes_well_inside_the_timeout(
    encoder_layer, encoder_module):
  """The export's query limits bound the encoder's work: a query of n
  characters is at most n + 2 word pieces, and the largest legal request
  (64 queries of 128 worst-case characters) encodes in well under half the
  30 s REST timeout (about 3 s on an idle 2-core machine)."""
  import tensorflow as tf

  from tfgnn_gfm.export import config as export_config
  n = export_config.MAX_QUERY_CHARS
  worst = ["!" * n, "a." * (n // 2), "東京" * (n // 2), ("x7q " * n)[:n]]
  tokens = encoder_module.tokenize(tf.constant(worst)).row_lengths()
  assert int(tf.reduce_max(tokens)) <= n + 2
  queries = worst * (export_config.MAX_REQUEST_QUERY_CHARS // (4 * n))
  assert sum(map(len, queries)) == export_config.MAX_REQUEST_QUERY_CHARS
  encoder_layer(queries[:4])
  start = time.perf_counter()
  vectors = encoder_layer(queries)
  seconds = time.perf_counter() - start
  assert vectors.shape == (len(queries), 384)
  assert seconds < 15.0
