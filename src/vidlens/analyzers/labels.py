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

from fractions import Fraction
from typing import Any

import numpy as np

from ..analysis import Artifact
from ..errors import UsageError
from ..media import FrameSpec, VideoInfo
from ..runtime.backbone import CROPS, INPUT, MODEL, class_categories, class_names, classify_frames, shot_labels
from .base import AnalyzerContext, FrameBatch, TimelinePart, sampled_in_range, shots_or_whole

EMBEDDINGS_FILE = "embeddings.npz"
#: Class probabilities kept per sampled frame in the sidecar (sparse: the library's ConSE needs the top 10).
SIDECAR_TOP_K = 20

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
