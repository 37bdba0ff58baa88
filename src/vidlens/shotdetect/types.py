"""Types shared by every shot detector."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np

from ..media import FrameSpec


class TransitionKind(str, Enum):
    CUT = "cut"
    DISSOLVE = "dissolve"
    FADE = "fade"


@dataclass(frozen=True)
class Transition:
    """A shot boundary. ``frame`` is the first frame of the new shot; ``[start, end)`` the span.

    For a cut the span is the single frame ``frame``; for gradual transitions it covers the frames
    that mix (dissolve) or darken and brighten (fade) the two shots.
    """

    kind: TransitionKind
    frame: int
    start: int
    end: int
    confidence: float

    def __post_init__(self) -> None:
        if not (self.start <= self.frame < max(self.end, self.frame + 1)):
            raise ValueError(f"transition frame {self.frame} is outside its span [{self.start}, {self.end})")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence}")


class ShotDetector(Protocol):
    """Consumes every frame (in order, at ``needs``) and returns the transitions at the end."""

    name: str
    needs: FrameSpec

    def push(self, frames: list[np.ndarray], indices: np.ndarray) -> None: ...

    def finish(self) -> list[Transition]: ...

    def params(self) -> dict: ...
