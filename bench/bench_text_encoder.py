"""Benchmark: sentences per second of the text encoder, ours vs the original.

Measures ``encode_texts`` with the built-in all-MiniLM-L6-v2 SavedModel (or any
``--text-encoder``) on texts of 32 and 128 word pieces ([CLS] and [SEP]
included), batch sizes 1, 32 and 256, on all the machine's cores. In the same
run it measures the original, sentence-transformers on PyTorch CPU, on the very
same texts, when it can:

* in this process, if ``import torch, sentence_transformers`` works here;
* else in a worker subprocess of ``--torch-python PATH`` (or
  ``$TFGNN_GFM_TORCH_PYTHON``), a Python with torch and sentence-transformers
  but no TensorFlow (scripts/make_text_encoder_fixture.py says how to make
  one);
* else the ratio is null and ``torch_note`` says why.

The two alternate pass by pass on each configuration, so that both run under
the same conditions, and each reports its best pass.

Prints one JSON line per configuration: tokens, batch_size, texts,
ours_sentences_per_s, torch_sentences_per_s, ratio (ours / torch; >= 1 means
at least as fast) and the context (cores, threads, versions, and the 1-minute
load average before and after: run it on an otherwise idle machine).

  .venv/bin/python bench/bench_text_encoder.py [--quick]
  .venv/bin/python bench/bench_text_encoder.py \
      --torch-python /tmp/torchvenv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import random
import subprocess
import sys
import tempfile
import time

TOKENS = (32, 128)
BATCH_SIZES = (1, 32, 256)
SEED = 1234
# Common words that the MiniLM vocabulary holds as one word piece each, so a
# text of n words is n + 2 tokens with [CLS] and [SEP] (checked at run time).
_WORDS = (
    "the of and to in is for on with at by from about into over after music "
    "story history science comedy news true crime mystery love adventure space "
    "ocean mountain city night morning coffee dream journey secret garden "
    "river forest king queen war peace family friend teacher doctor detective "
    "robot dragon island summer winter spring light dark fire water stone gold "
    "silver learn listen read write speak remember build quiet loud fast slow "
    "ancient modern digital wild gentle brave strange interview weekly daily "
    "season chapter author guest show economics politics technology health "
    "cooking travel language philosophy psychology football basketball jazz "
    "classical electronic world life people time year day man woman child "
    "house road school book game film art power money food heart voice").split()


def make_texts(tokens: int, n: int, seed: int = SEED) -> list[str]:
  """``n`` distinct texts of ``tokens`` word pieces each, specials included."""
  rng = random.Random(seed * 1000 + tokens)
  return [" ".join(rng.choice(_WORDS) for _ in range(tokens - 2))
          for _ in range(n)]


def _num_texts(batch_size: int, quick: bool) -> int:
  if batch_size == 1:
    return 16 if quick else 64
  return (2 if quick else 4) * max(batch_size, 128)


def _time_best(fn, texts: list[str], batch_size: int, repeats: int) -> float:
  """Best sentences/s over ``repeats`` passes, after one warm-up batch."""
  fn(texts[:batch_size], batch_size)
  best = 0.0
  for _ in range(repeats):
    start = time.perf_counter()
    fn(texts, batch_size)
    best = max(best, len(texts) / (time.perf_counter() - start))
  return best


class TorchInProcess:
  """The original (sentence-transformers on PyTorch CPU) in this process."""

  def __init__(self, model_dir: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import sentence_transformers
    import torch
    self._model = sentence_transformers.SentenceTransformer(model_dir,
                                                            device="cpu")
    self.info = {"torch": torch.__version__,
                 "torch_threads": torch.get_num_threads(),
                 "sentence_transformers": sentence_transformers.__version__}

  def _encode(self, texts: list[str], batch_size: int) -> None:
    self._model.encode(texts, batch_size=batch_size, convert_to_numpy=True,
                       show_progress_bar=False)

  def measure(self, texts: list[str], batch_size: int, repeats: int) -> float:
    return _time_best(self._encode, texts, batch_size, repeats)

  def close(self) -> None:
    pass


class TorchSubprocess:
  """The original in a worker process of another Python (JSON over pipes)."""

  def __init__(self, python: str, model_dir: str):
    self._stderr = tempfile.TemporaryFile(mode="w+")
    self._proc = subprocess.Popen(
        [python, __file__, "--torch-worker", model_dir],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
        text=True, encoding="utf-8")
    self.info = self._read()

  def _read(self) -> dict:
    line = self._proc.stdout.readline()
    if not line:
      self._proc.wait()
      self._stderr.seek(0)
      raise RuntimeError(f"torch worker exited ({self._proc.returncode}): "
                         f"{self._stderr.read().strip()[-500:]}")
    return json.loads(line)

  def measure(self, texts: list[str], batch_size: int, repeats: int) -> float:
    self._proc.stdin.write(json.dumps({"texts": texts, "batch_size": batch_size,
                                       "repeats": repeats}) + "\n")
    self._proc.stdin.flush()
    return self._read()["sentences_per_s"]

  def close(self) -> None:
    if self._proc.stdin:
      self._proc.stdin.close()
    self._proc.wait(timeout=60)
    self._stderr.close()


def _torch_worker(model_dir: str) -> int:
  """Serves ``TorchSubprocess``: one JSON request per stdin line."""
  protocol = sys.stdout
  sys.stdout = sys.stderr  # Library chatter must not corrupt the protocol.
  torch_model = TorchInProcess(model_dir)
  protocol.write(json.dumps(torch_model.info) + "\n")
  protocol.flush()
  for line in sys.stdin:
    request = json.loads(line)
    rate = torch_model.measure(request["texts"], request["batch_size"],
                               request["repeats"])
    protocol.write(json.dumps({"sentences_per_s": rate}) + "\n")
    protocol.flush()
  return 0


def _torch_importable() -> bool:
  try:
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401
  except ImportError:
    return False
  return True


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--quick", action="store_true",
                      help="fewer texts and one timed pass per configuration")
  parser.add_argument("--torch-python", default=os.environ.get(
      "TFGNN_GFM_TORCH_PYTHON"), metavar="PATH",
                      help="a Python with torch + sentence-transformers, used "
                           "when they cannot be imported here")
  parser.add_argument("--text-encoder", default="builtin:all-MiniLM-L6-v2",
                      help="the encoder handle to measure (default: built-in)")
  parser.add_argument("--tokens", default=",".join(map(str, TOKENS)),
                      help="comma-separated text lengths in word pieces "
                           "(default: %(default)s)")
  parser.add_argument("--batch-sizes", default=",".join(map(str, BATCH_SIZES)),
                      help="comma-separated batch sizes (default: "
                           "%(default)s)")
  parser.add_argument("--torch-worker", metavar="MODEL_DIR",
                      help=argparse.SUPPRESS)
  args = parser.parse_args(argv)

  if args.torch_worker:
    return _torch_worker(args.torch_worker)

  sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
  import tfgnn_gfm  # noqa: F401  Sets TF_USE_LEGACY_KERAS first.
  # isort: split
  import tensorflow as tf

  from tfgnn_gfm.text import encoder, minilm

  repeats = 1 if args.quick else 2
  # Other processes competing for the cores distort both measurements (the
  # original's OpenMP threads suffer most): the load is reported with them.
  load_before = round(os.getloadavg()[0], 2)
  try:
    tokens = [int(t) for t in args.tokens.split(",")]
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
  except ValueError:
    parser.error("--tokens and --batch-sizes take comma-separated integers")
  if min(tokens) < 3 or min(batch_sizes) < 1:
    parser.error("tokens must be >= 3 and batch sizes >= 1")
  plan = [{"tokens": t, "batch_size": b,
           "texts": make_texts(t, _num_texts(b, args.quick))}
          for t in tokens for b in batch_sizes]

  layer = encoder.load_text_encoder(args.text_encoder)
  token_counts = {}
  if encoder.is_builtin(args.text_encoder):
    module = tf.saved_model.load(encoder.resolve_text_encoder(
        args.text_encoder))
    for t in tokens:
      lengths = module.tokenize(tf.constant(make_texts(t, 8))).row_lengths()
      token_counts[t] = sorted(set(lengths.numpy().tolist()))

  def ours(texts, batch_size):
    encoder.encode_texts(layer, texts, batch_size=batch_size)

  original, torch_note = None, None
  model_dir = str(minilm.source_model_dir())
  if not encoder.is_builtin(args.text_encoder):
    torch_note = "the original is only comparable with the built-in encoder"
  elif _torch_importable():
    original = TorchInProcess(model_dir)
  elif args.torch_python:
    try:
      original = TorchSubprocess(args.torch_python, model_dir)
    except (OSError, RuntimeError, json.JSONDecodeError) as e:
      torch_note = f"torch worker failed: {e}"
  else:
    torch_note = ("torch and sentence-transformers are not importable here "
                  "and no --torch-python was given")

  # Ours and the original alternate pass by pass, so that both see the same
  # conditions; each reports its best pass.
  ours_rates, torch_rates = [], []
  for p in plan:
    ours_best, torch_best = 0.0, None
    for _ in range(repeats):
      ours_best = max(ours_best,
                      _time_best(ours, p["texts"], p["batch_size"], 1))
      if original:
        torch_best = max(torch_best or 0.0,
                         original.measure(p["texts"], p["batch_size"], 1))
    ours_rates.append(ours_best)
    torch_rates.append(torch_best)
  if original:
    original.close()

  load_after = round(os.getloadavg()[0], 2)
  for i, p in enumerate(plan):
    theirs = torch_rates[i]
    record = {
        "benchmark": "text_encoder",
        "encoder": args.text_encoder,
        "tokens": p["tokens"],
        "measured_tokens": token_counts.get(p["tokens"]),
        "batch_size": p["batch_size"],
        "texts": len(p["texts"]),
        "ours_sentences_per_s": round(ours_rates[i], 1),
        "torch_sentences_per_s": round(theirs, 1) if theirs else None,
        "ratio": round(ours_rates[i] / theirs, 3) if theirs else None,
        "torch_note": torch_note,
        "cpu_count": os.cpu_count(),
        "tensorflow": tf.__version__,
        "torch": original.info["torch"] if original else None,
        "torch_threads": original.info["torch_threads"] if original else None,
        "quick": args.quick,
        "load_avg_1m_before": load_before,
        "load_avg_1m_after": load_after,
    }
    print(json.dumps(record), flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
