"""The heterogeneous GraphSAGE encoder (the static foundation layer).

Architecture (2T-HGNN paper, docs/DESIGN.md section 6.2):

* a per-type input projection of ``concat(text_embedding, log_degree)``, so
  every item type enters one shared hidden space;
* ``num_layers`` GraphSAGE layers from ``tensorflow_gnn.models.graph_sage``,
  one pooling convolution per edge set (max over neighbours of
  ``relu(W_r h + b)``), update ``sigma(W h_self + sum over relations)``;
* L2-normalised ``embedding_dim`` output, one vector space for every node set;
  with ``text_anchor_weight``, mixed with the principal components of the
  node's own text (what keeps two new items with like titles close: the
  encoder alone loses that when trained on co-interactions); with
  ``structure_dim``, each training node's spectral structure vector
  (``hgnn.structure``) is appended, weighted by ``structure_weight``.

Messages flow from sampled neighbours to the root (``receiver_tag=SOURCE``,
as sampled subgraphs point away from their root); every edge is stored in both
directions, so "outgoing" neighbours are all neighbours.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_gnn as tfgnn
from tensorflow_gnn.models import graph_sage

from tfgnn_gfm.hgnn.config import PretrainConfig
from tfgnn_gfm.hgnn.graph_data import DEGREE_FEATURE, ID_FEATURE, TEXT_FEATURE
from tfgnn_gfm.layers import MaskedEmbedding

#: Node feature of the structure vectors, from the projection to the output.
STRUCTURE_FEATURE = "structure"
#: Node feature of the text anchor (principal components of the text).
ANCHOR_FEATURE = "text_anchor"


def text_principal_components(texts: list[np.ndarray], dim: int
                              ) -> tuple[np.ndarray, np.ndarray]:
  """(mean [d], components [d, dim]) of the stacked text embeddings.

  The best ``dim``-value linear summary of the titles (in squared error):
  its dot products keep most of the text cosine a new item is ranked by.
  """
  x = np.concatenate([np.asarray(t, np.float64) for t in texts])
  mean = x.mean(axis=0)
  _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
  components = np.zeros((x.shape[1], dim))
  k = min(dim, vt.shape[0])
  components[:, :k] = vt[:k].T
  return mean.astype(np.float32), components.astype(np.float32)


@tf.keras.utils.register_keras_serializable(package="tfgnn_gfm")
class ItemInputProjection(tf.keras.layers.Layer):
  """Projects each node set's text embedding and log degree to a hidden state.

  One Dense layer per node set (item type), so types with different text
  distributions still meet in one hidden space. Other features are dropped.

  With ``id_vocab`` and ``id_dim``, each known node also has a learnable
  vector (looked up by its ``#id``) concatenated to its features: message
  passing over text alone cannot count common neighbours, a trainable node
  vector can learn what co-occurrence counting knows. With ``structure_dim``,
  each known node also carries a fixed structure vector (``hgnn.structure``;
  values set by ``set_structure`` and saved with the weights) as the
  ``structure`` feature, which ``NodeSetEmbeddings`` appends to the output.
  A node the table does not hold (a new item) gets zeros for both; so that
  the model works from text alone too, each training step zeroes the vectors
  of a random ``id_dropout`` share of the nodes.

  Sampled subgraphs repeat popular items many times; when nodes carry ``#id``
  the projection runs once per distinct item and is gathered back, which is
  the same result at a fraction of the cost.

  Args:
    node_sets: the node set names to project.
    units: size of the hidden state.
    id_vocab: node set -> the node ids that get a learnable vector or a
      structure vector (None or empty: none).
    id_dim: size of the learnable node vectors (0: none).
    id_dropout: share of nodes whose vectors are zeroed in a training step.
    structure_dim: size of the structure vectors (0: none).
    text_dim, anchor_dim: with both > 0, each node also carries its text
      embedding's principal components (``set_text_anchor``; saved with the
      weights) as the ``text_anchor`` feature, of ``anchor_dim`` values.
  """

  def __init__(self, *, node_sets: list[str], units: int,
               id_vocab: dict[str, list[str]] | None = None, id_dim: int = 0,
               id_dropout: float = 0.0, structure_dim: int = 0,
               text_dim: int = 0, anchor_dim: int = 0, **kwargs):
    super().__init__(**kwargs)
    self._text_dim = int(text_dim)
    self._anchor_dim = int(anchor_dim)
    self._anchor = None
    if self._text_dim and self._anchor_dim:
      self._anchor = (
          self.add_weight(name="anchor_mean", shape=(self._text_dim,),
                          initializer="zeros", trainable=False),
          self.add_weight(name="anchor_components",
                          shape=(self._text_dim, self._anchor_dim),
                          initializer="zeros", trainable=False))
    self._node_sets = list(node_sets)
    self._units = units
    self._id_dim = int(id_dim)
    self._structure_dim = int(structure_dim)
    uses_ids = self._id_dim > 0 or self._structure_dim > 0
    self._id_vocab = {n: [str(i) for i in ids]
                      for n, ids in sorted((id_vocab or {}).items())
                      if uses_ids and n in self._node_sets}
    self._id_dropout = float(id_dropout)
    self._dense = {n: tf.keras.layers.Dense(units, name=f"project_{n}")
                   for n in self._node_sets}
    self._tables = {}
    self._id_vectors = {}
    self._structure = {}
    for n, ids in self._id_vocab.items():
      self._tables[n] = tf.lookup.StaticHashTable(
          tf.lookup.KeyValueTensorInitializer(
              tf.constant(ids, tf.string),
              tf.range(1, len(ids) + 1, dtype=tf.int64)),
          default_value=tf.constant(0, tf.int64))
      # Row 0 (unknown or dropped ids) is the zero vector.
      if self._id_dim:
        self._id_vectors[n] = MaskedEmbedding(
            input_dim=len(ids) + 1, output_dim=self._id_dim,
            embeddings_initializer=tf.keras.initializers.RandomNormal(
                stddev=0.05), name=f"node_vectors_{n}")
      if self._structure_dim:
        self._structure[n] = self.add_weight(
            name=f"structure_{n}", shape=(len(ids) + 1, self._structure_dim),
            initializer="zeros", trainable=False)

  @property
  def uses_ids(self) -> bool:
    """Whether some node set has vectors looked up by ``#id``."""
    return bool(self._tables)

  @property
  def structure_dim(self) -> int:
    """Size of the structure vectors (0: none)."""
    return self._structure_dim if self._structure else 0

  def set_structure(self, vectors: dict[str, np.ndarray]) -> None:
    """Sets the structure vectors: node set -> [len(id_vocab[n]), dim]."""
    for n, table in self._structure.items():
      values = np.asarray(vectors[n], np.float32)
      if values.shape != (len(self._id_vocab[n]), self._structure_dim):
        raise ValueError(f"structure vectors of {n!r} have shape "
                         f"{values.shape}, expected "
                         f"{(len(self._id_vocab[n]), self._structure_dim)}")
      table.assign(np.concatenate(
          [np.zeros((1, self._structure_dim), np.float32), values]))

  def set_text_anchor(self, mean: np.ndarray, components: np.ndarray) -> None:
    """Sets the text anchor's mean [text_dim] and components."""
    self._anchor[0].assign(np.asarray(mean, np.float32))
    self._anchor[1].assign(np.asarray(components, np.float32))

  def get_config(self) -> dict[str, Any]:
    return dict(node_sets=self._node_sets, units=self._units,
                id_vocab=self._id_vocab or None, id_dim=self._id_dim,
                id_dropout=self._id_dropout,
                structure_dim=self._structure_dim, text_dim=self._text_dim,
                anchor_dim=self._anchor_dim, **super().get_config())

  def _rows(self, name: str, ids: tf.Tensor, training: bool) -> tf.Tensor:
    rows = self._tables[name].lookup(ids)
    if training and self._id_dropout > 0:
      keep = tf.random.uniform(tf.shape(rows)) >= self._id_dropout
      rows = tf.where(keep, rows, tf.zeros_like(rows))
    return rows

  def call(self, graph: tfgnn.GraphTensor,
           training: bool | None = None) -> tfgnn.GraphTensor:
    features = {}
    for name in self._node_sets:
      ns = graph.node_sets[name]
      x = tf.concat([ns[TEXT_FEATURE], ns[DEGREE_FEATURE]], axis=-1)
      known = name in self._tables
      if ID_FEATURE in ns.features:
        unique, index = tf.unique(_distinct_blank_ids(ns[ID_FEATURE]),
                                  out_idx=tf.int32)
        num_unique = tf.shape(unique)[0]
        first = tf.math.unsorted_segment_min(
            tf.range(tf.shape(index)[0]), index, num_unique)
        x = tf.gather(x, first)
        rows = self._rows(name, unique, bool(training)) if known else None
      else:  # No ids: every node is unknown (row 0).
        index = None
        rows = tf.zeros([tf.shape(x)[0]], tf.int64) if known else None
      if name in self._id_vectors:
        x = tf.concat([x, self._id_vectors[name](rows)], axis=-1)
      hidden = self._dense[name](x)
      out = {tfgnn.HIDDEN_STATE: hidden}
      if self._anchor is not None:
        mean, components = self._anchor
        out[ANCHOR_FEATURE] = tf.matmul(x[:, :self._text_dim] - mean,
                                        components)
      if name in self._structure:
        out[STRUCTURE_FEATURE] = tf.gather(self._structure[name], rows)
      if index is not None:
        out = {k: tf.gather(v, index) for k, v in out.items()}
      features[name] = out
    return graph.replace_features(node_sets=features)


