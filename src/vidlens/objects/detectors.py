"""Object detectors behind one small protocol: frames in, :class:`Detections` out.

``load_detector()`` gives the default, NanoDet, chosen by accuracy per millisecond on real frames
(``bench/detection.py``; figures in ``bench/RESULTS.md``); CenterNet stays selectable.  Both take RGB
uint8 frames of any size and return boxes in those frames' pixels.  Models come from the shipped
registry (``vidlens.runtime.load_model``); nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from ..boxes import ResizeMode, check_frames
from ..errors import UsageError
from ..runtime import Model, load_model
from . import centernet, nanodet
from .classes import class_mask
from .types import Detections

DETECTORS = ("nanodet", "centernet")
DEFAULT_DETECTOR = "nanodet"


@runtime_checkable
class Detector(Protocol):
    name: str
    score_threshold: float

    def detect(self, frames_rgb: Sequence[np.ndarray]) -> list[Detections]:
        """One :class:`Detections` per frame, boxes in that frame's pixels, best score first."""
        ...


class _Base:
    name = ""
    default_threshold = 0.3

    def __init__(self, model: Model, *, score_threshold: float | None = None, iou_threshold: float = 0.5,
                 classes: Iterable[str | int] | None = None, resize: ResizeMode | str = ResizeMode.LETTERBOX,
                 batch_size: int = 8) -> None:
        threshold = self.default_threshold if score_threshold is None else float(score_threshold)
        if not 0.0 <= threshold < 1.0:
            raise UsageError(f"score_threshold must be in [0, 1), got {score_threshold}")
        if not 0.0 < iou_threshold <= 1.0:
            raise UsageError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        if batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        try:
            self.resize = ResizeMode(resize)
        except ValueError:
            raise UsageError(f"resize must be 'letterbox' or 'stretch', got {resize!r}") from None
        self.model = model
        self.score_threshold = threshold
        self.iou_threshold = iou_threshold
        self.class_mask = class_mask(classes)
        self.batch_size = batch_size

    @property
    def variant(self) -> str:
        return self.model.entry.variant


class NanoDet(_Base):
    """NanoDet 416: batched (the ONNX graph has a dynamic batch)."""

    name = "nanodet"
    default_threshold = nanodet.DEFAULT_SCORE_THRESHOLD

    def detect(self, frames_rgb: Sequence[np.ndarray]) -> list[Detections]:
        check_frames(frames_rgb)
        out: list[Detections] = []
        for start in range(0, len(frames_rgb), self.batch_size):
            x, fits = nanodet.preprocess(frames_rgb[start:start + self.batch_size], self.resize)
            res = self.model.run({"input": x})
            out += nanodet.decode([res[k] for k in nanodet.SCORE_OUTPUTS], [res[k] for k in nanodet.BOX_OUTPUTS],
                                  fits, self.score_threshold, self.iou_threshold, self.class_mask)
        return out


class CenterNet(_Base):
    """CenterNet 512: one frame per run (batch 1 graph)."""

    name = "centernet"
    default_threshold = centernet.DEFAULT_SCORE_THRESHOLD

    def detect(self, frames_rgb: Sequence[np.ndarray]) -> list[Detections]:
        check_frames(frames_rgb)
        out = []
        for frame in frames_rgb:
            x, fit = centernet.preprocess(frame, self.resize)
            dets = self.model.run({centernet.INPUT_NAME: x})[centernet.OUTPUT_NAME]
            out.append(centernet.decode(dets, fit, self.score_threshold, self.iou_threshold, self.class_mask))
        return out


def load_detector(name: str = DEFAULT_DETECTOR, variant: str | None = None, *,
                  score_threshold: float | None = None, iou_threshold: float = 0.5,
                  classes: Iterable[str | int] | None = None, resize: ResizeMode | str = ResizeMode.LETTERBOX,
                  batch_size: int = 8, threads: int | None = None) -> Detector:
    """A ready detector: ``name`` one of :data:`DETECTORS`; ``variant`` a shipped variant (default fp32);
    ``classes`` COCO-80 names or indices to keep (default all)."""
    kinds = {"nanodet": NanoDet, "centernet": CenterNet}
    if name not in kinds:
        raise UsageError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")
    return kinds[name](load_model(name, variant, threads=threads), score_threshold=score_threshold,
                       iou_threshold=iou_threshold, classes=classes, resize=resize, batch_size=batch_size)
