"""The design document is in the repository and every citation of it resolves.

Code comments, docstrings and READMEs cite ``docs/DESIGN.md section N``; each
cited section (and each ``DESIGN.md#anchor`` link) must exist there, and no
file may cite a DESIGN.md outside the repository.
"""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "DESIGN.md"
#: Where citations may stand: the project's sources and documentation.
_SCANNED = ("README.md", "setup.py", "beam", "bench", "schemas", "scripts",
            "serving", "tests", "tfgnn_gfm")
_HEADING = re.compile(r"^(#{2,3}) (\d+(?:\.\d+)?)\.? (.*)$", re.MULTILINE)
_NUMBER = r"\d+(?:\.\d+)?"
_CITATION = re.compile(
    rf"DESIGN\.md(?:\]\([^)]*\))?\s+(?:§\s*|sections?\s+)"
    rf"({_NUMBER}(?:(?:,\s*|\s+and\s+){_NUMBER})*)")
_ANCHOR = re.compile(r"DESIGN\.md#([\w-]+)")
# A mention of DESIGN.md that is not the repository's: not after "docs/",
# nor the text of a markdown link.
_OUTSIDE = re.compile(r"(?<!docs/)(?<!\[)DESIGN\.md")


def _files():
  for name in _SCANNED:
    path = ROOT / name
    paths = [path] if path.is_file() else sorted(path.rglob("*"))
    for p in paths:
      if p.suffix in (".py", ".md") and p.is_file():
        yield p


def _slug(heading: str) -> str:
  """GitHub's anchor of a markdown heading."""
  text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
  return text.replace(" ", "-")


def _sections() -> tuple[set[str], set[str]]:
  text = DESIGN.read_text(encoding="utf-8")
  numbers, anchors = set(), set()
  for _, number, title in _HEADING.findall(text):
    numbers.add(number)
    anchors.add(_slug(f"{number}. {title}" if "." not in number
                      else f"{number} {title}"))
  return numbers, anchors


def test_design_doc_has_its_numbered_sections():
  numbers, _ = _sections()
  assert {str(n) for n in range(1, 8)} <= numbers
  for number in numbers:
    if "." in number:
      assert number.split(".")[0] in numbers, number


def test_every_citation_names_a_section_of_the_design_doc():
  numbers, anchors = _sections()
  cited, bad = 0, []
  for path in _files():
    if path == pathlib.Path(__file__).resolve():
      continue
    text = path.read_text(encoding="utf-8")
    where = path.relative_to(ROOT)
    for match in _OUTSIDE.finditer(text):
      bad.append(f"{where}: cites a DESIGN.md outside the repository at "
                 f"offset {match.start()}")
    for match in _CITATION.finditer(text):
      for number in re.findall(_NUMBER, match.group(1)):
        cited += 1
        if number not in numbers:
          bad.append(f"{where}: section {number} is not in docs/DESIGN.md")
    for match in _ANCHOR.finditer(text):
      if match.group(1) not in anchors:
        bad.append(f"{where}: no heading of docs/DESIGN.md has the anchor "
                   f"#{match.group(1)}")
  assert not bad, "\n".join(bad)
  assert cited >= 20  # The code does cite it.


def test_readme_links_the_design_doc():
  assert "(docs/DESIGN.md)" in (ROOT / "README.md").read_text(encoding="utf-8")
