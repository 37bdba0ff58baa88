"""The Analyzer protocol and the types that cross the pipeline ↔ analyzer seam.

An analyzer declares the frames it wants (``needs``), receives them in batches with their exact
indices and times (``process``), and returns what it adds to the timeline (``finish``): its own sections,
fields for each shot (the pipeline joins them into the shots section, which belongs to the shots
analyzer) and artifacts (the files an output folder will hold, in memory). It never writes into an
output folder and never edits another analyzer's section. ``after`` names analyzers whose parts it
reads in ``finish`` (keyframes need shots).
An analyzer that listens to the soundtrack also declares ``audio`` (a tuple of ``AudioSpec``) and
gets ``process_audio(chunk)`` calls, decoded in the same pass as the frames; ``needs`` is ``None``
when it wants no frames at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..analysis import Artifact
from ..media import FrameSpec, VideoInfo
from ..timeline import FrameClock


@dataclass
class FrameBatch:
    """Consecutive sampled frames for one analyzer: pixels plus exact indices and times.

    ``pts`` are the frames' integer presentation timestamps in units of ``time_base`` (the stream's), the
    exact times; ``times`` are the same in float seconds since frame 0 (``(pts - pts of frame 0) * time_base``).
    A batch built by hand (tests) may leave ``pts``/``time_base`` unset."""

    frames: list[np.ndarray]
    indices: np.ndarray  # int64, presentation-order frame index
    times: np.ndarray  # float64 seconds since the first frame
    pts: np.ndarray | None = None  # int64, in time_base units
    time_base: Fraction | None = None

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class TimelinePart:
    """What one analyzer adds: its timeline sections, fields per shot, its parameters, warnings, artifacts.

    ``shot_fields`` maps a shot's index to the fields this analyzer adds to it (``{"labels": [...]}``);
    ``artifacts`` maps a file name relative to the output folder (``keyframes/000123.jpg``) to its contents."""

    sections: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    shot_fields: dict[int, dict[str, Any]] = field(default_factory=dict)
    artifacts: dict[str, Artifact] = field(default_factory=dict)


@dataclass
class AnalyzerContext:
    """Everything ``finish`` may need: the clock and earlier analyzers' parts (their shot fields already
    joined into the shots section)."""

    info: VideoInfo
    clock: FrameClock
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
    """The shots part's shots (read them; add fields through ``TimelinePart.shot_fields``), or one shot
    spanning the analysed range."""
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
