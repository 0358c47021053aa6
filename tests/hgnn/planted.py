"""A tiny heterogeneous graph with planted communities, for HGNN tests."""

import numpy as np

from tfgnn_gfm.hgnn.graph_data import EdgeSetData, ItemGraph


def planted_graph(n_per_set=(60, 40), communities=4, text_dim=16,
                  p_in=0.25, p_out=0.005, text_noise=1.5, seed=0):
  """Two node sets ('podcast', 'audiobook'); edges mostly within communities.

  Text embeddings carry a weak, noisy community signal, so the graph has to
  add information for embeddings to separate the communities well.

  Returns:
    (ItemGraph, {node set: community per node}).
  """
  rng = np.random.default_rng(seed)
  names = ["podcast", "audiobook"]
  centers = rng.normal(size=(communities, text_dim))
  comm, ids, feats = {}, {}, {}
  for name, n in zip(names, n_per_set):
    c = np.arange(n) % communities
    comm[name] = c
    ids[name] = np.array([f"{name[:2]}{i}" for i in range(n)], dtype=object)
    text = centers[c] + text_noise * rng.normal(size=(n, text_dim))
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    feats[name] = {"text_embedding": text.astype(np.float32),
                   "log_degree": np.zeros((n, 1), np.float32)}
  edge_sets = {}
  degree = {n: np.zeros(len(ids[n])) for n in names}
  pairs = {}
  for i, a in enumerate(names):
    for b in names[i:]:
      same = comm[a][:, None] == comm[b][None, :]
      prob = np.where(same, p_in, p_out)
      hit = rng.random(prob.shape) < prob
      if a == b:
        hit = np.triu(hit, 1)
      src, tgt = np.nonzero(hit)
      pairs[(a, b)] = (src, tgt)
  for (a, b), (src, tgt) in pairs.items():
    if a == b:
      s = np.concatenate([src, tgt])
      t = np.concatenate([tgt, src])
      edge_sets[f"{a}_to_{a}"] = EdgeSetData(a, a, s, t)
      np.add.at(degree[a], s, 1)
    else:
      edge_sets[f"{a}_to_{b}"] = EdgeSetData(a, b, src, tgt)
      edge_sets[f"{b}_to_{a}"] = EdgeSetData(b, a, tgt, src)
      np.add.at(degree[a], src, 1)
      np.add.at(degree[b], tgt, 1)
  for n in names:
    feats[n]["log_degree"] = np.log1p(degree[n])[:, None].astype(np.float32)
  return ItemGraph(ids, feats, edge_sets), comm
