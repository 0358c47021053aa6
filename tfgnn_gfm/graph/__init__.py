"""The item-item graph: config, nodes, kernels, schema, statistics, reference.

The Beam pipeline that builds the graph lives in ``beam/``; this package holds
its pure-Python parts (no Beam), which tests and benchmarks use directly.
"""

from tfgnn_gfm.graph.config import GraphBuildConfig
from tfgnn_gfm.graph.nodes import NodeIndex, build_node_index, stable_shard
from tfgnn_gfm.graph.reference import (
    ReferenceGraph,
    reference_edges,
    reference_graph,
)
from tfgnn_gfm.graph.schema import (
    GraphSchemaError,
    build_graph_schema,
    edge_set_name,
    node_set_name,
)
from tfgnn_gfm.graph.stats import graph_stats, plot_graph_stats
