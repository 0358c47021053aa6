"""The catalog's rules (tfgnn_gfm/catalog.py), with hand-computed answers.

Roots: an item without parent is its own root; an item with one takes its
parent's root; a self-parent, a cycle, a chain into a cycle and a chain that
reaches an unknown parent have no root (NO_ROOT). Genres: ``;`` separates,
a JSON list is a list, whitespace collapses, repeats (any case) drop.
"""

import numpy as np
import pandas as pd
import pytest

from tfgnn_gfm import catalog

NO = catalog.NO_ROOT


def _roots(rows):
  """{item: its root item or None} of (item_id, parent_id) rows."""
  ids = np.array([r[0] for r in rows], object)
  parents = np.array([r[1] for r in rows], object)
  root = catalog.root_positions(ids, parents)
  return {i: (ids[r] if r != NO else None) for i, r in zip(ids, root)}


def test_parent_positions_by_hand():
  ids = ["show", "ep", "lost", "none"]
  parents = ["", "show", "nowhere", None]
  assert catalog.parent_positions(ids, parents).tolist() == [
      catalog.NO_PARENT, 0, catalog.UNKNOWN_PARENT, catalog.NO_PARENT]
  assert catalog.parent_positions([], []).tolist() == []


def test_root_of_a_chain_is_its_top():
  assert _roots([("ep_2", "ep_1"), ("ep_1", "show"), ("show", ""),
                 ("book", "")]) == {"ep_2": "show", "ep_1": "show",
                                    "show": "show", "book": "book"}


def test_self_parent_has_no_root():
  assert _roots([("a", "a"), ("b", "")]) == {"a": None, "b": "b"}


def test_cycle_and_chain_into_it_have_no_root():
  # c1 -> c2 -> c3 -> c1 is a cycle; e -> c1 leads into it.
  assert _roots([("c1", "c2"), ("c2", "c3"), ("c3", "c1"), ("e", "c1"),
                 ("s", "")]) == {"c1": None, "c2": None, "c3": None,
                                 "e": None, "s": "s"}


def test_missing_parent_has_no_root_and_neither_has_its_child():
  assert _roots([("ep", "gone"), ("ep_child", "ep"), ("show", ""),
                 ("ep_ok", "show")]) == {"ep": None, "ep_child": None,
                                         "show": "show", "ep_ok": "show"}


def test_resolve_roots_positions_directly():
  # 0: root; 1 -> 0; 2 -> 1 -> 0; 3 -> 3 (self); 4 -> unknown; 5 <-> 6.
  parent = np.array([catalog.NO_PARENT, 0, 1, 3, catalog.UNKNOWN_PARENT, 6,
                     5])
  assert catalog.resolve_roots(parent).tolist() == [0, 0, 0, NO, NO, NO, NO]


def test_item_catalog_rejects_rootless_items():
  cat = catalog.build_item_catalog(
      np.array(["s", "e", "x", "y"], object),
      np.array(["show", "episode", "episode", "episode"], object),
      np.array(["", "s", "y", "x"], object), np.zeros(4, np.int64))
  assert cat.item_id.tolist() == ["e", "s"]
  assert cat.root.tolist() == [1, 1]
  assert cat.cycles.tolist() == ["x", "y"]


@pytest.mark.parametrize("value,genres", [
    ("history;society", ["history", "society"]),
    (" true  crime ; ;Crime;true crime", ["true crime", "Crime"]),
    ("rock|pop, jazz", ["rock|pop, jazz"]),  # only ";" separates
    ('["a", "b;c", " a "]', ["a", "b;c"]),  # a JSON list is a list
    ("[not json", ["[not json"]),
    (["x", None, "", "X", np.nan, "y"], ["x", "y"]),
    (np.array(["x", "y"], dtype=object), ["x", "y"]),
    (("b", "a"), ["b", "a"]),
    ({"b", "a"}, ["a", "b"]),
    (b"a;b", ["a", "b"]),
    ("", []), (None, []), (float("nan"), []), (pd.NA, []),
])
def test_split_genres_by_hand(value, genres):
  assert catalog.split_genres(value) == genres


def test_type_names_are_sorted_and_distinct():
  assert catalog.type_names(np.array(["podcast", "audiobook", "podcast"],
                                     object)) == ["audiobook", "podcast"]


def test_read_items_keeps_the_first_row_of_an_id(tmp_path):
  first = tmp_path / "a.csv"
  second = tmp_path / "b.csv"
  first.write_text("item_id,item_type,title\np1,podcast,One\n")
  second.write_text("item_id,item_type,title\np1,podcast,Again\n"
                    "a1,audiobook,Two\n")
  items, bad = catalog.read_items([first, second])
  assert items["item_id"].tolist() == ["p1", "a1"]
  assert items["title"].tolist() == ["One", "Two"] and bad == 0
  with pytest.raises(ValueError, match="no items file"):
    catalog.read_items([])


@pytest.mark.parametrize("value", [None, float("nan"), np.float32("nan"),
                                   np.float64("nan"), pd.NA, pd.NaT])
def test_one_missing_rule_for_catalog_and_item_text(value):
  from tfgnn_gfm.text.item_text import clean_field
  assert catalog.is_missing(value)
  assert catalog.split_genres(value) == []
  assert clean_field(value) is None
  assert catalog.split_genres([value, "Jazz"]) == ["Jazz"]


@pytest.mark.parametrize("value", [[], "", (), np.zeros(0), 0, "nan"])
def test_empty_containers_and_text_are_not_missing(value):
  assert not catalog.is_missing(value)
