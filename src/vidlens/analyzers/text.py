"""``text`` analyzer: on-screen text (captions, titles, signs, tickers) as timed segments with boxes.

Frames are sampled at ``fps`` (2 by default: a caption shown for half a second is still caught,
and segment bounds are exact to a quarter of a second). A cheap gate (:mod:`vidlens.ocr.gate`)
decides which of them need full OCR; unchanged frames and held captions reuse the last readings.
Readings are merged over time into one segment per line of text (:mod:`vidlens.ocr.segments`).
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np

from ..media import FrameSpec, VideoInfo
from ..ocr import GateVerdict, OcrEngine, Reading, TextGate, merge_readings
from .base import AnalyzerContext, FrameBatch, TimelinePart


class TextAnalyzer:
    name = "text"
    after: tuple[str, ...] = ()

    def __init__(self, fps: float = 2.0, max_side: int = 1280, gate_side: int = 320, min_score: float = 0.5,
                 gate: bool = True) -> None:
        self.fps, self.max_side, self.gate_side, self.min_score, self.use_gate = fps, max_side, gate_side, \
            min_score, gate
        self.needs = FrameSpec(max_side=max_side, pixel_format="bgr24", fps=Fraction(fps).limit_denominator(1000))

    def params(self) -> dict[str, Any]:
        return {"engine": "rapidocr PP-OCRv6 small (det + rec) + mobile angle classifier", "fps": self.fps,
                "max_side": self.max_side, "gate": self.use_gate, "gate_side": self.gate_side,
                "min_score": self.min_score}

    def start(self, info: VideoInfo) -> None:
        self.engine = OcrEngine(max_side=self.max_side, min_score=self.min_score)
        self.gate = TextGate(side=self.gate_side) if self.use_gate else None
        self._indices: list[int] = []
        self._readings: list[list[Reading]] = []
        self._frame_size: tuple[int, int] | None = None
        self.ocr_frames = 0

    def process(self, batch: FrameBatch) -> None:
        for frame, index in zip(batch.frames, batch.indices, strict=True):
            self._frame_size = (frame.shape[1], frame.shape[0])
            self._indices.append(int(index))
            self._readings.append(self._read(frame))

    def _read(self, frame: np.ndarray) -> list[Reading]:
        if self.gate is None:
            self.ocr_frames += 1
            return self.engine.read(frame)
        gate = self.gate.assess(frame)
        previous = [replace(r, held=True) for r in self._readings[-1]] if self._readings else []
        if gate.verdict is GateVerdict.NO_TEXT:
            return []
        if gate.verdict is GateVerdict.UNCHANGED:
            return previous
        if gate.verdict is GateVerdict.SAME_TEXT:
            return _inside(previous, gate.keep)
        self.ocr_frames += 1
        readings = self.engine.read(frame)
        self.gate.mark_read([r.box for r in readings])
        return readings

    def finish(self, context: AnalyzerContext) -> TimelinePart:
        clock = context.clock
        sampled = len(self._indices)
        stats = {"frames_sampled": sampled, "frames_read": self.ocr_frames,
                 **({f"frames_{k}": v for k, v in self.gate.counts.items()} if self.gate is not None else {})}
        if not sampled:
            return TimelinePart(sections={"text": [], "text_gate": stats}, params=self.params(),
                                warnings=["no frame was sampled for text"])
        width, height = context.info.display_size
        sx, sy = width / self._frame_size[0], height / self._frame_size[1]
        idx = self._indices
        end_of_range = clock.frame_count
        section = []
        cuts = np.array(sorted(s["start"]["frame"] for s in context.parts["shots"].sections["shots"])
                        if "shots" in context.parts else [], dtype=np.int64)
        for seg in merge_readings(self._readings):
            # halfway between the last sample without the line and the first with it (likewise at the end),
            # or the shot cut between them: captions and signs change with the picture
            start = idx[seg.first] if seg.first == 0 else _between(idx[seg.first - 1], idx[seg.first], cuts)
            end = end_of_range if seg.last == sampled - 1 else _between(idx[seg.last], idx[seg.last + 1], cuts)
            x0, y0, x1, y1 = seg.box
            item = {"start": clock.moment(start), "end": clock.moment(end), "text": seg.text,
                    "confidence": seg.confidence, "box": [round(x0 * sx), round(y0 * sy), round(x1 * sx),
                                                          round(y1 * sy)],
                    "readings": seg.readings}
            if len(seg.variants) > 1:
                item["variants"] = seg.variants
            section.append(item)
        return TimelinePart(sections={"text": section, "text_gate": stats}, params=self.params())


def _inside(readings: list[Reading], regions: list[tuple[int, int, int, int]]) -> list[Reading]:
    """The readings whose centre lies in one of ``regions`` (text still on screen)."""
    def centre_in(r: Reading, box: tuple[int, int, int, int]) -> bool:
        cx, cy = (r.box[0] + r.box[2]) / 2, (r.box[1] + r.box[3]) / 2
        return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]

    return [r for r in readings if any(centre_in(r, box) for box in regions)]


def _between(before: int, after: int, cuts: np.ndarray) -> int:
    """Where a change between the sampled frames ``before`` and ``after`` happened: at a shot cut in
    (before, after] when there is one, else halfway."""
    inside = cuts[(cuts > before) & (cuts <= after)]
    return int(inside[-1]) if inside.size else (int(before) + int(after) + 1) // 2
