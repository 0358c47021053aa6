"""The stage directories: where each stage's files are, and their readers.

One class per stage output (``DatasetDir``, ``GraphDir``, ``HGNNDir``,
``EmbeddingsDir``, ``TwoTowerDir``, ``ExportDir``, ``EvaluationDir``, ...)
names its files and reads back what the stage hands to the next one;
``RunLayout`` places them under one run folder (``gfm demo``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
from typing import Any, Mapping

from tfgnn_gfm.artifacts.manifest import MANIFEST_NAME, write_manifest
from tfgnn_gfm.timesplit import format_time

#: Inside a served SavedModel version: TF Serving's warm-up file, a TFRecord of
#: PredictionLog records that TF Serving and ``gfm serve`` replay once after
#: loading the version, before serving it (``tfgnn_gfm.serving.warmup``).
SERVING_WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"
TABLES = ("items", "interactions", "users")
TABLE_SUFFIXES = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".json", ".json.gz",
                  ".parquet")



class ArtifactError(FileNotFoundError):
  """Raised when a stage's input directory lacks what the stage needs."""



def cut_extra(cut: int | None) -> dict[str, Any]:
  """A manifest's cut, in its one place: the top-level ``cut`` (epoch
  seconds; None when there is none) and ``cut_utc`` (for people)."""
  if cut is None:
    return {"cut": None}
  return {"cut": int(cut), "cut_utc": format_time(int(cut))}


@dataclasses.dataclass(frozen=True)
class StageDir:
  """A stage's output directory: its manifest and named files."""

  root: pathlib.Path

  def __post_init__(self):
    object.__setattr__(self, "root", pathlib.Path(self.root))

  @property
  def manifest_path(self) -> pathlib.Path:
    return self.root / MANIFEST_NAME

  def read_manifest(self) -> dict[str, Any]:
    """Returns the stage's manifest, or raises ArtifactError naming the path."""
    if not self.manifest_path.exists():
      raise ArtifactError(
          f"{self.root} has no {MANIFEST_NAME}: it is not the output of a "
          "finished tfgnn-gfm stage (run that stage first)")
    return json.loads(self.manifest_path.read_text(encoding="utf-8"))

  def _input_path(self, name: str) -> pathlib.Path | None:
    """The path of input ``name`` recorded in the manifest, or None."""
    entry = self.read_manifest().get("inputs", {}).get(name)
    path = entry.get("path") if isinstance(entry, Mapping) else None
    return pathlib.Path(path) if path else None

  def _config(self) -> dict[str, Any]:
    config = self.read_manifest().get("config")
    return dict(config) if isinstance(config, Mapping) else {}

  def cut(self) -> int | None:
    """The stage's cut (epoch seconds; nothing at or after it was read), or
    None when not recorded. Every manifest keeps it in one place, the
    top-level ``cut`` (``cut_extra``)."""
    cut = self.read_manifest().get("cut")
    return None if cut is None else int(cut)


@dataclasses.dataclass(frozen=True)
class DatasetDir(StageDir):
  """Input tables of the data contract (synthetic, imported or the user's own).

  Layout: ``items.<ext>``, ``interactions.<ext>``, optional ``users.<ext>``,
  where ``<ext>`` is one of TABLE_SUFFIXES; plus ``manifest.json`` when written
  by ``gfm synth`` or ``gfm import``. A user's own folder needs no manifest.
  """

  def table_path(self, table: str, required: bool = True
                 ) -> pathlib.Path | None:
    """Finds ``<table>.<ext>`` in the folder.

    Args:
      table: one of TABLES.
      required: raise if it is missing (users is optional in the contract).

    Returns:
      The path, or None when an optional table is absent.
    """
    found = [self.root / (table + s) for s in TABLE_SUFFIXES
             if (self.root / (table + s)).exists()]
    if len(found) > 1:
      raise ArtifactError(
          f"{self.root} holds several files for table {table!r}: "
          f"{[p.name for p in found]}; keep one")
    if not found:
      if required:
        raise ArtifactError(
            f"{self.root} has no {table} table (expected one of "
            f"{', '.join(table + s for s in TABLE_SUFFIXES)})")
      return None
    return found[0]

  def output_path(self, table: str, fmt: str = "csv",
                  compress: bool = False) -> pathlib.Path:
    """Where a writer puts ``table`` in format ``fmt`` (csv, jsonl, parquet)."""
    suffix = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet"}[fmt]
    if compress and fmt != "parquet":
      suffix += ".gz"
    return self.root / (table + suffix)

  @property
  def truth_dir(self) -> pathlib.Path:
    """Planted truth of a synthetic dataset (not part of the contract)."""
    return self.root / "truth"


