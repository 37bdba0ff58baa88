"""``classifier`` analyzer: a video classifier the user trained (``vidlens train``), run in the normal pass.

The model is a bundle directory; it runs from its ``model.onnx`` through ONNX Runtime, so no PyTorch is
needed. Frames are sampled as the bundle's inputs say (feature heads: the bundle's rate at 224 px on the
shorter side, one backbone run per sampled frame; 3D-CNNs: the bundle's rate at its clip size) and
consecutive windows of the training clip length are classified while the video streams past
(:class:`vidlens.predict.predictor.WindowStream`).

The ``classifier`` section is a list with one entry per model (like ``labels``, so the report and the
library read its segments generically): the model's name and classes, the whole-video distribution,
every window, and ``segments``: runs of consecutive windows with the same label, merged, with the mean
probability of that label over the run as confidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UsageError
from ..media import VideoInfo
from .base import AnalyzerContext, FrameBatch, TimelinePart

if TYPE_CHECKING:
    from ..predict.predictor import OnnxPredictor, WindowResult


class ClassifierAnalyzer:
    name = "classifier"
    after: tuple[str, ...] = ()

    def __init__(self, model: str | Path | None = None, window_s: float | None = None, top_k: int = 3,
                 threads: int | None = None, predictor: OnnxPredictor | None = None) -> None:
        from ..predict.predictor import OnnxPredictor, WindowStream  # ONNX Runtime only; no torch

        if predictor is None:
            if model is None:
                raise UsageError("the classifier analyzer needs a trained model: {classifier} MODEL_DIR "
                                 '(or options={"classifier": {"model": DIR}})', params=("classifier",))
            predictor = OnnxPredictor(model, threads=threads)
        self.predictor = predictor
        self.window_s, self.top_k = window_s, int(top_k)
        self._stream_type = WindowStream
        self.stream = WindowStream(predictor, window_s, top_k=self.top_k)  # validates the window length
        self.needs = self.stream.needs

    def params(self) -> dict[str, Any]:
        meta = self.predictor.meta
        return {"model": self.predictor.name, "path": str(self.predictor.bundle_dir), "arch": meta.get("arch"),
                "onnx": self.predictor.onnx_path.name, "window_s": self.stream.window_s, "top_k": self.top_k}

    def start(self, info: VideoInfo) -> None:
        self.stream = self._stream_type(self.predictor, self.window_s, top_k=self.top_k)  # fresh per video

    def process(self, batch: FrameBatch) -> None:
        self.stream.add(batch.frames, batch.indices, batch.times)

    def finish(self, context: AnalyzerContext) -> TimelinePart:
        video, windows = self.stream.finish(context.clock.end_time)
        if video is None and not windows:
            return TimelinePart(params=self.params(), warnings=["no frame was sampled for the classifier"])
        times = context.clock.times
        classes = self.predictor.classes
        rows = []
        for window in windows:
            start = int(np.searchsorted(times, window.start_s - 1e-6, side="left"))
            end = context.clock.frame_count if window.end_s is None else \
                int(np.searchsorted(times, window.end_s - 1e-6, side="left"))
            rows.append(_window_row(window, max(start, context.first_frame), max(end, start + 1), context, classes,
                                    self.top_k))
        section = {"model": self.predictor.name, "model_path": str(self.predictor.bundle_dir),
                   "arch": self.predictor.meta.get("arch"), "classes": classes, "window_s": self.stream.window_s,
                   "video": video, "windows": [{k: v for k, v in row.items() if k != "probs"} for row in rows],
                   "segments": merge_segments(rows, classes)}
        warnings = []
        if self.stream.skipped:
            warnings.append(f"{self.stream.skipped} window(s) had no sampled frame for an input and were not "
                            "classified")
        return TimelinePart(sections={"classifier": [section]}, params=self.params(), warnings=warnings)


def _window_row(window: WindowResult, start: int, end: int, context: AnalyzerContext, classes: list[str],
                top_k: int) -> dict[str, Any]:
    from ..predict.predictor import top_labels

    best = int(np.argmax(window.probs))
    return {"start": context.clock.moment(start), "end": context.clock.moment(end), "label": classes[best],
            "confidence": round(float(window.probs[best]), 4), "top": top_labels(window.probs, classes, top_k),
            "probs": window.probs}


def merge_segments(rows: list[dict[str, Any]], classes: list[str]) -> list[dict[str, Any]]:
    """Consecutive windows with the same label as one segment; confidence = that label's mean probability
    over the segment, weighted by each window's length in frames."""
    segments: list[dict[str, Any]] = []
    weights: list[list[tuple[float, int]]] = []
    for row in rows:
        index = classes.index(row["label"])
        frames = row["end"]["frame"] - row["start"]["frame"]
        if segments and segments[-1]["label"] == row["label"] and segments[-1]["end"]["frame"] == row["start"]["frame"]:
            segments[-1]["end"] = row["end"]
            segments[-1]["windows"] += 1
            weights[-1].append((float(row["probs"][index]), frames))
        else:
            segments.append({"label": row["label"], "start": row["start"], "end": row["end"], "windows": 1})
            weights.append([(float(row["probs"][index]), frames)])
    for segment, pairs in zip(segments, weights):
        total = sum(n for _, n in pairs)
        segment["confidence"] = round(sum(p * n for p, n in pairs) / max(total, 1), 4)
    return segments
