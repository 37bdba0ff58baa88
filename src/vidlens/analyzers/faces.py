"""``faces`` analyzer: face tracks with stable ids, landmarks, blurred thumbnails and per-shot counts.

The same shape as the objects analyzer: every frame feeds a motion gate; the face detector
(CenterFace by default) runs every ``min_interval_s`` while something moves or a face track is
alive, every ``max_interval_s`` on a still scene; a ByteTrack-style tracker joins detections into
tracks.  The timeline's ``faces`` section uses the objects' track format exactly (``id``, ``class``
= ``"face"``, ``start``, ``end``, ``confidence``, ``max_gap``, ``boxes`` rows ``[frame, x0, y0, x1,
y1, score]`` in display pixels), so :func:`vidlens.objects.tracks.track_box_at` gives a face's box
on any frame and drawing / anonymising read faces and objects alike.  ``landmarks`` runs parallel
to ``boxes``: per row the detector's points ``[[x, y], ...]`` (CenterFace 5, BlazeFace 6) or null.

Thresholds, a recall / false-alarm trade-off (a missed face is a leak when these boxes drive
anonymisation; a false track blurs a patch of background): boxes scoring ``score_threshold`` or more
start and feed tracks; weaker ones down to ``low_score`` only extend tracks that already exist
(ByteTrack's second stage), which carries a face through blur, turning and partial occlusion.

``emotions=True`` (off by default: it says something about people, and what it says is weak; see the
README's "Emotions") classifies each confirmed face on every frame the detector saw it with fer's
model and adds per track ``emotion`` (mean distribution, dominant label, a per-second timeline) and
per shot ``mood`` (the mean over the shot's face-frames; null when no face was classified there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..boxes import box_iou_matrix
from ..errors import UsageError
from ..faces.emotion import MODEL as EMOTION_MODEL
from ..faces.emotion import classify_emotions, face_crop_gray
from ..faces.moods import EmotionSamples
from ..media import FrameSpec, VideoInfo
from ..objects.motion_gate import GatedDetector
from ..objects.thumbnails import BestCrops
from ..objects.tracks import class_summary, overlapping, track_dict
from .base import AnalyzerContext, FrameBatch, TimelinePart, shots_or_whole

FACES_DIR = "faces"
FACE = "face"


class FacesAnalyzer:
    name = "faces"
    after: tuple[str, ...] = ("shots",)

    def __init__(self, detector: str = "centerface", max_side: int = 640, tiled: bool = False,
                 min_interval_s: float = 0.1, max_interval_s: float = 1.0, score_threshold: float = 0.4,
                 low_score: float = 0.2, thumbnails: bool = True, blur_thumbnails: bool = True,
                 emotions: bool = False, emotion_step_s: float = 1.0, blur_faces: bool = False) -> None:
        if not 0 < min_interval_s <= max_interval_s:
            raise UsageError(f"need 0 < min_interval_s <= max_interval_s, got {min_interval_s}, {max_interval_s}")
        if not 0 < low_score <= score_threshold < 1:
            raise UsageError(f"need 0 < low_score <= score_threshold < 1, got {low_score}, {score_threshold}")
        if not emotion_step_s > 0:
            raise UsageError(f"emotion_step_s must be positive, got {emotion_step_s}")
        self.detector_name, self.max_side, self.tiled = detector, max_side, tiled
        self.min_interval_s, self.max_interval_s = min_interval_s, max_interval_s
        self.score_threshold, self.low_score = score_threshold, low_score
        # blur_faces (the run-wide privacy setting) never lets a sharp face thumbnail out
        self.thumbnails, self.blur_thumbnails = thumbnails, bool(blur_thumbnails or blur_faces)
        self.emotions, self.emotion_step_s = bool(emotions), emotion_step_s
        # tiled mode needs the frames at full resolution; the detector shrinks its whole-frame pass itself
        self.needs = FrameSpec(max_side=None if tiled else max_side, pixel_format="rgb24", step=1)

    def params(self) -> dict[str, Any]:
        return {"detector": self.detector_name, "max_side": self.max_side, "tiled": self.tiled,
                "min_interval_s": self.min_interval_s, "max_interval_s": self.max_interval_s,
                "score_threshold": self.score_threshold, "low_score": self.low_score,
                "tracker": "ByteTrack-style (Kalman + IoU, two-stage)", "blur_thumbnails": self.blur_thumbnails,
                "emotions": self.emotions} | ({"emotion_model": "fer_emotion", "emotion_step_s": self.emotion_step_s}
                                             if self.emotions else {})

    def start(self, info: VideoInfo) -> None:
        from ..faces.detectors import load_face_detector
        from ..objects.tracker import ByteTracker
        from ..runtime import load_model

        fps = info.rate_for("face tracking")
        detector = load_face_detector(self.detector_name, score_threshold=self.low_score,
                                      max_side=self.max_side, tiled=self.tiled)
        self.detector = GatedDetector(detector, fps, self.min_interval_s, self.max_interval_s)
        # one confident detection makes a face track: an unconfirmed face would go unmasked (a leak), a
        # false one only blurs some background
        self.tracker = ByteTracker(fps, high_score=self.score_threshold, low_score=self.low_score,
                                   new_track_score=self.score_threshold, class_aware=False, min_hits=1)
        self.fps = fps
        self._frame_size: tuple[int, int] | None = None
        self._crops = BestCrops()
        self._found: dict[int, Any] = {}  # frame -> raw detections (their landmarks, matched to tracks at the end)
        self._live = False
        self._emotion_model = load_model(EMOTION_MODEL) if self.emotions else None
        self._emotions = EmotionSamples()

    def process(self, batch: FrameBatch) -> None:
        if not batch.frames:
            return
        self._frame_size = (batch.frames[-1].shape[1], batch.frames[-1].shape[0])
        seen = []  # (track id, frame index, grey crop) of the confirmed faces on the detected frames
        for index, frame, faces in self.detector.run(batch.frames, batch.indices.tolist(), tracking=self._live):
            tracked = self.tracker.update(faces, index)
            if self._emotion_model is not None:
                seen += _face_crops(frame, index, tracked)
            self._live = bool((tracked.track_ids >= 0).any())
            if len(faces) and faces.landmarks is not None:
                self._found[index] = faces
            if self.thumbnails:
                self._crops.offer(frame, tracked)
        if seen:
            probs = classify_emotions([crop for _, _, crop in seen], self._emotion_model)
            for (tid, index, _), p in zip(seen, probs, strict=True):
                self._emotions.add(tid, index, p)

    def _landmarks(self, frame: int, box: np.ndarray, sx: float, sy: float) -> list[list[float]] | None:
        """The landmarks of the raw detection at ``frame`` that best overlaps a track's (smoothed) box."""
        faces = self._found.get(frame)
        if faces is None:
            return None
        iou = box_iou_matrix(box[None], faces.boxes)[0]
        best = int(np.argmax(iou))
        if iou[best] < 0.5:
            return None
        return [[round(float(x) * sx, 1), round(float(y) * sy, 1)] for x, y in faces.landmarks[best]]

    def finish(self, context: AnalyzerContext) -> TimelinePart:
        clock = context.clock
        stats = self.detector.stats()
        if self._frame_size is None:
            return TimelinePart(sections={"faces": [], "face_summary": {"frames": stats}}, params=self.params(),
                                warnings=["no frame was sampled for faces"])
        width, height = context.info.display_size
        sx, sy = width / self._frame_size[0], height / self._frame_size[1]
        scale = np.array([sx, sy, sx, sy])
        tracks = []
        for record in self.tracker.records():
            track = track_dict(record, FACE, clock, scale, self.tracker.lost_frames)
            track["landmarks"] = [self._landmarks(int(f), b, sx, sy)
                                  for f, b in zip(record.frames.tolist(), record.boxes, strict=True)]
            if self.emotions:
                track["emotion"] = self._emotions.track_summary(record.track_id, clock, self.emotion_step_s)
            tracks.append(track)
        tracks.sort(key=lambda t: (t["start"]["frame"], t["id"]))
        artifacts = self._crops.images(tracks, FACES_DIR, blur=self.blur_thumbnails) if self.thumbnails else {}
        face_stats = class_summary(tracks, clock.frame_count, self.fps)["classes"].get(
            FACE, {"tracks": 0, "max_simultaneous": 0, "screen_time_s": 0.0, "count_series": []})
        fields: dict[int, dict[str, Any]] = {}
        for shot in shots_or_whole(context):
            fields[shot["index"]] = {"faces": len(overlapping(tracks, shot["start"]["frame"], shot["end"]["frame"]))}
            if self.emotions:
                fields[shot["index"]]["mood"] = self._emotions.shot_mood(shot["start"]["frame"], shot["end"]["frame"])
        return TimelinePart(sections={"faces": tracks, "face_summary": {**face_stats, "frames": stats}},
                            params=self.params(), shot_fields=fields, artifacts=artifacts)


def _face_crops(frame: np.ndarray, index: int, tracked: Any) -> list[tuple[int, int, np.ndarray]]:
    """(track id, frame, grey crop) of each confirmed face; a degenerate box (no pixels in the frame) is skipped."""
    out = []
    for box, tid in zip(tracked.boxes, tracked.track_ids.tolist(), strict=True):
        if tid < 0:
            continue
        try:
            out.append((tid, index, face_crop_gray(frame, box)))
        except ValueError:
            continue
    return out
