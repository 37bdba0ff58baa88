"""Real detectors for benchmarks that take ``--detector module:function`` (frames -> list of Detections).

    python bench/tracking.py --detector _detectors:nanodet
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from vidlens.objects.detectors import Detector, load_detector
from vidlens.objects.types import Detections


@cache
def _nanodet() -> Detector:
    # the objects analyzer's setting: weak boxes kept for the tracker's low-score stage
    return load_detector("nanodet", score_threshold=0.15)


def nanodet(frames: Sequence[np.ndarray]) -> list[Detections]:
    return _nanodet().detect(list(frames))
