"""Strong simple peers: item-kNN, EASE, ALS and BPR, and their registry.

One module per peer (``item_knn``, ``ease``, ``als``, ``bpr``), each with its
Scorer and its ``SPEC`` (``spec.PeerSpec``: name, scorer, the flags it
takes, seeded); what they
share (the training matrix, history rows, the Scorer forms and the
popularity fallback) is in ``matrices``. ``registry.PEERS`` maps each name
to its spec, and ``gfm evaluate`` fits a peer through it (``peer_scorer``):
adding a peer is one module, its flags, and one entry in the registry.

ALS and BPR are seeded (``random_state``): ``compare_models`` runs them once
per seed, like the two-tower models.
"""

from tfgnn_gfm.evaluation.peers.als import als_scorer
from tfgnn_gfm.evaluation.peers.bpr import bpr_scorer
from tfgnn_gfm.evaluation.peers.ease import (
  ease_scorer,
  ease_weights,
  most_popular_columns,
)
from tfgnn_gfm.evaluation.peers.item_knn import (
  cosine_neighbours,
  cosine_weights,
  item_knn_scorer,
)
from tfgnn_gfm.evaluation.peers.matrices import (
  ModelSkipped,
  history_matrix,
  training_matrix,
)
from tfgnn_gfm.evaluation.peers.registry import PEERS, peer_scorer
from tfgnn_gfm.evaluation.peers.spec import PeerSpec
