"""``shots`` analyzer: shot boundaries (cut / dissolve / fade) from a pluggable detector."""

from __future__ import annotations

from typing import Any

from ..errors import UsageError
from ..media import FrameSpec, VideoInfo
from ..shotdetect import ClassicalDetector, ClassicalParams, ShotDetector, Transition
from ..timeline import FrameClock
from .base import AnalyzerContext, FrameBatch, TimelinePart

DETECTORS = ("classical", "transnetv2", "ensemble")


class ShotsAnalyzer:
    """Finds shot boundaries and writes the timeline's ``shots`` section."""

    name = "shots"
    after: tuple[str, ...] = ()

    def __init__(self, detector: str = "classical", params: ClassicalParams | None = None,
                 model_variant: str | None = None) -> None:
        if detector not in DETECTORS:
            raise UsageError(f"unknown shot detector {detector!r}; choose from {', '.join(DETECTORS)}")
        self.detector_name = detector
        self.classical_params = params
        self.model_variant = model_variant  # TransNetV2's "fp32" or "int8"; None = manifest default
        # every detector wants every frame; only the look differs (TransNetV2: 48x27)
        self.needs: FrameSpec = FrameSpec(width=48, height=27) if detector == "transnetv2" else ClassicalDetector.needs

    def _build(self, fps: float) -> ShotDetector:
        if self.detector_name == "transnetv2":
            from ..shotdetect.transnet import TransNetParams, TransNetV2Detector

            return TransNetV2Detector(TransNetParams(variant=self.model_variant), fps=fps)
        if self.detector_name == "ensemble":
            from ..shotdetect.transnet import EnsembleDetector

            return EnsembleDetector(fps=fps)
        return ClassicalDetector(self.classical_params, fps=fps)

    def start(self, info: VideoInfo) -> None:
        self.detector = self._build(info.rate_for("shot detection"))
        self.needs = self.detector.needs

    def process(self, batch: FrameBatch) -> None:
        self.detector.push(batch.frames, batch.indices)

    def params(self) -> dict[str, Any]:
        return self.detector.params()

    def finish(self, context: AnalyzerContext) -> TimelinePart:
        transitions = self.detector.finish()
        shots = shots_from_transitions(transitions, context.clock, context.first_frame)
        return TimelinePart(sections={"shots": shots}, params=self.params())


def shots_from_transitions(transitions: list[Transition], clock: FrameClock, first: int = 0) -> list[dict[str, Any]]:
    """Turn boundaries into half-open shots covering every analysed frame, in timeline form."""
    n = clock.frame_count
    if n <= first:
        return []
    starts = [first] + [t.frame for t in transitions if first < t.frame < n]
    ends = [*starts[1:], n]
    by_frame = {t.frame: t for t in transitions}
    shots = []
    for i, (start, end) in enumerate(zip(starts, ends)):
        begin = by_frame.get(start)
        shots.append({
            "index": i,
            "start": clock.moment(start),
            "end": clock.moment(end),
            "frames": end - start,
            "duration": round(clock.time(end) - clock.time(start), 6),
            "transition": begin.kind.value if begin else None,
            "transition_span": None if begin is None else {"start": begin.start, "end": begin.end},
            "confidence": begin.confidence if begin else 1.0,
            "keyframes": [],
        })
    return shots
