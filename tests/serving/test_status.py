"""What a client may see of a message: bounded, and without server paths."""

import os
import time

from tfgnn_gfm.serving.status import (
  MAX_MESSAGE_CHARS,
  StatusError,
  bounded,
  without_server_paths,
)


def test_bounded_cuts_and_says_how_much():
  assert bounded("x" * 40, 40) == "x" * 40
  # The note counts in the limit: 15 + 24 characters.
  assert bounded("x" * 100, 40) == "x" * 15 + "... (85 more characters)"
  assert bounded(bounded("x" * 100, 40), 40) == bounded("x" * 100, 40)
  assert bounded("abc", 40, more=7) == "abc... (7 more characters)"
  text = bounded("x" * 10**6)
  assert len(text) <= MAX_MESSAGE_CHARS
  assert text.endswith(f"... ({10**6 - text.index('.')} more characters)")


def test_long_hostile_messages_are_cut_before_searching_paths():
  message = "[" + "/z" * 8_000_000 + "]"
  started = time.monotonic()
  text = without_server_paths(message, {"/srv/models": "<base_path>"})
  assert time.monotonic() - started < 0.5
  # The first 1,024 characters are searched: "[", 511 "/z" and a "/"; the
  # other 16,000,002 - 1,024 are counted.
  assert text == "[.../z/... (15998978 more characters)"


def test_known_paths_become_labels_and_others_their_last_part(tmp_path):
  base = tmp_path / "models" / "m"
  base.mkdir(parents=True)
  link = tmp_path / "link"
  os.symlink(base, link)
  message = (f"Can't parse {base}/2/saved_model.pb; see {link}/3 and "
             "'/usr/lib/python3/x.py', /etc/passwd")
  assert without_server_paths(message, {str(link): "<base_path>"}) == (
      "Can't parse <base_path>/2/saved_model.pb; see <base_path>/3 and "
      "'.../x.py', .../passwd")


def test_urls_relative_paths_and_single_names_are_kept():
  for text in ("http://host:8501/v1/models", "a/b/c", "[/x]", "ratio 1/2/3",
               "~/notes/x", "/job:localhost"):
    assert without_server_paths(text) == text
  # Any other absolute path of two or more parts is shortened.
  assert without_server_paths("GET /v1/models/m:predict") == (
      "GET .../m:predict")


def test_an_http_code_can_replace_the_table_one():
  assert StatusError("INVALID_ARGUMENT", "x").http_status == 400
  assert StatusError("RESOURCE_EXHAUSTED", "x", http_code=413).http_status == (
      413)
