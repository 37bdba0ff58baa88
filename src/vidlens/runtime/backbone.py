"""The image backbone's contract: which model, what it sees of a frame, and how its outputs are read.

EfficientNet-Lite0 (shipped as ONNX, run by :mod:`vidlens.runtime`) takes RGB squares of ``INPUT``
pixels, ``(x - 127) / 128`` in NCHW, and returns ImageNet-1k ``logits`` and 1280-d pooled
``features``. The ``labels`` analyzer, query-by-example search (``vidlens.library``), the library's
label facts and the training feature cache (``vidlens.train``) all feed and read it through here, so
a frame means the same thing to each of them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError

MODEL = "efficientnet_lite0"
INPUT = 224
#: Length of the pooled ``features`` output.
FEATURE_DIM = 1280
#: What the model sees of a frame: its centre square, or two squares covering the long side.
CROPS = ("centre", "sides")


@cache
def class_names(path: Path) -> list[str]:
    """Readable class names: the first lemma of each synset (``tabby, tabby cat`` -> ``tabby``)."""
    names = []
    for line in path.read_text(encoding="utf-8").splitlines():
        _, _, lemmas = line.split("\t", 2)
        names.append(lemmas.split(",")[0].strip())
    return names


@cache
def class_categories(path: Path) -> tuple[dict[str, np.ndarray], dict[int, list[str]]]:
    """category -> class indices, and class -> its categories (from imagenet_categories.json)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    per_class = {int(i): cats for i, cats in data["classes"].items()}
    members: dict[str, list[int]] = {}
    for index, cats in per_class.items():
        for cat in cats:
            members.setdefault(cat, []).append(index)
    return {c: np.array(sorted(v)) for c, v in members.items()}, per_class


def shot_labels(mean: np.ndarray, frames: np.ndarray, names: list[str], members: dict[str, np.ndarray], *,
                top_k: int = 5, min_confidence: float = 0.15,
                min_category: float = 0.35) -> list[tuple[str, float, str]]:
    """Labels that hold over a span: high mean probability and in the top-k of most of its frames, plus the
    categories whose member classes together pass ``min_category``. ``(name, confidence, source)``."""
    top = np.argsort(-frames, axis=1)[:, :top_k]
    out = []
    for index in np.argsort(-mean)[:top_k]:
        share = float(np.mean(np.any(top == index, axis=1)))
        if mean[index] >= min_confidence and (share >= 0.5 or len(frames) == 1):
            out.append((names[index], round(float(mean[index]), 4), "imagenet"))
    for category, classes in members.items():
        score = float(mean[classes].sum())
        if score >= min_category:
            out.append((category, round(min(1.0, score), 4), "category"))
    return out


def classify_frames(model: Any, frames: list[np.ndarray], crops: str = "centre") -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities ``float32 [N, 1000]`` and pooled features ``float32 [N, 1280]`` of RGB frames whose
    short side is ``INPUT`` pixels (the query-by-example path feeds images through here too)."""
    squares = [_squares(f, INPUT, crops) for f in frames]
    out = model.run(normalise_squares([sq for frame in squares for sq in frame]))
    logits = out["logits"].astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    at = np.cumsum([0] + [len(frame) for frame in squares])
    p_out, f_out = [], []
    for a, b in pairwise(at.tolist()):
        # a subject off-centre is in one of the squares: per class, the most confident square speaks
        p = probs[a:b].max(axis=0)
        p_out.append((p / p.sum()).astype(np.float32))
        f_out.append(out["features"][a:b].mean(axis=0).astype(np.float32))
    return np.stack(p_out), np.stack(f_out)


def normalise_squares(squares: list[np.ndarray]) -> np.ndarray:
    """RGB ``INPUT``-pixel squares as the backbone's input: ``(x - 127) / 128``, NCHW float32."""
    x = (np.stack(squares).astype(np.float32) - 127.0) / 128.0
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def centre_square(frame: np.ndarray, size: int = INPUT) -> np.ndarray:
    """The centre ``size`` x ``size`` square of a frame whose shorter side is at least ``size``."""
    return _squares(frame, size, "centre")[0]


def _squares(frame: np.ndarray, size: int, crops: str) -> list[np.ndarray]:
    """The square crop(s) the model sees: the centre one, or for ``sides`` one at each end of the long
    side (together they cover a 16:9 frame whole; a frame nearly square gets its centre only)."""
    h, w = frame.shape[:2]
    if crops == "sides" and max(h, w) > 1.2 * size:
        if w >= h:
            return [frame[(h - size) // 2: (h - size) // 2 + size, :size], frame[(h - size) // 2:
                    (h - size) // 2 + size, w - size:]]
        return [frame[:size, (w - size) // 2: (w - size) // 2 + size], frame[h - size:, (w - size) // 2:
                (w - size) // 2 + size]]
    y, x = (h - size) // 2, (w - size) // 2
    return [frame[y: y + size, x: x + size]]


def backbone_input(frames: Sequence[np.ndarray]) -> np.ndarray:
    """Frames (RGB, shorter side >= 224) as the backbone's input: centre squares, normalised, NCHW float32
    (exactly what the labels analyzer feeds it)."""
    for frame in frames:
        h, w = frame.shape[:2]
        if min(h, w) < INPUT:
            raise UsageError(f"frames must be at least {INPUT} px on their shorter side, got {w}x{h}")
    return normalise_squares([centre_square(frame) for frame in frames])
