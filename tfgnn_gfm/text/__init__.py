"""Text encoders (all-MiniLM-L6-v2 port, any TF Hub module) and item text."""

from tfgnn_gfm.text.encoder import (
    BUILTIN_MODELS,
    DEFAULT_TEXT_ENCODER,
    TextEncoderConfig,
    build_text_encoder,
    encode_texts,
    is_builtin,
    load_text_encoder,
    read_saved_model_info,
    resolve_text_encoder,
)
from tfgnn_gfm.text.item_text import (
    clean_field,
    compose_item_text,
    compose_item_texts,
)
