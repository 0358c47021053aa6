"""PyG reference of bench/bench_pretrain.py: full-graph hetero GraphSAGE.

Runs in a Python with torch and torch_geometric (no TensorFlow), started by
``bench_pretrain.py --torch-python PATH``. The model matches ours in size:
a per-type Linear input projection of text embedding + log degree, then
``num_layers`` ``HeteroConv`` layers of ``SAGEConv(aggr="max",
project=True)`` (max over neighbours of relu(W_r h_j + b), plus W h_self, summed
over relations), relu and L2 normalisation between layers, L2-normalised
output; each step runs the whole graph and takes the margin loss on a batch
of positive edges with one uniform negative each, Adam. (PyG's neighbour
loaders need pyg-lib or torch-sparse, which have no wheels here, so the
full-graph regime is the reference.)

usage: PYTHON bench/pyg_reference.py GRAPH.npz --hidden 128 --dim 128 \
         --layers 2 --positives 8192 --steps 5 --threads 2
Prints one JSON line: positive_edges_per_s, step_s, versions.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument("graph", help=".npz written by bench_pretrain.py")
  parser.add_argument("--hidden", type=int, default=128)
  parser.add_argument("--dim", type=int, default=128)
  parser.add_argument("--layers", type=int, default=2)
  parser.add_argument("--positives", type=int, default=8192)
  parser.add_argument("--steps", type=int, default=5)
  parser.add_argument("--threads", type=int, default=2)
  parser.add_argument("--margin", type=float, default=0.5)
  args = parser.parse_args()
  import torch
  import torch_geometric
  from torch_geometric.nn import HeteroConv, SAGEConv
  torch.set_num_threads(args.threads)
  torch.manual_seed(0)

  data = np.load(args.graph, allow_pickle=False)
  node_sets = [str(n) for n in data["node_sets"]]
  x = {n: torch.from_numpy(data[f"x/{n}"]) for n in node_sets}
  edge_sets = [str(e) for e in data["edge_sets"]]
  # Our edge set a->b updates a from b (receiver = source): PyG messages go
  # from edge_index[0] to edge_index[1], so b -> a.
  edges, ends = {}, {}
  for e in edge_sets:
    a, b = str(data[f"ends/{e}"][0]), str(data[f"ends/{e}"][1])
    ends[e] = (a, b)
    edges[(b, e, a)] = torch.from_numpy(np.stack(
        [data[f"target/{e}"], data[f"source/{e}"]]).astype(np.int64))

  class Model(torch.nn.Module):
    """Input projection, then HeteroConv(SAGEConv max) layers."""

    def __init__(self):
      super().__init__()
      self.proj = torch.nn.ModuleDict({
          n: torch.nn.Linear(x[n].shape[1], args.hidden) for n in node_sets})
      self.convs = torch.nn.ModuleList()
      for i in range(args.layers):
        units = args.dim if i == args.layers - 1 else args.hidden
        self.convs.append(HeteroConv({
            key: SAGEConv((args.hidden, args.hidden), units, aggr="max",
                          project=True) for key in edges}, aggr="sum"))

    def forward(self):
      h = {n: self.proj[n](x[n]) for n in node_sets}
      for i, conv in enumerate(self.convs):
        out = conv(h, edges)
        out = {n: out.get(n, h[n]) for n in node_sets}
        last = i == len(self.convs) - 1
        h = {n: torch.nn.functional.normalize(
            v if last else torch.relu(v), dim=-1) for n, v in out.items()}
      return h

  model = Model()
  optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
  e0 = edge_sets[0]
  src_all, tgt_all = data[f"source/{e0}"], data[f"target/{e0}"]
  s_set, t_set = ends[e0]
  rng = np.random.default_rng(0)

  def step():
    pick = rng.integers(0, len(src_all), args.positives)
    src = torch.from_numpy(src_all[pick].astype(np.int64))
    tgt = torch.from_numpy(tgt_all[pick].astype(np.int64))
    neg = torch.from_numpy(rng.integers(0, x[t_set].shape[0],
                                        args.positives))
    optimizer.zero_grad()
    h = model()
    zs, zt, zn = h[s_set][src], h[t_set][tgt], h[t_set][neg]
    loss = torch.relu((zs * zn).sum(-1) - (zs * zt).sum(-1) +
                      args.margin).mean()
    loss.backward()
    optimizer.step()
    return float(loss)

  step()  # Warm-up.
  times = []
  for _ in range(args.steps):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
  median = float(np.median(times))
  print(json.dumps({"positive_edges_per_s": round(args.positives / median, 1),
                    "step_s": round(median, 4), "positives": args.positives,
                    "threads": args.threads, "torch": torch.__version__,
                    "torch_geometric": torch_geometric.__version__}))


if __name__ == "__main__":
  main()
