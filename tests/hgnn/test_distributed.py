"""Training under a MirroredStrategy over logical CPU devices.

Logical devices must be configured before TensorFlow initialises, so the run
happens in a fresh subprocess.
"""

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]

_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
import tfgnn_gfm
from tests.hgnn.planted import planted_graph
from tfgnn_gfm.hgnn.config import PretrainConfig
from tfgnn_gfm.hgnn.trainer import make_strategy, train_link_prediction
config = PretrainConfig(embedding_dim=8, hidden_dim=8, batch_size=16,
                        epochs=2, fanouts=(3, 2), distribute="mirrored",
                        logical_cpus=2)
graph, _ = planted_graph(n_per_set=(30, 20))
result = train_link_prediction(graph, config, verbose=0)
import tensorflow as tf
print(json.dumps({"replicas": result.replicas,
                  "devices": len(tf.config.list_logical_devices("CPU")),
                  "loss": result.history["loss"],
                  "val_loss": result.history["val_loss"]}))
"""


def test_mirrored_strategy_over_logical_cpus():
  result = subprocess.run([sys.executable, "-c", _SCRIPT, str(ROOT)],
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  out = json.loads(result.stdout.strip().splitlines()[-1])
  assert out["devices"] == 2
  assert out["replicas"] == 2
  assert len(out["loss"]) == 2
  assert all(x == x for x in out["loss"] + out["val_loss"])  # not NaN
