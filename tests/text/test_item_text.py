"""compose_item_text: one documented rule for every item type."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tfgnn_gfm.text import clean_field, compose_item_text, compose_item_texts


def test_full_item():
  assert compose_item_text(
      "The Daily", "News.\n Every  day.", item_type="podcast",
      genres=["news", "politics"], language="en") == (
          "The Daily. Genres: news, politics. Language: en. News. Every day.")


def test_title_only_and_terminal_punctuation():
  assert compose_item_text("Dune") == "Dune."
  assert compose_item_text("Who killed Laura Palmer?") == (
      "Who killed Laura Palmer?")
  assert compose_item_text("Wow!", "It ends with dots...") == (
      "Wow! It ends with dots...")
  assert compose_item_text("東京物語", "映画です。") == "東京物語. 映画です。"


def test_description_only():
  assert compose_item_text(None, "A show about cooking",
                           item_type="podcast") == "A show about cooking."


@pytest.mark.parametrize("missing", [None, float("nan"), np.nan, pd.NA, "",
                                     "   ", "\n\t"])
def test_missing_fields_are_absent(missing):
  assert compose_item_text("Title", missing, genres=missing,
                           language=missing) == "Title."


def test_fallback_when_no_text():
  assert compose_item_text(None, None, item_type="audiobook") == (
      "Untitled audiobook.")
  assert compose_item_text(float("nan"), "", item_type="audiobook_chapter",
                           genres="fantasy", language="sv") == (
                               "Untitled audiobook chapter. Genres: fantasy. "
                               "Language: sv.")
  assert compose_item_text() == "Untitled item."
  assert compose_item_text(None, None, item_type=float("nan")) == (
      "Untitled item.")


def test_never_empty():
  for title in (None, "", " "):
    for description in (None, "", "\n"):
      assert compose_item_text(title, description).strip()


def test_item_type_only_used_by_fallback():
  podcast = compose_item_text("Space", "Stars and planets",
                              item_type="podcast")
  audiobook = compose_item_text("Space", "Stars and planets",
                                item_type="audiobook")
  assert podcast == audiobook == "Space. Stars and planets."


def test_description_equal_to_title_is_dropped():
  assert compose_item_text("Serial", "serial") == "Serial."


def test_genres_follow_the_catalog_rule():
  # The genre rule is tfgnn_gfm.catalog.split_genres (tests/test_catalog.py):
  # ";" separates, "|" and "," are part of a genre's name.
  assert compose_item_text("T", genres="crime; true crime;Crime") == (
      "T. Genres: crime, true crime.")
  assert compose_item_text("T", genres="crime|true crime") == (
      "T. Genres: crime|true crime.")
  assert compose_item_text("T", genres='["a", "b"]') == "T. Genres: a, b."
  assert compose_item_text("T", genres=["a", " b ", None, "", "A"]) == (
      "T. Genres: a, b.")
  assert compose_item_text("T", genres={"b", "a"}) == "T. Genres: a, b."
  assert compose_item_text("T", genres=float("nan")) == "T."


def test_clean_field():
  assert clean_field("  a \n\n b\t") == "a b"
  assert clean_field(1984) == "1984"
  assert clean_field(b"caf\xc3\xa9") == "café"
  assert clean_field(None) is None and clean_field(np.nan) is None
  with pytest.raises(TypeError):
    clean_field(["a"])
  with pytest.raises(TypeError):
    clean_field(True)


def test_numeric_title():
  assert compose_item_text(1984, None, language="en") == "1984. Language: en."


def test_dataframe_variant_matches_function():
  items = pd.DataFrame({
      "item_id": ["p1", "a1", "e1", "x1"],
      "item_type": ["podcast", "audiobook", "episode", None],
      "title": ["The Daily", None, "Ep. 1", ""],
      "description": ["News every day", None, "Pilot", None],
      "genres": ["news;politics", None, np.nan, "misc"],
      "language": ["en", "sv", None, None],
  }, index=[10, 11, 12, 13])
  texts = compose_item_texts(items)
  assert texts.name == "text"
  assert list(texts.index) == [10, 11, 12, 13]
  assert texts.tolist() == [
      "The Daily. Genres: news, politics. Language: en. News every day.",
      "Untitled audiobook. Language: sv.",
      "Ep. 1. Pilot.",
      "Untitled item. Genres: misc.",
  ]
  for (_, row), text in zip(items.iterrows(), texts):
    assert text == compose_item_text(
        row["title"], row["description"], item_type=row["item_type"],
        genres=row["genres"], language=row["language"])


def test_dataframe_with_missing_columns():
  items = pd.DataFrame({"item_id": ["a", "b"], "title": ["One", None]})
  assert compose_item_texts(items).tolist() == ["One.", "Untitled item."]
  assert compose_item_texts(pd.DataFrame()).tolist() == []
  with pytest.raises(TypeError):
    compose_item_texts([{"title": "x"}])
