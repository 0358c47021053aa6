"""The item-item graph: config, nodes, kernels, schema, statistics, reference.

The Beam pipeline that builds the graph lives in ``beam/``; this package holds
its pure-Python parts (no Beam), which tests and benchmarks use directly.
"""

from tfgnn_gfm.graph.config import GraphBuildConfig
from tfgnn_gfm.graph.nodes import NodeIndex
from tfgnn_gfm.graph.nodes import build_node_index
from tfgnn_gfm.graph.nodes import stable_shard
from tfgnn_gfm.graph.reference import ReferenceGraph
from tfgnn_gfm.graph.reference import reference_edges
from tfgnn_gfm.graph.reference import reference_graph
from tfgnn_gfm.graph.schema import GraphSchemaError
from tfgnn_gfm.graph.schema import build_graph_schema
from tfgnn_gfm.graph.schema import edge_set_name
from tfgnn_gfm.graph.schema import node_set_name
from tfgnn_gfm.graph.stats import graph_stats
from tfgnn_gfm.graph.stats import plot_graph_stats
