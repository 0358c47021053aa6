"""``import tfgnn_gfm`` comes before TensorFlow wherever a file imports both.

Importing ``tfgnn_gfm`` sets ``TF_USE_LEGACY_KERAS=1``, which must happen
before TensorFlow is first imported. An import sorter puts third-party
imports (TensorFlow) before first-party ones, so a file that relies on the
order keeps ``import tfgnn_gfm`` in its own block (``# isort: split``); this
test fails when a sort (or a hand edit) moves TensorFlow above it.
"""

import ast
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Libraries that import TensorFlow (and so Keras) when imported.
TENSORFLOW = ("tensorflow", "tf_keras", "tensorflow_gnn", "tensorflow_hub",
              "tensorflow_text", "tensorflow_recommenders", "scann", "keras")


def _python_files():
  listed = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
  if listed.returncode == 0 and listed.stdout.strip():
    return [ROOT / f for f in listed.stdout.split()]
  return [p for p in ROOT.rglob("*.py") if ".venv" not in p.parts]


def _misordered(source: str) -> list[int]:
  """Lines of ``import tfgnn_gfm`` preceded by a TensorFlow import."""
  out = []
  for node in ast.walk(ast.parse(source)):
    body = getattr(node, "body", None)
    if not isinstance(body, list):
      continue
    seen = False
    for stmt in body:
      if isinstance(stmt, ast.Import):
        if seen and any(a.name == "tfgnn_gfm" for a in stmt.names):
          out.append(stmt.lineno)
        seen |= any(a.name.split(".")[0] in TENSORFLOW for a in stmt.names)
      elif isinstance(stmt, ast.ImportFrom) and stmt.module:
        seen |= stmt.module.split(".")[0] in TENSORFLOW
  return out


def test_the_check_finds_a_misordered_file():
  assert _misordered("import tensorflow as tf\nimport tfgnn_gfm\n") == [2]
  assert _misordered("import tfgnn_gfm\nimport tensorflow as tf\n") == []
  assert _misordered(
      "def f():\n  from tensorflow_gnn import x\n  import tfgnn_gfm\n") == [3]


def test_tfgnn_gfm_is_imported_before_tensorflow():
  bad = {str(p.relative_to(ROOT)): lines for p in _python_files()
         if (lines := _misordered(p.read_text(encoding="utf-8")))}
  assert not bad, f"import tfgnn_gfm after TensorFlow: {bad}"
