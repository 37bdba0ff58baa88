"""The Analyzer protocol and the types that cross the pipeline ↔ analyzer seam.

An analyzer declares the frames it wants (``needs``), receives them in batches with their exact
indices and times (``process``), and returns what it adds to the timeline (``finish``). It never
opens files. ``after`` names analyzers whose parts it reads in ``finish`` (keyframes need shots).
An analyzer that listens to the soundtrack also declares ``audio`` (a tuple of ``AudioSpec``) and
gets ``process_audio(chunk)`` calls, decoded in the same pass as the frames; ``needs`` is ``None``
when it wants no frames at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..media import FrameSpec, VideoInfo
from ..timeline import FrameClock


@dataclass
class FrameBatch:
    """Consecutive sampled frames for one analyzer: pixels plus exact indices and times (seconds)."""

    frames: list[np.ndarray]
    indices: np.ndarray  # int64, presentation-order frame index
    times: np.ndarray  # float64 seconds since the first frame

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class TimelinePart:
    """What one analyzer adds: timeline sections, its parameters, warnings, and files it wrote."""

    sections: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # in-memory data for later analyzers


@dataclass
class AnalyzerContext:
    """Everything ``finish`` may need: the clock, the output folder, earlier analyzers' parts."""

    info: VideoInfo
    clock: FrameClock
    output_dir: Path | None
    parts: dict[str, TimelinePart]
    complete: bool = True
    first_frame: int = 0  # first frame of the analysed range; the clock's end is its end


@runtime_checkable
class Analyzer(Protocol):
    name: str
    needs: FrameSpec | None
    after: tuple[str, ...]

    def start(self, info: VideoInfo) -> None: ...

    def process(self, batch: FrameBatch) -> None: ...

    def finish(self, context: AnalyzerContext) -> TimelinePart: ...

    def params(self) -> dict[str, Any]: ...


def shots_or_whole(context: AnalyzerContext) -> list[dict[str, Any]]:
    """The shots part's shots (analyzers annotate these dicts), or one shot spanning the analysed range."""
    if "shots" in context.parts:
        return context.parts["shots"].sections["shots"]
    return [{"index": 0, "start": context.clock.moment(context.first_frame),
             "end": context.clock.moment(context.clock.frame_count)}]


def sampled_in_range(indices: np.ndarray, start: int, end: int) -> np.ndarray:
    """Positions of the sampled frames inside [start, end); a range shorter than the sampling step gets the
    nearest sampled frame, so every shot has a value."""
    inside = np.flatnonzero((indices >= start) & (indices < end))
    if inside.size:
        return inside
    middle = (start + end) / 2
    return np.array([int(np.argmin(np.abs(indices - middle)))])
