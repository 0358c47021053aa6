"""The tf.distribute strategy a training stage runs under; its workers' roles.

``--distribute`` (``PretrainConfig`` and ``TwoTowerConfig``) takes:

* ``none``: the default strategy (one device);
* ``mirrored``: ``tf.distribute.MirroredStrategy`` over the local devices
  (with ``logical_cpus`` N > 1, over N logical CPU devices);
* ``multi_worker``: ``tf.distribute.MultiWorkerMirroredStrategy`` over the
  cluster of the ``TF_CONFIG`` environment variable, read by
  ``tf.distribute.cluster_resolver.TFConfigClusterResolver``. Every worker
  runs the same command; the global batch is the configured batch size, split
  across the replicas; the chief (task ``chief``, else ``worker`` 0) writes
  the output directory, the other workers write theirs to a temporary
  directory that is removed (``output_directory``), as Keras multi-worker
  training does for checkpoints.

TensorFlow configures collective ops when the multi-worker strategy is made,
which must happen before TensorFlow runs its first op; ``make_strategy``
therefore keeps the strategy it made, and the stages call it before they read
their inputs. TensorFlow is imported only then: the configs read ``CHOICES``
(``gfm --help`` loads no TensorFlow).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pathlib
import shutil
import tempfile
from typing import TYPE_CHECKING, Any, Iterator

from tfgnn_gfm.artifacts import atomic_directory

if TYPE_CHECKING:
  import tensorflow as tf

_LOG = logging.getLogger(__name__)
NONE = "none"
MIRRORED = "mirrored"
MULTI_WORKER = "multi_worker"
#: The values of ``--distribute``.
CHOICES = (NONE, MIRRORED, MULTI_WORKER)
#: Cluster jobs whose tasks train (TF_CONFIG may also list e.g. an evaluator).
_TRAINING_JOBS = ("chief", "worker")

_made: dict[tuple[str, int], "tf.distribute.Strategy"] = {}


def check_choice(distribute: str) -> None:
  """Raises ValueError unless ``distribute`` is one of CHOICES."""
  if distribute not in CHOICES:
    raise ValueError(f"unknown distribute {distribute!r}; use "
                     f"{', '.join(CHOICES)}")


def tf_config(environ: dict[str, str] | None = None) -> dict[str, Any]:
  """The validated TF_CONFIG of a multi-worker run.

  Args:
    environ: the environment (default: ``os.environ``).

  Returns:
    The parsed TF_CONFIG: ``cluster`` (job -> list of ``host:port``) and
    ``task`` (``type`` and ``index`` of this process).

  Raises:
    ValueError: naming what is missing or wrong, in one line.
  """
  text = (os.environ if environ is None else environ).get("TF_CONFIG", "")
  if not text.strip():
    raise ValueError("--distribute multi_worker needs the TF_CONFIG "
                     "environment variable: a JSON object with the cluster "
                     "(\"cluster\": {\"worker\": [\"host:port\", ...]}) and "
                     "this process's task (\"task\": {\"type\": \"worker\", "
                     "\"index\": 0})")
  try:
    config = json.loads(text)
  except json.JSONDecodeError as e:
    raise ValueError(f"TF_CONFIG is not valid JSON: {e}") from None
  if not isinstance(config, dict):
    raise ValueError("TF_CONFIG must be a JSON object with \"cluster\" and "
                     "\"task\"")
  cluster = config.get("cluster")
  if not isinstance(cluster, dict) or not any(
      cluster.get(job) for job in _TRAINING_JOBS):
    raise ValueError("TF_CONFIG has no cluster.worker (or cluster.chief) "
                     "list of host:port addresses")
  for job, addresses in cluster.items():
    if not isinstance(addresses, list) or not all(
        isinstance(a, str) and a.rpartition(":")[2].isdigit()
        for a in addresses):
      raise ValueError(f"TF_CONFIG cluster.{job} must be a list of "
                       f"\"host:port\" strings, got {addresses!r}")
  task = config.get("task")
  if not isinstance(task, dict) or "type" not in task or "index" not in task:
    raise ValueError("TF_CONFIG has no task {\"type\": ..., \"index\": ...} "
                     "naming this process")
  job, index = task["type"], task["index"]
  if job not in _TRAINING_JOBS:
    raise ValueError(f"TF_CONFIG task type {job!r} does not train; use "
                     "worker or chief")
  if job not in cluster:
    raise ValueError(f"TF_CONFIG task type {job!r} is not a job of the "
                     f"cluster ({', '.join(sorted(cluster))})")
  if (not isinstance(index, int) or isinstance(index, bool) or
      not 0 <= index < len(cluster[job])):
    raise ValueError(f"TF_CONFIG task index {index!r} is out of range: "
                     f"cluster.{job} has {len(cluster[job])} address(es)")
  return config


def make_strategy(distribute: str, logical_cpus: int = 0
                  ) -> tf.distribute.Strategy:
  """The strategy of ``--distribute`` (made once per process, then reused).

  Args:
    distribute: one of CHOICES.
    logical_cpus: with ``mirrored``, split the CPU into this many logical
      devices (more than 1) and mirror over them.

  Returns:
    The strategy.

  Raises:
    ValueError: for an unknown choice, a missing or malformed TF_CONFIG, or
      when TensorFlow already started (devices or collectives can then no
      longer be configured).
  """
  import tensorflow as tf
  check_choice(distribute)
  if distribute == NONE:
    return tf.distribute.get_strategy()
  key = (distribute, logical_cpus if distribute == MIRRORED else 0)
  if key in _made:
    return _made[key]
  if distribute == MULTI_WORKER:
    tf_config()
    try:
      strategy = tf.distribute.MultiWorkerMirroredStrategy(
          cluster_resolver=tf.distribute.cluster_resolver
          .TFConfigClusterResolver())
    except RuntimeError as e:
      raise ValueError(f"multi_worker must be set up before TensorFlow runs "
                       f"its first op (start a fresh process): {e}") from e
  elif logical_cpus > 1:
    cpus = tf.config.list_physical_devices("CPU")
    try:
      tf.config.set_logical_device_configuration(
          cpus[0], [tf.config.LogicalDeviceConfiguration()] * logical_cpus)
    except RuntimeError as e:
      raise ValueError("logical_cpus must be set before TensorFlow "
                       "initialises its devices (start a fresh process)") from e
    strategy = tf.distribute.MirroredStrategy(
        [d.name for d in tf.config.list_logical_devices("CPU")])
  else:
    strategy = tf.distribute.MirroredStrategy()
  _made[key] = strategy
  return strategy


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
  """Whether the strategy's replicas span several worker processes."""
  resolver = strategy.cluster_resolver
  if resolver is None:
    return False
  spec = resolver.cluster_spec().as_dict()
  return sum(len(spec.get(job, ())) for job in _TRAINING_JOBS) > 1


