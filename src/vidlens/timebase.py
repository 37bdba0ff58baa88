"""Exact time: frame indices, rational rates, SMPTE timecodes and unit-carrying time arguments.

Times are kept as integer pts with a ``Fraction`` time base inside the media layer; seconds and
timecodes are derived only for output. User-facing time arguments carry their unit
(``12.5s``, ``00:01:02.500``, ``300f``) so that ``15`` never silently means frames to one function
and seconds to another.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction

from .errors import UsageError

#: The one time tolerance (seconds): two times closer than this are the same moment. Far below any frame
#: interval (a 1/90000 s time base tick is 1.1e-5 s), it only absorbs float rounding of exact pts times.
TIME_TOLERANCE_S = 1e-9


def timecode(frame: int, fps: Fraction | None) -> str:
    """SMPTE ``HH:MM:SS:FF`` of a 0-based frame index (non-drop-frame, nominal rate rounded up).

    Non-drop-frame timecode counts frames at the nominal integer rate (30 for 29.97), which is
    what editors expect in EDLs for NDF material. A timecode needs a rate: callers pass the clock's
    (:attr:`vidlens.timeline.FrameClock.rate`: the declared rate, else the measured average). With no
    rate at all (a single frame) each frame counts as one second; no rate is invented.
    """
    if frame < 0:
        raise UsageError(f"frame index must be >= 0, got {frame}")
    nominal = max(1, math.ceil(float(fps) - TIME_TOLERANCE_S)) if fps else 1
    ff = frame % nominal
    total_seconds = frame // nominal
    hh, rem = divmod(total_seconds, 3600)
    mm, ss = divmod(rem, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}"


def clock(seconds: float) -> str:
    """Human ``HH:MM:SS.mmm`` clock time (for captions and reports)."""
    millis = max(0, round(seconds * 1000))
    hh, rem = divmod(millis, 3_600_000)
    mm, rem = divmod(rem, 60_000)
    ss, ms = divmod(rem, 1000)
    return f"{hh:02d}:{mm:02d}:{ss:02d}.{ms:03d}"


_SECONDS = re.compile(r"^(?P<v>\d+(?:\.\d+)?)s$")
_FRAMES = re.compile(r"^(?P<v>\d+)f$")
_CLOCK = re.compile(r"^(?:(?P<h>\d+):)?(?P<m>\d{1,2}):(?P<s>\d{1,2}(?:\.\d+)?)$")
_SPAN = re.compile(r"^(?P<v>\d+(?:\.\d+)?)(?P<unit>s|m|min|h)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600}


def duration_seconds(text: str, what: str = "duration") -> float:
    """Seconds of a length of (wall-clock) time given with a unit: ``90s``, ``10m``, ``1.5h`` or ``[HH:]MM:SS``.

    A bare number is refused: ``--budget 10`` could mean seconds or minutes, and guessing wrong by 60x is
    worse than asking.
    """
    value = str(text).strip().lower()
    if m := _SPAN.match(value):
        seconds = float(m["v"]) * _UNIT_SECONDS[m["unit"]]
    elif m := _CLOCK.match(value):
        seconds = int(m["h"] or 0) * 3600 + int(m["m"]) * 60 + float(m["s"])
    else:
        raise UsageError(f"cannot read {what} {text!r}: give a unit, e.g. '90s', '10m', '1.5h' or '01:30:00'")
    if not seconds > 0:
        raise UsageError(f"the {what} must be more than 0 s, got {text!r}")
    return seconds


@dataclass(frozen=True)
class TimeSpec:
    """A point in a video given either in frames or in seconds, as the user wrote it."""

    frames: int | None = None
    seconds: Fraction | None = None

    @classmethod
    def parse(cls, text: str) -> TimeSpec:
        """Parse ``12.5s``, ``300f`` or ``[HH:]MM:SS[.mmm]``; a bare number is refused (no unit)."""
        value = text.strip().lower()
        if m := _FRAMES.match(value):
            return cls(frames=int(m["v"]))
        if m := _SECONDS.match(value):
            return cls(seconds=Fraction(m["v"]))
        if m := _CLOCK.match(value):
            seconds = Fraction(int(m["h"] or 0) * 3600 + int(m["m"]) * 60) + Fraction(m["s"])
            return cls(seconds=seconds)
        raise UsageError(
            f"cannot read time {text!r}: give a unit, e.g. '12.5s', '300f' or '00:01:02.500'"
        )

    @property
    def in_frames(self) -> bool:
        """True when given in frames (``300f``): it then means frame index 300, exact on variable frame rate."""
        return self.frames is not None

    def to_seconds(self, fps: Fraction | None) -> Fraction:
        """Seconds for a time given in seconds; a frame count through ``fps`` is only an estimate (wrong on
        variable frame rate), so resolve frames by index (:meth:`FrameClock.time`) where the frames are known.
        Refused when the rate is unknown."""
        if self.seconds is not None:
            return self.seconds
        if not fps:
            raise UsageError(f"cannot turn {self} into seconds: the video's frame rate is unknown")
        return Fraction(self.frames or 0) / fps

    def __str__(self) -> str:
        return f"{self.frames}f" if self.frames is not None else f"{float(self.seconds or 0):g}s"
