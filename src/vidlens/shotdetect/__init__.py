"""Shot-boundary detection: the ``Transition`` result type and pluggable detectors.

``ClassicalDetector`` is the fast default (colour histograms + motion-compensated structure +
a dissolve/fade test on downscaled frames). Learned detectors plug in through ``ShotDetector``.
"""

from .classical import ClassicalDetector, ClassicalParams
from .types import ShotDetector, Transition, TransitionKind

__all__ = ["ClassicalDetector", "ClassicalParams", "ShotDetector", "Transition", "TransitionKind"]
