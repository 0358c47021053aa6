"""Batch elements: compact pickling and dead letters of RowBatch."""

import pickle

import numpy as np
import pandas as pd

from beam.elements import RowBatch
from beam.graph_writer import merge_summaries


def _batch(vectors):
  column = np.empty(3, dtype=object)
  column[:] = list(vectors)
  frame = pd.DataFrame({"user_id": ["u1", "u2", "u3"],
                        "interest_vector": column,
                        "country": ["DE", "US", "FR"]},
                       index=pd.Index([2, 3, 5], name="line"))
  return RowBatch("users", "gs://bucket/users-00001.csv", 1,
                  ["user_id", "country", "interest_vector"], frame)


def test_vector_columns_pickle_stacked_and_come_back_equal():
  vectors = [np.arange(4, dtype=np.float32) + i for i in range(3)]
  batch = _batch(vectors)
  state = batch.__getstate__()
  assert "_stacked" in state and state["_stacked"][1][
      "interest_vector"].shape == (3, 4)
  back = pickle.loads(pickle.dumps(batch))
  assert list(back.frame.columns) == list(batch.frame.columns)
  assert back.frame.index.tolist() == [2, 3, 5]
  for a, b in zip(back.frame["interest_vector"], vectors):
    np.testing.assert_array_equal(a, b)


def test_ragged_or_missing_vectors_pickle_as_they_are():
  vectors = [np.zeros(2, np.float32), None, np.ones(3, np.float32)]
  back = pickle.loads(pickle.dumps(_batch(vectors)))
  assert back.frame["interest_vector"].iloc[1] is None
  assert back.frame["interest_vector"].iloc[2].shape == (3,)


def test_reject_moves_rows_to_dead_letters_with_the_given_path():
  batch = _batch([np.zeros(2, np.float32)] * 3)
  letters = batch.reject(np.array([False, True, False]), "duplicate_id",
                         "repeated key (user_id); the first row with it is "
                         "kept")
  assert batch.frame.index.tolist() == [2, 5]
  (letter,) = letters
  assert letter["file"] == "gs://bucket/users-00001.csv"
  assert letter["line"] == 3 and letter["reason"] == "duplicate_id"
  assert letter["row"] == {"user_id": "u2", "country": "US",
                           "interest_vector": [0.0, 0.0]}


def test_merge_summaries_sums_nested_counts_in_any_order():
  parts = [{"nodes": {"a": 1}, "edges": {"x": 2}}, {"nodes": {"a": 2,
                                                               "b": 1}}]
  assert merge_summaries(parts) == merge_summaries(parts[::-1]) == {
      "edges": {"x": 2}, "nodes": {"a": 3, "b": 1}}