@dataclasses.dataclass(frozen=True)
class ValidationDir(StageDir):
  """Output of ``gfm validate``: dead letters and the summary."""

  @property
  def dead_letter_path(self) -> pathlib.Path:
    return self.root / "dead_letter.jsonl"

  @property
  def summary_path(self) -> pathlib.Path:
    return self.root / "summary.json"


@dataclasses.dataclass(frozen=True)
class TextEncoderDir(StageDir):
  """A built text encoder: a SavedModel loadable with hub.KerasLayer."""

  @property
  def saved_model(self) -> pathlib.Path:
    return self.root / "saved_model"


@dataclasses.dataclass(frozen=True)
class GraphDir(StageDir):
  """Output of the Beam graph pipeline (``gfm build-graph``)."""

  def outputs(self) -> dict[str, str]:
    """What each output of the graph stage is, by file name (the graph
    manifest's ``outputs``)."""
    return {
        self.schema_path.name: "TF-GNN GraphSchema of the graph (text proto)",
        self.full_graph_path.name:
            "the whole graph as one GraphTensor (one tf.Example; "
            "tfgnn.parse_single_example with the schema's spec)",
        f"{self.sharded_dir.name}/":
            "TF-GNN unigraph format: per node/edge set tf.Example shard files "
            "and graph_schema.pbtxt with metadata.filename entries (input of "
            "TF-GNN's Beam sampler)",
        f"{self.vocab_dir.name}/<node set>.txt":
            "item ids in node order, one per line",
        self.dead_letter_path.name: "every rejected input row with its reason",
        self.summary_path.name:
            "run summary: rows, dead letters per reason, cut, nodes, edges, "
            "pairs, caps",
        self.stats_path.name: "nodes and edges per set, degree distribution",
        self.stats_plot_path.name: "plot of graph_stats.json",
        self.manifest_path.name: "config, input fingerprints, counts, timing",
    }

  @property
  def schema_path(self) -> pathlib.Path:
    return self.root / "graph_schema.pbtxt"

  @property
  def full_graph_path(self) -> pathlib.Path:
    """The whole graph as one GraphTensor (tf.Example TFRecord)."""
    return self.root / "graph.tfrecord"

  @property
  def sharded_dir(self) -> pathlib.Path:
    """Node and edge sets as sharded tf.Example files for TF-GNN's sampler."""
    return self.root / "sharded"

  @property
  def vocab_dir(self) -> pathlib.Path:
    return self.root / "vocab"

  def vocab_path(self, node_set: str) -> pathlib.Path:
    return self.vocab_dir / f"{node_set}.txt"

  @property
  def dead_letter_path(self) -> pathlib.Path:
    return self.root / "dead_letter.jsonl"

  @property
  def stats_path(self) -> pathlib.Path:
    return self.root / "graph_stats.json"

  @property
  def stats_plot_path(self) -> pathlib.Path:
    return self.root / "graph_stats.png"

  @property
  def summary_path(self) -> pathlib.Path:
    """The run summary: counts of rows, dead letters by reason, nodes, edges."""
    return self.root / "summary.json"

  @property
  def sharded_schema_path(self) -> pathlib.Path:
    """The schema copy whose ``metadata.filename`` entries name the shards."""
    return self.sharded_dir / "graph_schema.pbtxt"

  @staticmethod
  def sharded_filename(set_type: str, set_name: str, num_shards: int) -> str:
    """A set's ``metadata.filename`` in TF-GNN's ``name@N`` form.

    Args:
      set_type: ``"nodes"`` or ``"edges"``.
      set_name: the node or edge set.
      num_shards: the number of shard files.

    Returns:
      The file name relative to ``sharded_dir``, e.g.
      ``nodes-podcast.tfrecord@8`` (TF-GNN expands it to
      ``nodes-podcast.tfrecord-?????-of-00008``).
    """
    return f"{set_type}-{set_name}.tfrecord@{num_shards}"

  def sharded_path(self, set_type: str, set_name: str, shard: int,
                   num_shards: int) -> pathlib.Path:
    """One shard file of a node or edge set in the sharded format."""
    return self.sharded_dir / (f"{set_type}-{set_name}.tfrecord-"
                               f"{shard:05d}-of-{num_shards:05d}")

  def write_manifest(self, *, config: Mapping[str, Any], cut: int,
                     text_encoder_path: str | os.PathLike | None,
                     input_files: Mapping[str, Any],
                     inputs: Mapping[str, str | os.PathLike] | None = None,
                     counts: Mapping[str, Any] | None = None,
                     metrics: Mapping[str, Any] | None = None,
                     extra: Mapping[str, Any] | None = None) -> pathlib.Path:
    """Writes the graph's manifest with its hand-off keys.

    Args:
      config: the GraphBuildConfig as a dict.
      cut: the resolved cut (epoch seconds).
      text_encoder_path: the text encoder the node texts were encoded with.
      input_files: table -> the file (or files) read; ``items`` is re-read
        by ``gfm embed``.
      inputs: name -> local input path to fingerprint.
      counts, metrics, extra: as ``write_manifest``.

    Returns:
      The manifest's path.
    """
    return write_manifest(self.root, stage="build_graph", config={
        **config, "text_encoder_path": (None if text_encoder_path is None
                                        else str(text_encoder_path))},
                          inputs=inputs, counts=counts, metrics=metrics,
                          extra={**(extra or {}), **cut_extra(cut),
                                 "input_files": dict(input_files)})

  def cut(self) -> int | None:
    """The resolved cut (epoch seconds), or None when not recorded (outputs
    of earlier versions kept it as ``config.resolved_cut``)."""
    cut = super().cut()
    if cut is None:
      cut = self._config().get("resolved_cut")
    return None if cut is None else int(cut)

  def text_encoder(self) -> str | None:
    """The text encoder the node texts were encoded with.

    Returns:
      The built encoder's path when it still exists, else the configured
      handle (``builtin:...`` rebuilds the same encoder), or None.
    """
    config = self._config()
    path = config.get("text_encoder_path")
    if path and pathlib.Path(path).exists():
      return str(path)
    return config.get("text_encoder")

  def item_files(self) -> list[str]:
    """The items file(s) the graph was built from (empty when unrecorded)."""
    return self.input_files("items")

  def input_files(self, table: str) -> list[str]:
    """The file(s) of a contract table the graph was built from (empty when
    unrecorded)."""
    files = (self.read_manifest().get("input_files") or {}).get(table) or []
    return [files] if isinstance(files, str) else [str(f) for f in files]


