"""One identifier per stage: the CLI command, its module and its manifest.

``gfm train-2t`` lives in ``cli/train_2t_cmd.py`` and writes manifests with
``"stage": "train_2t"``: the command's name with ``-`` as ``_``, for every
stage that writes a manifest.
"""

import argparse
import pathlib
import re

from tfgnn_gfm.cli.gfm import build_parser

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _commands() -> set[str]:
  parser = build_parser()
  actions = [a for a in parser._actions  # noqa: SLF001  (argparse has no API)
             if isinstance(a, argparse._SubParsersAction)]  # noqa: SLF001
  return set(actions[0].choices)


def _manifest_stages() -> set[str]:
  stages = set()
  for top in ("tfgnn_gfm", "beam", "serving"):
    for path in (ROOT / top).rglob("*.py"):
      stages.update(re.findall(r'stage="([a-z0-9_]+)"',
                               path.read_text(encoding="utf-8")))
  return stages


def test_every_manifest_stage_is_a_command_and_its_module():
  commands = _commands()
  stages = _manifest_stages()
  assert {"build_graph", "pretrain", "embed", "train_2t", "evaluate",
          "export"} <= stages
  for stage in stages:
    assert stage.replace("_", "-") in commands, stage
    assert (ROOT / "tfgnn_gfm" / "cli" / f"{stage}_cmd.py").exists(), stage
