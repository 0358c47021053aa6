"""A synthetic content platform with planted structure, deterministic by seed.

The generator writes the three tables of the data contract, so every later
stage reads synthetic and real data the same way. What is planted:

* latent topics: every podcast and audiobook has one topic; its title and
  description are written from the topic's words (text carries signal) and its
  genre is the topic's (coarser) genre; episodes inherit their show's topic;
* users mix a few topics, drawn with probabilities that depend on their age
  bucket and country, and apply the same mix to every item type (a podcast
  listener of topic X is likelier to take audiobooks of topic X); they prefer
  items in their country's language;
* interactions over ``train_days + holdout_days`` days with power-law item
  popularity, repeat listening, weak signals (follow for shows, preview for
  audiobooks), items published late (cold items) and users who start during the
  hold-out (cold users).

Everything is vectorised with numpy, so a million users and ten million
interactions take well under a minute to generate.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import tqdm

from tfgnn_gfm.config import option_help as _help
from tfgnn_gfm.synth import topics as vocab
from tfgnn_gfm.timesplit import SECONDS_PER_DAY

_LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class SynthConfig:
  """Configuration of ``gfm synth`` (sizes, time span and planted effects)."""

  section: ClassVar[str] = "synth"

  seed: int = dataclasses.field(default=0, metadata=_help(
      "random seed; the same seed and sizes give identical files"))
  num_users: int = dataclasses.field(default=2000, metadata=_help(
      "number of users"))
  num_podcasts: int = dataclasses.field(default=300, metadata=_help(
      "number of podcast shows"))
  num_audiobooks: int = dataclasses.field(default=200, metadata=_help(
      "number of audiobooks"))
  episodes_per_podcast: float = dataclasses.field(default=3.0, metadata=_help(
      "mean number of episodes per show (Poisson)"))
  interactions_per_user: float = dataclasses.field(default=25.0, metadata=_help(
      "mean interactions of a user active for the whole window"))
  num_interactions: int = dataclasses.field(default=0, metadata=_help(
      "if > 0, the total number of interactions to aim for (overrides "
      "interactions_per_user; the result is within a few percent)"))
  num_topics: int = dataclasses.field(default=16, metadata=_help(
      f"latent topics, at most {len(vocab.TOPICS)}"))
  topics_per_user: int = dataclasses.field(default=3, metadata=_help(
      "most topics one user mixes"))
  train_days: int = dataclasses.field(default=90, metadata=_help(
      "days before the cut"))
  holdout_days: int = dataclasses.field(default=14, metadata=_help(
      "days after the cut"))
  start_date: str = dataclasses.field(default="2024-01-01", metadata=_help(
      "first day of the interaction window (UTC)"))
  cold_user_fraction: float = dataclasses.field(default=0.1, metadata=_help(
      "share of users whose first interaction falls in the hold-out"))
  cold_item_fraction: float = dataclasses.field(default=0.05, metadata=_help(
      "share of shows and audiobooks published during the hold-out"))
  weak_signal_rate: float = dataclasses.field(default=0.15, metadata=_help(
      "share of events that are follows (shows) or previews (audiobooks)"))
  repeat_rate: float = dataclasses.field(default=0.3, metadata=_help(
      "share of events that repeat an item the user took earlier"))
  popularity_exponent: float = dataclasses.field(default=1.0, metadata=_help(
      "Zipf exponent of item popularity within a topic"))
  episode_share: float = dataclasses.field(default=0.5, metadata=_help(
      "share of show listening that lands on one of its episodes"))
  own_language_rate: float = dataclasses.field(default=0.7, metadata=_help(
      "share of events restricted to the user's own language"))
  format: str = dataclasses.field(default="csv", metadata=_help(
      "table format", choices=("csv", "jsonl", "parquet")))
  compress: bool = dataclasses.field(default=False, metadata=_help(
      "gzip CSV / JSON Lines output"))

  def validate(self) -> None:
    """Raises ValueError naming the first impossible setting."""
    if not 1 <= self.num_topics <= len(vocab.TOPICS):
      raise ValueError(f"num_topics must be in 1..{len(vocab.TOPICS)}")
    for name in ("num_users", "num_podcasts", "num_audiobooks", "train_days",
                 "holdout_days", "topics_per_user"):
      if getattr(self, name) < 1:
        raise ValueError(f"{name} must be at least 1")
    for name in ("cold_user_fraction", "cold_item_fraction",
                 "weak_signal_rate", "repeat_rate", "episode_share",
                 "own_language_rate"):
      if not 0.0 <= getattr(self, name) <= 1.0:
        raise ValueError(f"{name} must be in [0, 1]")
    if self.interactions_per_user <= 0 or self.episodes_per_podcast < 0:
      raise ValueError("interactions_per_user must be > 0 and "
                       "episodes_per_podcast >= 0")
    pd.Timestamp(self.start_date)  # Raises on a bad date.


@dataclasses.dataclass
class SyntheticPlatform:
  """The generated tables plus the planted truth (for tests and reports).

  Attributes:
    items, interactions, users: frames in the data contract's columns.
    item_topics: item_id -> topic index (the planted truth).
    user_topics: user_id -> the user's topics (';'-joined indices).
    cut_timestamp: epoch seconds of the train/hold-out cut.
  """

  items: pd.DataFrame
  interactions: pd.DataFrame
  users: pd.DataFrame
  item_topics: pd.DataFrame
  user_topics: pd.DataFrame
  cut_timestamp: int


def _words(rng: np.random.Generator, topic: int, n: int) -> list[str]:
  words = list(vocab.TOPICS.values())[topic][1]
  return [words[i] for i in rng.choice(len(words), size=n, replace=False)]


def _fill(template: str, words: list[str], **kw: Any) -> str:
  a, b, c, d = words
  return template.format(a=a, b=b, c=c, d=d, A=a.title(), B=b.title(), **kw)


def _zipf_weights(rng, n: int, exponent: float) -> np.ndarray:
  return 1.0 / rng.permutation(np.arange(1, n + 1)) ** exponent


def _make_items(cfg: SynthConfig, rng: np.random.Generator):
  """Shows, audiobooks and episodes with topics, text and dates."""
  total_days = cfg.train_days + cfg.holdout_days
  n_pod, n_ab = cfg.num_podcasts, cfg.num_audiobooks
  genres = [g for g, _ in vocab.TOPICS.values()]
  types = np.array(["podcast"] * n_pod + ["audiobook"] * n_ab, dtype=object)
  n = n_pod + n_ab
  topic = rng.integers(0, cfg.num_topics, size=n)
  language = rng.choice(vocab.LANGUAGES, size=n,
                        p=[0.55, 0.12, 0.15, 0.08, 0.10])
  popularity = np.concatenate([
      _zipf_weights(rng, n_pod, cfg.popularity_exponent),
      _zipf_weights(rng, n_ab, cfg.popularity_exponent)])
  cold = rng.random(n) < cfg.cold_item_fraction
  pub_day = np.where(cold, rng.uniform(cfg.train_days, total_days - 1, n),
                     -rng.uniform(1, 1500, n))
  ids = np.array([f"pod_{i:06d}" for i in range(n_pod)] +
                 [f"ab_{i:06d}" for i in range(n_ab)], dtype=object)
  titles, descriptions = [], []
  for i in range(n):
    templates = vocab.PODCAST_TITLES if types[i] == "podcast" else (
        vocab.AUDIOBOOK_TITLES)
    titles.append(_fill(templates[rng.integers(len(templates))],
                        _words(rng, topic[i], 4)))
    if rng.random() < 0.05:
      descriptions.append("")
    else:
      template = vocab.DESCRIPTIONS[rng.integers(len(vocab.DESCRIPTIONS))]
      descriptions.append(_fill(template, _words(rng, topic[i], 4),
                                kind=vocab.KIND_WORDS[types[i]]))
  # Episodes: children of shows, same topic and language.
  counts = rng.poisson(cfg.episodes_per_podcast, size=n_pod)
  parent = np.repeat(np.arange(n_pod), counts)
  n_ep = len(parent)
  number = np.concatenate([np.arange(1, c + 1) for c in counts]) if n_ep else (
      np.zeros(0, dtype=int))
  ep_pub = pub_day[parent] + rng.uniform(0, 1, n_ep) * (
      total_days - 1 - np.maximum(pub_day[parent], -30))
  ep_pub = np.maximum(ep_pub, pub_day[parent])
  ep_titles, ep_desc = [], []
  for j in range(n_ep):
    t = topic[parent[j]]
    ep_titles.append(_fill(vocab.EPISODE_TITLES[rng.integers(
        len(vocab.EPISODE_TITLES))], _words(rng, t, 4), n=number[j]))
    ep_desc.append(_fill(vocab.DESCRIPTIONS[rng.integers(
        len(vocab.DESCRIPTIONS))], _words(rng, t, 4), kind="episode"))
  items = pd.DataFrame({
      "item_id": np.concatenate([ids, np.array(
          [f"ep_{j:07d}" for j in range(n_ep)], dtype=object)]),
      "item_type": np.concatenate([types, np.full(n_ep, "episode", object)]),
      "title": titles + ep_titles,
      "description": descriptions + ep_desc,
      "parent_id": np.concatenate([np.full(n, "", object), ids[parent]]),
      "language": np.concatenate([language, language[parent]]),
      "genres": [genres[t] for t in topic] + [genres[topic[p]] for p in parent],
      "pub_day": np.concatenate([pub_day, ep_pub]),
  })
  return items, topic, language, popularity, parent


def _make_users(cfg: SynthConfig, rng: np.random.Generator):
  """Users with demographics that shape their topic mix and type taste."""
  u = cfg.num_users
  country = rng.choice(len(vocab.COUNTRIES), size=u,
                       p=[0.3, 0.1, 0.12, 0.1, 0.06, 0.1, 0.12, 0.1])
  age = rng.choice(len(vocab.AGE_BUCKETS), size=u,
                   p=[0.2, 0.3, 0.22, 0.16, 0.12])
  # Demographic affinity to topics: strong enough to be learnable.
  age_aff = rng.dirichlet(np.full(cfg.num_topics, 0.5),
                          size=len(vocab.AGE_BUCKETS))
  country_aff = rng.dirichlet(np.full(cfg.num_topics, 2.0),
                              size=len(vocab.COUNTRIES))
  probs = age_aff[age] * country_aff[country] + 1e-3
  probs /= probs.sum(axis=1, keepdims=True)
  # k distinct topics per user by Gumbel top-k; weights from a Dirichlet.
  k = min(cfg.topics_per_user, cfg.num_topics)
  gumbel = np.log(probs) - np.log(-np.log(rng.random(probs.shape)))
  user_topics = np.argsort(-gumbel, axis=1)[:, :k]
  n_topics = rng.integers(1, k + 1, size=u)
  weights = rng.dirichlet(np.full(k, 1.0), size=u)
  weights[np.arange(k)[None, :] >= n_topics[:, None]] = 0.0
  weights /= weights.sum(axis=1, keepdims=True)
  # Older users lean to audiobooks.
  p_audiobook = np.clip(rng.beta(2, 3, size=u) + 0.06 * (age - 2), 0.02, 0.98)
  cold = rng.random(u) < cfg.cold_user_fraction
  total = cfg.train_days + cfg.holdout_days
  start = np.where(cold, rng.uniform(cfg.train_days, total - 0.5, u),
                   rng.uniform(0, 0.6 * cfg.train_days, u))
  # External interest vector: a noisy projection of the topic mix.
  mix = np.zeros((u, cfg.num_topics))
  np.add.at(mix, (np.repeat(np.arange(u), k), user_topics.ravel()),
            weights.ravel())
  projection = rng.normal(size=(cfg.num_topics, 16)) / np.sqrt(cfg.num_topics)
  interest = mix @ projection + rng.normal(scale=0.05, size=(u, 16))
  lang = np.array([vocab.LANGUAGES.index(vocab.COUNTRY_LANGUAGE[c])
                   for c in vocab.COUNTRIES])[country]
  return dict(country=country, age=age, topics=user_topics, weights=weights,
              n_topics=n_topics, p_audiobook=p_audiobook, start=start,
              interest=interest, language=lang)


def _group_sampler(group: np.ndarray, weight: np.ndarray, n_groups: int):
  """Returns a function drawing one member per requested group ∝ weight.

  Members of group g are found by a search in one concatenated CDF where group
  g occupies [g, g + 1): one ``searchsorted`` serves every group at once.
  """
  order = np.lexsort((np.arange(len(group)), group))
  g_sorted, w_sorted = group[order], weight[order]
  sizes = np.bincount(g_sorted, minlength=n_groups)
  totals = np.bincount(g_sorted, weights=w_sorted, minlength=n_groups)
  cum = np.cumsum(w_sorted)
  starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
  before = np.concatenate([[0.0], cum])[starts]
  cdf = g_sorted + (cum - before[g_sorted]) / totals[g_sorted]

  def draw(groups: np.ndarray, u: np.ndarray) -> np.ndarray:
    pos = np.searchsorted(cdf, groups + u * (1 - 1e-12), side="right")
    return order[np.minimum(pos, len(order) - 1)]

  return draw, sizes


def _make_interactions(cfg, rng, items, item_topic, item_lang, popularity,
                       parent, users):
  """Events of every user, vectorised over all events at once."""
  n_pod, n_ab = cfg.num_podcasts, cfg.num_audiobooks
  total_days = cfg.train_days + cfg.holdout_days
  span = total_days - users["start"]
  mean = cfg.interactions_per_user * span / total_days
  if cfg.num_interactions > 0:
    # Repeats in the same second are merged later; they are rare (< 0.1%).
    mean = mean * cfg.num_interactions / mean.sum()
  counts = np.maximum(1, np.round(rng.lognormal(np.log(mean) - 0.32, 0.8)))
  counts = counts.astype(np.int64)
  user = np.repeat(np.arange(cfg.num_users), counts)
  n = len(user)
  t = users["start"][user] + rng.random(n) * span[user]
  # Topic from the user's mix, type from the user's taste.
  cum_w = np.cumsum(users["weights"], axis=1)[user]
  slot = (rng.random(n)[:, None] > cum_w).sum(axis=1)
  slot = np.minimum(slot, users["topics"].shape[1] - 1)
  topic = users["topics"][user, slot]
  is_ab = rng.random(n) < users["p_audiobook"][user]
  # Groups: (topic, type, language) and a fallback (topic, type, any).
  n_lang = len(vocab.LANGUAGES)
  head = n_pod + n_ab
  item_type = np.concatenate([np.zeros(n_pod, int), np.ones(n_ab, int)])
  lang_idx = np.array([vocab.LANGUAGES.index(x) for x in item_lang])
  g_lang = (item_topic * 2 + item_type) * n_lang + lang_idx
  g_any = item_topic * 2 + item_type
  draw_lang, size_lang = _group_sampler(g_lang, popularity,
                                        cfg.num_topics * 2 * n_lang)
  draw_any, size_any = _group_sampler(g_any, popularity, cfg.num_topics * 2)
  want_g_any = topic * 2 + is_ab
  want_g_lang = want_g_any * n_lang + users["language"][user]
  own = (rng.random(n) < cfg.own_language_rate) & (size_lang[want_g_lang] > 0)
  # A topic/type with no item at all falls back to the other type.
  empty = size_any[want_g_any] == 0
  want_g_any = np.where(empty, topic * 2 + (1 - is_ab), want_g_any)
  u01 = rng.random(n)
  item = np.where(own, draw_lang(want_g_lang, u01), draw_any(want_g_any, u01))
  # Show listening often lands on one of the show's episodes.
  ep_count = np.bincount(parent, minlength=n_pod)
  ep_start = np.concatenate([[0], np.cumsum(ep_count)[:-1]])
  is_show = item < n_pod
  to_episode = is_show & (rng.random(n) < cfg.episode_share)
  to_episode &= ep_count[np.where(is_show, item, 0)] > 0
  shows = item[to_episode]
  item[to_episode] = head + ep_start[shows] + (
      rng.random(len(shows)) * ep_count[shows]).astype(np.int64)
  # Items published later than the event move the event after publication.
  pub = items["pub_day"].to_numpy()[item]
  late = pub > t
  t[late] = pub[late] + rng.random(late.sum()) * (total_days - pub[late])
  # Repeat listening: copy an earlier item of the same user.
  order = np.lexsort((t, user))
  user, t, item, topic = user[order], t[order], item[order], topic[order]
  first = np.concatenate([[0], np.cumsum(counts)[:-1]])
  position = np.arange(n) - first[user]
  repeat = (position > 0) & (rng.random(n) < cfg.repeat_rate)
  back = 1 + (rng.random(n) * np.maximum(position, 1)).astype(np.int64)
  source = np.arange(n) - back
  item[repeat] = item[source[repeat]]
  # Weak signals: follows of shows, previews of audiobooks.
  weak = rng.random(n) < cfg.weak_signal_rate
  item_is_ab = (item >= n_pod) & (item < head)
  follow = weak & ~item_is_ab
  # A follow is of the show, not of an episode.
  ep_item = follow & (item >= head)
  item[ep_item] = parent[item[ep_item] - head]
  event = np.where(follow, "follow",
                   np.where(weak & item_is_ab, "preview", "stream"))
  weight = np.where(event == "stream", np.round(rng.lognormal(6.5, 1.0, n)),
                    np.where(event == "preview", np.round(
                        rng.uniform(20, 120, n)), 1.0))
  return user, t, item, event, weight


def _iso(seconds: np.ndarray) -> np.ndarray:
  return np.char.add(np.datetime_as_string(
      seconds.astype("datetime64[s]"), unit="s"), "Z")


def generate(config: SynthConfig, progress: bool = True) -> SyntheticPlatform:
  """Generates a synthetic platform.

  Args:
    config: sizes and planted effects.
    progress: show a progress bar over the generation steps.

  Returns:
    The tables and the planted truth.
  """
  config.validate()
  rng = np.random.default_rng(config.seed)
  steps = tqdm.tqdm(total=3, desc="synth", unit="step", disable=not progress)
  items, item_topic, item_lang, popularity, parent = _make_items(config, rng)
  steps.update()
  users = _make_users(config, rng)
  steps.update()
  user, t, item, event, weight = _make_interactions(
      config, rng, items, item_topic, item_lang, popularity, parent, users)
  steps.update()
  steps.close()
  base = int(pd.Timestamp(config.start_date, tz="UTC").timestamp())
  seconds = base + np.floor(t * SECONDS_PER_DAY).astype(np.int64)
  user_ids = np.array([f"u_{i:07d}" for i in range(config.num_users)],
                      dtype=object)
  interactions = pd.DataFrame({
      "user_id": user_ids[user],
      "item_id": items["item_id"].to_numpy()[item],
      "timestamp": _iso(seconds),
      "event": event,
      "weight": weight,
  })
  # Two events of one user on one item in the same second are one event.
  interactions = interactions.drop_duplicates(
      subset=["user_id", "item_id", "timestamp", "event"]).reset_index(
          drop=True)
  pub_seconds = base + np.floor(items["pub_day"].to_numpy() *
                                SECONDS_PER_DAY).astype(np.int64)
  items = items.drop(columns="pub_day")
  items["published_at"] = _iso(pub_seconds)
  users_frame = pd.DataFrame({
      "user_id": user_ids,
      "country": np.array(vocab.COUNTRIES)[users["country"]],
      "age_bucket": np.array(vocab.AGE_BUCKETS)[users["age"]],
      "interest_vector": [";".join(f"{x:.4f}" for x in row)
                          for row in users["interest"]],
  })
  all_topics = np.concatenate([item_topic, item_topic[parent]])
  item_topics = pd.DataFrame({"item_id": items["item_id"],
                              "topic": all_topics})
  user_topics = pd.DataFrame({
      "user_id": user_ids,
      "topics": [";".join(map(str, row[:k])) for row, k in
                 zip(users["topics"], users["n_topics"])]})
  return SyntheticPlatform(
      items=items, interactions=interactions, users=users_frame,
      item_topics=item_topics, user_topics=user_topics,
      cut_timestamp=base + config.train_days * SECONDS_PER_DAY)


def timed_generate(config: SynthConfig, progress: bool = True
                   ) -> tuple[SyntheticPlatform, float]:
  """``generate`` plus its wall time in seconds."""
  start = time.perf_counter()
  platform = generate(config, progress=progress)
  return platform, time.perf_counter() - start
