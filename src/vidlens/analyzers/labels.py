"""``labels`` analyzer: ImageNet-1k labels and coarse categories per shot, plus visual embeddings.

EfficientNet-Lite0 (shipped as ONNX) runs on frames sampled at a low rate; its softmax is averaged
over each shot, so a label must hold across the shot's frames to be reported (a one-frame
flicker cannot reach the threshold on its own). Classes roll up into coarse categories (animal,
dog, vehicle, food, indoor...) derived from WordNet hypernyms, which are what users search for.
The same pass yields the 1280-d pooled features, saved per sampled frame and per shot (mean,
L2-normalised) in a binary sidecar for search and training, with each sampled frame's top-20 class
probabilities (what the library's ConSE search embeds).
"""

from __future__ import annotations

import json
from fractions import Fraction
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis import Artifact
from ..errors import UsageError
from ..media import FrameSpec, VideoInfo
from .base import AnalyzerContext, FrameBatch, TimelinePart, sampled_in_range, shots_or_whole

MODEL = "efficientnet_lite0"
INPUT = 224
EMBEDDINGS_FILE = "embeddings.npz"
#: Class probabilities kept per sampled frame in the sidecar (sparse: the library's ConSE needs the top 10).
SIDECAR_TOP_K = 20
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


class LabelsAnalyzer:
    name = "labels"
    after: tuple[str, ...] = ("shots",)

    def __init__(self, fps: float = 2.0, top_k: int = 5, min_confidence: float = 0.15,
                 min_category: float = 0.35, variant: str | None = None, crops: str = "centre") -> None:
        if crops not in CROPS:
            raise UsageError(f"crops must be one of {CROPS}, got {crops!r}")
        self.crops = crops
        self.fps, self.top_k = fps, top_k
        self.min_confidence, self.min_category = min_confidence, min_category
        self.variant = variant
        self.needs = FrameSpec(min_side=INPUT, pixel_format="rgb24", fps=Fraction(fps).limit_denominator(1000))

    def params(self) -> dict[str, Any]:
        return {"model": MODEL, "variant": self.variant or "default", "crops": self.crops, "fps": self.fps,
                "top_k": self.top_k,
                "min_confidence": self.min_confidence, "min_category": self.min_category}

    def start(self, info: VideoInfo) -> None:
        from ..runtime import load_model  # ONNX Runtime loads only when a model is used

        self.model = load_model(MODEL, self.variant)
        labels = self.model.entry.labels_path()
        if labels is None:
            raise ValueError(f"model {MODEL} has no labels file in its manifest entry")
        self.names = class_names(labels)
        self.members, self.class_categories = class_categories(labels.parent / "imagenet_categories.json")
        self._indices: list[int] = []
        self._times: list[float] = []
        self._probs: list[np.ndarray] = []
        self._features: list[np.ndarray] = []

    def process(self, batch: FrameBatch) -> None:
        probs, features = classify_frames(self.model, batch.frames, self.crops)
        self._probs.extend(probs)
        self._features.extend(features)
        self._indices.extend(int(i) for i in batch.indices)
        self._times.extend(float(t) for t in batch.times)

    def finish(self, context: AnalyzerContext) -> TimelinePart:
        if not self._indices:
            return TimelinePart(params=self.params(), warnings=["no frame was sampled for labels"])
        indices = np.asarray(self._indices)
        probs = np.stack(self._probs)
        features = np.stack(self._features)
        shots = shots_or_whole(context)
        labels: dict[tuple[str, str], list[dict[str, Any]]] = {}
        fields: dict[int, dict[str, Any]] = {}
        shot_features = []
        for shot in shots:
            members = sampled_in_range(indices, shot["start"]["frame"], shot["end"]["frame"])
            mean = probs[members].mean(axis=0)
            found = self._shot_labels(mean, probs[members])
            fields[shot["index"]] = {
                "labels": [{"name": n, "confidence": c} for n, c, s in found if s != "category"],
                "categories": [{"name": n, "confidence": c} for n, c, s in found if s == "category"]}
            for name, confidence, source in found:
                _add_segment(labels.setdefault((name, source), []), shot, confidence)
            feature = features[members].mean(axis=0)
            shot_features.append(feature / max(float(np.linalg.norm(feature)), 1e-12))
        section = [{"name": name, "source": source, "segments": segments}
                   for (name, source), segments in sorted(labels.items(), key=lambda kv: -_screen_time(kv[1]))]
        embeddings = {
            "frame_indices": indices, "frame_times": np.asarray(self._times),
            "frame_features": _normalise(features).astype(np.float16),
            "frame_top_classes": np.argsort(-probs, axis=1)[:, :SIDECAR_TOP_K].astype(np.int16),
            "frame_top_probs": -np.sort(-probs, axis=1)[:, :SIDECAR_TOP_K].astype(np.float16),
            "shot_indices": np.asarray([s["index"] for s in shots]),
            "shot_features": np.stack(shot_features).astype(np.float16),
        }
        part = TimelinePart(sections={"labels": section}, params=self.params(), shot_fields=fields,
                            artifacts={EMBEDDINGS_FILE: Artifact(arrays=embeddings)})
        part.sections["embeddings"] = {"file": EMBEDDINGS_FILE, "model": MODEL, "dim": int(features.shape[1]),
                                       "frames": len(indices), "shots": len(shots), "normalised": True}
        return part

    def _shot_labels(self, mean: np.ndarray, frames: np.ndarray) -> list[tuple[str, float, str]]:
        return shot_labels(mean, frames, self.names, self.members, top_k=self.top_k,
                           min_confidence=self.min_confidence, min_category=self.min_category)


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


def _add_segment(segments: list[dict[str, Any]], shot: dict[str, Any], confidence: float) -> None:
    """Append the shot as a segment, merged with the previous one when they touch."""
    if segments and segments[-1]["end"]["frame"] == shot["start"]["frame"]:
        last = segments[-1]
        frames_a = last["end"]["frame"] - last["start"]["frame"]
        frames_b = shot["end"]["frame"] - shot["start"]["frame"]
        last["confidence"] = round((last["confidence"] * frames_a + confidence * frames_b) / (frames_a + frames_b), 4)
        last["end"] = shot["end"]
        return
    segments.append({"start": shot["start"], "end": shot["end"], "confidence": confidence})


def _screen_time(segments: list[dict[str, Any]]) -> float:
    return sum(s["end"]["time"] - s["start"]["time"] for s in segments)


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
