"""The timeline: the one result every analysis writes into, and its JSON (schema ``vidlens.timeline/1``).

Every time is given three ways (``frame``, ``time`` in seconds, SMPTE ``timecode``); segments are
half-open (``end`` is the first frame after). Sections are plain lists of dicts produced by the
analyzers, so a new analysis adds a key without touching this module. Missing values are ``null``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .errors import UsageError
from .files import write_text_atomic
from .paths import read_user_file
from .timebase import TIME_TOLERANCE_S, timecode

SCHEMA = "vidlens.timeline/1"
#: The JSON Schema (draft 2020-12) of :data:`SCHEMA`, shipped as package data.
SCHEMA_FILE = Path(__file__).parent / "schema" / "timeline.schema.json"
#: Sections that always exist in a timeline, in output order.
SECTIONS = ("shots", "labels", "objects", "faces", "text", "events")


class FrameClock:
    """Turns frame indices into ``{"frame", "time", "timecode"}`` using the decoded frames' pts.

    Built from each frame's integer pts and the stream's ``time_base`` (:meth:`from_pts`), so variable
    frame rate and odd start times are exact: frame ``i`` is at ``(pts[i] - pts[0]) * time_base``. A
    frame index always means the ``i``-th presented frame, the definition media/ uses too. The rate
    (``fps``, ``None`` when unknown) is used only for the timecode's frame field and past the last
    frame; when it is unknown the measured average rate of the frames (:attr:`rate`) stands in.
    """

    def __init__(self, times: Sequence[float] | np.ndarray, fps: Fraction | None, *,
                 pts: Sequence[int] | np.ndarray | None = None, time_base: Fraction | None = None) -> None:
        self.times = np.asarray(times, dtype=np.float64)
        self.fps = fps
        self.pts = None if pts is None else np.asarray(pts, dtype=np.int64)
        self.time_base = time_base

    @classmethod
    def from_pts(cls, pts: Sequence[int], time_base: Fraction, fps: Fraction | None) -> FrameClock:
        """The clock of frames presented at ``pts`` (ints, increasing) in units of ``time_base``."""
        first = pts[0] if len(pts) else 0
        times = [float((p - first) * time_base) for p in pts]
        return cls(times, fps, pts=pts, time_base=time_base)

    @property
    def start_pts(self) -> int | None:
        """The pts of frame 0 (the clock's zero), in ``time_base`` units; ``None`` without pts."""
        return int(self.pts[0]) if self.pts is not None and len(self.pts) else None

    @property
    def frame_count(self) -> int:
        return len(self.times)

    @property
    def rate(self) -> Fraction | None:
        """The declared rate, else the measured average rate of the frames (``None`` for fewer than two).

        Used where a rate is genuinely needed (the timecode's frame field, time past the last frame)."""
        if self.fps:
            return self.fps
        if self.pts is not None and len(self.pts) > 1 and self.time_base:
            return Fraction(len(self.pts) - 1) / ((int(self.pts[-1]) - int(self.pts[0])) * self.time_base)
        if len(self.times) > 1 and self.times[-1] > self.times[0]:
            return Fraction(len(self.times) - 1) / Fraction(float(self.times[-1] - self.times[0]))
        return None

    @property
    def end_time(self) -> float:
        if not len(self.times):
            return 0.0
        rate = self.rate
        return float(self.times[-1] + 1 / rate) if rate else float(self.times[-1])

    def time(self, frame: int) -> float:
        if 0 <= frame < len(self.times):
            return float(self.times[frame])
        if frame >= len(self.times):
            rate = self.rate
            return self.end_time + ((frame - len(self.times)) / float(rate) if rate else 0.0)
        raise ValueError(f"frame index must be >= 0, got {frame}")

    def moment(self, frame: int) -> dict[str, Any]:
        return {"frame": int(frame), "time": round(self.time(frame), 6), "timecode": timecode(int(frame), self.rate)}

    def frame_at(self, seconds: float) -> int:
        """The last frame presented at or before ``seconds`` (within :data:`~vidlens.timebase.TIME_TOLERANCE_S`)."""
        return max(0, int(np.searchsorted(self.times, seconds + TIME_TOLERANCE_S, side="right")) - 1)


@dataclass
class Timeline:
    """The result of analysing one video. Plain data: it neither draws nor saves anything but JSON."""

    video: dict[str, Any]
    analysis: dict[str, Any]
    sections: dict[str, Any] = field(default_factory=dict)
    schema: str = SCHEMA

    def __getitem__(self, key: str) -> Any:
        return self.sections.get(key, [])

    @property
    def shots(self) -> list[dict[str, Any]]:
        return self.sections.get("shots", [])

    @property
    def complete(self) -> bool:
        return bool(self.analysis.get("complete", False))

    @property
    def warnings(self) -> list[str]:
        return self.analysis.setdefault("warnings", [])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schema": self.schema, "video": self.video, "analysis": self.analysis}
        for name in SECTIONS:
            out[name] = self.sections.get(name, [])
        for name, value in self.sections.items():
            if name not in out:
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Timeline:
        schema = data.get("schema")
        if schema != SCHEMA:
            raise UsageError(f"unsupported timeline schema {schema!r}; this vidlens reads {SCHEMA!r}")
        sections = {k: v for k, v in data.items() if k not in ("schema", "video", "analysis")}
        return cls(video=data["video"], analysis=data["analysis"], sections=sections, schema=schema)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, default=_json_default)

    def save(self, path: str | Path) -> Path:
        """Write atomically (temp file + rename) so a crash never leaves half a timeline."""
        return write_text_atomic(Path(path), self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> Timeline:
        """A timeline.json written by vidlens; anything else is a one-line :class:`UsageError`."""
        try:
            data = json.loads(read_user_file(path, "timeline"))
        except json.JSONDecodeError as error:
            raise UsageError(f"not a vidlens timeline (invalid JSON: {error})", path=path) from None
        if not isinstance(data, dict) or not isinstance(data.get("video"), dict) or "analysis" not in data:
            raise UsageError("not a vidlens timeline (no video or analysis section)", path=path)
        try:
            return cls.from_dict(data)
        except UsageError as error:
            raise UsageError(str(error), path=path) from None


def schema() -> dict[str, Any]:
    """The timeline's JSON Schema (draft 2020-12), a fresh copy on every call. Validating needs a JSON Schema
    library (``jsonschema``, in the ``test`` extra); vidlens itself does not validate at run time."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def _json_default(value: Any) -> Any:
    if isinstance(value, Fraction):
        return float(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")
