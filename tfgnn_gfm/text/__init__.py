"""Text encoders (all-MiniLM-L6-v2 port, any TF Hub module) and item text."""

from tfgnn_gfm.text.encoder import BUILTIN_MODELS
from tfgnn_gfm.text.encoder import DEFAULT_TEXT_ENCODER
from tfgnn_gfm.text.encoder import TextEncoderConfig
from tfgnn_gfm.text.encoder import build_text_encoder
from tfgnn_gfm.text.encoder import encode_texts
from tfgnn_gfm.text.encoder import is_builtin
from tfgnn_gfm.text.encoder import load_text_encoder
from tfgnn_gfm.text.encoder import read_saved_model_info
from tfgnn_gfm.text.encoder import resolve_text_encoder
from tfgnn_gfm.text.item_text import clean_field
from tfgnn_gfm.text.item_text import compose_item_text
from tfgnn_gfm.text.item_text import compose_item_texts
