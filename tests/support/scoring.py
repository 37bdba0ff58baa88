"""Scoring detected shot boundaries against ground truth.

A detection counts as a hit when it lands within ``tolerance`` frames of a boundary's frame, or,
for gradual transitions (dissolve/fade), anywhere inside the transition span widened by the
tolerance: where exactly a 30-frame dissolve "is" is a matter of convention, and a detector that
reports frame 3 of it has still found it.  Matching is one-to-one, so reporting the same dissolve
twice costs a false positive.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .synth import Boundary


@dataclass(frozen=True)
class BoundaryScore:
    """Counts and the offending items of one comparison (or a micro-averaged sum of several)."""

    tp: int
    fp: int
    fn: int
    missed: tuple[Boundary, ...] = ()
    false_detections: tuple[int, ...] = ()

    @property
    def precision(self) -> float:
        """Fraction of detections that are real; 1.0 when nothing was detected."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """Fraction of true boundaries found; 1.0 when there were none to find."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def __add__(self, other: BoundaryScore) -> BoundaryScore:
        return BoundaryScore(
            self.tp + other.tp,
            self.fp + other.fp,
            self.fn + other.fn,
            self.missed + other.missed,
            self.false_detections + other.false_detections,
        )


def matches(detected: int, truth: Boundary, tolerance: int) -> bool:
    """Whether a detection at frame ``detected`` may be credited to ``truth``."""
    if abs(detected - truth.frame) <= tolerance:
        return True
    return truth.kind != "cut" and truth.start - tolerance <= detected < truth.end + tolerance


def score_boundaries(detected: Sequence[int], truth: Sequence[Boundary], tolerance: int = 2) -> BoundaryScore:
    """Match detections to true boundaries one-to-one and count hits, misses and false alarms.

    The matching has maximum cardinality (augmenting paths), preferring the nearest detection at
    each step, so a detector is never penalised for an unlucky greedy pairing when two events are
    close together.
    """
    counts = Counter(int(d) for d in detected)
    dets = sorted(counts)  # a frame reported twice can be credited once; the copy is a false alarm
    truths = sorted(truth, key=lambda b: b.frame)
    candidates = [
        sorted((j for j, d in enumerate(dets) if matches(d, b, tolerance)), key=lambda j: abs(dets[j] - b.frame))
        for b in truths
    ]
    owner: dict[int, int] = {}  # detection index -> truth index

    def augment(i: int, seen: set[int]) -> bool:
        for j in candidates[i]:
            if j not in seen:
                seen.add(j)
                if j not in owner or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in range(len(truths)):
        augment(i, set())
    hit = set(owner.values())
    missed = tuple(b for i, b in enumerate(truths) if i not in hit)
    false = [d for j, d in enumerate(dets) if j not in owner]
    false += [d for d, n in counts.items() for _ in range(n - 1)]
    return BoundaryScore(len(owner), len(false), len(missed), missed, tuple(sorted(false)))


def combine(scores: Iterable[BoundaryScore]) -> BoundaryScore:
    """Micro-average: sum tp/fp/fn over videos (long videos weigh more, as they should)."""
    return sum(scores, BoundaryScore(0, 0, 0))


def micro_f1(scores: Iterable[BoundaryScore]) -> float:
    """F1 of a whole set of videos from summed counts."""
    return combine(scores).f1
