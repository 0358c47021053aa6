"""Node text: compose each node item's text and encode it, in batches.

``NodeRowsFn`` picks the node items of a shard of valid items and composes
their text with the project's one rule (``tfgnn_gfm.text.compose_item_texts``:
title, genres, language, description). ``EncodeTextFn`` embeds them with the
text encoder, which its ``setup()`` loads once per worker (DoFn instances are
reused across bundles) through ``tfgnn_gfm.text.load_text_encoder``, the one
way the project loads encoders. Texts are encoded in batches of
``text_batch_size`` in node order, so reruns see identical batches and give
identical vectors.
"""

from __future__ import annotations

import logging
import time
from typing import Iterator

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from beam.elements import METRICS_NAMESPACE, NodeRows, RowBatch
from tfgnn_gfm.catalog import ItemCatalog
from tfgnn_gfm.graph.nodes import NodeIndex
from tfgnn_gfm.pipelines import workers

_LOG = logging.getLogger(__name__)


class NodeRowsFn(beam.DoFn):
  """``(shard, [RowBatch])`` of valid items -> ``(shard, NodeRows)``.

  Side inputs: the ``ItemCatalog`` and the ``NodeIndex``. Items that are not
  nodes (rolled up, published after the cut, without a root) are skipped.
  """

  def process(self, element: tuple[int, list[RowBatch]],
              catalog: ItemCatalog, node_index: NodeIndex
              ) -> Iterator[tuple[int, NodeRows]]:
    from tfgnn_gfm.text.item_text import compose_item_texts
    shard, batches = element
    parts = []
    for batch in batches:
      frame = batch.frame
      index = catalog.lookup(frame["item_id"].to_numpy(object))
      positions = np.maximum(index, 0)
      is_node = ((index >= 0) & (catalog.root[positions] == index)
                 & (node_index.item_node[positions] >= 0))
      if not is_node.any():
        continue
      rows = frame[is_node]
      parts.append((node_index.item_node[positions[is_node]],
                    compose_item_texts(rows).to_numpy(object),
                    rows["language"].to_numpy(object),
                    rows["genres"].to_numpy(object)))
    if not parts:
      return
    node, text, language, genres = (np.concatenate(c) for c in zip(*parts))
    order = np.argsort(node, kind="stable")
    yield shard, NodeRows(node=node[order], text=text[order],
                          language=language[order], genres=genres[order])


class EncodeTextFn(beam.DoFn):
  """Adds text embeddings to ``(shard, NodeRows)``; loads the model once."""

  def __init__(self, handle: str, batch_size: int):
    super().__init__()
    self._handle = handle
    self._batch_size = int(batch_size)
    self._layer = None
    self._encoded = Metrics.counter(METRICS_NAMESPACE, "texts_encoded")

  def setup(self) -> None:
    from tfgnn_gfm.text.encoder import load_text_encoder
    start = time.perf_counter()
    self._layer = load_text_encoder(self._handle)
    _LOG.info("text encoder %s loaded in %.1fs", self._handle,
              time.perf_counter() - start)

  def process(self, element: tuple[int, NodeRows]
              ) -> Iterator[tuple[int, NodeRows]]:
    from tfgnn_gfm.text.encoder import encode_texts
    shard, rows = element
    start = time.perf_counter()
    embedding = encode_texts(self._layer, list(rows.text), self._batch_size)
    self._encoded.inc(len(rows))
    workers.count_elements(len(rows))
    _LOG.info("item shard %d: encoded %s texts in %.1fs", shard,
              f"{len(rows):,}", time.perf_counter() - start)
    yield shard, NodeRows(node=rows.node, text=np.zeros(0, object),
                          language=rows.language, genres=rows.genres,
                          embedding=embedding.astype(np.float32))
