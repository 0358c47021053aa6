"""What a client may see of a message: bounded, and without server paths."""

import os

from tfgnn_gfm.serving.status import (MAX_MESSAGE_CHARS, StatusError, bounded,
                                      without_server_paths)


def test_bounded_cuts_and_says_how_much():
  assert bounded("abc", 3) == "abc"
  assert bounded("abcdef", 3) == "abc... (3 more characters)"
  assert len(bounded("x" * 10**6)) == MAX_MESSAGE_CHARS + len(
      "... (999488 more characters)")


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
