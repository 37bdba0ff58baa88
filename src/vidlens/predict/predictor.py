"""Running a trained bundle from its ONNX file with ONNX Runtime: no torch anywhere in this module.

:class:`OnnxPredictor` is what ``vidlens evaluate``, ``vidlens predict`` and the ``classifier`` analyzer
use. It reads the bundle's metadata and turns the ``logits`` output of prepared inputs into class
probabilities; the inputs of a dataset sample or a clip, built exactly as training did, are
:func:`vidlens.train.video_inputs.clip_inputs`.

Whole videos are classified in the pipeline's single decode pass (:class:`WindowStream`, fed by the
``classifier`` analyzer): sampled frames go through the shipped backbone once (feature inputs) or are
kept at the clip size (clip inputs), and consecutive windows of ``window_s`` seconds (by default the
length of the training clips) are classified as soon as the stream has moved past them, so memory stays
bounded on long videos. A last window shorter than half a window is merged into the one before it, so
no label is decided on a sliver.

What "the whole video" means depends on the inputs: a bundle of feature heads sees its ``steps`` segment
centres over the whole video, exactly as it saw each training clip; a bundle with a clip input (a 3D-CNN
sees ``frames`` consecutive frames, a second or two) averages its windows' probabilities, weighted by
their duration.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import UsageError
from ..media import FrameSpec, Sampler
from .bundle import ONNX_FILE, OUTPUT_NAME, InvalidBundleError, read_meta, selection_spec, spec_fps
from .inputs import prepare_clip, prepare_features
from .streams import MOTION, STREAMS, spec_streams, stream_slice

#: Classes listed per prediction (``top``), at most the number of classes.
TOP_K = 3
#: Samples per ONNX Runtime call when predicting many.
BATCH_SIZE = 32
#: A last window shorter than this fraction of ``window_s`` joins the previous one.
MIN_LAST_WINDOW = 0.5


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def stack_inputs(items: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray]:
    """Per-sample input lists (as :func:`vidlens.train.video_inputs.clip_inputs` returns) -> one batched array
    per input."""
    if not items:
        raise UsageError("no samples to stack")
    return [np.stack([np.asarray(item[i], np.float32) for item in items]) for i in range(len(items[0]))]


class OnnxPredictor:
    """A bundle's model in ONNX Runtime, with the input preparation its metadata describes.

    ``onnx_file`` picks another ONNX file of the same model (an INT8 or pruned export); by default the
    bundle's ``files.onnx``. ``threads`` is ONNX Runtime's intra-op thread count (default: the runtime's).
    """

    def __init__(self, bundle_dir: str | Path, onnx_file: str | Path | None = None, *,
                 threads: int | None = None) -> None:
        from ..runtime import session_for

        self.bundle_dir = Path(bundle_dir)
        self.meta = read_meta(self.bundle_dir)
        self.classes: list[str] = [str(c) for c in self.meta["classes"]]
        self.specs: list[dict[str, Any]] = [dict(s) for s in self.meta["inputs"]]
        recorded = (self.meta.get("files") or {}).get("onnx")
        path = Path(onnx_file) if onnx_file is not None else self.bundle_dir / (recorded or ONNX_FILE)
        if not path.is_file():
            hint = "" if onnx_file is not None else " (export it with vidlens.train.export.export_onnx, needs torch)"
            raise InvalidBundleError(f"no ONNX model {path.name}{hint}", path=self.bundle_dir)
        self.onnx_path = path
        self.threads = threads
        try:
            self.session = session_for(path, threads)
        except Exception as error:  # onnxruntime raises its own types for unreadable graphs
            raise InvalidBundleError(f"ONNX Runtime cannot load {path.name}: {str(error).splitlines()[0]}",
                                     path=self.bundle_dir) from None
        graph_inputs = [i.name for i in self.session.get_inputs()]
        names = [s.get("name") for s in self.specs]
        if sorted(graph_inputs) != sorted(names):
            raise InvalidBundleError(f"{path.name} takes inputs {graph_inputs} but the metadata describes {names}",
                                     path=self.bundle_dir)
        self._backbones: dict[str, Any] = {}

    @property
    def name(self) -> str:
        """The model's name: its ``name`` in the metadata, else its folder's name."""
        return str(self.meta.get("name") or self.bundle_dir.resolve().name)

    @property
    def window_s(self) -> float:
        """Default window length: the median training clip length, else what one input spans."""
        recorded = (self.meta.get("training") or {}).get("clip_seconds")
        if recorded:
            return float(recorded)
        spans = []
        for spec in self.specs:
            fps = spec_fps(spec)
            count = spec["steps"] if spec["kind"] == "features" else spec["frames"]
            spans.append(count / fps if fps and fps < 500 else 2.0)
        return float(max(spans))

    # -- running the model ---------------------------------------------------------------------

    def predict_arrays(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities ``float64 [N, C]`` for prepared, batched inputs (one array per model input,
        in the metadata's order)."""
        if len(inputs) != len(self.specs):
            raise UsageError(f"the model takes {len(self.specs)} input(s), got {len(inputs)}")
        feeds = {spec["name"]: np.ascontiguousarray(x, dtype=np.float32) for spec, x in zip(self.specs, inputs)}
        sizes = {x.shape[0] for x in feeds.values()}
        if len(sizes) != 1:
            raise UsageError(f"inputs disagree on the batch size: {sorted(sizes)}")
        logits = self.session.run([OUTPUT_NAME], feeds)[0]
        return softmax(logits)

    def predict_samples(self, items: Sequence[Sequence[np.ndarray]], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Probabilities for many per-sample input lists, ``batch_size`` at a time."""
        if not items:
            return np.zeros((0, len(self.classes)))
        return np.concatenate([self.predict_arrays(stack_inputs(items[i: i + batch_size]))
                               for i in range(0, len(items), batch_size)])

    # -- inputs from videos ----------------------------------------------------------------------

    def backbone(self, name: str) -> Any:
        """The shipped backbone (a runtime ``Model``) that feature inputs are computed with."""
        if name not in self._backbones:
            from ..runtime import load_model

            self._backbones[name] = load_model(name, threads=self.threads)
        return self._backbones[name]


# ------------------------------------------------------------------------------------------------ streaming


def top_labels(probs: np.ndarray, classes: Sequence[str], k: int = TOP_K) -> list[dict[str, Any]]:
    order = np.argsort(-probs, kind="stable")[: max(1, min(k, len(classes)))]
    return [{"label": classes[i], "confidence": round(float(probs[i]), 4)} for i in order]


@dataclass
class WindowResult:
    """One classified window: ``[start_s, end_s)`` in video seconds (``end_s`` None = to the end)."""

    start_s: float
    end_s: float | None
    probs: np.ndarray


@dataclass
class _Input:
    spec: dict[str, Any]
    look: FrameSpec
    sampler: Sampler | None  # None: every frame the analyzer receives is this input's
    keep_all: bool  # feature inputs of a features-only bundle keep every row for the whole-video prediction
    times: list[float] = field(default_factory=list)
    items: list[np.ndarray] = field(default_factory=list)
    all_items: list[np.ndarray] = field(default_factory=list)
    extractors: list[Any] = field(default_factory=list)  # feature inputs: one row extractor per stream
    rows_seen: int = 0
    images: list[np.ndarray] | None = None  # whole-clip streams: the frames, filled in per window (see _run)


class WindowStream:
    """Consumes sampled frames in time order and classifies consecutive windows of ``window_s`` seconds.

    :attr:`needs` is the one ``FrameSpec`` to decode with: the bundle's own when all its inputs sample
    the same frames at the same size (every single-model bundle); otherwise (an ensemble of inputs at
    different rates or sizes) every frame at the largest size, each input then picking its frames with
    its own sampler and frames being shrunk with OpenCV's area filter, a close but not bit-exact match
    of the swscale resize that training used.
    """

    def __init__(self, predictor: OnnxPredictor, window_s: float | None = None, *, top_k: int = TOP_K) -> None:
        self.predictor = predictor
        self.window_s = float(window_s) if window_s is not None else predictor.window_s
        if not (self.window_s > 0 and math.isfinite(self.window_s)):
            raise UsageError(f"the window must be a positive number of seconds, got {window_s}")
        self.top_k = top_k
        looks = [selection_spec(s) for s in predictor.specs]
        self.features_only = all(s["kind"] == "features" for s in predictor.specs)
        shared = all(look == looks[0] for look in looks)
        if shared:
            self.needs = looks[0]
        else:
            self.needs = FrameSpec(min_side=max(look.min_side or 0 for look in looks), pixel_format="rgb24")
        self.inputs = [_Input(spec, look, None if shared else Sampler(look), self.features_only and
                              spec["kind"] == "features") for spec, look in zip(predictor.specs, looks)]
        self.origin: float | None = None
        self.latest = -math.inf
        self.end = -math.inf
        self.next_window = 0
        self.windows: list[WindowResult] = []
        self.skipped = 0

    def add(self, frames: Sequence[np.ndarray], indices: np.ndarray, times: np.ndarray) -> None:
        """Feed a batch of decoded frames (``needs``' look, time order); classify the windows now complete."""
        if not len(frames):
            return
        if self.origin is None:
            self.origin = float(times[0])
        for item in self.inputs:
            picked = [j for j in range(len(frames))
                      if item.sampler is None or item.sampler.wants(int(indices[j]), _fraction(times[j]), False)]
            if not picked:
                continue
            images = [_resize_min_side(frames[j], item.look.min_side) for j in picked]
            if item.spec["kind"] == "features":
                values = self._feature_rows(item, images, [float(times[j]) for j in picked])
            else:
                values = images
            item.times.extend(float(times[j]) for j in picked)
            item.items.extend(values)
            if item.images is not None:
                item.images.extend(images)
            if item.keep_all:
                item.all_items.extend(values)
        self.latest = max(self.latest, float(times[-1]))
        # window k is final once the stream is half a window past its end (the next one is no sliver)
        while self.latest >= self._edge(self.next_window + 1) + MIN_LAST_WINDOW * self.window_s:
            self._run(self._edge(self.next_window), self._edge(self.next_window + 1))
            self.next_window += 1

    def finish(self, end_s: float | None = None) -> tuple[dict[str, Any] | None, list[WindowResult]]:
        """Classify what is left; returns the whole-video prediction (or None) and every window.

        ``end_s`` is where the video (or analysed range) ends, i.e. the last frame's time plus its
        duration; without it the last sampled frame is taken as the end.
        """
        if self.origin is None:
            return None, []
        self.end = max(self.latest + 1e-6, end_s if end_s is not None else -math.inf)
        last = max(self.next_window, math.ceil((self.end - self.origin) / self.window_s - 1e-9) - 1)
        if last > self.next_window and self.end - self._edge(last) < MIN_LAST_WINDOW * self.window_s:
            last -= 1  # the sliver joins the window before it
        for k in range(self.next_window, last):
            self._run(self._edge(k), self._edge(k + 1))
        self._run(self._edge(last), None)
        return self._video(), self.windows

    def _edge(self, k: int) -> float:
        return (self.origin or 0.0) + k * self.window_s

    def _run(self, start: float, end: float | None) -> None:
        inputs = []
        for item in self.inputs:
            times = np.asarray(item.times)
            inside = np.flatnonzero((times >= start - 1e-9) & (True if end is None else times < end - 1e-9))
            if not inside.size:
                inputs = None
                break
            if item.images is not None:
                self._whole_clip_rows(item, inside)
            inputs.append(self._prepare(item.spec, [item.items[i] for i in inside]))
        if inputs is None:
            self.skipped += 1
        else:
            self.windows.append(WindowResult(start, end, self.predictor.predict_arrays([x[None] for x in inputs])[0]))
        for item in self.inputs:  # drop what no later window needs
            if end is None:
                item.times, item.items = [], []
                item.images = None if item.images is None else []
                continue
            keep = next((i for i, t in enumerate(item.times) if t >= end - 1e-9), len(item.times))
            item.times, item.items = item.times[keep:], item.items[keep:]
            if item.images is not None:
                item.images = item.images[keep:]

    def _whole_clip_rows(self, item: _Input, inside: np.ndarray) -> None:
        """Fill the whole-clip streams' columns (pose) of this window's rows, from the window's frames.

        Training computed them over each training clip's frames; a window is as long as a training clip,
        so the window's frames play its part. Rows are shared with ``all_items``, so the whole-video
        prediction sees the same values.
        """
        names = spec_streams(item.spec)
        frames = [item.images[i] for i in inside]
        times = [item.times[i] for i in inside]
        for name, extractor in zip(names, item.extractors):
            if STREAMS[name].whole_clip:
                columns = stream_slice(names, name)
                values = np.asarray(extractor.rows(frames, times), np.float32)
                for row, value in zip((item.items[i] for i in inside), values):
                    row[columns] = value

    def _feature_rows(self, item: _Input, images: list[np.ndarray], times: list[float]) -> list[np.ndarray]:
        """Each stream's rows of these frames (as the feature cache computes them), concatenated per frame."""
        names = spec_streams(item.spec)
        if not item.extractors:
            for name in names:
                stream = STREAMS[name]
                backbone = self.predictor.backbone(item.spec["backbone"]) if stream.uses_backbone else None
                item.extractors.append(stream.factory(backbone, spec_fps(item.spec) or 4.0))  # None: every frame
            if any(STREAMS[n].whole_clip for n in names):
                item.images = []
        parts = [np.zeros((len(images), STREAMS[name].dim), np.float32) if STREAMS[name].whole_clip
                 else np.asarray(extractor.rows(images, times), np.float32)
                 for name, extractor in zip(names, item.extractors)]
        values = list(np.concatenate(parts, axis=1))
        if item.rows_seen < 2 <= item.rows_seen + len(values) and MOTION in names:
            # the video's first motion row has no predecessor: it repeats the second (fill_first_row)
            first = values[0] if item.rows_seen == 0 else None
            second = values[1 - item.rows_seen]
            columns = stream_slice(names, MOTION)
            for row in ([first] if first is not None else [r for r in (item.items[:1] + item.all_items[:1])]):
                row[columns] = second[columns]
        item.rows_seen += len(values)
        return values

    @staticmethod
    def _prepare(spec: dict[str, Any], items: list[np.ndarray]) -> np.ndarray:
        if spec["kind"] == "features":
            return prepare_features(np.stack(items), int(spec["steps"]))
        return prepare_clip(np.stack(items), int(spec["frames"]), int(spec["size"]))

    def _video(self) -> dict[str, Any] | None:
        classes = self.predictor.classes
        if self.features_only and all(item.all_items for item in self.inputs):
            inputs = [self._prepare(item.spec, item.all_items)[None] for item in self.inputs]
            probs = self.predictor.predict_arrays(inputs)[0]
            method = "whole video as one clip (segment centres over all of it, as in training)"
        elif self.windows:
            spans = np.array([((w.end_s if w.end_s is not None else self.end) - w.start_s)
                              for w in self.windows])
            weights = np.maximum(spans, 1e-6)
            probs = (np.stack([w.probs for w in self.windows]) * weights[:, None]).sum(axis=0) / weights.sum()
            method = f"duration-weighted mean of {len(self.windows)} window(s)"
        else:
            return None
        best = int(np.argmax(probs))
        return {"label": classes[best], "confidence": round(float(probs[best]), 4),
                "top": top_labels(probs, classes, self.top_k),
                "probabilities": {c: round(float(p), 4) for c, p in zip(classes, probs)}, "method": method}


def _fraction(seconds: float):
    from fractions import Fraction

    return Fraction(float(seconds)).limit_denominator(1_000_000)


def _resize_min_side(frame: np.ndarray, min_side: int | None) -> np.ndarray:
    """``frame`` with its shorter side scaled to ``min_side`` (already so: returned as is)."""
    h, w = frame.shape[:2]
    if not min_side or min(h, w) == min_side:
        return frame
    width, height = FrameSpec(min_side=min_side).output_size(w, h)
    interpolation = cv2.INTER_AREA if min(h, w) > min_side else cv2.INTER_LINEAR
    return cv2.resize(frame, (width, height), interpolation=interpolation)
