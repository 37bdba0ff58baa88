"""``keyframes`` analyzer: per shot, the most representative sharp frame(s), plus a contact sheet.

Decode once means keyframes cannot be fetched after the shots are known, so candidates are
scored as they stream past (every few frames: sharpness, exposure, a colour signature). Runs of
similar candidates keep only their best member, as JPEG bytes in a temporary spill file, so memory
stays flat on long videos. At the end each shot picks, among its candidates away from
transitions, well-exposed sharp frames closest to the shot's average look; long shots get more,
chosen for diversity. With ``blur_faces`` the keyframes and the contact sheet are made with the
run's faces blurred (:mod:`vidlens.privacy.derived`).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ..analysis import Artifact
from ..media import FrameSpec, VideoInfo
from ..media.images import contact_sheet, decode_jpeg, encode_jpeg
from ..privacy.derived import NO_FACES_WARNING, face_blur
from .base import AnalyzerContext, FrameBatch, TimelinePart

#: Where the keyframe images go in an output folder (``keyframes/<frame>.jpg``), and the contact sheet.
KEYFRAMES_DIR = "keyframes"
CONTACT_SHEET_FILE = "contact_sheet.jpg"

#: One extra keyframe per this many seconds of shot, up to ``max_per_shot``.
SECONDS_PER_KEYFRAME = 10.0
#: Candidates whose colour signatures differ less than this are "the same view".
SAME_VIEW = 0.12


@dataclass
class _Candidate:
    frame: int
    time: float
    sharpness: float
    brightness: float
    contrast: float
    hist: np.ndarray
    offset: int = -1
    length: int = 0
    weight: int = 1  # how many candidates this one stands for

    @property
    def usable(self) -> bool:
        return 20.0 <= self.brightness <= 235.0 and self.contrast >= 12.0


class KeyframesAnalyzer:
    name = "keyframes"
    after: tuple[str, ...] = ("shots",)

    def __init__(self, max_side: int = 480, max_per_shot: int = 5, candidates_per_second: float = 5.0,
                 contact_sheet: bool = True, blur_faces: bool = False) -> None:
        self.max_side = max_side
        self.blur_faces = bool(blur_faces)
        if self.blur_faces:  # the face tracks must be known when the images are written
            self.after = (*self.after, "faces")
        self.max_per_shot = max_per_shot
        self.candidates_per_second = candidates_per_second
        self.make_contact_sheet = contact_sheet
        self.needs = FrameSpec(max_side=max_side, pixel_format="rgb24", step=1)

    def params(self) -> dict[str, Any]:
        return {"max_side": self.max_side, "max_per_shot": self.max_per_shot,
                "candidates_per_second": self.candidates_per_second} | ({"blur_faces": True} if self.blur_faces
                                                                        else {})

    def start(self, info: VideoInfo) -> None:
        rate = info.estimated_rate  # unknown: look at every frame
        step = max(1, int(float(rate) / self.candidates_per_second)) if rate else 1
        self.needs = FrameSpec(max_side=self.max_side, pixel_format="rgb24", step=step)
        self._spill = tempfile.TemporaryFile(prefix="vidlens-keyframes-")  # noqa: SIM115 - closed in finish()
        self._kept: list[_Candidate] = []
        self._pending: tuple[_Candidate, bytes] | None = None
        self._group_start = 0.0

    def process(self, batch: FrameBatch) -> None:
        for rgb, index, time in zip(batch.frames, batch.indices, batch.times):
            self._offer(_score(rgb, int(index), float(time)), rgb)

    def _offer(self, cand: _Candidate, rgb: np.ndarray) -> None:
        if self._pending is not None:
            best, _data = self._pending
            same = _hist_distance(best.hist, cand.hist) < SAME_VIEW and cand.time - self._group_start < 2.0
            if same:
                if _quality(cand) > _quality(best):
                    cand.weight = best.weight + 1
                    self._pending = (cand, encode_jpeg(rgb))
                else:
                    best.weight += 1
                return
            self._flush()
        self._group_start = cand.time
        self._pending = (cand, encode_jpeg(rgb))

    def _flush(self) -> None:
        if self._pending is None:
            return
        cand, data = self._pending
        cand.offset, cand.length = self._spill.seek(0, 2), len(data)
        self._spill.write(data)
        self._kept.append(cand)
        self._pending = None

    def _image(self, cand: _Candidate) -> bytes:
        self._spill.seek(cand.offset)
        return self._spill.read(cand.length)

    def finish(self, context: AnalyzerContext) -> TimelinePart:
        self._flush()
        shots = context.parts["shots"].sections["shots"] if "shots" in context.parts else []
        part = TimelinePart(params=self.params())
        keep_images = True
        blur = face_blur(context) if self.blur_faces else None
        if self.blur_faces and blur is None:
            part.warnings.append(NO_FACES_WARNING)
            keep_images = False  # a sharp face must not be kept when blurring was asked for
        chosen: list[tuple[dict, bytes | None]] = []
        for shot in shots:
            entries = []
            for cand in self._pick(shot, context):
                entry: dict[str, Any] = {"frame": cand.frame, "time": round(cand.time, 6),
                                         "timecode": context.clock.moment(cand.frame)["timecode"],
                                         "sharpness": round(cand.sharpness, 2), "image": None}
                data = None
                if keep_images:
                    data = self._image(cand)
                    if blur is not None:
                        rgb = decode_jpeg(data)
                        hidden = blur.image(rgb, cand.frame)
                        data = data if hidden is rgb else encode_jpeg(hidden)
                    entry["image"] = f"{KEYFRAMES_DIR}/{cand.frame:06d}.jpg"
                    part.artifacts[entry["image"]] = Artifact(data=data)
                entries.append(entry)
                chosen.append((entry, data))
            part.shot_fields[shot["index"]] = {"keyframes": [*shot.get("keyframes", []), *entries]}
        part.sections["contact_sheet"] = None
        if keep_images and self.make_contact_sheet and chosen:
            images = [decode_jpeg(data) for _, data in chosen]
            sheet = contact_sheet(images, [e["timecode"] for e, _ in chosen])
            ok, buf = cv2.imencode(".jpg", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
            if ok:
                part.artifacts[CONTACT_SHEET_FILE] = Artifact(data=buf.tobytes())
                part.sections["contact_sheet"] = CONTACT_SHEET_FILE
        self._spill.close()
        return part

    def _pick(self, shot: dict, context: AnalyzerContext) -> list[_Candidate]:
        start, end = shot["start"]["frame"], shot["end"]["frame"]
        span = shot.get("transition_span")
        lo = max(start, span["end"]) if span else start
        inside = [c for c in self._kept if start <= c.frame < end]
        clean = [c for c in inside if c.frame >= lo] or inside
        if not clean:
            return []
        good = [c for c in clean if c.usable] or clean
        top_sharp = max(c.sharpness for c in good) or 1.0  # a flat shot (black, one colour, 1x1) has none
        sharp = [c for c in good if c.sharpness >= 0.4 * top_sharp] or good
        weights = np.array([c.weight for c in clean], dtype=np.float64)
        mean_hist = np.average(np.stack([c.hist for c in clean]), axis=0, weights=weights)
        duration = shot["duration"]
        k = int(min(self.max_per_shot, 1 + duration // SECONDS_PER_KEYFRAME))
        first = min(sharp, key=lambda c: _hist_distance(c.hist, mean_hist) - 0.05 * c.sharpness / top_sharp)
        picks = [first]
        while len(picks) < k:
            rest = [c for c in sharp if c not in picks]
            if not rest:
                break
            far = max(rest, key=lambda c: min(_hist_distance(c.hist, p.hist) for p in picks))
            if min(_hist_distance(far.hist, p.hist) for p in picks) < SAME_VIEW:
                break
            picks.append(far)
        return sorted(picks, key=lambda c: c.frame)


def _score(rgb: np.ndarray, index: int, time: float) -> _Candidate:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(gray, (160, max(2, round(160 * gray.shape[0] / gray.shape[1]))), interpolation=cv2.INTER_AREA)
    sharpness = float(cv2.Laplacian(small, cv2.CV_32F).var())
    hsv = cv2.cvtColor(cv2.resize(rgb, (80, max(2, round(80 * rgb.shape[0] / rgb.shape[1])))), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    hist /= max(float(hist.sum()), 1.0)
    return _Candidate(frame=index, time=time, sharpness=sharpness, brightness=float(small.mean()),
                      contrast=float(small.std()), hist=hist)


def _quality(c: _Candidate) -> float:
    return (1.0 if c.usable else 0.0) + c.sharpness / (c.sharpness + 100.0)


def _hist_distance(a: np.ndarray, b: np.ndarray) -> float:
    return 0.5 * float(np.abs(a - b).sum())