@dataclasses.dataclass(frozen=True)
class HGNNDir(StageDir):
  """Output of ``gfm pretrain``: the trained static-layer encoder."""

  @property
  def keras_model(self) -> pathlib.Path:
    """The encoder as a Keras SavedModel (``tf.keras.models.load_model``)."""
    return self.root / "encoder"

  @property
  def export_dir(self) -> pathlib.Path:
    """Inference export: serialized GraphTensors in, embeddings out."""
    return self.root / "export"

  @property
  def schema_path(self) -> pathlib.Path:
    """GraphSchema of the encoder's input (and of the export's examples)."""
    return self.root / "input_schema.pbtxt"

  @property
  def metrics_path(self) -> pathlib.Path:
    return self.root / "metrics.json"

  @property
  def history_path(self) -> pathlib.Path:
    return self.root / "history.json"

  @property
  def plot_path(self) -> pathlib.Path:
    return self.root / "pretrain.png"

  @property
  def checkpoint_dir(self) -> pathlib.Path:
    return self.root / "checkpoints"

  @property
  def log_dir(self) -> pathlib.Path:
    """TensorBoard logs."""
    return self.root / "logs"

  @property
  def beam_samples_dir(self) -> pathlib.Path:
    """Training subgraphs from TF-GNN's Beam sampler (``--sampler beam``)."""
    return self.root / "beam_samples"

  @property
  def beam_samples_schema_path(self) -> pathlib.Path:
    """GraphSchema of the Beam samples (node ``#id`` and edges only)."""
    return self.beam_samples_dir / "graph_schema.pbtxt"

  @property
  def beam_held_out_edges_path(self) -> pathlib.Path:
    """Held-out directed edges the Beam step removes before sampling."""
    return self.beam_samples_dir / "held_out_edges.tfrecord"

  def beam_sampling_spec_path(self, node_set: str) -> pathlib.Path:
    """The TF-GNN SamplingSpec rooted at ``node_set`` (text proto)."""
    return self.beam_samples_dir / f"sampling_spec-{node_set}.pbtxt"

  def beam_sampler_artifacts_dir(self, node_set: str) -> pathlib.Path:
    """TF-GNN's sampling-program artifacts for seeds of ``node_set``."""
    return self.beam_samples_dir / "sampler_artifacts" / node_set

  def beam_samples_prefix(self, round_index: int, node_set: str
                          ) -> pathlib.Path:
    """Shard prefix of one round's samples of ``node_set`` (TFRecords of
    GraphTensor ``tf.Example``s; shards end ``-SSSSS-of-NNNNN``)."""
    return (self.beam_samples_dir / f"round-{round_index:03d}" /
            f"{node_set}.tfrecord")

  def write_manifest(self, *, config: Mapping[str, Any],
                     inputs: Mapping[str, str | os.PathLike] | None = None,
                     counts: Mapping[str, Any] | None = None,
                     metrics: Mapping[str, Any] | None = None,
                     extra: Mapping[str, Any] | None = None,
                     cut: int | None = None) -> pathlib.Path:
    """Writes the pretraining manifest (its config holds the fanouts).

    Args:
      config: the PretrainConfig as a dict (``fanouts`` is handed off).
      inputs: name -> input path (``graph``: the GraphDir trained on).
      counts, metrics, extra: as ``write_manifest``.
      cut: the cut of the graph trained on (epoch seconds), or None.

    Returns:
      The manifest's path.
    """
    if "fanouts" not in config:
      raise ValueError("the pretraining config must hold its fanouts")
    return write_manifest(self.root, stage="pretrain", config=config,
                          inputs=inputs, counts=counts, metrics=metrics,
                          extra={**(extra or {}), **cut_extra(cut)})

  def fanouts(self) -> tuple[int, ...]:
    """The sampling fanouts of pretraining (``gfm embed`` samples with them).

    Raises:
      ArtifactError: when the manifest records none.
    """
    fanouts = self._config().get("fanouts")
    if not fanouts:
      raise ArtifactError(f"{self.manifest_path} records no fanouts: rerun "
                          "gfm pretrain")
    return tuple(int(f) for f in fanouts)

  def num_layers(self) -> int:
    """The encoder's message-passing layers (the Beam embed's receptive field
    hops): the recorded ``num_layers``, else one per fanout (the config
    keeps them equal).

    Raises:
      ArtifactError: when the manifest records neither.
    """
    layers = self._config().get("num_layers")
    return int(layers) if layers else len(self.fanouts())


