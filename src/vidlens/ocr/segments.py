"""Merging per-frame readings into text segments: one segment per line of text while it stays on screen.

A line read in consecutive sampled frames at about the same place with about the same text is one
segment; OCR noise ("Exit 12" / "Exit l2") must not split it, a changed caption must. A line missed
in a single sample (blur, a fade) is bridged. The segment's text is the reading with the most total
confidence among its variants; readings the gate carried over (``held``) extend a segment but do
not vote, or one misreading held for seconds would outvote the fresh reads. Its bounds fall
halfway between the last sample without it and the first with it (and likewise at the end), so
the error is at most half a sampling step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from .engine import Reading, box_iou

#: Two readings are the same line when their boxes overlap this much and their texts are this similar.
SAME_PLACE_IOU = 0.3
SAME_TEXT_RATIO = 0.6
#: Samples a line may be missed and still continue its segment.
MAX_GAP = 1
#: A line seen in one sample only must be read at least this confidently to be kept.
SINGLE_READING_SCORE = 0.75


@dataclass
class TextSegment:
    """A line of text on screen from sample ``first`` to sample ``last`` (indices into the sample list)."""

    text: str
    confidence: float
    box: tuple[float, float, float, float]
    first: int
    last: int
    readings: int
    variants: dict[str, float] = field(default_factory=dict)


@dataclass
class _Track:
    first: int
    last: int
    box: tuple[float, float, float, float]
    key: str
    scores: dict[str, float] = field(default_factory=dict)  # normalised text -> summed score
    best: dict[str, Reading] = field(default_factory=dict)  # normalised text -> best raw reading
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    fresh: int = 0  # readings actually read (not held)

    def add(self, sample: int, reading: Reading) -> None:
        key = normalise(reading.text)
        self.last, self.box, self.key = sample, reading.box, key
        if reading.held and self.scores:
            self.boxes.append(reading.box)
            return
        self.scores[key] = self.scores.get(key, 0.0) + reading.score
        self.fresh += 1
        if key not in self.best or reading.score > self.best[key].score:
            self.best[key] = reading
        self.boxes.append(reading.box)

    def segment(self) -> TextSegment | None:
        key = max(self.scores, key=self.scores.__getitem__)
        n = len(self.boxes)
        if n == 1 and self.best[key].score < SINGLE_READING_SCORE:
            return None
        mid = sorted(self.boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))[n // 2]
        return TextSegment(self.best[key].text, round(self.scores[key] / max(1, self.fresh), 4), mid, self.first,
                           self.last, n, {self.best[k].text: round(v, 4) for k, v in self.scores.items()})


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def similar(a: str, b: str) -> bool:
    return a == b or SequenceMatcher(None, a, b, autojunk=False).ratio() >= SAME_TEXT_RATIO


def merge_readings(samples: Sequence[Sequence[Reading]]) -> list[TextSegment]:
    """Segments from the readings of each sampled frame, in sample order; sorted by start, then top-down."""
    active: list[_Track] = []
    done: list[_Track] = []
    for k, readings in enumerate(samples):
        pairs = sorted(((box_iou(r.box, t.box), i, j) for i, r in enumerate(readings) for j, t in enumerate(active)
                        if box_iou(r.box, t.box) >= SAME_PLACE_IOU and similar(normalise(r.text), t.key)),
                       reverse=True)
        used_r: set[int] = set()
        used_t: set[int] = set()
        for _, i, j in pairs:
            if i not in used_r and j not in used_t:
                active[j].add(k, readings[i])
                used_r.add(i)
                used_t.add(j)
        for i, r in enumerate(readings):
            if i not in used_r:
                track = _Track(k, k, r.box, normalise(r.text))
                track.add(k, r)
                active.append(track)
        still = []
        for t in active:
            (still if k - t.last <= MAX_GAP else done).append(t)
        active = still
    done += active
    segments = [s for s in (t.segment() for t in done) if s is not None]
    return sorted(segments, key=lambda s: (s.first, s.box[1], s.box[0]))