def _distinct_blank_ids(ids: tf.Tensor) -> tf.Tensor:
  """``ids`` with each empty id made unique (``"\\x00#<row>"``, in no table).

  Items sent without an id (new items embedded from their text alone, or
  serving requests without ``#id``) are distinct nodes: de-duplicating them
  by id would give every one of them the first one's text.
  """
  blank = tf.strings.join(
      ["\x00#", tf.strings.as_string(tf.range(tf.shape(ids)[0]))])
  return tf.where(tf.equal(ids, ""), blank, ids)


@tf.keras.utils.register_keras_serializable(package="tfgnn_gfm")
class NodeSetEmbeddings(tf.keras.layers.Layer):
  """Reads every node set's final state as its embeddings.

  The state is L2-normalised; node sets that receive no edge set keep their
  projected state, and a Dense layer maps those to ``units`` so every node
  set shares one space. Where a node set carries the ``structure`` feature
  (``ItemInputProjection``), the embedding is
  ``concat(sqrt(1 - w) * state, sqrt(w) * structure)`` with ``w =
  structure_weight``: a dot product of two embeddings is then the encoder's
  score and the structure score mixed in that proportion.

  Args:
    node_sets: node set names to read.
    units: embedding size.
    isolated: node sets without incoming messages (get the Dense map).
    structure_weight: the share ``w`` of the structure vectors.
    anchor_weight: where a node set carries the ``text_anchor`` feature, the
      encoder's part is ``normalize(sqrt(1 - a) * state + sqrt(a) *
      normalize(anchor))`` with ``a = anchor_weight``.
  """

  def __init__(self, *, node_sets: list[str], units: int,
               isolated: list[str] | None = None,
               structure_weight: float = 0.0, anchor_weight: float = 0.0,
               **kwargs):
    super().__init__(**kwargs)
    self._anchor_weight = float(anchor_weight)
    self._node_sets = list(node_sets)
    self._units = units
    self._isolated = list(isolated or [])
    self._structure_weight = float(structure_weight)
    self._dense = {n: tf.keras.layers.Dense(units, name=f"isolated_{n}")
                   for n in self._isolated}

  def get_config(self) -> dict[str, Any]:
    return dict(node_sets=self._node_sets, units=self._units,
                isolated=self._isolated,
                structure_weight=self._structure_weight,
                anchor_weight=self._anchor_weight, **super().get_config())

  def call(self, graph: tfgnn.GraphTensor) -> dict[str, tf.Tensor]:
    out = {}
    for name in self._node_sets:
      ns = graph.node_sets[name]
      state = ns[tfgnn.HIDDEN_STATE]
      if name in self._dense:
        state = self._dense[name](state)
      state = tf.math.l2_normalize(state, axis=-1)
      if ANCHOR_FEATURE in ns.features and self._anchor_weight > 0:
        a = self._anchor_weight
        state = tf.math.l2_normalize(
            tf.sqrt(1.0 - a) * state + tf.sqrt(a) * tf.math.l2_normalize(
                ns[ANCHOR_FEATURE], axis=-1), axis=-1)
      if STRUCTURE_FEATURE in ns.features:
        w = self._structure_weight
        state = tf.concat([tf.sqrt(1.0 - w) * state,
                           tf.sqrt(w) * ns[STRUCTURE_FEATURE]], axis=-1)
      out[name] = state
    return out


