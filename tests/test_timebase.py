from __future__ import annotations

from fractions import Fraction

import pytest

from vidlens.errors import UsageError
from vidlens.timebase import TimeSpec, clock, timecode


@pytest.mark.parametrize(
    ("frame", "fps", "expected"),
    [
        (0, Fraction(25), "00:00:00:00"),
        (30, Fraction(25), "00:00:01:05"),
        (98, Fraction(2997, 125), "00:00:04:02"),
        (1800, Fraction(30000, 1001), "00:01:00:00"),
        (90000, Fraction(25), "01:00:00:00"),
    ],
)
def test_timecode(frame: int, fps: Fraction, expected: str) -> None:
    assert timecode(frame, fps) == expected


@pytest.mark.parametrize(
    ("text", "frames", "seconds"),
    [("300f", 300, None), ("12.5s", None, Fraction(25, 2)), ("01:02.5", None, Fraction(125, 2)),
     ("1:00:00", None, Fraction(3600))],
)
def test_time_spec(text: str, frames: int | None, seconds: Fraction | None) -> None:
    spec = TimeSpec.parse(text)
    assert (spec.frames, spec.seconds) == (frames, seconds)


@pytest.mark.parametrize("text", ["15", "abc", "-3s", "1.5f"])
def test_time_spec_needs_a_unit(text: str) -> None:
    with pytest.raises(UsageError):
        TimeSpec.parse(text)


def test_clock() -> None:
    assert clock(3723.456) == "01:02:03.456"
