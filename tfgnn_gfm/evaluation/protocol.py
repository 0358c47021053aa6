"""The evaluation protocol (docs/DESIGN.md section 4) and the model comparison.

Protocol, for one global cut:

* Training: interactions in ``[cut - train_days, cut)``; hold-out (targets):
  ``[cut, cut + holdout_days)``. Interactions with an item that has a parent
  (an episode) count as interactions with its root item (the show), as in
  the graph; the candidates are then the root items (podcasts, audiobooks),
  every one in the catalog that is published before the hold-out ends,
  including items first seen after the cut (they have inductive vectors).
* Evaluated users: every user with at least one hold-out interaction with a
  candidate. Warm users interacted before the cut; cold users did not (they
  are first seen after it).
* Per item type t (and over all types): the users with at least one
  hold-out target of type t; each user's ranking is restricted to the
  candidates of type t.

  - HR@K (all items): share of those users whose best target ranks within
    the first K; ranks follow ``tfgnn_gfm.evaluation.ranking`` (ties broken
    at random, the expected rank counted), as every HR@K of the project does.
  - MRR@100: mean over the same users of 1/rank of the best target when
    that rank is at most 100 (0 otherwise).
  - coverage@100: share of the type's candidates that appear in at least one
    of those users' top-100 lists (all items only; None for the other
    slices).
  - new items only: targets are the hold-out items the user had not consumed
    before the cut (any time, any event, rolled up); those consumed items are
    also removed from the user's ranking; users with no such target are left
    out.
  - cold items: targets are items with no interaction by anyone before the
    cut (new to the catalog), ranked among all candidates of the type; the
    users are those with such a target.

  Consumption-aware (``repeats``): for an item type whose policy drops
  repeats (``tfgnn_gfm.twotower.repeats``: products, films, books), a user's
  items consumed before the cut are left out of the all-items and
  cold-items rankings (and of coverage's lists), as a deployed recommender
  leaves them out; a hold-out target the user had already consumed cannot
  be recommended then, so a user whose every target of the slice is such a
  repeat counts as a miss. Types that keep repeats rank every candidate.

  Each is reported for all, warm and cold users, and per type for
  cross-type users: users with training examples, none of them of the type
  (the users a unified model has to carry from one type to another).

Scoring is batched: for a chunk of users, one matrix product against every
candidate (each item type's ranking takes its rows and columns of it, so the
types and all types share one product); then, per slice, the rank of each
user's best target by counting the candidates that score higher and those tied
with it (``ranking.Ranker``: the slices share these counting passes where their
best target is the same, and a user's seen items are subtracted from the counts
instead of written into the scores; HR@K and MRR follow from the rank), and for
coverage each user's top-K set from ``np.partition`` (see ``metrics``); there
is no loop over users in Python.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import resource
import time
from typing import Any, Callable, Sequence

import numpy as np
import tqdm

from tfgnn_gfm.evaluation import metrics, ranking
from tfgnn_gfm.evaluation.baselines import Scorer
from tfgnn_gfm.evaluation.holdout import Holdout
from tfgnn_gfm.twotower.items import ItemTable
from tfgnn_gfm.twotower.repeats import RepeatPolicy

ALL_TYPES = "all_types"
SLICES = ("all_items", "new_items", "cold_items")
#: User groups of every slice. ``cross_type_users`` (per item type): users
#: with training examples, none of them of the type (``cross_type_users``);
#: pooled over windows by ``rolling.pool``, none over all types.
GROUPS = ("all_users", "warm_users", "cold_users", "cross_type_users")
# Largest score matrix (users x candidates) ranked at once.
_MAX_SCORES = 16_000_000


@dataclasses.dataclass
class _Accumulator:
  """Per-user ranks and listed columns of one slice."""

  num_columns: int
  coverage: bool
  rank: list = dataclasses.field(default_factory=list)
  warm: list = dataclasses.field(default_factory=list)
  user: list = dataclasses.field(default_factory=list)
  listed: dict = dataclasses.field(default_factory=dict)

  def add(self, rank: np.ndarray, warm: np.ndarray, user: np.ndarray,
          listed: dict[str, np.ndarray] | None = None) -> None:
    has = rank >= 0
    self.rank.append(rank[has])
    self.warm.append(warm[has])
    self.user.append(user[has])
    for group, columns in (listed or {}).items():
      self.listed.setdefault(group, np.zeros(self.num_columns, bool))
      self.listed[group] |= columns

  def result(self, k: int, mrr_k: int, coverage_k: int) -> dict[str, Any]:
    rank = (np.concatenate(self.rank) if self.rank
            else np.zeros(0, np.float64))
    warm = np.concatenate(self.warm) if self.warm else np.zeros(0, bool)
    hr = ranking.hits_at(rank, k)
    rr = ranking.reciprocal_ranks(rank, mrr_k)
    out = {}
    for group, mask in (("all_users", np.ones(len(warm), bool)),
                        ("warm_users", warm), ("cold_users", ~warm)):
      n = int(mask.sum())
      listed = self.listed.get(group, np.zeros(self.num_columns, bool))
      out[group] = {
          "users": n,
          f"hr@{k}": float(hr[mask].mean()) if n else None,
          f"mrr@{mrr_k}": float(rr[mask].mean()) if n else None,
          f"coverage@{coverage_k}": (
              float(listed.sum()) / self.num_columns
              if n and self.num_columns and self.coverage else None),
      }
    return out

  def per_user(self) -> tuple[np.ndarray, np.ndarray]:
    """(user rows, rank of the user's best target) of every ranked user.

    Ranks are ``ranking.target_ranks``' (0-based, ties at random: float).
    """
    if not self.rank:
      return np.zeros(0, np.int64), np.zeros(0, np.float64)
    return (np.concatenate(self.user).astype(np.int64),
            np.concatenate(self.rank).astype(np.float64))


def _pairs_in(user: np.ndarray, item: np.ndarray, chunk_users: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
  """(local row, item) of the pairs whose user is in ``chunk_users``.

  ``user`` must be sorted; ``chunk_users`` sorted and unique.
  """
  lo = np.searchsorted(user, chunk_users[0], side="left")
  hi = np.searchsorted(user, chunk_users[-1], side="right")
  u, i = user[lo:hi], item[lo:hi]
  local = np.searchsorted(chunk_users, u)
  keep = chunk_users[np.minimum(local, len(chunk_users) - 1)] == u
  return local[keep], i[keep]


@dataclasses.dataclass(frozen=True)
class _Group:
  """One ranking of ``evaluate_scorer`` (an item type, or all types).

  Attributes:
    name: the type, or ``ALL_TYPES``.
    num_columns: its candidates.
    columns: their columns in the shared score matrix (None: all of them).
    users: sorted user rows with a target among its candidates.
    tu, ti: each target's user row and candidate column, sorted by user.
    t_seen, t_cold: per target, consumed by the user before the cut; an
      item nobody had interacted with before the cut.
    su, si: every (user, candidate column) consumed before the cut.
    du, di: those of types that drop repeats (left out of the rankings).
  """

  name: str
  num_columns: int
  columns: np.ndarray | None
  users: np.ndarray
  tu: np.ndarray
  ti: np.ndarray
  t_seen: np.ndarray
  t_cold: np.ndarray
  su: np.ndarray
  si: np.ndarray
  du: np.ndarray
  di: np.ndarray


def _sorted_pairs(holdout: Holdout, n_items: int
                  ) -> tuple[np.ndarray, ...]:
  """The hold-out's targets and seen pairs, each sorted by (user, item)
  (``_pairs_in`` needs it), and whether each target was seen before.

  Returns:
    (target users, target items, seen users, seen items, [targets] bool:
    the user had consumed the target item before the cut).
  """
  order = np.lexsort((holdout.item, holdout.user))
  t_user, t_item = holdout.user[order], holdout.item[order]
  seen_order = np.lexsort((holdout.seen_item, holdout.seen_user))
  s_user = holdout.seen_user[seen_order]
  s_item = holdout.seen_item[seen_order]
  pair_seen = np.isin(t_user * n_items + t_item, s_user * n_items + s_item)
  return t_user, t_item, s_user, s_item, pair_seen


def _with_repeat_misses(rank: np.ndarray, target_rows: np.ndarray
                        ) -> np.ndarray:
  """``rank`` with +inf (a miss) for rows that have targets but no rank.

  A row has targets and no rank when every target was excluded: each is an
  item the user had consumed, of a type that drops repeats, so it cannot be
  recommended.
  """
  had = np.zeros(len(rank), bool)
  had[target_rows] = True
  return np.where(had & (rank < 0), np.inf, rank)


def evaluate_scorer(scorer: Scorer, items: ItemTable, holdout: Holdout, *,
                    types: Sequence[str] | None = None, k: int = 10,
                    mrr_k: int = 100, coverage_k: int = 100,
                    user_chunk: int = 2048, include_all_types: bool = True,
                    progress: bool = False,
                    workers: int | None = None,
                    per_user: dict | None = None,
                    repeats: RepeatPolicy | None = None) -> dict[str, Any]:
  """Runs the protocol for one scorer.

  Args:
    scorer: user and item vectors.
    items: the catalog (candidates, types).
    holdout: targets and pre-cut facts.
    types: item types to evaluate (default: every type with candidates).
    k: K of HR@K.
    mrr_k: list length of MRR.
    coverage_k: list length of coverage.
    user_chunk: most users per score matrix (fewer for large catalogs, so
      that a matrix holds at most 16M scores).
    include_all_types: also rank over every candidate (``all_types``).
    progress: show a tqdm bar over user chunks.
    workers: threads ranking chunks in parallel (default: CPU count).
    per_user: when a dict, filled with ``{(type, slice): (user rows, ranks)}``:
      the 0-based rank of each ranked user's best target (``ranking``'s
      rule) (for confidence
      intervals over users and paired comparisons).
    repeats: per item type, whether consumed items may be recommended
      again (default: every type keeps them).

  Returns:
    ``{type: {slice: {group: {"users", "hr@K", "mrr@M", "coverage@C"}}}}``.
  """
  types = list(items.eval_types if types is None else types)
  n_items = len(items)
  t_user, t_item, s_user, s_item, pair_seen = _sorted_pairs(holdout, n_items)
  pair_cold = ~holdout.item_seen_before_cut[t_item]
  # Consumed items of the types that drop repeats: left out of the all-items
  # and cold-items rankings.
  dropped = (repeats.drop_mask(items.item_type) if repeats is not None
             else np.zeros(n_items, bool))
  s_dropped = dropped[s_item]
  groups = [(t, items.candidate & (items.item_type == t)) for t in types]
  if include_all_types:
    groups.append((ALL_TYPES, items.candidate.copy()))
  # One score matrix per chunk of users serves every group: the columns of
  # all the groups' candidates, the rows of every user with a target among
  # them; a group ranks its own rows and columns of it.
  base_cols = np.flatnonzero(np.logical_or.reduce(
      [mask for _, mask in groups] or [np.zeros(n_items, bool)]))
  base_col_of = np.full(n_items, -1, np.int64)
  base_col_of[base_cols] = np.arange(len(base_cols))
  plan = []
  for name, mask in groups:
    cols = np.flatnonzero(mask)
    col_of = np.full(n_items, -1, np.int64)
    col_of[cols] = np.arange(len(cols))
    in_type = col_of[t_item] >= 0
    seen_in = col_of[s_item] >= 0
    d_in = seen_in & s_dropped
    plan.append(_Group(
        name=name, num_columns=len(cols),
        columns=None if len(cols) == len(base_cols) else base_col_of[cols],
        users=np.unique(t_user[in_type]),
        tu=t_user[in_type], ti=col_of[t_item[in_type]],
        t_seen=pair_seen[in_type], t_cold=pair_cold[in_type],
        su=s_user[seen_in], si=col_of[s_item[seen_in]],
        du=s_user[d_in], di=col_of[s_item[d_in]]))
  all_users = np.unique(np.concatenate(
      [g.users for g in plan] or [np.zeros(0, t_user.dtype)]))
  # Users per score matrix: at most user_chunk, and few enough that the
  # [users, candidates] scores (one per worker thread) stay small.
  step = max(1, min(user_chunk, _MAX_SCORES // max(len(base_cols), 1)))
  starts = range(0, len(all_users), step)
  bar = tqdm.tqdm(total=len(starts), desc=f"evaluate {scorer.name}",
                  unit="chunk", disable=not progress, leave=False)
  candidates = (scorer.candidate_matrix(base_cols) if len(all_users)
                else None)

  def rank_group(g, chunk, scores):
    rows, targets = _pairs_in(g.tu, g.ti, chunk)
    _, seen_flag = _pairs_in(g.tu, g.t_seen, chunk)
    _, cold_flag = _pairs_in(g.tu, g.t_cold, chunk)
    warm = holdout.warm[chunk]
    ranker = ranking.Ranker(scores)
    ex_rows, ex_cols = _pairs_in(g.su, g.si, chunk)
    dr_rows, dr_cols = _pairs_in(g.du, g.di, chunk)
    rank = _with_repeat_misses(
        ranker.ranks(rows, targets, dr_rows, dr_cols), rows)
    cold = _with_repeat_misses(
        ranker.ranks(rows[cold_flag], targets[cold_flag], dr_rows, dr_cols),
        rows[cold_flag])
    new = ranker.ranks(rows[~seen_flag], targets[~seen_flag], ex_rows,
                       ex_cols)
    if len(dr_rows):
      # Ranked: the dropped items leave the top-K lists of coverage.
      scores[dr_rows, dr_cols] = metrics.EXCLUDED
    has = rank >= 0
    listed = metrics.listed_columns(scores, coverage_k, {
        "all_users": has, "warm_users": has & warm,
        "cold_users": has & ~warm})
    return warm, {"all_items": (rank, listed), "cold_items": (cold, None),
                  "new_items": (new, None)}

  def rank_chunk(start):
    chunk = all_users[start:start + step]
    scores = scorer.scores(chunk, candidates)
    out = []
    for g in plan:
      rows = np.flatnonzero(np.isin(chunk, g.users, assume_unique=True))
      if not len(rows):
        out.append(None)
        continue
      if g.columns is not None:
        sub = scores[np.ix_(rows, g.columns)]
      elif len(rows) < len(chunk):
        sub = scores[rows]
      else:
        # The whole matrix, written only by the last group that takes it.
        sub = scores if g is plan[-1] else scores.copy()
      out.append((chunk[rows], *rank_group(g, chunk[rows], sub)))
    return out

  accs = [{s: _Accumulator(g.num_columns, coverage=s == "all_items")
           for s in SLICES} for g in plan]
  # Chunks in parallel threads: numpy releases the GIL in the heavy parts.
  with concurrent.futures.ThreadPoolExecutor(
      max_workers=workers or os.cpu_count() or 1) as pool:
    for ranked_groups in pool.map(rank_chunk, starts):
      for acc, ranked in zip(accs, ranked_groups):
        if ranked is None:
          continue
        chunk, warm, slices = ranked
        for slice_, (rank, listed) in slices.items():
          acc[slice_].add(rank, warm, chunk, listed)
      bar.update()
  out = {}
  for g, acc in zip(plan, accs):
    out[g.name] = {s: a.result(k, mrr_k, coverage_k) for s, a in acc.items()}
    if per_user is not None:
      for slice_, a in acc.items():
        per_user[(g.name, slice_)] = a.per_user()
    out[g.name]["candidates"] = g.num_columns
  bar.close()
  return out


def new_items_mrr(scorer: Scorer, items: ItemTable, holdout: Holdout,
                  offsets: Sequence[np.ndarray], *, mrr_k: int = 100,
                  user_chunk: int = 2048,
                  workers: int | None = None) -> list[float | None]:
  """All-types new-items MRR@``mrr_k`` of ``scorer`` plus each item offset.

  For every ``offsets[j]`` ([N] per item row), the figure equals
  ``evaluate_scorer``'s ``[ALL_TYPES]["new_items"]["all_users"]`` MRR of a
  scorer whose scores are ``scorer``'s plus that offset (same targets, same
  exclusions, same ranking rule), but one matrix product per user chunk
  serves every offset and no other slice or coverage list is made: the
  inner split's choice of the popularity weight ranks every candidate
  weight after every epoch (``twotower.prior``).

  Args:
    scorer: user and item vectors (without the offset).
    items: the catalog (its candidates are ranked).
    holdout: targets and pre-cut facts.
    offsets: per item row, the score added for each variant.
    mrr_k: list length of MRR.
    user_chunk: most users per score matrix (fewer for large catalogs).
    workers: threads ranking chunks in parallel (default: CPU count).

  Returns:
    Per offset, the MRR, or None when no user has a new-items target.
  """
  n_items = len(items)
  t_user, t_item, s_user, s_item, pair_seen = _sorted_pairs(holdout, n_items)
  cols = np.flatnonzero(items.candidate)
  col_of = np.full(n_items, -1, np.int64)
  col_of[cols] = np.arange(len(cols))
  new = (col_of[t_item] >= 0) & ~pair_seen
  tu, ti = t_user[new], col_of[t_item[new]]
  seen_in = col_of[s_item] >= 0
  su, si = s_user[seen_in], col_of[s_item[seen_in]]
  users = np.unique(tu)
  if not len(users):
    return [None] * len(offsets)
  candidates = scorer.candidate_matrix(cols)
  column_offsets = [np.asarray(o, np.float32)[cols] for o in offsets]
  step = max(1, min(user_chunk, _MAX_SCORES // max(len(cols), 1)))

  def rank_chunk(start: int) -> list[np.ndarray]:
    chunk = users[start:start + step]
    base = scorer.scores(chunk, candidates)
    rows, targets = _pairs_in(tu, ti, chunk)
    ex_rows, ex_cols = _pairs_in(su, si, chunk)
    out = []
    for offset in column_offsets:
      rank = ranking.Ranker(base + offset).ranks(rows, targets, ex_rows,
                                                 ex_cols)
      out.append(ranking.reciprocal_ranks(rank[rank >= 0], mrr_k))
    return out

  with concurrent.futures.ThreadPoolExecutor(
      max_workers=workers or os.cpu_count() or 1) as pool:
    chunks = list(pool.map(rank_chunk, range(0, len(users), step)))
  values = [np.concatenate([c[j] for c in chunks]) for j in range(len(offsets))]
  return [float(v.mean()) if len(v) else None for v in values]


def aggregate_runs(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
  """Mean, standard deviation and per-seed values of every metric leaf.

  Args:
    runs: results of ``evaluate_scorer`` (one per seed), same structure.

  Returns:
    The same structure with each numeric leaf replaced by
    ``{"mean", "std", "values"}`` (population std; 0 for one run; None
    leaves stay None). ``users`` and ``candidates`` stay plain numbers.
  """
  first = runs[0]
  if isinstance(first, dict):
    return {key: (first[key] if key in ("users", "candidates") else
                  aggregate_runs([r[key] for r in runs])) for key in first}
  if first is None or isinstance(first, (bool, str)):
    return first
  values = [float(r) for r in runs]
  return {"mean": float(np.mean(values)), "std": float(np.std(values)),
          "values": values}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
  """Runs ``fn``; returns (its result, seconds)."""
  start = time.perf_counter()
  result = fn()
  return result, time.perf_counter() - start


def peak_rss_mb() -> int:
  """Peak resident memory of this process so far, in MiB (Linux's
  ``ru_maxrss`` is in KiB)."""
  return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def cross_type_users(user: np.ndarray, item: np.ndarray,
                     item_type: np.ndarray, types: Sequence[str],
                     num_users: int) -> dict[str, np.ndarray]:
  """Per item type, which users are cross-type users of it.

  Args:
    user, item: [n] the (user row, item row) of each training example.
    item_type: [N] the type name of each item row.
    types: the item types.
    num_users: U.

  Returns:
    type -> [U] bool: the user has a training example, and none of an item
    of that type.
  """
  active = np.zeros(num_users, bool)
  active[user] = True
  example_type = np.asarray(item_type)[item]
  out = {}
  for t in types:
    has_type = np.zeros(num_users, bool)
    has_type[user[example_type == t]] = True
    out[t] = active & ~has_type
  return out
