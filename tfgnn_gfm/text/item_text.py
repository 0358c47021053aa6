"""The text of an item, as the text encoder sees it: one rule for every type.

Every item (podcast, audiobook, episode or any other type) gets its text from
``compose_item_text``; ``compose_item_texts`` applies the very same function to
each row of an items table. The rule, in order:

1. Each field is cleaned: missing values (None, NaN, pandas NA) and strings that
   are empty or whitespace only count as absent; other strings have their
   whitespace runs (newlines, tabs, ...) collapsed to one space and are
   stripped; numbers become their ``str``.
2. The title, if present, is the first sentence. A sentence ends with the
   text's own terminal punctuation (``. ! ? …`` or CJK ``。！？``) or else
   gets a ".".
3. Metadata follow as short sentences: ``Genres: a, b.`` (the genres of
   ``tfgnn_gfm.catalog.split_genres``: a list, a JSON list or one
   ``;``-separated string; duplicates dropped case-insensitively, first
   spelling and order kept; a set is sorted) and ``Language: en.``.
4. The description, if present and not the same as the title (compared
   case-insensitively), is last. Metadata go before it because the encoder
   keeps only the first 254 word pieces: a long description is what gets cut,
   never the title or the metadata.
5. Fallback: an item without title and description is "Untitled <type>."
   (``item_type`` with "_" and "-" as spaces, "item" when the type is missing
   too), followed by its metadata. The text is therefore never empty.

The item type is otherwise left out of the text on purpose: items of every
type share one embedding space, and a podcast and an audiobook about the same
subject should get similar text vectors; the type is known to the graph (node
sets) and to the two-tower model as its own feature.

Example: ``compose_item_text("The Daily", "News.\\n Every  day.",
genres=["news", "politics"], language="en")`` is
``"The Daily. Genres: news, politics. Language: en. News. Every day."``.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from tfgnn_gfm.catalog import is_missing, split_genres

ITEM_TEXT_COLUMNS = ("item_type", "title", "description", "genres",
                     "language")
FALLBACK_TYPE = "item"
_TERMINAL = (".", "!", "?", "…", "。", "！", "？")
_WHITESPACE_RE = re.compile(r"\s+")


def clean_field(value: Any) -> str | None:
  """Cleans one text field (rule 1 of the module docstring).

  Args:
    value: a string, a number, bytes (UTF-8), or a missing value.

  Returns:
    The cleaned string, or None when the field is absent.

  Raises:
    TypeError: for a value that is not text-like (a list, a dict, ...).
  """
  if is_missing(value):
    return None
  if isinstance(value, bytes):
    value = value.decode("utf-8", errors="replace")
  elif isinstance(value, (bool, np.bool_)):
    raise TypeError(f"expected text, got a bool {value!r}")
  elif isinstance(value, (int, float, np.integer, np.floating)):
    value = str(value)
  elif not isinstance(value, str):
    raise TypeError(f"expected text, got {type(value).__name__} {value!r:.60}")
  value = _WHITESPACE_RE.sub(" ", value).strip()
  return value or None


def _sentence(text: str) -> str:
  return text if text.endswith(_TERMINAL) else text + "."


def compose_item_text(title: Any = None, description: Any = None, *,
                      item_type: Any = None, genres: Any = None,
                      language: Any = None) -> str:
  """Composes an item's text from its fields; never returns an empty string.

  The rule (the same for every item type) is in the module docstring:
  ``"<Title>. Genres: <a, b>. Language: <lang>. <Description>."``, absent
  parts left out, and ``"Untitled <type>."`` in place of the title when the
  item has neither title nor description.

  Args:
    title: the item's title (str; None/NaN/empty when absent).
    description: its description (may be absent or empty).
    item_type: its type (podcast, audiobook, ...), used only by the fallback.
    genres: a list of genres or one string (see
      ``tfgnn_gfm.catalog.split_genres``).
    language: a language code or name.

  Returns:
    The text to encode.
  """
  title = clean_field(title)
  description = clean_field(description)
  if (title is not None and description is not None
      and title.casefold() == description.casefold()):
    description = None
  parts = []
  if title is not None:
    parts.append(_sentence(title))
  elif description is None:
    kind = clean_field(item_type)
    kind = (_WHITESPACE_RE.sub(" ", re.sub(r"[_-]", " ", kind)).strip()
            if kind else "") or FALLBACK_TYPE
    parts.append(f"Untitled {kind}.")
  genre_list = split_genres(genres)
  if genre_list:
    parts.append(_sentence("Genres: " + ", ".join(genre_list)))
  language = clean_field(language)
  if language is not None:
    parts.append(_sentence("Language: " + language))
  if description is not None:
    parts.append(_sentence(description))
  return " ".join(parts)


def compose_item_texts(items: pd.DataFrame) -> pd.Series:
  """``compose_item_text`` for every row of an items table.

  Args:
    items: a DataFrame with any of the columns ``item_type``, ``title``,
      ``description``, ``genres``, ``language`` (others such as ``item_id``
      are ignored); a missing column counts as absent for every row.

  Returns:
    A Series of non-empty strings named ``text``, with the table's index.
  """
  if not isinstance(items, pd.DataFrame):
    raise TypeError(f"expected a pandas DataFrame, got {type(items).__name__}")
  columns = {c: (items[c].tolist() if c in items.columns
                 else [None] * len(items)) for c in ITEM_TEXT_COLUMNS}
  texts = [
      compose_item_text(title, description, item_type=item_type,
                        genres=genres, language=language)
      for item_type, title, description, genres, language in zip(
          *(columns[c] for c in ITEM_TEXT_COLUMNS))
  ]
  return pd.Series(texts, index=items.index, name="text", dtype=object)
