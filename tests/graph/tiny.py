"""A tiny hand-made dataset whose graph is worked out by hand below.

Cut 2024-03-31, window 90 days: [2024-01-01, 2024-03-31).

  u1: p1 03-01, e1 03-05 (episode of p1), a1 03-10, p2 02-01
  u2: a1 03-02, p1 03-03, pfut 03-04 (published after the cut), p3 2023-12-01
      (before the window)
  u3: e2 03-20 (episode of p3), a1 03-21, p1 04-05 (after the cut)

Pairs (the day is the later of the user's first events with the two items):
  u1: (a1, p1) 03-10, (a1, p2) 03-10, (p1, p2) 03-01
  u2: (a1, p1) 03-03
  u3: (a1, p3) 03-21
"""

import pathlib

import pandas as pd

CUT = "2024-03-31"


def day(date: str) -> int:
  return int(pd.Timestamp(date, tz="UTC").timestamp()) // 86_400


ITEMS = """\
item_id,item_type,title,description,parent_id,language,genres,published_at
p1,podcast,History Hour,Old empires.,,en,history,2023-05-01
p2,podcast,Tech Talk,,,en,tech;news,
p3,podcast,Crime Time,True crime.,,de,crime,2023-06-01
a1,audiobook,The Last Legion,A novel.,,en,fiction;history,
a2,audiobook,Quiet Book,Nobody listens.,,fr,fiction,
e1,episode,Ep 1,,p1,en,history,2024-03-01
e2,episode,Ep 2,,p3,de,crime,2024-03-02
pfut,podcast,Future Show,,,en,news,2024-05-01
"""

INTERACTIONS = """\
user_id,item_id,timestamp,event,weight
u1,p1,2024-03-01T10:00:00Z,stream,100
u1,e1,2024-03-05T10:00:00Z,stream,100
u1,a1,2024-03-10T10:00:00Z,stream,100
u1,p2,2024-02-01T10:00:00Z,follow,
u2,a1,2024-03-02T10:00:00Z,preview,
u2,p1,2024-03-03T10:00:00Z,stream,100
u2,pfut,2024-03-04T10:00:00Z,stream,100
u2,p3,2023-12-01T10:00:00Z,stream,100
u3,e2,2024-03-20T10:00:00Z,stream,100
u3,a1,2024-03-21T10:00:00Z,stream,100
u3,p1,2024-04-05T10:00:00Z,stream,100
"""

# Undirected edges without caps: (source, target) -> (co_users, first, last).
EDGES = {
    ("a1", "p1"): (2, day("2024-03-03"), day("2024-03-10")),
    ("a1", "p2"): (1, day("2024-03-10"), day("2024-03-10")),
    ("p1", "p2"): (1, day("2024-03-01"), day("2024-03-01")),
    ("a1", "p3"): (1, day("2024-03-21"), day("2024-03-21")),
}
NODES = {"audiobook": ["a1", "a2"], "podcast": ["p1", "p2", "p3"]}
DEGREES = {"a1": 3, "a2": 0, "p1": 2, "p2": 2, "p3": 1}
# With max_items_per_user=2, u1 keeps p1 (2 events) and a1 (more recent
# than p2): only (a1, p1) and (a1, p3) remain.
EDGES_ITEM_CAP_2 = {k: EDGES[k] for k in [("a1", "p1"), ("a1", "p3")]}
# With max_edges_per_node=1: a1 keeps p1 (2 co-users), p1 keeps a1, p2 keeps
# a1 (a tie at 1 broken by item id), p3 keeps a1; (p1, p2) is nobody's top 1.
EDGES_EDGE_CAP_1 = {k: EDGES[k] for k in [("a1", "p1"), ("a1", "p2"),
                                          ("a1", "p3")]}


def write(folder: pathlib.Path) -> pathlib.Path:
  """Writes the tiny dataset as CSV files into ``folder``."""
  folder.mkdir(parents=True, exist_ok=True)
  (folder / "items.csv").write_text(ITEMS, encoding="utf-8")
  (folder / "interactions.csv").write_text(INTERACTIONS, encoding="utf-8")
  return folder
