"""Which sampled frames need OCR: a frame-change test, then the text detector alone at a small size.

Full OCR costs about half a second per 720p frame on a laptop CPU, and most frames either show no
text or the same text as the frame read before. So each sampled frame goes through, cheapest first:

1. *unchanged*: a 96-pixel grey thumbnail barely differs from the last frame the gate looked at
   (a static shot, a title card held on screen) → the previous readings still hold;
2. *no text*: PP-OCRv6's detector, run alone on a frame shrunk to ``side`` pixels on its short side
   (≈ 1/6 of full OCR's cost), finds no text-like region → nothing to read;
3. each region the detector finds is then compared with the frame last read: a region that held
   text then and looks the same now (normalised correlation of the full-resolution pixels: a
   caption held over moving video stays above 0.75, another caption in its place falls below 0.2)
   keeps its readings; a region that held nothing readable then, perhaps moved a little
   (text-like texture under a panning camera), is ignored; text that vanished drops its readings.
   Held text the small detector misses this time (tiny or low-contrast lines flicker in and out
   of its map) stays held while its pixels do not change. If no region is new, the verdict is
   *same text* (no OCR at all);
4. otherwise *new text*: the frame is read in full. (Reading only bands around the new regions was
   tried and dropped: PP-OCR's detector swells boxes to the edges of a thin band and the
   recogniser then misreads the squashed crop.) Held text is also re-read every few samples, so a
   small change the correlation cannot see (a score going from 2 to 3) is late, not lost.

The detector at 320 pixels still finds lines about 2 % of the frame height tall (14 px at 720p); the
thresholds are relative to the frame, so they hold for any resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import cv2
import numpy as np

from .engine import box_iou, det_model_path

THUMB = 96
#: Mean / 99th-percentile grey-level change under which a whole frame counts as unchanged.
UNCHANGED_MEAN, UNCHANGED_P99 = 1.5, 12.0
#: Text-probability threshold of the detector map (rapidocr's own DB threshold).
TEXT_PROB = 0.3
#: Smallest text region, as a fraction of the gate image's area (drops specks of texture).
MIN_REGION = 2e-4
#: Mean text probability a region needs (rapidocr's own box threshold): weak blobs on texture are not text.
REGION_SCORE = 0.5
#: A text region counts as the same when it overlaps its counterpart this much...
SAME_IOU = 0.7
#: ...and its pixels still correlate this much with those read.
SAME_CORRELATION = 0.5
#: Held text is read again after this many samples anyway.
REREAD_EVERY = 4
#: A region without text may drift this much (IoU with where it was) and still be the same texture...
SAME_TEXTURE_IOU = 0.5
#: ...if its area changed by less than this factor (a caption appearing over texture changes the blob).
SAME_TEXTURE_AREA = 1.5
#: Share of a region covered by a reading's box for the region to count as holding text.
HOLDS_TEXT = 0.3


class GateVerdict(str, Enum):
    UNCHANGED = "unchanged"
    NO_TEXT = "no_text"
    SAME_TEXT = "same_text"
    NEW_TEXT = "new_text"

    @property
    def needs_ocr(self) -> bool:
        return self is GateVerdict.NEW_TEXT


Box = tuple[int, int, int, int]


@dataclass
class GateResult:
    """The verdict and, for *same text*, the regions (frame pixels, x0 y0 x1 y1) whose readings still hold."""

    verdict: GateVerdict
    keep: list[Box] = field(default_factory=list)


@dataclass
class _Reference:
    thumb: np.ndarray
    grey: np.ndarray | None = None  # the full-size grey frame when it was last read in full
    text: list[Box] = field(default_factory=list)  # regions that held readings
    texture: list[Box] = field(default_factory=list)  # regions that held nothing readable


class TextGate:
    """Stateful: call :meth:`assess` on sampled frames in order, and :meth:`mark_read` after reading one."""

    def __init__(self, side: int = 320, threshold: float = TEXT_PROB) -> None:
        from ..runtime import session_for

        self.side, self.threshold = side, threshold
        self.session = session_for(det_model_path())
        self._input = self.session.get_inputs()[0].name
        self._last: _Reference | None = None  # the last frame the gate ran on
        self._read: _Reference | None = None  # the last frame read in full
        self._grey: np.ndarray | None = None
        self._regions: list[Box] = []
        self._scale = 1.0  # gate pixels per frame pixel
        self._since_read = 0
        self.counts = {v.value: 0 for v in GateVerdict}

    def reset(self) -> None:
        """Forget the previous frames (after a cut, or a gap in the sampled frames)."""
        self._last = self._read = None

    def assess(self, frame_bgr: np.ndarray) -> GateResult:
        result = self._assess(frame_bgr)
        self.counts[result.verdict.value] += 1
        return result

    def mark_read(self, boxes: list[tuple[float, float, float, float]]) -> None:
        """The frame just assessed was read: ``boxes`` are its readings (frame pixels)."""
        if self._last is None:
            return
        scaled = [tuple(v * self._scale for v in b) for b in boxes]
        text = [r for r in self._regions if any(_covered(r, b) >= HOLDS_TEXT for b in scaled)]
        texture = [r for r in self._regions if r not in text]
        # a line read where the small detector saw nothing is still text to hold: its own box stands in
        text += [(int(b[0]), int(b[1]), int(np.ceil(b[2])), int(np.ceil(b[3]))) for b in scaled
                 if not any(box_iou(r, b) > 0 for r in self._regions)]
        self._read = _Reference(self._last.thumb, self._grey, text, texture)
        self._since_read = 0

    def _assess(self, frame_bgr: np.ndarray) -> GateResult:
        grey_full = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
        thumb = _thumbnail(grey_full)
        if self._last is not None and _unchanged(thumb, self._last.thumb):
            return GateResult(GateVerdict.UNCHANGED)
        self._last = _Reference(thumb)
        small = _gate_size(frame_bgr, self.side)
        self._scale = small.shape[0] / frame_bgr.shape[0]
        prob = self._text_probability(small)
        self._grey = grey_full
        self._regions = _regions(prob, self.threshold)
        self._since_read += 1
        ref = self._read
        comparable = ref is not None and ref.grey is not None and ref.grey.shape == grey_full.shape
        if not self._regions:
            kept = _compare([], grey_full, ref, self._scale)[0] if comparable and ref.text else []
            if not kept:
                return GateResult(GateVerdict.NO_TEXT)
            return GateResult(GateVerdict.SAME_TEXT, [self._to_frame(r, frame_bgr.shape) for r in kept])
        if not comparable or self._since_read >= REREAD_EVERY:
            return GateResult(GateVerdict.NEW_TEXT)
        kept, new = _compare(self._regions, grey_full, ref, self._scale)
        if new:
            return GateResult(GateVerdict.NEW_TEXT)
        return GateResult(GateVerdict.SAME_TEXT, [self._to_frame(r, frame_bgr.shape) for r in kept])

    def _to_frame(self, region: Box, shape: tuple[int, ...]) -> Box:
        """A gate region in frame pixels, clipped."""
        x0, y0, x1, y1 = (v / self._scale for v in region)
        return max(0, int(x0)), max(0, int(y0)), min(shape[1], int(np.ceil(x1))), min(shape[0], int(np.ceil(y1)))

    def _text_probability(self, small_bgr: np.ndarray) -> np.ndarray:
        x = small_bgr.astype(np.float32) / 127.5 - 1.0  # rapidocr's det normalisation: (x/255 - 0.5) / 0.5
        out = self.session.run(None, {self._input: x.transpose(2, 0, 1)[None]})[0]
        return out[0, 0]


def _thumbnail(grey: np.ndarray) -> np.ndarray:
    h, w = grey.shape
    size = (THUMB, max(2, round(THUMB * h / w))) if w >= h else (max(2, round(THUMB * w / h)), THUMB)
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)


def _unchanged(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    diff = np.abs(a - b)
    return float(diff.mean()) < UNCHANGED_MEAN and float(np.percentile(diff, 99)) < UNCHANGED_P99


def _gate_size(frame: np.ndarray, side: int) -> np.ndarray:
    """Shrink so the short side is about ``side``; both sides multiples of 32, as the detector needs."""
    h, w = frame.shape[:2]
    scale = min(1.0, side / min(h, w))
    nh, nw = (max(32, round(n * scale / 32) * 32) for n in (h, w))
    return cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_AREA)


def _regions(prob: np.ndarray, threshold: float) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (x0, y0, x1, y1) of connected text-like areas big enough to be a line of text."""
    mask = (prob > threshold).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if n <= 1:
        return []
    means = np.bincount(labels.ravel(), weights=prob.ravel(), minlength=n) / np.maximum(stats[:, 4], 1)
    min_area = MIN_REGION * mask.size
    return [(int(x), int(y), int(x + w), int(y + h)) for (x, y, w, h, area), mean in zip(stats[1:n], means[1:n])
            if area >= min_area and mean >= REGION_SCORE]


