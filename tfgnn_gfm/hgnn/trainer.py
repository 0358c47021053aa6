"""Trains the HGNN encoder by link prediction on sampled subgraphs."""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import time
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf

from tfgnn_gfm.distribute import is_multi_worker, local_share, make_strategy
from tfgnn_gfm.hgnn.config import PretrainConfig
from tfgnn_gfm.hgnn.embedding import whole_graph_tensor
from tfgnn_gfm.hgnn.full_graph import (
  FullGraphBatcher,
  FullGraphLinkModel,
  resolve_mode,
)
from tfgnn_gfm.hgnn.graph_data import (
  TEXT_FEATURE,
  ItemGraph,
  LinkSplit,
  NodeSplit,
  removed_edges,
  split_links,
  split_new_nodes,
)
from tfgnn_gfm.hgnn.link_data import (
  LinkBatcher,
  LinkBatchSpec,
  batch_part,
  epoch_plan,
  link_dataset,
)
from tfgnn_gfm.hgnn.link_model import LinkPredictionModel
from tfgnn_gfm.hgnn.model import build_encoder, text_principal_components
from tfgnn_gfm.hgnn.sampling import Sampler, SubgraphSampler
from tfgnn_gfm.hgnn.structure import choose_local_share, structure_vectors

_LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class TrainResult:
  """What training produced.

  Attributes:
    encoder: the trained encoder (best validation weights).
    history: Keras history dict (loss, val_loss, ... per epoch).
    split: the train/validation split of links.
    epochs_run: epochs actually run (early stopping may end sooner).
    positives_seen: positive pairs processed in training.
    seconds: wall time of ``fit``.
    replicas: replicas that trained in sync (tf.distribute).
    beam: with ``sampler=beam``, the Beam step's summary (runner, samples,
      seconds); None otherwise.
    mode: the training path run, ``full_graph`` or ``sampled``.
    positives_per_step: positives per full-graph step (0 when sampled).
    node_split: with ``new_node_fraction``, the nodes taken out of training.
    structure: how the structure vectors were made (the chosen local share
      and each candidate's inner-split HR@10), or None without them.
  """

  encoder: tf.keras.Model
  history: dict[str, list[float]]
  split: LinkSplit
  epochs_run: int
  positives_seen: int
  seconds: float
  replicas: int = 1
  beam: dict[str, Any] | None = None
  mode: str = "sampled"
  positives_per_step: int = 0
  node_split: NodeSplit | None = None
  structure: dict[str, Any] | None = None


def _replicas_of(input_id: int, num_inputs: int,
                 strategy: tf.distribute.Strategy) -> range:
  """The replicas that input pipeline ``input_id`` feeds, in replica order."""
  per_input = strategy.num_replicas_in_sync // num_inputs
  return range(input_id * per_input, (input_id + 1) * per_input)


def _validation_plan(split: LinkSplit, cap: int, seed: int):
  rng = np.random.default_rng(seed)
  plan = []
  total = sum(len(a) for a, _ in split.val_pairs.values()) or 1
  for (set_a, set_b), (a, b) in sorted(split.val_pairs.items()):
    n = min(len(a), max(2, int(cap * len(a) / total)))
    take = rng.permutation(len(a))[:n]
    if len(take) >= 2:
      plan.append((set_a, set_b, a[take], b[take]))
      if set_a != set_b:
        plan.append((set_b, set_a, b[take], a[take]))
  return plan


