"""TransNetV2 (shipped ONNX) and the ensemble: decoding of its per-frame output, and real videos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidlens.api import detect_shots
from vidlens.shotdetect import Transition, TransitionKind
from vidlens.shotdetect.transnet import combine_detections, transitions_from_probabilities

CUT, DISSOLVE = TransitionKind.CUT, TransitionKind.DISSOLVE


@pytest.mark.parametrize(
    ("probs", "expected"),
    [
        ([0.1, 0.2, 0.9, 0.1, 0.1], [(CUT, 3, 3, 4)]),  # frame 2 ends a shot: the next one starts at 3
        ([0.1, 0.6, 0.8, 0.1, 0.1], [(CUT, 3, 3, 4)]),  # a two-frame run: the peak decides
        ([0.1] + [0.7] * 6 + [0.1] * 3, [(DISSOLVE, 5, 1, 8)]),  # a long run is gradual
        ([0.1, 0.1, 0.1, 0.1, 0.95], []),  # the last frame ending a shot starts none
        ([0.2] * 5, []),
    ],
)
def test_transitions_from_probabilities(probs, expected) -> None:
    found = transitions_from_probabilities(np.asarray(probs), 0.5)
    assert [(t.kind, t.frame, t.start, t.end) for t in found] == expected


def _t(frame: int, confidence: float, kind=CUT, span: int = 1) -> Transition:
    return Transition(kind, frame, frame - span // 2, frame - span // 2 + span, confidence)


@pytest.mark.parametrize(
    ("classical", "learned", "expected"),
    [
        ([_t(30, 0.7)], [_t(31, 0.6)], [30]),  # agreement within 2 frames: keep the classical one
        ([_t(30, 0.7)], [], []),  # classical alone and unsure: dropped
        ([_t(30, 0.95)], [], [30]),  # classical alone but sure
        ([], [_t(50, 0.97)], [50]),  # learned alone but sure
        ([], [_t(50, 0.6)], []),
        ([_t(40, 0.6, DISSOLVE, 20)], [_t(45, 0.8)], [40]),  # inside the classical span counts as seen
    ],
)
def test_ensemble_rule(classical, learned, expected) -> None:
    assert [t.frame for t in combine_detections(classical, learned)] == expected


@pytest.mark.parametrize("detector", ["transnetv2", "ensemble"])
def test_learned_detectors_on_real_videos(detector: str, bikes: Path, megamind: Path) -> None:
    assert [s["start"]["frame"] for s in detect_shots(bikes, detector=detector)] == [0, 30, 76, 137, 187, 242]
    assert [s["start"]["frame"] for s in detect_shots(megamind, detector=detector)] == [0, 98, 154, 200]


def test_int8_transnet_finds_the_same_cuts(bikes: Path) -> None:
    from vidlens import pipeline
    from vidlens.analyzers.shots import ShotsAnalyzer

    timeline = pipeline.run(bikes, [ShotsAnalyzer("transnetv2", model_variant="int8")], hash_file=False).timeline
    assert [s["start"]["frame"] for s in timeline.shots] == [0, 30, 76, 137, 187, 242]
    assert timeline.analysis["analyzers"]["shots"]["variant"] == "int8"
