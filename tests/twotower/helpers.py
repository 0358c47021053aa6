"""Small hand-made datasets for the two-tower tests."""

import numpy as np
import pandas as pd

from tfgnn_gfm.twotower.items import item_table_from_arrays

DAY = 86_400
CUT = 100 * DAY


def catalog(num_podcasts=6, num_audiobooks=4, dim=8, text_dim=6, seed=0):
  """Items: podcasts p*, audiobooks a*, one episode per podcast e*; the last
  podcast is published after the cut (inductive vector)."""
  rng = np.random.default_rng(seed)
  pods = [f"p{i}" for i in range(num_podcasts)]
  books = [f"a{i}" for i in range(num_audiobooks)]
  eps = [f"e{i}" for i in range(num_podcasts)]
  ids = np.array(pods + books + eps, dtype=object)
  types = np.array(["podcast"] * num_podcasts + ["audiobook"] * num_audiobooks
                   + ["episode"] * num_podcasts, dtype=object)
  published = np.zeros(len(ids), np.int64)
  published[num_podcasts - 1] = CUT + 2 * DAY
  published[-1] = CUT + 3 * DAY
  items = pd.DataFrame({
      "item_id": ids, "item_type": types,
      "parent_id": [""] * (num_podcasts + num_audiobooks) + pods,
      "language": ["en", "de"] * (len(ids) // 2) + ["en"] * (len(ids) % 2),
      "genres": ["news;comedy"] * len(ids),
      "published_at": published})
  source = np.array(["graph"] * (num_podcasts - 1) + ["inductive"] +
                    ["graph"] * num_audiobooks + ["parent"] * num_podcasts,
                    dtype=object)
  hgnn = rng.normal(size=(len(ids), dim)).astype(np.float32)
  hgnn /= np.linalg.norm(hgnn, axis=1, keepdims=True)
  hgnn[num_podcasts + num_audiobooks:] = hgnn[:num_podcasts]
  text = rng.normal(size=(len(ids), text_dim)).astype(np.float32)
  return items, ids, types, hgnn, text, source


def item_table(**kw):
  items, ids, types, hgnn, text, source = catalog(**kw)
  return item_table_from_arrays(ids, types, hgnn, text, items, source=source)


def interactions(rows):
  """rows: (user, item, day, event)."""
  return pd.DataFrame({
      "user_id": [r[0] for r in rows], "item_id": [r[1] for r in rows],
      "timestamp": np.array([int(r[2] * DAY) for r in rows], np.int64),
      "event": [r[3] if len(r) > 3 else "stream" for r in rows],
      "weight": np.ones(len(rows))})


def users():
  return pd.DataFrame({
      "user_id": ["u0", "u1", "u2", "u3", "u9"],
      "country": ["SE", "DE", "SE", "US", "BR"],
      "age": ["31", "45", "22", "", "60"],
      "interest_vector": [np.array([1, 0], np.float32),
                          np.array([0, 1], np.float32), None,
                          np.array([1, 1], np.float32), None]})
