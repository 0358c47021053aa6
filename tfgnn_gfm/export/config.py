"""Configuration of ``gfm export``: the TF Serving model base path.

The ScaNN defaults follow docs/DESIGN.md section 5.5 (the ScaNN index):
brute-force scoring under ~20k candidates, asymmetric hashing (AH) with
exact re-ranking under ~100k, and a partitioning tree with about sqrt(n)
leaves plus AH plus re-ranking above. Recall@10 against exact search is
measured at export time; with ``auto_tune`` the index searches more leaves
and re-ranks more candidates until it reaches ``recall_target``.

This module imports no TensorFlow (``gfm --help`` reads it).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from tfgnn_gfm.config import option_help as _help

#: The three models of an export, as TF Serving model names.
RETRIEVAL_SCANN = "gfm_retrieval"
RETRIEVAL_BRUTE_FORCE = "gfm_retrieval_bf"
USER_TOWER = "gfm_user_tower"
MODEL_NAMES = (RETRIEVAL_SCANN, RETRIEVAL_BRUTE_FORCE, USER_TOWER)

#: Most characters of one ``search`` query, and of all the queries of one
#: request; beyond either, the request is a 400 naming the limit, before any
#: query is encoded. A search box's text is far shorter. A query of n
#: characters is at most n + 2 word pieces, so the limits bound the text
#: encoder's work for the largest legal request (64 queries of 128
#: characters: about 3 s on 2 CPU cores, against the 30 s REST timeout).
MAX_QUERY_CHARS = 128
MAX_REQUEST_QUERY_CHARS = 8192

SCANN_MODES = ("auto", "brute_force", "ah", "tree")
#: Candidates below which ``auto`` scores by brute force inside ScaNN.
BRUTE_FORCE_BELOW = 20_000
#: Candidates below which ``auto`` uses AH without a partitioning tree.
NO_TREE_BELOW = 100_000


@dataclasses.dataclass
class ExportConfig:
  """``gfm export``: SavedModels for TF Serving from a two-tower directory."""

  section: ClassVar[str] = "export"

  version: int = dataclasses.field(default=0, metadata=_help(
      "version number to write (an integer directory under each model); "
      "0 = one more than the highest existing version. An existing version "
      "is never overwritten"))
  max_k: int = dataclasses.field(default=100, metadata=_help(
      "largest K a request may ask for (requests with a larger k get an "
      "error naming this limit)"))
  scann_mode: str = dataclasses.field(default="auto", metadata=_help(
      "ScaNN index kind: auto (by size, docs/DESIGN.md section 5.5), "
      "brute_force, "
      "ah (asymmetric hashing + re-ranking) or tree (partitioning + AH + "
      "re-ranking)", choices=SCANN_MODES))
  num_leaves: int = dataclasses.field(default=0, metadata=_help(
      "tree leaves; 0 = about sqrt(candidates)"))
  leaves_to_search: int = dataclasses.field(default=0, metadata=_help(
      "tree leaves searched per query; 0 = 5%% of the leaves (at least 10)"))
  dimensions_per_block: int = dataclasses.field(default=2, metadata=_help(
      "AH dimensions per block (more = smaller, faster, less exact)"))
  reorder: int = dataclasses.field(default=0, metadata=_help(
      "candidates re-ranked exactly after AH; 0 = max(250, 2 * max_k)"))
  recall_target: float = dataclasses.field(default=0.95, metadata=_help(
      "recall@10 of ScaNN against brute force that the export aims for"))
  recall_queries: int = dataclasses.field(default=1000, metadata=_help(
      "queries used to measure recall (item and user queries, half each)"))
  auto_tune: bool = dataclasses.field(default=True, metadata=_help(
      "when recall is below the target, search more leaves and re-rank more "
      "candidates (up to 4 rounds) before writing the export"))
  text_encoder: str | None = dataclasses.field(default=None, metadata=_help(
      "text encoder of the search signature; default: the one the graph's "
      "item texts were encoded with (read from the manifests)"))
  seed: int = dataclasses.field(default=0, metadata=_help(
      "seed of the recall queries"))

  def validate(self) -> None:
    """Raises ValueError naming the first impossible setting."""
    if self.version < 0:
      raise ValueError(f"version must be >= 0, got {self.version}")
    if self.max_k < 1:
      raise ValueError(f"max_k must be at least 1, got {self.max_k}")
    if self.scann_mode not in SCANN_MODES:
      raise ValueError(f"scann_mode must be one of {SCANN_MODES}, got "
                       f"{self.scann_mode!r}")
    for name in ("num_leaves", "leaves_to_search", "reorder"):
      if getattr(self, name) < 0:
        raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
    if self.dimensions_per_block < 1:
      raise ValueError("dimensions_per_block must be at least 1")
    if not 0.0 < self.recall_target <= 1.0:
      raise ValueError("recall_target must be in (0, 1]")
    if self.recall_queries < 10:
      raise ValueError("recall_queries must be at least 10")
