"""The static layer: heterogeneous GraphSAGE pretrained by link prediction."""

from tfgnn_gfm.hgnn.config import PretrainConfig
from tfgnn_gfm.hgnn.embedding import embed_new_items
from tfgnn_gfm.hgnn.embedding import embed_nodes
from tfgnn_gfm.hgnn.evaluation import link_prediction_report
from tfgnn_gfm.hgnn.export import export_inference_model
from tfgnn_gfm.hgnn.export import load_encoder
from tfgnn_gfm.hgnn.export import save_encoder
from tfgnn_gfm.hgnn.graph_data import ItemGraph
from tfgnn_gfm.hgnn.graph_data import load_item_graph
from tfgnn_gfm.hgnn.graph_data import split_links
from tfgnn_gfm.hgnn.model import ItemInputProjection
from tfgnn_gfm.hgnn.model import NodeSetEmbeddings
from tfgnn_gfm.hgnn.model import build_encoder
from tfgnn_gfm.hgnn.sampling import SubgraphSampler
from tfgnn_gfm.hgnn.trainer import train_link_prediction
