"""Types shared by every shot detector."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np

from ..errors import UsageError
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


def require_next(first: int | None, count: int, index: int, who: str) -> int:
    """The first index of the stream (``index`` for the first frame); refuses gaps and reordering.

    Shot detectors compare consecutive frames, so they need every frame exactly once, in order.
    """
    if first is None:
        return int(index)
    if int(index) != first + count:
        raise UsageError(f"the {who} shot detector needs every frame, in order")
    return first


def shifted(found: list[Transition], offset: int) -> list[Transition]:
    """Transitions found in stream-relative frame numbers, moved to the video's frame numbers."""
    return [Transition(t.kind, t.frame + offset, t.start + offset, t.end + offset, t.confidence) for t in found]


class ShotDetector(Protocol):
    """Consumes every frame (in order, at ``needs``) and returns the transitions at the end."""

    name: str
    needs: FrameSpec

    def push(self, frames: list[np.ndarray], indices: np.ndarray) -> None: ...

    def finish(self) -> list[Transition]: ...

    def params(self) -> dict: ...