#: The columns of ``EmbeddingsDir.index_path``, in order.
EMBEDDINGS_INDEX_COLUMNS = ("item_id", "item_type", "node_set", "source", "row")


@dataclasses.dataclass
class Embeddings:
  """What ``gfm embed`` hands to the two-tower stages: one row per item.

  Attributes:
    index: a frame with ``EMBEDDINGS_INDEX_COLUMNS``: the item, its type, the
      node set that embedded it, its ``source`` (``graph``: a graph node;
      ``inductive``: from its text alone; ``parent``: its root's vector) and
      its ``row`` (0..n-1, the row of both matrices).
    vectors: float32 [n, dim], the HGNN vectors.
    text: float32 [n, text_dim], the items' text embeddings.
  """

  index: Any  # pandas.DataFrame (pandas is imported only when read)
  vectors: Any  # numpy.ndarray
  text: Any  # numpy.ndarray

  def __post_init__(self):
    if not len(self.index) == len(self.vectors) == len(self.text):
      raise ValueError(
          f"embeddings: the index has {len(self.index)} rows but the vectors "
          f"have {len(self.vectors)} and {len(self.text)}")


@dataclasses.dataclass(frozen=True)
class EmbeddingsDir(StageDir):
  """Output of ``gfm embed``: one vector per item, every item type.

  ``write_embeddings`` and ``read`` are the one writer and reader of its
  files (the index, the HGNN vectors, the text vectors).
  """

  def write_embeddings(self, embeddings: Embeddings) -> None:
    """Writes the index and both matrices (float32) into the directory."""
    import numpy as np
    index = embeddings.index.loc[:, list(EMBEDDINGS_INDEX_COLUMNS)]
    np.save(self.vectors_path, np.asarray(embeddings.vectors, np.float32))
    np.save(self.text_vectors_path, np.asarray(embeddings.text, np.float32))
    index.to_csv(self.index_path, index=False)

  def read(self) -> Embeddings:
    """The embeddings, rows in ``row`` order (older outputs: file order).

    Raises:
      ValueError: when the index and the matrices disagree in length.
    """
    import numpy as np
    import pandas as pd
    index = pd.read_csv(self.index_path, dtype={"item_id": str,
                                                "item_type": str},
                        keep_default_na=False)
    vectors = np.load(self.vectors_path).astype(np.float32, copy=False)
    text = np.load(self.text_vectors_path).astype(np.float32, copy=False)
    try:
      embeddings = Embeddings(index=index, vectors=vectors, text=text)
    except ValueError as e:
      raise ValueError(f"{self.root}: {e}") from None
    if "row" in index.columns and not np.array_equal(
        index["row"].to_numpy(), np.arange(len(index))):
      embeddings.index = index.sort_values("row").reset_index(drop=True)
    return embeddings

  @property
  def vectors_path(self) -> pathlib.Path:
    """float32 [num_items, dim] (numpy .npy), row i = index row i."""
    return self.root / "embeddings.npy"

  @property
  def text_vectors_path(self) -> pathlib.Path:
    """float32 [num_items, text_dim]: the items' text embeddings, same rows."""
    return self.root / "text_embeddings.npy"

  @property
  def index_path(self) -> pathlib.Path:
    """CSV: item_id, item_type, row, source (graph, inductive, parent)."""
    return self.root / "index.csv"

  def write_manifest(self, *, config: Mapping[str, Any],
                     graph: str | os.PathLike, hgnn: str | os.PathLike,
                     cut: int | None,
                     counts: Mapping[str, Any] | None = None,
                     metrics: Mapping[str, Any] | None = None,
                     extra: Mapping[str, Any] | None = None) -> pathlib.Path:
    """Writes the embeddings manifest with its hand-off keys.

    Args:
      config: the EmbedConfig as a dict.
      graph: the GraphDir embedded.
      hgnn: the encoder used (``HGNNDir.keras_model``).
      cut: the graph's cut (the two-tower stages' default cut).
      counts, metrics, extra: as ``write_manifest``.

    Returns:
      The manifest's path.
    """
    return write_manifest(self.root, stage="embed", config=config,
                          inputs={"graph": graph, "hgnn": hgnn},
                          counts=counts, metrics=metrics,
                          extra={**(extra or {}), **cut_extra(cut)})

  def graph_dir(self) -> "GraphDir | None":
    """The GraphDir embedded, or None when not recorded."""
    path = self._input_path("graph")
    return None if path is None else GraphDir(path)


