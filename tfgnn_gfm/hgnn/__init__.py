"""The static layer: heterogeneous GraphSAGE pretrained by link prediction.

Public names are re-exported lazily (PEP 562), so that importing the config
module (``gfm --help`` does) does not load TensorFlow.
"""

from tfgnn_gfm.lazy import lazy_exports as _lazy_exports

_EXPORTS = {
    "BeamSampleStore": "beam_sample_store",
    "write_link_samples": "beam_sampling",
    "compute_with_beam": "beam_embed",
    "PretrainConfig": "config",
    "EmbedConfig": "config",
    "EmbedPlan": "embed_output",
    "plan_items": "embed_output",
    "write_embeddings": "embed_output",
    "embed_new_items": "embedding",
    "embed_nodes": "embedding",
    "link_prediction_report": "evaluation",
    "export_inference_model": "export",
    "load_encoder": "export",
    "save_encoder": "export",
    "ItemGraph": "graph_data",
    "load_item_graph": "graph_data",
    "split_links": "graph_data",
    "ItemInputProjection": "model",
    "NodeSetEmbeddings": "model",
    "build_encoder": "model",
    "ReceptiveFields": "receptive_field",
    "Sampler": "sampling",
    "SubgraphSampler": "sampling",
    "structure_vectors": "structure",
    "embed": "stage",
    "pretrain": "stage",
    "train_link_prediction": "trainer",
}

__all__ = sorted(_EXPORTS)

__getattr__ = _lazy_exports(__name__, _EXPORTS)
