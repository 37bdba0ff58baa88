"""The pose stream: per sampled frame, the keypoints of a clip's main person as a fixed-size vector (no torch).

For a clip's sampled frames (RGB, any size, in time order) the shipped person detector (NanoDet, person class)
runs on every frame, a ByteTrack-style tracker (:class:`vidlens.objects.tracker.ByteTracker`, with a loose
IoU gate, :data:`MATCH_IOU`: sampled frames are far apart) joins the boxes into tracks, and the **main track**
is the one with the most screen presence: the largest sum of its box areas over the frames it was detected on
(long and large beats a small passer-by or a distant false detection).
MoveNet Lightning (:mod:`vidlens.objects.pose`) then reads its 17 COCO keypoints on each frame it was detected.

Each frame becomes one row of :data:`POSE_DIM` = 92 float32 numbers:

====================  =========  ===================================================================================
columns               slice      meaning
====================  =========  ===================================================================================
0 .. 50               ``XYC``    17 x (x, y, confidence): keypoint position in the person box, ``(x - x0) / w``,
                                 ``(y - y0) / h`` (0..1 inside the box, clipped to [-0.25, 1.25]), MoveNet's score
51 .. 84              ``DXY``    17 x (dx, dy): change of that in-box position since the previous sampled frame
                                 (limbs moving relative to the body)
85 .. 88              ``BOX``    box centre x, y and width, height, as fractions of the frame width / height
89 .. 90              ``DBOX``   change of the box centre since the previous sampled frame, in box heights
                                 (the whole body moving; a person's height is the scale that does not depend
                                 on their distance to the camera)
91                    PRESENT    1 when the main person was detected on this frame, else 0
====================  =========  ===================================================================================

A frame without the main person is all zeros (``present`` = 0), and so are the velocities of a frame whose
previous sampled frame lacked it: velocities are per *sampled step*, so a model must be fed frames sampled at
the rate it was trained with (the bundle's input spec records it). Training and prediction both call
:func:`pose_rows`, so they compute the stream identically.

:func:`contains_person_track` says whether a clip holds a person track (most of its sampled frames show the
main person): the automatic choice of input streams uses it to add pose when most clips of a dataset have one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from ..errors import UsageError
from ..objects.detectors import Detector, load_detector
from ..objects.pose import KEYPOINT_NAMES, PoseEstimator
from ..objects.tracker import DETECTOR_SCORE, ByteTracker

KEYPOINTS = len(KEYPOINT_NAMES)
XYC = slice(0, 3 * KEYPOINTS)
DXY = slice(3 * KEYPOINTS, 5 * KEYPOINTS)
BOX = slice(5 * KEYPOINTS, 5 * KEYPOINTS + 4)
DBOX = slice(5 * KEYPOINTS + 4, 5 * KEYPOINTS + 6)
PRESENT = 5 * KEYPOINTS + 6
#: Numbers per frame of the pose stream.
POSE_DIM = PRESENT + 1
#: Bump when what a row means changes (a cached stream of another version is recomputed).
POSE_STREAM_VERSION = 1
#: A clip "contains a person track" when its main person is on at least this share of the sampled frames.
MIN_PERSON_SHARE = 0.5
#: The tracker's IoU to match a box to a track (first and tentative stages; weak boxes need :data:`LOW_MATCH_IOU`).
#: Looser than the objects analyzer's 0.2: at 2 sampled frames/s a walker moves half to one box width a step.
#: On 73 vtest person clips the main person was on at least half the frames of 64% of them at 0.2, 93% at 0.05
#: (2 frames/s), and 97% / 99% at 4 frames/s.
MATCH_IOU = 0.05
LOW_MATCH_IOU = 0.3
#: In-box keypoint coordinates are clipped to this range (MoveNet sees a crop 1.25x the box).
INBOX_RANGE = (-0.25, 1.25)


@dataclass
class PoseTrack:
    """The main person of a clip: one row per sampled frame, plus the raw values the rows were made from.

    ``boxes`` (xyxy, frame pixels) and ``keypoints`` (x, y in frame pixels, score) are NaN where the person
    is absent; ``track_id`` is the tracker's id (-1 when no person was found).
    """

    rows: np.ndarray  # float32 [N, POSE_DIM]
    boxes: np.ndarray  # float32 [N, 4]
    keypoints: np.ndarray  # float32 [N, 17, 3]
    track_id: int

    @property
    def present(self) -> np.ndarray:
        return self.rows[:, PRESENT] > 0.5


class PoseStream:
    """Pose rows of clips: a person detector, a tracker per clip and MoveNet, loaded once.

    ``fps`` is the rate the frames were sampled at (the tracker's re-find window, 2 s, is counted in it);
    ``score_threshold`` the detector's working threshold (the objects analyzer's by default; weaker boxes
    down to 0.15 feed the tracker's second stage). ``threads``: ONNX Runtime intra-op threads.
    """

    def __init__(self, *, fps: float = 4.0, score_threshold: float = DETECTOR_SCORE,
                 detector: Detector | None = None, estimator: PoseEstimator | None = None,
                 threads: int | None = None) -> None:
        if not fps > 0:
            raise UsageError(f"fps must be positive, got {fps}")
        if not 0.0 < score_threshold < 1.0:
            raise UsageError(f"score_threshold must be in (0, 1), got {score_threshold}")
        self.fps, self.score_threshold = float(fps), float(score_threshold)
        self.detector = detector or load_detector(classes=["person"], score_threshold=min(0.15, score_threshold),
                                                  threads=threads)
        if estimator is None:
            from ..objects.pose import MODEL_NAME
            from ..runtime import load_model

            estimator = PoseEstimator(load_model(MODEL_NAME, threads=threads))
        self.estimator = estimator

    def track(self, frames: Sequence[np.ndarray]) -> PoseTrack:
        """The main person's pose rows over ``frames`` (RGB uint8 ``[H, W, 3]``, one clip, time order)."""
        frames = _check(frames)
        n = len(frames)
        boxes = np.full((n, 4), np.nan, np.float32)
        keypoints = np.full((n, KEYPOINTS, 3), np.nan, np.float32)
        s = self.score_threshold
        tracker = ByteTracker(self.fps, high_score=s, low_score=min(0.15, s), new_track_score=min(1.0, s + 0.05),
                              match_iou=MATCH_IOU, tentative_match_iou=MATCH_IOU, low_match_iou=LOW_MATCH_IOU,
                              min_hits=1)
        for i, detections in enumerate(self.detector.detect(frames)):
            tracker.update(detections, i)
        records = [r for r in tracker.records() if r.observed.any()]
        if not records:
            return PoseTrack(np.zeros((n, POSE_DIM), np.float32), boxes, keypoints, -1)
        main = max(records, key=lambda r: (float(_areas(r.boxes[r.observed]).sum()), -r.track_id))
        seen = main.frames[main.observed]
        boxes[seen] = main.boxes[main.observed]
        for i in seen.tolist():
            keypoints[i] = self.estimator.estimate(frames[i], boxes[i: i + 1])[0]
        sizes = np.array([f.shape[:2] for f in frames], np.float32)  # (height, width) per frame
        return PoseTrack(rows_from(boxes, keypoints, sizes), boxes, keypoints, int(main.track_id))

    def rows(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        return self.track(frames).rows


def rows_from(boxes: np.ndarray, keypoints: np.ndarray, frame_hw: np.ndarray) -> np.ndarray:
    """Pose rows ``[N, POSE_DIM]`` from boxes ``[N, 4]`` and keypoints ``[N, 17, 3]`` in frame pixels (NaN =
    absent) and each frame's ``(height, width)`` ``[N, 2]``: the layout of the module docstring."""
    boxes = np.asarray(boxes, np.float64)
    keypoints = np.asarray(keypoints, np.float64)
    frame_hw = np.asarray(frame_hw, np.float64).reshape(-1, 2)
    n = len(boxes)
    rows = np.zeros((n, POSE_DIM), np.float64)
    present = np.isfinite(boxes).all(axis=1) & np.isfinite(keypoints).all(axis=(1, 2))
    x0, y0, x1, y1 = (boxes[:, i] for i in range(4))
    w, h = np.maximum(x1 - x0, 1.0), np.maximum(y1 - y0, 1.0)
    inbox = np.stack([(keypoints[:, :, 0] - x0[:, None]) / w[:, None],
                      (keypoints[:, :, 1] - y0[:, None]) / h[:, None]], axis=2)
    inbox = np.clip(inbox, *INBOX_RANGE)
    xyc = np.concatenate([inbox, keypoints[:, :, 2:3]], axis=2).reshape(n, -1)
    centre = np.stack([(x0 + x1) / 2, (y0 + y1) / 2], axis=1)
    box = np.stack([centre[:, 0] / frame_hw[:, 1], centre[:, 1] / frame_hw[:, 0], w / frame_hw[:, 1],
                    h / frame_hw[:, 0]], axis=1)
    rows[present, XYC] = xyc[present]
    rows[present, BOX] = box[present]
    rows[present, PRESENT] = 1.0
    both = np.zeros(n, bool)
    both[1:] = present[1:] & present[:-1]
    if both.any():
        i = np.flatnonzero(both)
        rows[i, DXY] = (inbox[i] - inbox[i - 1]).reshape(len(i), -1)
        rows[i, DBOX] = (centre[i] - centre[i - 1]) / ((h[i] + h[i - 1]) / 2)[:, None]
    return rows.astype(np.float32)


def _areas(boxes: np.ndarray) -> np.ndarray:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def _check(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    out = list(frames)
    if not out:
        raise UsageError("the pose stream needs at least one frame")
    for f in out:
        if not isinstance(f, np.ndarray) or f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
            raise UsageError(f"frames must be RGB uint8 [H, W, 3], got {getattr(f, 'dtype', type(f).__name__)} "
                             f"{getattr(f, 'shape', '')}")
    return out


@cache
def default_stream(fps: float = 4.0) -> PoseStream:
    """A shared :class:`PoseStream` (models loaded once per process)."""
    return PoseStream(fps=fps)


def pose_rows(frames: Sequence[np.ndarray], *, fps: float = 4.0, stream: PoseStream | None = None) -> np.ndarray:
    """``float32 [N, POSE_DIM]``: the pose stream of a clip's ``N`` sampled frames (``fps``: their sampling rate)."""
    return (stream or default_stream(float(fps))).rows(frames)


def person_share(rows: np.ndarray) -> float:
    """Share of the rows (frames) where the main person is present."""
    array = np.asarray(rows)
    if array.ndim != 2 or array.shape[1] != POSE_DIM or not len(array):
        raise UsageError(f"pose rows must be [N, {POSE_DIM}] with N >= 1, got shape {array.shape}")
    return float((array[:, PRESENT] > 0.5).mean())


def contains_person_track(rows: np.ndarray, min_share: float = MIN_PERSON_SHARE) -> bool:
    """True when the clip whose pose rows these are shows its main person on at least ``min_share`` of its frames."""
    return person_share(rows) >= min_share