#: The columns of ``TwoTowerDir.items_path``, in order.
TWO_TOWER_ITEM_COLUMNS = ("row", "item_id", "item_type", "root_row",
                          "candidate", "vector_known", "score_offset")


@dataclasses.dataclass
class TwoTowerItems:
  """The item side of a trained two-tower model, one row per catalog item.

  Attributes:
    table: a frame with ``TWO_TOWER_ITEM_COLUMNS``: the item's row, id and
      type, its root's row (episodes roll up), whether it is a candidate,
      whether its HGNN vector came from the graph (``vector_known``) and the
      popularity prior added to user queries' scores (``score_offset``; 0
      without one).
    embeddings: float32 [N, D], the item tower's output of every row.
  """

  table: Any  # pandas.DataFrame
  embeddings: Any  # numpy.ndarray


@dataclasses.dataclass(frozen=True)
class TwoTowerDir(StageDir):
  """Output of ``gfm train-2t``: the dynamic layer's towers and item vectors.

  ``write_items`` / ``read_items`` and ``write_features`` /
  ``read_features`` are the one writer and reader of ``items.csv`` with
  ``item_embeddings.npy`` and of ``features.json`` (``gfm export`` reads
  them).
  """

  def write_items(self, items: TwoTowerItems) -> None:
    """Writes the item rows and their tower output."""
    import numpy as np
    np.save(self.item_embeddings_path,
            np.asarray(items.embeddings, np.float32))
    items.table.loc[:, list(TWO_TOWER_ITEM_COLUMNS)].to_csv(
        self.items_path, index=False)

  def read_items(self) -> TwoTowerItems:
    """The item rows and their tower output.

    Raises:
      ArtifactError: when a file is missing or the two disagree in length.
    """
    import numpy as np
    import pandas as pd
    for path in (self.items_path, self.item_embeddings_path):
      if not path.exists():
        raise ArtifactError(f"{self.root} lacks {path.name}: rerun gfm "
                            "train-2t")
    table = pd.read_csv(self.items_path, dtype={"item_id": str,
                                                "item_type": str},
                        keep_default_na=False)
    embeddings = np.load(self.item_embeddings_path).astype(np.float32)
    if len(table) != len(embeddings):
      raise ArtifactError(f"{self.root}: items.csv has {len(table)} rows, "
                          f"item_embeddings.npy {len(embeddings)}")
    return TwoTowerItems(table=table, embeddings=embeddings)

  def write_features(self, spec: Mapping[str, Any]) -> None:
    """Writes ``features.json``: the towers' inputs and vocabularies."""
    self.features_path.write_text(json.dumps(spec, indent=2) + "\n",
                                  encoding="utf-8")

  def read_features(self) -> dict[str, Any]:
    """``features.json``, with ``rollup_episodes`` from the manifest where
    an older output's spec lacks it.

    Raises:
      ArtifactError: when the file is missing.
    """
    if not self.features_path.exists():
      raise ArtifactError(f"{self.root} lacks {self.features_path.name}: "
                          "rerun gfm train-2t")
    spec = json.loads(self.features_path.read_text(encoding="utf-8"))
    spec.setdefault("rollup_episodes", self.rollup_episodes())
    return spec

  @property
  def user_tower(self) -> pathlib.Path:
    """The user tower as a Keras SavedModel (``tf.keras.models.load_model``)."""
    return self.root / "user_tower"

  @property
  def item_tower(self) -> pathlib.Path:
    """The item tower as a Keras SavedModel."""
    return self.root / "item_tower"

  @property
  def item_embeddings_path(self) -> pathlib.Path:
    """float32 [num_items, dim] (.npy): item tower output, row = items row."""
    return self.root / "item_embeddings.npy"

  @property
  def items_path(self) -> pathlib.Path:
    """CSV: row, item_id, item_type, root_row, candidate, vector_known,
    score_offset (the popularity prior added to user queries' dot product;
    0 without one)."""
    return self.root / "items.csv"

  @property
  def features_path(self) -> pathlib.Path:
    """JSON: the towers' inputs, vocabularies, standardisation and the cut."""
    return self.root / "features.json"

  @property
  def history_path(self) -> pathlib.Path:
    """JSON: training loss per epoch."""
    return self.root / "history.json"

  def write_manifest(self, *, config: Mapping[str, Any],
                     inputs: Mapping[str, str | os.PathLike],
                     embeddings: str | os.PathLike, cut: int,
                     split: Mapping[str, Any],
                     counts: Mapping[str, Any] | None = None,
                     metrics: Mapping[str, Any] | None = None) -> pathlib.Path:
    """Writes the two-tower manifest with its hand-off keys.

    Args:
      config: the TwoTowerConfig as a dict (``rollup_episodes`` is read by
        the exports).
      inputs: the dataset's table files.
      embeddings: the EmbeddingsDir trained on (the exports follow it back
        to the text encoder).
      cut: the cut (epoch seconds).
      split: ``TimeSplit.to_dict()``.
      counts, metrics: as ``write_manifest``.

    Returns:
      The manifest's path.
    """
    return write_manifest(self.root, stage="train_2t", config=config,
                          inputs={**inputs, "embeddings": embeddings},
                          counts=counts, metrics=metrics,
                          extra={**cut_extra(cut), "split": dict(split)})

  def split(self) -> dict[str, Any]:
    """The time split trained on (``TimeSplit.to_dict()``), or {}."""
    return dict(self.read_manifest().get("split") or {})

  def rollup_episodes(self) -> bool:
    """Whether episodes were rolled up to their show (default True)."""
    return bool(self._config().get("rollup_episodes", True))

  def embeddings_dir(self) -> EmbeddingsDir | None:
    """The EmbeddingsDir trained on, or None when not recorded."""
    path = self._input_path("embeddings")
    return None if path is None else EmbeddingsDir(path)

  def text_encoder(self) -> str | None:
    """The text encoder of the item texts, found through the manifests.

    Follows two-tower -> embeddings -> graph (``GraphDir.text_encoder``).

    Returns:
      The encoder, or None when a manifest of the chain is missing or
      records no link.
    """
    try:
      embeddings = self.embeddings_dir()
      graph = embeddings.graph_dir() if embeddings is not None else None
      return graph.text_encoder() if graph is not None else None
    except ArtifactError:
      return None