def train_link_prediction(graph: ItemGraph, config: PretrainConfig,
                          out_dir: str | pathlib.Path | None = None,
                          verbose: int = 1,
                          callbacks: list[tf.keras.callbacks.Callback] | None
                          = None, *,
                          graph_dir: str | pathlib.Path | None = None,
                          beam_args: Sequence[str] = ()) -> TrainResult:
  """Trains the encoder; writes checkpoints and TensorBoard logs to out_dir.

  ``config.mode`` picks the path (``full_graph.resolve_mode``): full-graph
  steps (``full_graph``), or sampled subgraphs. With ``config.sampler ==
  "beam"`` the subgraphs come from TF-GNN's Beam
  sampler over ``graph_dir``'s sharded files (``beam_sampling``): the
  Beam step runs first and writes its samples to ``out_dir``'s
  ``beam_samples/``; batches, model, validation, early stopping and
  checkpoints are those of the in-memory path.

  Args:
    graph: the full item graph.
    config: model and training settings.
    out_dir: where ``checkpoints/`` and ``logs/`` go (None: not written).
    verbose: Keras verbosity (1: progress bar).
    callbacks: more Keras callbacks for ``fit``.
    graph_dir: the GraphDir ``graph`` was loaded from (needed by the Beam
      sampler).
    beam_args: Beam pipeline options for the Beam step.

  Returns:
    The TrainResult.
  """
  config.validate(edge_sets=list(graph.edge_sets))
  if not graph.edge_sets:
    raise ValueError("the graph has no edges: link prediction needs "
                     "co-interaction edges")
  if config.new_node_fraction > 0:
    node_split = split_new_nodes(graph, config.new_node_fraction, config.seed)
    result = train_link_prediction(
        node_split.train_graph,
        dataclasses.replace(config, new_node_fraction=0.0), verbose=verbose,
        out_dir=out_dir, callbacks=callbacks, graph_dir=graph_dir,
        beam_args=beam_args)
    return dataclasses.replace(result, node_split=node_split)
  tf.keras.utils.set_random_seed(config.seed)
  strategy = make_strategy(config.distribute, config.logical_cpus)
  split = split_links(graph, config.validation_fraction, config.seed)
  if config.edge_sets:
    wanted = {tuple(sorted((graph.edge_sets[e].source_set,
                            graph.edge_sets[e].target_set)))
              for e in config.edge_sets}
    split = LinkSplit(
        split.train_graph,
        {k: v for k, v in split.train_pairs.items() if k in wanted},
        {k: v for k, v in split.val_pairs.items() if k in wanted})
  spec = LinkBatchSpec(config.batch_size, config.uniform_negatives)
  val_plan = _validation_plan(split, config.max_validation_edges,
                              config.seed + 1)
  if not val_plan:
    raise ValueError("too few edges to hold out a validation set")
  if resolve_mode(graph, config) == "full_graph":
    return _train_full_graph(graph, split, val_plan, config, out_dir, verbose,
                             callbacks, strategy)
  seen = {"positives": 0}
  make_sampler, beam = _sampler_factory(graph, split, config, graph_dir,
                                        out_dir, beam_args)

  # Mirrored replicas each take a batch of their own; multi-worker replicas
  # share each global batch (every worker draws the same batches, the same
  # seeds, and keeps its replicas' rows).
  shared = is_multi_worker(strategy)

  def datasets(input_id: int = 0, num_inputs: int = 1,
               kinds: tuple[str, ...] = ("train", "val")):
    offset = 0 if shared else input_id
    sampler = make_sampler(offset)
    batcher = LinkBatcher(graph, sampler, spec)
    rng = np.random.default_rng(config.seed + 100 + offset)
    replicas = _replicas_of(input_id, num_inputs, strategy)

    def parts(batch):
      if not shared:
        yield batch
        return
      for replica in replicas:
        yield batch_part(batch, local_share(
            len(batch["inbatch_valid"]), replica,
            strategy.num_replicas_in_sync))

    def train_batches():
      passes = 0
      while True:  # One pass per epoch, drawn afresh; Keras counts steps.
        plan = epoch_plan(split.train_pairs, config.balanced_sampling, rng)
        fields = sampler.pass_fields(passes)
        for batch in batcher.batches(plan, rng):
          seen["positives"] += len(batch["inbatch_valid"])
          batch.update(fields)
          yield from parts(batch)
        passes += 1

    def val_batches():
      fields = sampler.pass_fields(0)
      while True:  # The same batches every pass.
        for batch in batcher.batches(val_plan, np.random.default_rng(
            config.seed + 7), shuffle=False):
          batch.update(fields)
          yield from parts(batch)

    # Infinite datasets with explicit step counts: Keras then keeps one
    # iterator for the whole fit (making one costs seconds, more under a
    # multi-worker strategy: only the needed kinds are made).
    made = {"train": train_batches, "val": val_batches}
    return ([link_dataset(made[kind], sampler) for kind in kinds], sampler,
            batcher)

  distributed = strategy.num_replicas_in_sync > 1
  (train_ds, *val), sampler, batcher = datasets(
      kinds=("train",) if distributed else ("train", "val"))
  element = train_ds.element_spec
  count_rng = np.random.default_rng(config.seed)
  steps = config.steps_per_epoch or sum(1 for _ in batcher.batch_chunks(
      epoch_plan(split.train_pairs, config.balanced_sampling, count_rng)))
  epochs, steps = budget_schedule(config.epochs, steps, config.batch_size,
                                  config.positives_budget)
  val_steps = sum(1 for _ in batcher.batch_chunks(val_plan))
  if distributed:

    def per_input(kind: str):
      return strategy.distribute_datasets_from_function(
          lambda ctx: datasets(ctx.input_pipeline_id, ctx.num_input_pipelines,
                               (kind,))[0][0])

    train_ds, val_ds = per_input("train"), per_input("val")
  else:
    val_ds = val[0]
  structure, structure_info = _structure(split, config)
  with strategy.scope():
    encoder = build_encoder(element["graph"], config, graph.node_ids,
                            structure, _text_anchor(graph, config))
    model = LinkPredictionModel(
        encoder=encoder, node_sets=sampler.node_sets,
        uniform_negatives=config.uniform_negatives,
        in_batch_negatives=config.in_batch_negatives, loss=config.loss,
        margin=config.margin, temperature=config.softmax_temperature,
        **_loss_terms(config))
    model.compile(optimizer=tf.keras.optimizers.Adam(config.learning_rate))
  callbacks = _callbacks(callbacks, config, out_dir)
  start = time.perf_counter()
  history = model.fit(train_ds, validation_data=val_ds, epochs=epochs,
                      steps_per_epoch=steps, validation_steps=val_steps,
                      callbacks=callbacks, verbose=verbose)
  seconds = time.perf_counter() - start
  hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
  return TrainResult(encoder=encoder, history=hist, split=split,
                     epochs_run=len(hist.get("loss", [])),
                     positives_seen=seen["positives"], seconds=seconds,
                     replicas=strategy.num_replicas_in_sync,
                     beam=beam, structure=structure_info)


