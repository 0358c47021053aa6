"""The package and the top-level ``beam/`` depend on each other one way.

``beam/`` holds the graph pipeline and imports ``tfgnn_gfm``; the Beam
plumbing every pipeline shares lives in ``tfgnn_gfm/pipelines/``. The package
imports ``beam`` only where a command runs the graph pipeline, inside that
command's ``run`` (so ``gfm --help`` does not load Beam). Subcommands get the
Beam pass-through of unknown arguments from one helper.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
#: (module, function) pairs allowed to import the graph pipeline.
RUNS_THE_GRAPH_PIPELINE = {("tfgnn_gfm/cli/build_graph_cmd.py", "run"),
                           ("tfgnn_gfm/cli/demo_cmd.py", "run")}


def _beam_imports(tree: ast.AST):
  """(enclosing top-level function or None, line) of each ``beam`` import."""
  out = []
  for top in tree.body:
    scope = top.name if isinstance(top, (ast.FunctionDef,
                                         ast.AsyncFunctionDef)) else None
    for node in ast.walk(top):
      names = []
      if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
      elif isinstance(node, ast.ImportFrom) and node.level == 0:
        names = [node.module or ""]
      if any(n == "beam" or n.startswith("beam.") for n in names):
        out.append((scope, node.lineno))
  return out


def test_the_package_imports_beam_only_to_run_the_graph_pipeline():
  found = {}
  for path in sorted((ROOT / "tfgnn_gfm").rglob("*.py")):
    rel = path.relative_to(ROOT).as_posix()
    for scope, line in _beam_imports(ast.parse(path.read_text())):
      found.setdefault((rel, scope), []).append(line)
  assert set(found) == RUNS_THE_GRAPH_PIPELINE, found


def test_the_checker_sees_module_level_and_nested_imports():
  tree = ast.parse("import beam\n"
                   "def run():\n  from beam.build_graph import x\n"
                   "from apache_beam import y\n")
  assert _beam_imports(tree) == [(None, 1), ("run", 3)]


def test_beam_plumbing_lives_in_the_package():
  for name in ("options.py", "workers.py", "metrics.py", "command.py"):
    assert not (ROOT / "beam" / name).exists(), name
  from tfgnn_gfm import pipelines
  assert callable(pipelines.pipeline_options)
  assert callable(pipelines.pass_beam_options)


def test_only_the_helper_swaps_a_parser_class():
  swaps = [p.relative_to(ROOT).as_posix()
           for p in sorted((ROOT / "tfgnn_gfm").rglob("*.py"))
           if "__class__ = " in p.read_text()]
  assert swaps == ["tfgnn_gfm/pipelines/options.py"]


@pytest.mark.parametrize("command", ["build-graph", "pretrain", "embed"])
def test_beam_commands_keep_unknown_arguments_as_beam_options(command):
  from tfgnn_gfm.cli.gfm import build_parser
  args = {"build-graph": ["build-graph", "data", "--out", "o"],
          "pretrain": ["pretrain", "g", "--out", "o"],
          "embed": ["embed", "g", "--model", "m", "--out", "o"]}[command]
  parsed = build_parser().parse_args(args + ["--direct_num_workers=2"])
  assert parsed.beam_args == ["--direct_num_workers=2"]
  assert build_parser().parse_args(args).beam_args == []
