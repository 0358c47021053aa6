"""Apache Beam pipelines of tfgnn-gfm (graph building).

``python -m beam.build_graph`` (or ``gfm build-graph``) runs the graph
pipeline; ``beam.build_graph.build_graph`` is its Python entry point. The
names below are re-exported lazily, so ``python -m beam.build_graph`` does
not import the pipeline twice.
"""

import importlib as _importlib

_EXPORTS = {
    "GraphInputs": "beam.build_graph",
    "build_pipeline": "beam.build_graph",
    "format_summary": "beam.build_graph",
    "resolve_inputs": "beam.build_graph",
    "CoInteractionEdges": "beam.edges",
    "ReadTable": "beam.read",
    "pipeline_options": "beam.options",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
  if name in _EXPORTS:
    return getattr(_importlib.import_module(_EXPORTS[name]), name)
  raise AttributeError(f"module 'beam' has no attribute {name!r}")
