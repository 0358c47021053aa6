"""Every artifact path and the manifest format, in one place.

Data flows one way: raw files -> graph -> embeddings -> two-tower -> exports ->
serving. Each stage reads the previous stage's directory and writes its own,
always with a ``manifest.json`` (config, input fingerprints, counts, metrics),
so any stage can be rerun alone. No stage spells another stage's file names:
they all ask the classes below. Nor does a stage spell another stage's manifest
keys: what a stage hands to the next one (docs/DESIGN.md section 3.3) is
written by its directory class's ``write_manifest`` and read back by that
class's readers (``GraphDir.cut()``, ``GraphDir.text_encoder()``,
``EmbeddingsDir.cut()``, ``TwoTowerDir.text_encoder()``, ...), which also read
the outputs of older versions (the keys have not changed).

Outputs are written atomically: a stage writes into a temporary sibling
directory and swaps it with the final path only when it has finished, so a
crash mid-run never corrupts an earlier good output, the output path exists
at every moment, and the next run removes what a killed run left behind.

The package holds four concepts, one module each: ``layout`` (the stage
directories and their readers), ``manifest`` (the manifest format),
``atomic`` (atomic replacement of outputs) and ``cache`` (the per-user cache).
"""

from tfgnn_gfm.artifacts.atomic import (
  atomic_directory,
  atomic_write_text,
  remove_leftovers,
)
from tfgnn_gfm.artifacts.cache import cache_dir, text_encoder_dir
from tfgnn_gfm.artifacts.layout import (
  EMBEDDINGS_INDEX_COLUMNS,
  SERVING_WARMUP_FILE,
  TABLE_SUFFIXES,
  TABLES,
  TWO_TOWER_ITEM_COLUMNS,
  ArtifactError,
  DatasetDir,
  Embeddings,
  EmbeddingsDir,
  EvaluationDir,
  ExportDir,
  ExportSummary,
  GraphDir,
  HGNNDir,
  ReportDir,
  RunLayout,
  StageDir,
  TextEncoderDir,
  TwoTowerDir,
  TwoTowerItems,
  ValidationDir,
  cut_extra,
)
from tfgnn_gfm.artifacts.manifest import (
  MANIFEST_NAME,
  MANIFEST_VERSION,
  fingerprint,
  write_manifest,
)
