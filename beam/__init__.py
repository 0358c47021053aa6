"""Apache Beam pipelines of tfgnn-gfm (graph building).

``python -m beam.build_graph`` (or ``gfm build-graph``) runs the graph
pipeline; ``beam.build_graph.build_graph`` is its Python entry point. The
names below are re-exported lazily, so ``python -m beam.build_graph`` does
not import the pipeline twice.
"""

from tfgnn_gfm.lazy import lazy_exports as _lazy_exports

_EXPORTS = {
    "GraphInputs": "beam.build_graph",
    "build_pipeline": "beam.build_graph",
    "format_summary": "beam.build_graph",
    "resolve_inputs": "beam.build_graph",
    "CoInteractionEdges": "beam.edges",
    "ReadTable": "beam.read",
    "pipeline_options": "tfgnn_gfm.pipelines.options",
}
__all__ = sorted(_EXPORTS)

__getattr__ = _lazy_exports(__name__, _EXPORTS)
