"""What frames an analyzer wants (``FrameSpec``) and the stateful ``Sampler`` that picks them.

Sampling by a target rate works on presentation *time*, not on frame counts, so variable-frame-rate
video is sampled evenly and a 29.97 fps file is not treated as 30.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from ..errors import UsageError

PIXEL_FORMATS = ("rgb24", "bgr24", "gray")


@dataclass(frozen=True)
class FrameSpec:
    """Frames an analyzer needs: which ones (``step`` / ``fps`` / ``keyframes_only``) and how they look.

    ``width``/``height`` give an exact output size; ``min_side`` scales so the shorter side is exactly
    that (for models that centre-crop a square); ``max_side`` scales the longer side down to at
    most that many pixels keeping the aspect ratio; with neither, frames keep their decoded size.
    Resizing and colour conversion are done by FFmpeg's swscale, once per distinct look.
    """

    width: int | None = None
    height: int | None = None
    max_side: int | None = None
    min_side: int | None = None
    pixel_format: str = "rgb24"
    step: int = 1
    fps: Fraction | None = None
    keyframes_only: bool = False

    def __post_init__(self) -> None:
        if self.pixel_format not in PIXEL_FORMATS:
            raise UsageError(f"pixel_format must be one of {PIXEL_FORMATS}, got {self.pixel_format!r}")
        if self.step < 1:
            raise UsageError(f"step must be >= 1, got {self.step}")
        if self.fps is not None and self.fps <= 0:
            raise UsageError(f"fps must be > 0, got {self.fps}")
        for name in ("width", "height", "max_side", "min_side"):
            value = getattr(self, name)
            if value is not None and value < 2:
                raise UsageError(f"{name} must be >= 2 pixels, got {value}")

    @property
    def look(self) -> tuple:
        """The part of the spec that decides pixels; frames are converted once per distinct look."""
        return (self.width, self.height, self.max_side, self.min_side, self.pixel_format)

    def output_size(self, width: int, height: int) -> tuple[int, int]:
        """The (width, height) this spec turns a ``width`` x ``height`` frame into (even numbers)."""
        if self.width and self.height:
            return self.width, self.height
        if self.width:
            return self.width, _even(height * self.width / width)
        if self.height:
            return _even(width * self.height / height), self.height
        if self.min_side:
            scale = self.min_side / min(width, height)
            w, h = round(width * scale), round(height * scale)
            return (self.min_side, max(self.min_side, h)) if width <= height else (max(self.min_side, w), self.min_side)
        if self.max_side and max(width, height) > self.max_side:
            scale = self.max_side / max(width, height)
            return _even(width * scale), _even(height * scale)
        return width, height


def _even(value: float) -> int:
    return max(2, round(value / 2) * 2)


class Sampler:
    """Decides, frame by frame, whether a ``FrameSpec`` wants it. Keep one per spec per video."""

    def __init__(self, spec: FrameSpec) -> None:
        self.spec = spec
        self._next_time: Fraction | None = None

    def wants(self, index: int, time: Fraction, key_frame: bool) -> bool:
        spec = self.spec
        if spec.keyframes_only and not key_frame:
            return False
        if spec.fps is not None:
            if self._next_time is None:
                self._next_time = time
            if time + Fraction(1, 10_000) < self._next_time:  # tolerance absorbs rounded pts
                return False
            period = 1 / spec.fps
            # jump straight past ``time``: stepping one period at a time hangs on a huge fps or a long gap
            periods = (time + Fraction(1, 10_000) - self._next_time) // period + 1
            self._next_time += periods * period
            return True
        return index % spec.step == 0