def _callbacks(extra: list[tf.keras.callbacks.Callback] | None,
               config: PretrainConfig, out_dir: str | pathlib.Path | None
               ) -> list[tf.keras.callbacks.Callback]:
  """Early stopping on validation loss, plus checkpoints and TensorBoard."""
  callbacks = list(extra or []) + [tf.keras.callbacks.EarlyStopping(
      monitor="val_loss", patience=config.patience,
      restore_best_weights=True)]
  if out_dir is not None:
    out_dir = pathlib.Path(out_dir)
    callbacks += [
        tf.keras.callbacks.ModelCheckpoint(
            str(out_dir / "checkpoints" / "best"), monitor="val_loss",
            save_best_only=True, save_weights_only=True),
        tf.keras.callbacks.TensorBoard(str(out_dir / "logs"))]
  return callbacks


def budget_schedule(epochs: int, steps_per_epoch: int, positives_per_step: int,
                    positives_budget: int) -> tuple[int, int]:
  """Epochs and steps per epoch that see at most ``positives_budget``.

  The budget rule of pretraining: training ends after ``positives_budget``
  positive edges (rounded up to whole steps) or ``epochs`` epochs, whichever
  comes first; early stopping can end it sooner. When the budget binds,
  epochs keep their length and fewer are run; a budget below one epoch runs
  one shortened epoch. A budget of 0 means no budget.

  Returns:
    (epochs, steps per epoch).
  """
  if positives_budget <= 0:
    return epochs, steps_per_epoch
  budget_steps = max(1, -(-positives_budget // max(positives_per_step, 1)))
  if budget_steps >= epochs * steps_per_epoch:
    return epochs, steps_per_epoch
  if budget_steps < steps_per_epoch:
    return 1, budget_steps
  return budget_steps // steps_per_epoch, steps_per_epoch


def _loss_terms(config: PretrainConfig) -> dict[str, Any]:
  """The link models' extra loss terms: the encoder-alone term only beside
  structure vectors (without them the encoder's part is the whole
  embedding), and the features-alone (new-item) term."""
  return {"encoder_loss_weight": (config.encoder_loss_weight
                                  if config.structure_dim else 0.0),
          "encoder_dim": config.embedding_dim,
          "new_item_loss_weight": config.new_item_loss_weight}


def _text_anchor(graph: ItemGraph, config: PretrainConfig
                 ) -> tuple[np.ndarray, np.ndarray] | None:
  """The text anchor's principal components of every node's text."""
  if config.text_anchor_weight <= 0:
    return None
  return text_principal_components(
      [graph.node_features[n][TEXT_FEATURE] for n in graph.node_sets],
      config.embedding_dim)


def _structure(split: LinkSplit, config: PretrainConfig
               ) -> tuple[dict[str, np.ndarray] | None, dict[str, Any] | None]:
  """The structure vectors of the training graph (held-out edges left out),
  with their local share chosen on an inner split of its edges
  (``structure.choose_local_share``; the validation edges are not read).

  Returns:
    (node set -> vectors, the choice's info), or (None, None) without
    structure vectors.
  """
  if not config.structure_dim:
    return None, None
  start = time.perf_counter()
  share, info = choose_local_share(split.train_graph, config.structure_dim,
                                   config.structure_local_shares,
                                   seed=config.seed)
  if "hr@10" in info:
    _LOG.info("structure local share %.2f chosen on an inner split of the "
              "training edges (%d queries; HR@10 per share: %s)", share,
              info.get("queries", 0), info["hr@10"])
  vectors = structure_vectors(split.train_graph, config.structure_dim,
                              share, seed=config.seed)
  info["seconds"] = round(time.perf_counter() - start, 2)
  _LOG.info("structure vectors: %d nodes x %d in %.1fs",
            sum(len(v) for v in vectors.values()), config.structure_dim,
            info["seconds"])
  return vectors, info


def _train_full_graph(graph: ItemGraph, split: LinkSplit, val_plan,
                      config: PretrainConfig,
                      out_dir: str | pathlib.Path | None, verbose: int,
                      callbacks: list[tf.keras.callbacks.Callback] | None,
                      strategy: tf.distribute.Strategy) -> TrainResult:
  """Full-graph training (``mode=full_graph``): see ``full_graph``.

  Under a multi-worker strategy every worker holds the whole graph and draws
  the same steps; each replica takes its share of a step's groups (a group
  keeps its in-batch negatives) and passes messages with every positive of
  the step masked out, so the replicas' summed gradients are those of one
  worker running the step.
  """
  spec = LinkBatchSpec(config.batch_size, config.uniform_negatives)
  batcher = FullGraphBatcher(graph, split.train_graph, spec, 1)
  groups = batcher.num_groups(epoch_plan(
      split.train_pairs, config.balanced_sampling,
      np.random.default_rng(config.seed)))
  batcher.groups_per_step = max(1, min(
      config.positives_per_step // config.batch_size,
      groups // config.min_steps_per_epoch))
  seen = {"positives": 0}
  val_groups = batcher.num_groups(val_plan)

  def datasets(input_id: int = 0, num_inputs: int = 1):
    rng = np.random.default_rng(config.seed + 100)
    replicas = _replicas_of(input_id, num_inputs, strategy)

    def parts(step):
      if strategy.num_replicas_in_sync == 1:
        yield step
        return
      for replica in replicas:
        groups = local_share(len(step["positions"]), replica,
                             strategy.num_replicas_in_sync)
        yield {k: v if k == "drop" else v[groups] for k, v in step.items()}

    def train_steps():
      while True:  # One pass per epoch, drawn afresh; Keras counts steps.
        plan = epoch_plan(split.train_pairs, config.balanced_sampling, rng)
        for step in batcher.steps_of(plan, rng):
          seen["positives"] += int(step["row_valid"].sum())
          yield from parts(step)

    def val_steps():
      while True:  # The same step every pass; held-out edges are not in the
        # training graph, so nothing is masked.
        for step in batcher.steps_of(val_plan, np.random.default_rng(
            config.seed + 7), shuffle=False, mask_positives=False,
            groups_per_step=val_groups):
          yield from parts(step)

    return batcher.dataset(train_steps), batcher.dataset(val_steps)

  steps = config.steps_per_epoch or batcher.steps(epoch_plan(
      split.train_pairs, config.balanced_sampling,
      np.random.default_rng(config.seed)))
  epochs, steps = budget_schedule(
      config.epochs, steps, batcher.groups_per_step * config.batch_size,
      config.positives_budget)
  # The sampled path's input spec, so saved encoders are alike.
  input_spec = whole_graph_tensor(graph).spec.relax(
      num_components=True, num_nodes=True, num_edges=True)
  structure, structure_info = _structure(split, config)
  with strategy.scope():
    model = FullGraphLinkModel(
        encoder=build_encoder(input_spec, config, graph.node_ids, structure,
                              _text_anchor(graph, config)),
        train_graph=split.train_graph,
        uniform_negatives=config.uniform_negatives,
        in_batch_negatives=config.in_batch_negatives, loss=config.loss,
        margin=config.margin, temperature=config.softmax_temperature,
        **_loss_terms(config))
    model.compile(optimizer=tf.keras.optimizers.Adam(config.learning_rate))
  if strategy.num_replicas_in_sync > 1:
    train_ds = strategy.distribute_datasets_from_function(
        lambda ctx: datasets(ctx.input_pipeline_id, ctx.num_input_pipelines)[0])
    val_ds = strategy.distribute_datasets_from_function(
        lambda ctx: datasets(ctx.input_pipeline_id, ctx.num_input_pipelines)[1])
  else:
    train_ds, val_ds = datasets()
  _LOG.info("full-graph training: %d steps per epoch of up to %d positives",
            steps, batcher.groups_per_step * config.batch_size)
  start = time.perf_counter()
  history = model.fit(train_ds, validation_data=val_ds,
                      epochs=epochs, steps_per_epoch=steps,
                      validation_steps=1,
                      callbacks=_callbacks(callbacks, config, out_dir),
                      verbose=verbose)
  seconds = time.perf_counter() - start
  hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
  return TrainResult(encoder=model.encoder, history=hist, split=split,
                     epochs_run=len(hist.get("loss", [])),
                     positives_seen=seen["positives"], seconds=seconds,
                     replicas=strategy.num_replicas_in_sync, mode="full_graph",
                     positives_per_step=batcher.groups_per_step *
                     config.batch_size, structure=structure_info)


def _sampler_factory(graph: ItemGraph, split: LinkSplit,
                     config: PretrainConfig,
                     graph_dir: str | pathlib.Path | None,
                     out_dir: str | pathlib.Path | None,
                     beam_args: Sequence[str]
                     ) -> tuple[Callable[[int], Sampler],
                                dict[str, Any] | None]:
  """The ``Sampler`` of ``config.sampler``, the one place that picks it.

  ``in_memory``: a ``SubgraphSampler`` over the training graph per input
  pipeline (seeded ``config.seed + offset``). ``beam``: the Beam step runs
  now (every root node set) and its ``BeamSampleStore`` serves every input.

  Args:
    graph: the full graph (node features; ``split.train_graph`` is sampled).
    split: the link split (its node sets and held-out edges).
    config: the training settings.
    graph_dir: the GraphDir of ``graph`` (needed by the Beam sampler).
    out_dir: where the Beam samples go (``beam_samples/``; None: temporary).
    beam_args: Beam pipeline options.

  Returns:
    (sampler for an input offset, the Beam step's summary or None).
  """
  if config.sampler != "beam":
    return (lambda offset: SubgraphSampler(
        split.train_graph, tuple(config.fanouts), features=graph,
        seed=config.seed + offset)), None
  from tfgnn_gfm.hgnn.beam_sampling import sample_with_beam
  if graph_dir is None:
    raise ValueError("sampler=beam needs the graph directory (TF-GNN's Beam "
                     "sampler reads its sharded/ files)")
  node_sets = sorted({name for key in list(split.train_pairs) +
                      list(split.val_pairs) for name in key})
  beam = sample_with_beam(
      graph, graph_dir, out_dir, fanouts=tuple(config.fanouts),
      node_sets=node_sets, rounds=config.beam_rounds,
      held_out=removed_edges(graph, split.train_graph), beam_args=beam_args)
  # Building TF-GNN's sampling programs reset Keras's global state.
  tf.keras.utils.set_random_seed(config.seed)
  return (lambda offset: beam.store), beam.summary