def build_encoder(graph_spec: tfgnn.GraphTensorSpec,
                  config: PretrainConfig,
                  node_ids: dict[str, Any] | None = None,
                  structure: dict[str, np.ndarray] | None = None,
                  text_anchor: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> tf.keras.Model:
  """Builds the HGNN encoder: GraphTensor -> {node set: [n, dim] embeddings}.

  Args:
    graph_spec: spec of the input graphs (any number of components); must
      hold ``text_embedding`` and ``log_degree`` on every node set.
    config: model sizes.
    node_ids: node set -> the ids of the training graph's nodes, for
      learnable node vectors and structure vectors (``config.node_id_dim``
      or ``config.structure_dim`` > 0; ignored otherwise).
    structure: node set -> [n, config.structure_dim] structure vectors of
      the nodes of ``node_ids`` (``structure.structure_vectors``); zeros if
      not given.
    text_anchor: (mean, components) of ``text_principal_components``, with
      ``config.text_anchor_weight`` > 0.

  Returns:
    A functional Keras model, serializable and SavedModel-exportable.
  """
  node_sets = sorted(n for n in graph_spec.node_sets_spec
                     if not n.startswith("_"))
  receivers = sorted({graph_spec.edge_sets_spec[e].adjacency_spec.source_name
                      for e in graph_spec.edge_sets_spec
                      if not e.startswith("_")})
  inputs = tf.keras.layers.Input(type_spec=graph_spec)
  id_dim = config.node_id_dim if node_ids else 0
  structure_dim = config.structure_dim if node_ids else 0
  anchor = text_anchor if config.text_anchor_weight > 0 else None
  projection = ItemInputProjection(
      node_sets=node_sets, units=config.hidden_dim,
      id_vocab={n: list(np.asarray(ids).astype(str))
                for n, ids in (node_ids or {}).items()}
      if id_dim or structure_dim else None,
      id_dim=id_dim, id_dropout=config.node_id_dropout,
      structure_dim=structure_dim,
      text_dim=0 if anchor is None else int(anchor[0].shape[0]),
      anchor_dim=config.embedding_dim, name="input_projection")
  graph = projection(inputs)
  if anchor is not None:
    projection.set_text_anchor(*anchor)
  if structure is not None and projection.structure_dim:
    projection.set_structure(structure)
  if receivers:
    for i in range(config.num_layers):
      last = i == config.num_layers - 1
      graph = graph_sage.GraphSAGEGraphUpdate(
          units=config.embedding_dim if last else config.hidden_dim,
          hidden_units=config.hidden_dim,
          receiver_tag=tfgnn.SOURCE,
          node_set_names=receivers,
          reduce_type="max_no_inf",
          use_pooling=True,
          dropout_rate=config.dropout_rate,
          l2_normalize=not last,
          activation=config.final_activation if last else "relu",
          name=f"graph_sage_{i}")(graph)
  isolated = [n for n in node_sets if n not in receivers]
  outputs = NodeSetEmbeddings(node_sets=node_sets, units=config.embedding_dim,
                              isolated=isolated,
                              structure_weight=config.structure_weight,
                              anchor_weight=config.text_anchor_weight,
                              name="embeddings")(graph)
  return tf.keras.Model(inputs, outputs, name="hgnn_encoder")
