"""The synthetic platform: determinism, contract and planted structure."""

import numpy as np
import pandas as pd
import pytest

from tfgnn_gfm.data import read_dataset, write_dataset
from tfgnn_gfm.synth import SynthConfig, generate, synth

SMALL = SynthConfig(num_users=600, num_podcasts=120, num_audiobooks=80)


@pytest.fixture(scope="module")
def platform():
  return generate(SMALL, progress=False)


def test_deterministic_by_seed(platform):
  again = generate(SMALL, progress=False)
  pd.testing.assert_frame_equal(platform.interactions, again.interactions)
  pd.testing.assert_frame_equal(platform.items, again.items)
  other = generate(SynthConfig(**{**SMALL.__dict__, "seed": 1}), progress=False)
  assert not platform.interactions.equals(other.interactions)


def test_tables_pass_the_contract(platform, tmp_path):
  write_dataset(tmp_path, {"items": platform.items,
                           "interactions": platform.interactions,
                           "users": platform.users},
                stage="synth", config={})
  ds = read_dataset(tmp_path)
  assert ds.dead_letters() == []
  assert set(ds.items.frame["item_type"]) == {"podcast", "audiobook", "episode"}
  episodes = ds.items.frame[ds.items.frame["item_type"] == "episode"]
  shows = set(ds.items.frame.loc[ds.items.frame["item_type"] == "podcast",
                                 "item_id"])
  assert len(episodes) and set(episodes["parent_id"]) <= shows
  assert set(ds.interactions.frame["event"]) == {"stream", "follow", "preview"}
  assert ds.users.extra_columns == ["country", "age_bucket"]


def test_time_window_cold_users_and_cold_items(platform):
  inter = platform.interactions
  ts = pd.to_datetime(inter["timestamp"], utc=True)
  start = pd.Timestamp(SMALL.start_date, tz="UTC")
  assert ts.min() >= start
  assert ts.max() < start + pd.Timedelta(days=104)
  cut = pd.Timestamp(platform.cut_timestamp, unit="s", tz="UTC")
  first_seen = ts.groupby(inter["user_id"]).min()
  cold_users = (first_seen >= cut).mean()
  assert 0.05 < cold_users < 0.2  # cold_user_fraction = 0.1
  published = pd.to_datetime(platform.items["published_at"], utc=True)
  cold_items = platform.items.loc[published >= cut, "item_id"]
  assert len(cold_items) > 0
  # No interaction precedes its item's publication.
  pub = published.set_axis(platform.items["item_id"])
  assert (ts.to_numpy() >= pub.loc[inter["item_id"]].to_numpy()).all()


def test_popularity_is_heavy_tailed(platform):
  counts = platform.interactions["item_id"].value_counts()
  top = counts.iloc[: max(1, len(counts) // 10)].sum() / counts.sum()
  assert top > 0.3  # the top 10% of items take far more than 10% of events


def test_repeats_and_weak_signals(platform):
  inter = platform.interactions
  repeats = inter.duplicated(subset=["user_id", "item_id"]).mean()
  assert repeats > 0.15
  follows = inter[inter["event"] == "follow"]["item_id"]
  assert follows.str.startswith("pod_").all()  # shows are followed
  previews = inter[inter["event"] == "preview"]["item_id"]
  assert previews.str.startswith("ab_").all()


def _topic_of(platform):
  return platform.item_topics.set_index("item_id")["topic"]


def test_holdout_items_share_topics_with_history_far_above_chance(platform):
  inter = platform.interactions
  topic = _topic_of(platform)
  inter = inter.assign(topic=topic.loc[inter["item_id"]].to_numpy())
  cut = pd.Timestamp(platform.cut_timestamp, unit="s", tz="UTC")
  before = inter[pd.to_datetime(inter["timestamp"], utc=True) < cut]
  after = inter[pd.to_datetime(inter["timestamp"], utc=True) >= cut]
  history = before.groupby("user_id")["topic"].agg(set)
  after = after[after["user_id"].isin(history.index)]
  hits = np.mean([t in history[u] for u, t in zip(after["user_id"],
                                                   after["topic"])])
  # Chance: a random item's topic is in the user's history topics.
  item_share = topic.value_counts(normalize=True)
  chance = np.mean([item_share.loc[list(h)].sum() for h in history])
  assert hits > 0.8
  assert hits > 2 * chance


def test_cross_type_topic_transfer(platform):
  """A podcast listener of topic X takes audiobooks of topic X above chance."""
  inter = platform.interactions
  topic = _topic_of(platform)
  inter = inter.assign(topic=topic.loc[inter["item_id"]].to_numpy(),
                       kind=inter["item_id"].str[:2])
  pod = inter[inter["kind"].isin(["po", "ep"])].groupby("user_id")[
      "topic"].agg(set)
  books = inter[inter["kind"] == "ab"]
  books = books[books["user_id"].isin(pod.index)]
  hits = np.mean([t in pod[u]
                  for u, t in zip(books["user_id"], books["topic"])])
  share = topic[topic.index.str.startswith("ab_")].value_counts(normalize=True)
  chance = np.mean([share.reindex(list(pod[u])).fillna(0).sum()
                    for u in books["user_id"]])
  assert hits > 2 * chance


def test_demographics_predict_taste(platform):
  """Users of one age bucket share topics more than users across buckets."""
  users = platform.users.set_index("user_id")
  first_topic = platform.user_topics.set_index("user_id")["topics"].str.split(
      ";").str[0].astype(int)
  table = pd.crosstab(users["age_bucket"], first_topic, normalize="index")
  # Each bucket's favourite topic is well above uniform (1 / num_topics).
  assert (table.max(axis=1) > 2.0 / SMALL.num_topics).all()


def test_bad_config_is_a_clear_error():
  with pytest.raises(ValueError, match="num_topics"):
    generate(SynthConfig(num_topics=99), progress=False)
  with pytest.raises(ValueError, match="repeat_rate"):
    generate(SynthConfig(repeat_rate=2.0), progress=False)


def test_the_synth_stage_writes_the_platform_it_returns(tmp_path):
  platform, layout = synth(tmp_path / "data", SMALL)
  manifest = layout.read_manifest()
  assert manifest["stage"] == "synth"
  assert manifest["config"]["num_users"] == SMALL.num_users
  assert manifest["cut_timestamp"] == platform.cut_timestamp
  ds = read_dataset(layout.root)
  assert ds.dead_letters() == []
  assert len(ds.interactions.frame) == len(platform.interactions)
  assert sorted(ds.items.frame["item_id"]) == sorted(platform.items["item_id"])
  assert sorted(p.stem for p in layout.truth_dir.iterdir()) == [
      "item_topics", "user_topics"]
