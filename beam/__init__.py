"""Apache Beam pipelines of tfgnn-gfm (graph building)."""