@dataclasses.dataclass(frozen=True)
class ReportDir(StageDir):
  """A whole run's report (``gfm demo``): Markdown, plots, REST calls."""

  @property
  def report_path(self) -> pathlib.Path:
    """Markdown: every stage's figures, tables and plots."""
    return self.root / "report.md"

  @property
  def serving_path(self) -> pathlib.Path:
    """JSON: the REST requests sent to the served export and the answers."""
    return self.root / "serving.json"

  @property
  def stages_plot_path(self) -> pathlib.Path:
    """PNG: seconds per stage (bar chart)."""
    return self.root / "stages.png"


@dataclasses.dataclass(frozen=True)
class ExportSummary:
  """What the latest ``gfm export`` under a base path wrote (its manifest).

  Attributes:
    version: the exported version (the same for every model).
    models: the model names exported (each ``BASE/<name>/<version>``).
    scann_recall: ScaNN index -> its recall@10 against brute force.
    recall_target: the ``--recall-target`` the indexes were tuned for.
    scann_modes: ScaNN index -> its mode (``brute_force``, ``tree_ah``, ...).
  """

  version: int
  models: tuple[str, ...]
  scann_recall: dict[str, float]
  recall_target: float
  scann_modes: dict[str, str]

  @classmethod
  def from_manifest(cls, manifest: Mapping[str, Any]) -> "ExportSummary":
    """Reads an export manifest (``BASE/manifest.json``, as ``export``
    returns it)."""
    metrics = manifest.get("metrics", {})
    return cls(
        version=int(manifest["version"]),
        models=tuple(manifest.get("models", ())),
        scann_recall=dict(metrics.get("scann_recall@10", {})),
        recall_target=float(metrics.get("recall_target", float("nan"))),
        scann_modes={name: p.get("mode") for name, p in
                     manifest.get("scann", {}).items()})


