"""Configuration of the static layer (HGNN pretraining and embedding)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from tfgnn_gfm.config import option_help as _help
from tfgnn_gfm.distribute import CHOICES as DISTRIBUTE_CHOICES
from tfgnn_gfm.distribute import check_choice as check_distribute


@dataclasses.dataclass
class PretrainConfig:
  """``gfm pretrain``: heterogeneous GraphSAGE trained by link prediction.

  Defaults follow the 2T-HGNN paper (docs/DESIGN.md section 6.2): two GraphSAGE
  layers with max-pooling, 128-d L2-normalised output, margin loss with random
  non-neighbour negatives, balanced multi-link sampling, Adam 1e-3, batch 256,
  early stopping with patience 10 and 10% of edges held out for validation.
  """

  section: ClassVar[str] = "pretrain"

  embedding_dim: int = dataclasses.field(default=128, metadata=_help(
      "output embedding size, shared by every node set"))
  hidden_dim: int = dataclasses.field(default=128, metadata=_help(
      "units of the per-type input projection and of the pooling MLP"))
  num_layers: int = dataclasses.field(default=2, metadata=_help(
      "GraphSAGE layers (one convolution per edge set in each)"))
  mode: str = dataclasses.field(default="auto", metadata=_help(
      "how training embeds the roots. full_graph: every step runs the "
      "encoder once over the whole training graph (all neighbours, the "
      "step's positive edges masked out in both directions) and takes the "
      "loss on positives_per_step positives; sampled: one sampled subgraph "
      "per root (--fanouts, --sampler); auto: full_graph when directed "
      "edges x hidden_dim x num_layers x 4 bytes x 4 fits in "
      "memory_budget_mb (and neither --sampler beam nor --distribute "
      "mirrored is set), else sampled",
      choices=("auto", "full_graph", "sampled")))
  positives_per_step: int = dataclasses.field(default=8192, metadata=_help(
      "full_graph: most positive edges per step, in groups of batch_size "
      "(each group's in-batch negatives are its own targets, as on the "
      "sampled path)"))
  min_steps_per_epoch: int = dataclasses.field(default=16, metadata=_help(
      "full_graph: fewer positives per step (down to one batch_size group) "
      "when an epoch would otherwise have fewer steps than this, so small "
      "graphs still get enough updates per epoch"))
  memory_budget_mb: int = dataclasses.field(default=2048, metadata=_help(
      "auto: memory for a full-graph step's messages, in MiB"))
  fanouts: tuple[int, ...] = dataclasses.field(default=(5, 3), metadata=_help(
      "neighbours sampled uniformly per hop and edge set (one entry per "
      "layer); the subgraph of a root grows as the product, so keep it small "
      "on CPUs"))
  sampler: str = dataclasses.field(default="in_memory", metadata=_help(
      "where training subgraphs come from. in_memory: TF-GNN's in-memory "
      "edge sampler inside tf.data (one machine). beam: TF-GNN's Beam "
      "sampler over the graph's sharded/ files, run as one Beam pipeline "
      "before training (held-out edges removed first); every node of the "
      "trained node sets gets beam_rounds sampled subgraphs, written to "
      "OUT/beam_samples/, and batches are built from them as on the "
      "in-memory path, the predicted edge masked out afterwards. Beam "
      "options go after the other arguments, as for build-graph (e.g. "
      "--direct_num_workers=2 --direct_running_mode=multi_processing, "
      "--runner=DataflowRunner ...)", choices=("in_memory", "beam")))
  beam_rounds: int = dataclasses.field(default=1, metadata=_help(
      "with --sampler beam: independent Beam samples of every node; pass e "
      "over the positives uses sample e mod beam_rounds (more rounds: "
      "fresher neighbourhoods, a proportionally longer Beam step)"))
  final_activation: str = dataclasses.field(default="linear", metadata=_help(
      "activation of the last layer before L2 normalisation (the paper "
      "applies relu everywhere; linear keeps the whole sphere for dot "
      "products)"))
  dropout_rate: float = dataclasses.field(default=0.0, metadata=_help(
      "dropout on node states"))
  node_id_dim: int = dataclasses.field(default=0, metadata=_help(
      "size of a learnable vector per training node, concatenated to its "
      "text features (0: none); new items get zeros"))
  node_id_dropout: float = dataclasses.field(default=0.5, metadata=_help(
      "share of nodes whose learnable vector is zeroed in each training "
      "step, so the model also embeds items from text alone"))
  structure_dim: int = dataclasses.field(default=512, metadata=_help(
      "size of each training node's structure vector (half the eigenpairs "
      "of the degree-normalised training adjacency, half a random projection "
      "of its rows: what co-occurrence counting knows), concatenated to the "
      "encoder's output, so embeddings "
      "have embedding_dim + structure_dim values (0: none); nodes without "
      "training edges and new items get zeros"))
  structure_local_shares: tuple[float, ...] = dataclasses.field(
      default=(0.1, 0.25, 0.4, 0.6, 0.8), metadata=_help(
          "candidate shares of the structure score from its local half (a "
          "random projection of each node's adjacency row: item-kNN plus "
          "noise) beside the global half (the low-rank spectral part); the "
          "one that ranks an inner split of the training edges best is "
          "chosen (graphs of few dense communities want a small share, "
          "graphs of many small cliques a large one); one value: no choice",
          aliases=("structure_local_share",), metavar="SHARES"))
  structure_weight: float = dataclasses.field(default=0.9, metadata=_help(
      "share of a dot product that comes from the structure vectors: the "
      "output is concat(sqrt(1 - w) * encoder, sqrt(w) * structure)"))
  encoder_loss_weight: float = dataclasses.field(default=3.0, metadata=_help(
      "weight of a second link loss on the encoder's part of the embeddings "
      "alone (the structure part left out): what a new item, embedded from "
      "its features without a structure vector, is ranked by; it also lifts "
      "known items' held-out edges on amazon-food-kitchen (0: none; only "
      "with structure vectors)"))
  text_anchor_weight: float = dataclasses.field(default=0.5, metadata=_help(
      "share a of the encoder's part taken by the node's own text, as its "
      "embedding_dim principal components (computed once from every node's "
      "text, saved with the model): normalize(sqrt(1 - a) * encoder + "
      "sqrt(a) * components); keeps the titles' similarity in new items' "
      "vectors (0: none)"))
  new_item_loss_weight: float = dataclasses.field(default=3.0, metadata=_help(
      "weight of a link loss that embeds each positive's source from its own "
      "features alone (no neighbours, no structure vector: as a new item is "
      "embedded) and scores it against its partner's and the negatives' "
      "encoder parts; one more encoder pass per step, which lifts new items' "
      "cross-type HR@10 on amazon-food-kitchen 2-3x (0: none)"))
  loss: str = dataclasses.field(default="margin", metadata=_help(
      "margin: max(0, z.z_neg - z.z_pos + margin); softmax: sampled softmax "
      "over the positive and the negatives", choices=("margin", "softmax")))
  margin: float = dataclasses.field(default=0.5, metadata=_help(
      "margin of the margin loss"))
  softmax_temperature: float = dataclasses.field(default=0.1, metadata=_help(
      "temperature of the sampled-softmax loss"))
  uniform_negatives: int = dataclasses.field(default=1, metadata=_help(
      "random non-neighbour items per positive, of the target's type"))
  in_batch_negatives: bool = dataclasses.field(default=True, metadata=_help(
      "also use the other targets of the batch as negatives"))
  balanced_sampling: bool = dataclasses.field(default=True, metadata=_help(
      "multi-link sampler: each epoch, undersample edge types larger than "
      "the median type (fresh draw per epoch)"))
  batch_size: int = dataclasses.field(default=256, metadata=_help(
      "positive edges per step"))
  learning_rate: float = dataclasses.field(default=1e-3, metadata=_help(
      "Adam learning rate"))
  epochs: int = dataclasses.field(default=30, metadata=_help(
      "most epochs (early stopping usually ends sooner)"))
  positives_budget: int = dataclasses.field(default=50_000, metadata=_help(
      "training ends after this many positive edges (rounded to whole "
      "steps) or --epochs epochs, whichever comes first; fewer epochs of "
      "the same length are run, or one shortened epoch (0: no budget)"))
  steps_per_epoch: int = dataclasses.field(default=0, metadata=_help(
      "cap on steps per epoch (0: one pass over the epoch's sample)"))
  patience: int = dataclasses.field(default=10, metadata=_help(
      "early stopping patience in epochs, on validation loss"))
  validation_fraction: float = dataclasses.field(default=0.1, metadata=_help(
      "share of edges held out for validation (removed from the training "
      "graph)"))
  report_queries: int = dataclasses.field(default=20_000, metadata=_help(
      "most held-out queries per edge set the report ranks (a seeded "
      "uniform sample: ranking costs queries x nodes per scorer, and "
      "20,000 queries give intervals of about +-0.01; 0: all)"))
  future_edges: bool = dataclasses.field(default=True, metadata=_help(
      "also rank future edges: item pairs a user first joins in the graph's "
      "hold-out window after its cut (read from the interactions file the "
      "graph was built from, when it is still there; at most 10,000 per "
      "link type)"))
  new_node_fraction: float = dataclasses.field(default=0.0, metadata=_help(
      "new-node evaluation: take this share of the nodes with edges out of "
      "training with all their edges, embed them from their own features "
      "after training (as new items) and report how well they find their "
      "edges, against text alone (0: off; the saved model then lacks "
      "those edges, so use it to measure, not to ship)"))
  max_validation_edges: int = dataclasses.field(default=5000, metadata=_help(
      "cap on held-out edges used for validation loss and metrics"))
  edge_sets: tuple[str, ...] = dataclasses.field(default=(), metadata=_help(
      "train on links of these edge sets only (either direction names a "
      "link type); empty: every edge set"))
  seed: int = dataclasses.field(default=0, metadata=_help("random seed"))
  distribute: str = dataclasses.field(default="none", metadata=_help(
      "tf.distribute strategy: none; mirrored (over the local devices; "
      "with --logical-cpus N, over N logical CPU devices; each replica "
      "takes a batch of its own); or multi_worker "
      "(MultiWorkerMirroredStrategy over the cluster of the TF_CONFIG "
      "environment variable: run the same command on every worker; each "
      "global batch, or full-graph step, is split across the workers, only "
      "the chief writes --out)", choices=DISTRIBUTE_CHOICES))
  logical_cpus: int = dataclasses.field(default=0, metadata=_help(
      "split the CPU into this many logical devices (for mirrored)"))
  embed_batch_size: int = dataclasses.field(default=512, metadata=_help(
      "seed nodes per batch when embedding every item"))

  def validate(self, edge_sets: list[str] | None = None) -> None:
    """Raises ValueError naming the first impossible setting."""
    if self.num_layers < 1:
      raise ValueError("num_layers must be at least 1")
    if len(self.fanouts) != self.num_layers:
      raise ValueError(f"fanouts needs one entry per layer: got "
                       f"{list(self.fanouts)} for num_layers={self.num_layers}")
    if any(f < 1 for f in self.fanouts):
      raise ValueError(f"every fanout must be at least 1, got "
                       f"{list(self.fanouts)}")
    if not 0.0 < self.validation_fraction < 1.0:
      raise ValueError("validation_fraction must be in (0, 1)")
    if self.batch_size < 2:
      raise ValueError("batch_size must be at least 2")
    if self.report_queries < 0:
      raise ValueError(f"report_queries must be >= 0 (0: all), got "
                       f"{self.report_queries!r}")
    if self.uniform_negatives < 0:
      raise ValueError("uniform_negatives must be >= 0")
    if self.uniform_negatives == 0 and not self.in_batch_negatives:
      raise ValueError("no negatives: set uniform_negatives > 0 or "
                       "in_batch_negatives")
    if self.loss not in ("margin", "softmax"):
      raise ValueError(f"unknown loss {self.loss!r}; use margin or softmax")
    if self.sampler not in ("in_memory", "beam"):
      raise ValueError(f"unknown sampler {self.sampler!r}; use in_memory or "
                       "beam")
    if self.mode not in ("auto", "full_graph", "sampled"):
      raise ValueError(f"unknown mode {self.mode!r}; use auto, full_graph or "
                       "sampled")
    if self.mode == "full_graph" and self.sampler == "beam":
      raise ValueError("mode full_graph samples nothing: drop --sampler beam "
                       "or use --mode sampled")
    if self.sampler == "beam" and self.distribute == "multi_worker":
      raise ValueError("--sampler beam runs its Beam step in the training "
                       "process: with multi_worker every worker would run "
                       "it; use --sampler in_memory")
    if self.mode == "full_graph" and self.distribute == "mirrored":
      raise ValueError("mode full_graph runs one replica per worker: use "
                       "--distribute none or multi_worker, or --mode sampled")
    if self.positives_per_step < self.batch_size:
      raise ValueError(f"positives_per_step ({self.positives_per_step}) must "
                       f"be at least batch_size ({self.batch_size})")
    if self.min_steps_per_epoch < 1:
      raise ValueError("min_steps_per_epoch must be at least 1")
    if self.memory_budget_mb < 0:
      raise ValueError("memory_budget_mb must be >= 0")
    if self.beam_rounds < 1:
      raise ValueError("beam_rounds must be at least 1")
    if not 0.0 <= self.new_node_fraction <= 0.5:
      raise ValueError("new_node_fraction must be in [0, 0.5]")
    if self.new_node_fraction and self.sampler == "beam":
      raise ValueError("--new-node-fraction removes edges in memory; the "
                       "Beam sampler reads the graph's files: use --sampler "
                       "in_memory")
    if self.positives_budget < 0:
      raise ValueError("positives_budget must be >= 0")
    if self.node_id_dim < 0 or self.structure_dim < 0:
      raise ValueError("node_id_dim and structure_dim must be >= 0")
    if not self.structure_local_shares or not all(
        0.0 <= r <= 1.0 for r in self.structure_local_shares):
      raise ValueError(f"structure_local_shares must be values in [0, 1], "
                       f"got {list(self.structure_local_shares)}")
    if not 0.0 <= self.text_anchor_weight < 1.0:
      raise ValueError("text_anchor_weight must be in [0, 1), got "
                       f"{self.text_anchor_weight!r}")
    if not self.new_item_loss_weight >= 0.0:
      raise ValueError("new_item_loss_weight must be >= 0, got "
                       f"{self.new_item_loss_weight!r}")
    if not self.encoder_loss_weight >= 0.0:
      raise ValueError("encoder_loss_weight must be >= 0, got "
                       f"{self.encoder_loss_weight!r}")
    if not 0.0 <= self.structure_weight < 1.0:
      raise ValueError("structure_weight must be in [0, 1): at 1 new items "
                       "would have no embedding")
    check_distribute(self.distribute)
    if edge_sets is not None:
      unknown = sorted(set(self.edge_sets) - set(edge_sets))
      if unknown:
        raise ValueError(f"unknown edge set(s) {unknown} in edge_sets; the "
                         f"graph has {sorted(edge_sets)}")


@dataclasses.dataclass
class EmbedConfig:
  """``gfm embed``: an embedding for every item of every type."""

  section: ClassVar[str] = "embed"

  batch_size: int = dataclasses.field(default=512, metadata=_help(
      "items per forward pass"))
  seed: int = dataclasses.field(default=0, metadata=_help(
      "seed of neighbourhood sampling (same seed, same embeddings)"))
  text_batch_size: int = dataclasses.field(default=256, metadata=_help(
      "texts per text-encoder call (items outside the graph)"))
  full_graph: bool = dataclasses.field(default=False, metadata=_help(
      "embed graph nodes in one pass over the whole graph (all neighbours, "
      "deterministic, ~10x faster; needs the graph's messages in memory) "
      "instead of from sampled neighbourhoods as in training"))