def is_chief(strategy: tf.distribute.Strategy) -> bool:
  """Whether this process writes the outputs: task ``chief``, else worker 0.

  Single-process strategies are always the chief.
  """
  if not is_multi_worker(strategy):
    return True
  resolver = strategy.cluster_resolver
  if resolver.task_type == "chief":
    return True
  has_chief = bool(resolver.cluster_spec().as_dict().get("chief"))
  return (resolver.task_type == "worker" and resolver.task_id == 0 and
          not has_chief)


@contextlib.contextmanager
def output_directory(out_dir: str | pathlib.Path,
                     strategy: tf.distribute.Strategy
                     ) -> Iterator[pathlib.Path]:
  """Where this process writes a stage's output.

  The chief writes ``out_dir`` atomically (``atomic_directory``). Every other
  worker runs the same code (saving may run collective ops, so all workers
  must save) into a fresh temporary directory, removed afterwards: it never
  touches ``out_dir``, so there is one output. When the output is complete,
  the workers of a multi-worker run wait for each other, so none exits while
  another still needs the cluster (the chief leads its coordination service).

  Args:
    out_dir: the stage's output directory.
    strategy: the training strategy.

  Yields:
    The directory to write into.
  """
  if is_chief(strategy):
    with atomic_directory(out_dir) as tmp:
      yield tmp
  else:
    resolver = strategy.cluster_resolver
    tmp = pathlib.Path(tempfile.mkdtemp(
        prefix=f"tfgnn_gfm_{resolver.task_type}{resolver.task_id}_"))
    _LOG.info("%s %d is not the chief: the chief writes %s, this worker's "
              "copy goes to %s (removed at the end)", resolver.task_type,
              resolver.task_id, out_dir, tmp)
    try:
      yield tmp
    finally:
      shutil.rmtree(tmp, ignore_errors=True)
  if is_multi_worker(strategy):
    _barrier(strategy)


def _barrier(strategy: "tf.distribute.Strategy") -> None:
  """Returns once every replica of the strategy has called it."""
  import tensorflow as tf
  strategy.reduce(tf.distribute.ReduceOp.SUM,
                  strategy.run(lambda: tf.ones([])), axis=None)


def local_share(total: int, replica: int, replicas: int) -> slice:
  """The contiguous part of ``total`` rows that replica ``replica`` takes.

  Parts differ by at most one row and keep the order of the rows, as
  ``tf.distribute`` splits a global batch.
  """
  base, extra = divmod(total, replicas)
  start = replica * base + min(replica, extra)
  return slice(start, start + base + (1 if replica < extra else 0))