@dataclasses.dataclass(frozen=True)
class ExportDir(StageDir):
  """Output of ``gfm export``: a TF Serving model base path.

  Layout: ``BASE/<model name>/<integer version>/`` (a SavedModel, plus that
  version's ``manifest.json``), one model name per exported model; TF Serving
  (and ``gfm serve``) serve the highest version of each. ``BASE/manifest.json``
  describes the latest export and ``BASE/models.config`` is a ModelServerConfig
  for ``--model_config_file`` that points at this base path.
  """

  def model_dir(self, name: str) -> pathlib.Path:
    """``BASE/<name>``: what TF Serving's ``--model_base_path`` points at."""
    return self.root / name

  def version_dir(self, name: str, version: int) -> pathlib.Path:
    """``BASE/<name>/<version>``: one SavedModel."""
    return self.model_dir(name) / str(int(version))

  def warmup_path(self, name: str, version: int) -> pathlib.Path:
    """TF Serving's warm-up file of one version (replayed on load by TF
    Serving and ``gfm serve``)."""
    return self.version_dir(name, version) / SERVING_WARMUP_FILE

  def version_manifest_path(self, name: str, version: int) -> pathlib.Path:
    """The manifest of one exported version (TF Serving ignores it)."""
    return self.version_dir(name, version) / MANIFEST_NAME

  def versions(self, name: str) -> list[int]:
    """Integer versions present under ``BASE/<name>``, ascending."""
    folder = self.model_dir(name)
    if not folder.is_dir():
      return []
    return sorted(int(p.name) for p in folder.iterdir()
                  if p.is_dir() and p.name.isdigit())

  def next_version(self, names: tuple[str, ...]) -> int:
    """One more than the highest version of any of ``names`` (1 if none)."""
    return max([0] + [v for n in names for v in self.versions(n)]) + 1

  @property
  def models_config_path(self) -> pathlib.Path:
    """ModelServerConfig text proto with this base path's models."""
    return self.root / "models.config"

  def summary(self) -> ExportSummary:
    """The latest export's version, models and ScaNN recall (its manifest).

    Raises:
      ArtifactError: when the base path holds no export manifest.
    """
    return ExportSummary.from_manifest(self.read_manifest())


