"""ConSE: an image in the sentence-embedding space, from its classifier probabilities.

No CLIP-like model ships in a registry package, so a text query cannot be compared with pixels
directly. ConSE (Norouzi et al., "Zero-Shot Learning by Convex Combination of Semantic Embeddings",
2014) bridges it with what does ship: the image's embedding is the convex combination of the
sentence embeddings of its top-``k`` ImageNet class names, weighted by their probabilities, then
L2-normalised. A keyframe whose classifier says "tabby 0.4, tiger cat 0.3, Egyptian cat 0.2" lands
near "cat", "kitten" and "feline" although none of those words is a label.

The class names are embedded once per process with their WordNet lemmas ("tabby, tabby cat"), which
carry the synonyms the short name lacks.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from ..runtime import model_entry
from ..runtime.sentence_embedder import embed_texts

CLASSIFIER = "efficientnet_lite0"
TOP_K = 10


@cache
def class_name_embeddings() -> np.ndarray:
    """Sentence embeddings of the classifier's 1000 class descriptions (lemmas), ``float32 [1000, 384]``."""
    labels = model_entry(CLASSIFIER).labels_path()
    if labels is None:
        raise ValueError(f"model {CLASSIFIER} has no labels file in its manifest entry")
    texts = [line.split("\t", 2)[2] for line in labels.read_text(encoding="utf-8").splitlines()]
    return embed_texts(texts)


def conse_embed(probs: np.ndarray, top_k: int = TOP_K) -> np.ndarray:
    """ConSE vectors for class probabilities ``[N, 1000]`` (or one ``[1000]``): ``float32 [N, 384]``, unit length."""
    p = np.atleast_2d(np.asarray(probs, dtype=np.float32))
    names = class_name_embeddings()
    if p.shape[1] != len(names):
        raise ValueError(f"expected {len(names)} class probabilities per row, got {p.shape[1]}")
    k = min(top_k, p.shape[1])
    top = np.argpartition(-p, k - 1, axis=1)[:, :k]
    weights = np.take_along_axis(p, top, axis=1)
    weights = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    out = np.einsum("nk,nkd->nd", weights, names[top])
    return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)