def global_mean(total: "tf.Tensor", count: "tf.Tensor") -> "tf.Tensor":
  """The mean over the global batch, as this replica's term of a replica mean.

  ``total`` and ``count`` are this replica's sum and number of values. Under a
  strategy with R replicas the result is ``R * total / (count summed over
  replicas)``: its mean over the replicas (what Keras metrics report, and what
  a loss divided by R and summed over replicas by the optimizer trains) is the
  mean over every replica's values, whatever their share of the batch. With
  one replica it is ``total / count``.

  Args:
    total: float scalar, this replica's sum.
    count: float scalar, this replica's number of values.

  Returns:
    A float scalar (0 when no replica has a value).
  """
  import tensorflow as tf
  context = tf.distribute.get_replica_context()
  replicas = 1 if context is None else context.num_replicas_in_sync
  if replicas > 1:
    count = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
  return total * replicas / tf.maximum(count, 1.0)


def global_batch(*tensors: "tf.Tensor") -> tuple["tf.Tensor", ...]:
  """Every replica's rows of the tensors, this replica's rows first.

  In-batch negatives over the global batch: a replica scores its own queries
  against every replica's candidates, so splitting a batch across replicas
  leaves each query's negatives as they are on one worker (up to their
  order). Each replica writes its rows at its offset of a zero tensor of the
  global batch's rows and the replicas' tensors are summed
  (``ReplicaContext.all_reduce``, whose gradient is again a sum over
  replicas, so each replica's rows get the gradients of every replica's
  loss). ``ReplicaContext.all_gather`` would be the direct way, but under a
  multi-worker strategy inside Keras ``fit`` it fails ("destinations can not
  be empty"). The other replicas' rows follow in replica order, cyclically
  after this one's.

  Args:
    *tensors: tensors with the same number of rows (axis 0, which may differ
      between replicas).

  Returns:
    The tensors (unchanged with one replica).
  """
  import tensorflow as tf
  context = tf.distribute.get_replica_context()
  if context is None or context.num_replicas_in_sync == 1:
    return tensors
  replica = context.replica_id_in_sync_group
  rows = tf.shape(tensors[0])[0]
  sizes = tf.cast(context.all_reduce(
      tf.distribute.ReduceOp.SUM,
      tf.one_hot(replica, context.num_replicas_in_sync) *
      tf.cast(rows, tf.float32)), tf.int32)
  offset = tf.reduce_sum(sizes[:replica])
  after = tf.reduce_sum(sizes) - offset - rows
  out = []
  for t in tensors:
    padding = tf.concat([[[offset, after]],
                         tf.zeros([tf.rank(t) - 1, 2], tf.int32)], axis=0)
    placed = tf.pad(t, padding)
    out.append(tf.roll(context.all_reduce(tf.distribute.ReduceOp.SUM, placed),
                       shift=-offset, axis=0))
  return tuple(out)


def split_batches(dataset: "tf.data.Dataset", strategy: "tf.distribute.Strategy"
                  ) -> Any:
  """Feeds each replica its contiguous part of every global batch.

  Every worker builds the same ``dataset`` (same seeds: same batches) and
  keeps its replicas' rows of each batch (``local_share``), so each worker
  sees exactly as many batches as the others and every step is a step of all
  replicas, up to the last, partial batch (whose parts may be empty). This is
  tf.data's DATA sharding of a rebatched dataset, done here by hand because
  then the number of steps is the same on every worker by construction.

  Args:
    dataset: a dataset of global batches (a nest of tensors with the batch
      rows on axis 0).
    strategy: the training strategy.

  Returns:
    ``dataset`` itself with one replica, else a distributed dataset.
  """
  import tensorflow as tf
  replicas = strategy.num_replicas_in_sync
  if replicas == 1:
    return dataset

  def part(batch, replica):
    rows = tf.shape(tf.nest.flatten(batch)[0])[0]
    base, extra = rows // replicas, rows % replicas
    start = replica * base + tf.minimum(replica, extra)
    size = base + tf.cast(replica < extra, tf.int32)
    return tf.nest.map_structure(lambda t: t[start:start + size], batch)

  def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
    per_input = replicas // context.num_input_pipelines
    first = context.input_pipeline_id * per_input
    return dataset.flat_map(lambda batch: tf.data.Dataset.range(
        first, first + per_input, output_type=tf.int32).map(
            lambda replica: part(batch, replica)))

  return strategy.distribute_datasets_from_function(dataset_fn)