@dataclasses.dataclass(frozen=True)
class EvaluationDir(StageDir):
  """Output of ``gfm evaluate``: every model on one time split."""

  @property
  def results_path(self) -> pathlib.Path:
    """JSON: per model, seed, item type, slice and user group."""
    return self.root / "results.json"

  @property
  def table_path(self) -> pathlib.Path:
    """Markdown tables (mean ± std over seeds) and the verdict."""
    return self.root / "results.md"

  @property
  def summary_path(self) -> pathlib.Path:
    """Plain text: which model wins per item type and by how much."""
    return self.root / "summary.txt"

  @property
  def hr_plot_path(self) -> pathlib.Path:
    """PNG: HR@K per item type (all, new items, warm, cold users)."""
    return self.root / "hr_at_k.png"

  @property
  def metrics_plot_path(self) -> pathlib.Path:
    """PNG: MRR, coverage and cold-item HR per item type."""
    return self.root / "mrr_coverage.png"

  @property
  def claims_plot_path(self) -> pathlib.Path:
    """PNG: each claim's paired interval (``evaluation.claims``)."""
    return self.root / "claims.png"


@dataclasses.dataclass(frozen=True)
class RunLayout:
  """The directory tree of a whole pipeline run (``make demo`` writes one)."""

  root: pathlib.Path

  def __post_init__(self):
    object.__setattr__(self, "root", pathlib.Path(self.root))

  @property
  def data(self) -> DatasetDir:
    return DatasetDir(self.root / "data")

  @property
  def validation(self) -> ValidationDir:
    return ValidationDir(self.root / "validation")

  @property
  def graph(self) -> GraphDir:
    return GraphDir(self.root / "graph")

  @property
  def hgnn(self) -> HGNNDir:
    return HGNNDir(self.root / "hgnn")

  @property
  def embeddings(self) -> EmbeddingsDir:
    return EmbeddingsDir(self.root / "embeddings")

  @property
  def two_tower(self) -> TwoTowerDir:
    return TwoTowerDir(self.root / "two_tower")

  @property
  def evaluation(self) -> EvaluationDir:
    return EvaluationDir(self.root / "evaluation")

  @property
  def exports(self) -> ExportDir:
    return ExportDir(self.root / "exports")

  @property
  def report(self) -> ReportDir:
    return ReportDir(self.root / "report")
