"""The per-user cache of built artifacts (the text encoder)."""

from __future__ import annotations

import os
import pathlib

from tfgnn_gfm.artifacts.layout import TextEncoderDir


def cache_dir() -> pathlib.Path:
  """The per-user cache for built artifacts such as the text encoder.

  ``$TFGNN_GFM_CACHE`` wins; else ``$XDG_CACHE_HOME/tfgnn_gfm``; else
  ``~/.cache/tfgnn_gfm``.
  """
  env = os.environ.get("TFGNN_GFM_CACHE")
  if env:
    return pathlib.Path(env)
  xdg = os.environ.get("XDG_CACHE_HOME")
  base = pathlib.Path(xdg) if xdg else pathlib.Path.home() / ".cache"
  return base / "tfgnn_gfm"


def text_encoder_dir(name: str = "all-MiniLM-L6-v2") -> TextEncoderDir:
  """Where the built-in text encoder ``name`` is built (once) and cached."""
  return TextEncoderDir(cache_dir() / "text_encoder" / name)