def _covered(region: Box, box: tuple[float, ...]) -> float:
    """Share of ``region``'s area inside ``box``."""
    ix = max(0.0, min(region[2], box[2]) - max(region[0], box[0]))
    iy = max(0.0, min(region[3], box[3]) - max(region[1], box[1]))
    area = (region[2] - region[0]) * (region[3] - region[1])
    return ix * iy / area if area else 0.0


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float32) - a.mean()
    b = b.astype(np.float32) - b.mean()
    aa, bb = float((a * a).sum()), float((b * b).sum())
    if aa == 0 or bb == 0:
        return 1.0 if aa == bb else 0.0  # both flat: the same; one flat: not
    return float((a * b).sum()) / float(np.sqrt(aa * bb))


def _compare(regions: list[Box], grey: np.ndarray, ref: _Reference, scale: float) -> tuple[list[Box], list[Box]]:
    """(regions whose text is the reference's, unchanged; current regions with new text).

    Held text the small detector misses this time (tiny or low-contrast lines flicker in and out of
    its map) is still held when its pixels have not changed: text only vanishes when they do.
    """
    kept: list[Box] = []
    matched: set[int] = set()
    for r in ref.text:
        x0, y0, x1, y1 = (round(v / scale) for v in r)
        same_pixels = _correlation(grey[y0:y1, x0:x1], ref.grey[y0:y1, x0:x1]) >= SAME_CORRELATION
        ious = [box_iou(r, c) for c in regions]
        best = int(np.argmax(ious)) if ious else -1
        if best >= 0 and ious[best] >= SAME_IOU and best not in matched:
            if same_pixels:
                matched.add(best)
                kept.append(regions[best])
        elif same_pixels and not any(box_iou(r, c) > 0 for c in regions):
            kept.append(r)  # missed by the detector, still on screen
    new = [c for k, c in enumerate(regions)
           if k not in matched and not any(_same_texture(c, t) for t in ref.texture)]
    return kept, new


def _same_texture(a: Box, b: Box) -> bool:
    area_a, area_b = (a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])
    return box_iou(a, b) >= SAME_TEXTURE_IOU and max(area_a, area_b) <= SAME_TEXTURE_AREA * max(1, min(area_a,
                                                                                                    area_b))
