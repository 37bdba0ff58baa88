"""Synthetic embeddings with known nearest neighbours, for the vector-index tests and ``bench/vector_search.py``.

Uniform random unit vectors are the worst case for approximate search: in 384 dimensions every point
is nearly equidistant from every other (local intrinsic dimension 120-125 by ``local_intrinsic_dimension``),
which real embeddings never are. ``clustered_unit_vectors`` draws a mixture of Gaussians in a
low-dimensional latent space, embedded by a random orthonormal map and blurred by isotropic noise:
overlapping clusters whose intrinsic dimension (≈ 17 with the defaults) is above that of ConSE vectors
built from the shipped sentence model (9.1), i.e. a somewhat pessimistic stand-in for real embeddings
(numbers from ``bench/vector_search.py``). One caveat: its clusters are discrete, which an IVF
index's lists can learn exactly once there are enough points per cluster.
"""

from __future__ import annotations

import numpy as np

#: Defaults of :func:`clustered_unit_vectors`: latent dimension, clusters, spread within a cluster
#: (relative to the spread of the cluster centres) and isotropic noise (relative to the latent signal).
LATENT_DIM = 64
CLUSTERS = 1000
WITHIN = 1.0
NOISE = 0.3


def _normalize(x: np.ndarray) -> np.ndarray:
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return x


def uniform_unit_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """``float32 [n, dim]`` uniformly distributed on the unit sphere."""
    return _normalize(rng.standard_normal((n, dim), dtype=np.float32))


def clustered_unit_vectors(n: int, dim: int, rng: np.random.Generator, *, latent_dim: int = LATENT_DIM,
                           clusters: int = CLUSTERS, within: float = WITHIN, noise: float = NOISE,
                           chunk: int = 100_000) -> np.ndarray:
    """``float32 [n, dim]`` unit vectors from a Gaussian mixture in a ``latent_dim`` subspace, plus noise.

    The map and the cluster centres are drawn from ``rng`` first, so two calls with generators seeded
    alike give the same space (index vectors and held-out queries come from one call, split). Built in
    chunks so 1M × 1280 needs no more than the output's memory.
    """
    latent_dim = min(latent_dim, dim)
    basis = np.linalg.qr(rng.standard_normal((dim, latent_dim)))[0].T.astype(np.float32)  # orthonormal rows
    centres = rng.standard_normal((clusters, latent_dim), dtype=np.float32)
    out = np.empty((n, dim), np.float32)
    noise_scale = np.float32(noise * np.sqrt(latent_dim / dim))
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        z = centres[rng.integers(clusters, size=m)] + np.float32(within) * rng.standard_normal((m, latent_dim),
                                                                                              dtype=np.float32)
        block = z @ basis
        block += noise_scale * rng.standard_normal((m, dim), dtype=np.float32)
        out[start:start + m] = _normalize(block)
    return out


def exact_top_k(queries: np.ndarray, vectors: np.ndarray, k: int, chunk: int = 100_000) -> np.ndarray:
    """Row indices of the ``k`` largest inner products per query, best first (NumPy brute force, the anchor)."""
    q = np.atleast_2d(queries)
    best_scores = np.full((len(q), 0), -np.inf, np.float32)
    best_rows = np.empty((len(q), 0), np.int64)
    for start in range(0, len(vectors), chunk):
        sims = q @ vectors[start:start + chunk].T
        kk = min(k, sims.shape[1])
        top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        best_scores = np.concatenate([best_scores, np.take_along_axis(sims, top, axis=1)], axis=1)
        best_rows = np.concatenate([best_rows, top + start], axis=1)
        keep = np.argsort(-best_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(best_scores, keep, axis=1)
        best_rows = np.take_along_axis(best_rows, keep, axis=1)
    return best_rows


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each row of ``truth`` (the true top-k ids) present in the same row of ``found``."""
    k = truth.shape[1]
    return float(np.mean([len(set(f[:k].tolist()) & set(t.tolist())) / k for f, t in zip(found, truth)]))


def local_intrinsic_dimension(vectors: np.ndarray, probes: int = 300, k: int = 20) -> float:
    """Maximum-likelihood local intrinsic dimension (Levina & Bickel 2005) averaged over ``probes`` points.

    How hard a set is for approximate search: the higher, the more alike all distances look.
    """
    q = vectors[:probes]
    sims = np.sort(q @ vectors.T, axis=1)[:, ::-1][:, 1:k + 1]  # drop the point itself
    dist = np.sqrt(np.maximum(2.0 - 2.0 * sims, 1e-12))
    logs = np.log(dist[:, :-1] / dist[:, -1:])
    return float(np.mean(-1.0 / np.minimum(logs.mean(axis=1), -1e-12)))
