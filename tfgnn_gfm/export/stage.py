"""The ``export`` stage: a two-tower directory in, a TF Serving base path out.

``export`` writes one new integer version of three models under ``BASE``
(``ExportDir``): ``gfm_retrieval`` (ScaNN), ``gfm_retrieval_bf`` (brute force,
stock TF ops) and ``gfm_user_tower``. Each version is written to a hidden
temporary sibling and renamed into place when complete, so a server polling
``BASE`` never sees half a version, and an existing version is never
overwritten.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pathlib
import tempfile
import time
from typing import Any, Mapping

import numpy as np
import pandas as pd
import tensorflow as tf

from tfgnn_gfm.artifacts import (
  ArtifactError,
  ExportDir,
  TwoTowerDir,
  atomic_directory,
  atomic_write_text,
  write_manifest,
)
from tfgnn_gfm.catalog import type_names as catalog_type_names
from tfgnn_gfm.config import config_to_dict
from tfgnn_gfm.export import config as cfg
from tfgnn_gfm.export import topk
from tfgnn_gfm.export.lookups import ItemLookup, UserFeatureResolver
from tfgnn_gfm.export.signatures import RetrievalModule, UserTowerModule
from tfgnn_gfm.serving import warmup
from tfgnn_gfm.serving.model_config import (
  ModelConfig,
  ModelServerConfig,
  model_server_config_text,
)
from tfgnn_gfm.serving.servable import signature_input_specs
from tfgnn_gfm.twotower.prior import offset_index
from tfgnn_gfm.twotower.repeats import RepeatPolicy

_LOG = logging.getLogger(__name__)
#: Saving a ScaNN index needs its op namespace whitelisted
#: (docs/DESIGN.md section 5.5).
SCANN_SAVE_OPTIONS = dict(namespace_whitelist=["Scann"])
RECALL_K = 10
MAX_TUNING_ROUNDS = 4


@dataclasses.dataclass
class ExportInputs:
  """Everything an export is built from (read by ``read_two_tower``).

  Attributes:
    user_tower: the trained user tower.
    item_tower: the trained item tower.
    item_embeddings: [N, D] item tower output of every item.
    items: frame with item_id, item_type, root_row, candidate (row order).
    features: the content of ``features.json``.
    text_encoder: handle of the text encoder of the item texts.
    inputs: name -> path of the inputs (for the manifest).
  """

  user_tower: tf.keras.Model
  item_tower: tf.keras.Model
  item_embeddings: np.ndarray
  items: pd.DataFrame
  features: dict[str, Any]
  text_encoder: str | None
  inputs: dict[str, str]

  @property
  def score_offset(self) -> np.ndarray | None:
    """[N] popularity prior of user queries (items.csv ``score_offset``),
    or None when the model has none."""
    if "score_offset" not in self.items:
      return None
    offset = self.items["score_offset"].to_numpy(np.float32)
    return offset if np.any(offset) else None

  def index_vectors(self, rows: np.ndarray) -> np.ndarray:
    """The retrieval index's vectors of ``rows``: item tower output, plus
    the score-offset column when the model has a popularity prior."""
    vectors = self.item_embeddings[rows]
    offset = self.score_offset
    if offset is None:
      return vectors
    return offset_index(vectors, offset[rows])


def read_two_tower(two_tower_dir: str | pathlib.Path,
                   text_encoder: str | None = None) -> ExportInputs:
  """Reads the output of ``gfm train-2t``.

  Args:
    two_tower_dir: the TwoTowerDir.
    text_encoder: overrides the text encoder found through the manifests.

  Returns:
    The export inputs.

  Raises:
    ArtifactError: when the directory is not a finished two-tower output.
  """
  from tfgnn_gfm.twotower.towers import load_tower
  layout = TwoTowerDir(pathlib.Path(two_tower_dir))
  layout.read_manifest()  # Raises ArtifactError for an unfinished output.
  for path in (layout.user_tower, layout.item_tower):
    if not path.exists():
      raise ArtifactError(f"{layout.root} lacks {path.name}: rerun gfm "
                          "train-2t")
  items = layout.read_items()
  features = layout.read_features()
  return ExportInputs(
      user_tower=load_tower(layout.user_tower),
      item_tower=load_tower(layout.item_tower),
      item_embeddings=items.embeddings, items=items.table,
      features=features,
      text_encoder=text_encoder or layout.text_encoder(),
      inputs={"two_tower": str(layout.root)})


@dataclasses.dataclass
class BuiltExport:
  """The in-memory modules of one export and what was measured on them."""

  retrieval_scann: RetrievalModule
  retrieval_bf: RetrievalModule
  user_tower: UserTowerModule
  scann_parameters: dict[str, dict[str, Any]]
  recall: dict[str, float]
  tuning: list[dict[str, Any]]
  counts: dict[str, Any]
  examples: dict[str, dict[str, Any]]


def _candidate_table(inputs: ExportInputs
                     ) -> tuple[np.ndarray, np.ndarray, list[str]]:
  items = inputs.items
  candidate = items["candidate"].astype(str).str.lower().isin(["true", "1"])
  rows = np.flatnonzero(candidate.to_numpy())
  if not len(rows):
    raise ValueError("the two-tower output has no candidate items")
  type_names = catalog_type_names(items["item_type"].iloc[rows])
  type_index = pd.Index(type_names).get_indexer(items["item_type"].iloc[rows])
  return rows.astype(np.int32), type_index.astype(np.int32), type_names


def _recall_queries(inputs: ExportInputs, resolver: UserFeatureResolver,
                    user_module: UserTowerModule, candidate_rows: np.ndarray,
                    count: int, seed: int) -> np.ndarray:
  """Half item queries (similar items), half user queries from random
  histories of 1 to 10 candidate items with unknown user columns."""
  rng = np.random.default_rng(seed)
  n_items = count // 2
  item_queries = inputs.item_embeddings[
      rng.choice(candidate_rows, n_items, replace=True)]
  if inputs.score_offset is not None:  # Item queries take no prior.
    item_queries = np.concatenate(
        [item_queries, np.zeros((len(item_queries), 1), np.float32)], axis=1)
  n_users = count - n_items
  ids = inputs.items["item_id"].to_numpy(object)
  history = np.full((n_users, 10), "", dtype=object)
  for i in range(n_users):
    picks = rng.choice(candidate_rows, rng.integers(1, 11), replace=True)
    history[i, :len(picks)] = ids[picks]
  request = {}
  for name, spec in resolver.input_specs().items():
    if name == "recent_item_ids":
      request[name] = tf.constant(history.astype(str))
    elif spec.dtype == tf.string:
      request[name] = tf.fill([n_users], "")
    elif spec.shape.rank == 2:
      request[name] = tf.zeros([n_users, spec.shape[1]], spec.dtype)
    else:
      request[name] = tf.fill([n_users], float("nan"))
  user_queries = user_module.serving_default(request)["query_embedding"]
  return np.concatenate([item_queries, user_queries.numpy()], axis=0)


def _measure_recall(retriever: topk.ScannTopK, queries: np.ndarray,
                    vectors: np.ndarray, type_index: np.ndarray,
                    num_types: int) -> dict[str, float]:
  """Recall@10 of ScaNN against exact search, unfiltered and per type."""
  q = tf.constant(queries, tf.float32)
  k = tf.constant(RECALL_K)
  out = {}
  for t in [-1] + list(range(num_types)):
    rows = (np.arange(len(vectors)) if t < 0 else
            np.flatnonzero(type_index == t))
    if not len(rows):
      continue
    exact = rows[topk.exact_top_k(queries, vectors[rows], RECALL_K)]
    _, got = retriever(q, k, tf.fill([len(queries)], t))
    out["all" if t < 0 else f"type_{t}"] = topk.recall_at_k(got.numpy(),
                                                            exact)
  return out


def build_export(inputs: ExportInputs,
                 config: cfg.ExportConfig) -> BuiltExport:
  """Builds the three modules, measures ScaNN's recall and tunes it.

  Args:
    inputs: what ``read_two_tower`` read (or an equivalent built in memory).
    config: the export options.

  Returns:
    The modules with their measurements.
  """
  config.validate()
  features = inputs.features
  items = inputs.items
  rollup = bool(features.get("rollup_episodes", True))
  lookup = ItemLookup(items["item_id"].tolist(),
                      items["root_row"].to_numpy(np.int32),
                      items["item_type"].tolist())
  resolver = UserFeatureResolver(features["users"],
                                 features["user_tower_inputs"], lookup,
                                 rollup=rollup)
  has_offset = inputs.score_offset is not None
  user_module = UserTowerModule(user_tower=inputs.user_tower,
                                resolver=resolver, score_offset=has_offset)
  user_module.signatures()  # Traces serving_default for the recall queries.
  candidate_rows, type_index, type_names = _candidate_table(inputs)
  vectors = inputs.index_vectors(candidate_rows)
  num_types = len(type_names)
  per_type = topk.per_type_counts(type_index, num_types)
  params = {None: topk.scann_parameters(len(candidate_rows), config)}
  params.update({t: topk.scann_parameters(c, config)
                 for t, c in enumerate(per_type)})
  queries = _recall_queries(inputs, resolver, user_module, candidate_rows,
                            config.recall_queries, config.seed)
  start = time.perf_counter()
  scann = topk.ScannTopK(vectors, type_index, num_types, params)
  build_seconds = time.perf_counter() - start
  _LOG.info("ScaNN indexes built in %.1f s", build_seconds)
  tuning = []
  for round_ in range(MAX_TUNING_ROUNDS + 1):
    recall = _measure_recall(scann, queries, vectors, type_index, num_types)
    current = {k: layer.parameters for k, layer in scann.indexes.items()}
    tuning.append({"round": round_, "recall@10": recall,
                   "parameters": {("all" if k is None else type_names[k]):
                                  p.to_dict() for k, p in current.items()}})
    _LOG.info("ScaNN round %d: recall@10 %s", round_, recall)
    short = min(recall.values()) < config.recall_target
    tunable = any(p.mode != "brute_force" for p in current.values())
    if not (short and tunable and config.auto_tune) or (
        round_ == MAX_TUNING_ROUNDS):
      break
    scann.widen()
  params = {k: layer.parameters for k, layer in scann.indexes.items()}
  if min(recall.values()) < config.recall_target:
    _LOG.warning("ScaNN recall@10 %.3f is below the target %.2f",
                 min(recall.values()), config.recall_target)
  text_encoder = None
  if inputs.text_encoder:
    from tfgnn_gfm.text.encoder import load_text_encoder
    text_encoder = load_text_encoder(inputs.text_encoder)
  else:
    raise ValueError("no text encoder for the search signature: pass "
                     "--text-encoder")
  common = dict(user_tower=inputs.user_tower, item_tower=inputs.item_tower,
                resolver=resolver, items=lookup,
                item_embeddings=inputs.item_embeddings,
                candidate_rows=candidate_rows, type_names=type_names,
                max_k=config.max_k, text_encoder=text_encoder,
                item_tower_spec=features["items"], score_offset=has_offset,
                drop_consumed=RepeatPolicy.from_dict(
                    features.get("repeats")).drop_mask(items["item_type"]))
  retrieval_scann = RetrievalModule(retriever=scann, name=cfg.RETRIEVAL_SCANN,
                                    **common)
  retrieval_bf = RetrievalModule(
      retriever=topk.BruteForceTopK(vectors, type_index, num_types),
      name=cfg.RETRIEVAL_BRUTE_FORCE, **common)
  readable = {("all" if k is None else type_names[k]): p.to_dict()
              for k, p in params.items()}
  counts = {"items": int(len(items)), "candidates": int(len(candidate_rows)),
            "scann_build_seconds": round(build_seconds, 1),
            "candidates_by_type": dict(zip(type_names, per_type)),
            "recall_queries": int(len(queries))}
  recall_named = {("all" if k == "all" else
                   type_names[int(k.split("_")[1])]): round(v, 4)
                  for k, v in recall.items()}
  return BuiltExport(retrieval_scann=retrieval_scann,
                     retrieval_bf=retrieval_bf, user_tower=user_module,
                     scann_parameters=readable, recall=recall_named,
                     tuning=tuning, counts=counts,
                     examples=example_requests(inputs, resolver, type_names))


def example_requests(inputs: ExportInputs, resolver: UserFeatureResolver,
                     type_names: list[str]) -> dict[str, dict[str, Any]]:
  """One row-format request per signature, with real ids (for docs, the
  demo and smoke tests)."""
  items = inputs.items
  candidates = items[items["candidate"].astype(str).str.lower().isin(
      ["true", "1"])]
  ids = candidates["item_id"].tolist()
  user: dict[str, Any] = {"recent_item_ids": ids[:3]}
  for name, spec in resolver.input_specs().items():
    if name == "recent_item_ids":
      continue
    column = name[len("user_"):]
    vocab = inputs.features["users"].get("categorical_vocab", {}).get(column)
    if spec.dtype == tf.string:
      user[name] = vocab[0] if vocab else ""
    elif spec.shape.rank == 2:
      user[name] = [0.0] * int(spec.shape[1])
    else:
      user[name] = 0.0
  return {
      "serving_default": {"signature_name": "serving_default",
                          "instances": [{**user, "k": 10,
                                         "item_type": ""}]},
      "similar_items": {"signature_name": "similar_items",
                        "instances": [{"item_id": ids[0], "k": 10,
                                       "item_type": type_names[0]}]},
      "search": {"signature_name": "search",
                 "instances": [{"query": "a history of the roman empire",
                                "k": 10, "item_type": ""}]},
      "embed_items": {"signature_name": "embed_items",
                      "instances": [{"item_id": ids[0]}]},
      "user_tower": {"signature_name": "serving_default",
                     "instances": [user]},
  }


def models_config_text(base: ExportDir) -> str:
  """A ModelServerConfig text proto serving the three models from ``base``.

  Args:
    base: the export's base path.

  Returns:
    The ``--model_config_file`` text (absolute base paths, as TF Serving
    requires).
  """
  return model_server_config_text(ModelServerConfig(tuple(
      ModelConfig(name=name, base_path=str(base.model_dir(name).resolve()))
      for name in cfg.MODEL_NAMES)))


def _save(module: tf.Module, signatures: Mapping[str, Any],
          final: pathlib.Path, scann: bool, manifest: Mapping[str, Any],
          examples: list[dict[str, Any]]) -> None:
  """Saves one version with its manifest and TF Serving warm-up file (one
  PredictionLog per example request)."""
  options = tf.saved_model.SaveOptions(
      **(SCANN_SAVE_OPTIONS if scann else {}))
  specs = {key: signature_input_specs(function)
           for key, function in signatures.items()}
  logs = warmup.example_logs(examples, specs, model_name=final.parent.name)
  with atomic_directory(final) as tmp:
    tf.saved_model.save(module, str(tmp), signatures=dict(signatures),
                        options=options)
    warmup.write_warmup_file(tmp, logs)
    write_manifest(tmp, **manifest)


def export(two_tower_dir: str | pathlib.Path, base_dir: str | pathlib.Path,
           config: cfg.ExportConfig) -> dict[str, Any]:
  """``gfm export``: writes a new version of the three models under BASE.

  Args:
    two_tower_dir: output of ``gfm train-2t``.
    base_dir: the TF Serving model base path (created when missing).
    config: export options.

  Returns:
    The export's manifest (also ``BASE/manifest.json``).

  Raises:
    ValueError: when ``config.version`` already exists.
  """
  config.validate()
  base = ExportDir(pathlib.Path(base_dir))
  version = config.version or base.next_version(cfg.MODEL_NAMES)
  taken = [n for n in cfg.MODEL_NAMES if version in base.versions(n)]
  if taken:
    raise ValueError(f"version {version} of {taken} already exists under "
                     f"{base.root}; a version is never overwritten (omit "
                     "--version to write the next one)")
  start = time.perf_counter()
  inputs = read_two_tower(two_tower_dir, config.text_encoder)
  built = build_export(inputs, config)
  build_seconds = time.perf_counter() - start
  metrics = {"scann_recall@10": built.recall,
             "scann_recall@10_min": min(built.recall.values()),
             "recall_target": config.recall_target,
             "recall_target_met": min(built.recall.values()) >=
                                  config.recall_target,
             "build_seconds": round(build_seconds, 1)}
  extra = {"version": version, "scann": built.scann_parameters,
           "scann_tuning": built.tuning, "examples": built.examples,
           "text_encoder": inputs.text_encoder,
           "models": list(cfg.MODEL_NAMES)}
  manifest = dict(stage="export", config=config_to_dict(config),
                  inputs=inputs.inputs, counts=built.counts, metrics=metrics,
                  extra=extra)
  start = time.perf_counter()
  retrieval_examples = [built.examples[k] for k in (
      "serving_default", "similar_items", "search", "embed_items")]
  for name, module, scann, examples in (
      (cfg.USER_TOWER, built.user_tower, False,
       [built.examples["user_tower"]]),
      (cfg.RETRIEVAL_BRUTE_FORCE, built.retrieval_bf, False,
       retrieval_examples),
      (cfg.RETRIEVAL_SCANN, built.retrieval_scann, True, retrieval_examples)):
    _LOG.info("saving %s version %d", name, version)
    _save(module, module.signatures(), base.version_dir(name, version),
          scann, {**manifest, "extra": {**extra, "model": name}}, examples)
  metrics["save_seconds"] = round(time.perf_counter() - start, 1)
  atomic_write_text(base.models_config_path, models_config_text(base))
  with tempfile.TemporaryDirectory(dir=base.root, prefix=".manifest-") as tmp:
    os.replace(write_manifest(tmp, **manifest), base.manifest_path)
  return base.read_manifest()
