"""Typed values the API returns, each with ``to_dict()``: the JSON-ready shape the matching CLI command prints
with ``--json`` (the CLI prints exactly that, so API and CLI cannot drift apart).

:class:`ShotList` and :class:`TextSegments` (``detect_shots``, ``read_text``) keep the timeline they were
read from (the exports in :mod:`vidlens.export` take it as it is) and read like the list they hold (``len``,
indexing, iteration). :class:`FrameCount`, :class:`Annotation` and :class:`Anonymization` are named pairs
(``count_frames``, ``annotate``, ``anonymize``: unpacked as before). :class:`PredictionRun` is a model over
several videos (``predict``): the results and the videos skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .export import shots_payload, text_payload
from .timeline import Timeline

if TYPE_CHECKING:
    from .media import VideoInfo
    from .privacy.anonymize import AnonymizeResult

__all__ = ["Annotation", "Anonymization", "FrameCount", "PredictionRun", "ShotList", "TextSegments"]


class _Section(Sequence):
    """The shared part: one timeline section as a read-only sequence, plus the run's facts."""

    timeline: Timeline
    section = ""

    @property
    def items(self) -> list[dict[str, Any]]:
        return self.timeline[self.section] or []

    @property
    def video(self) -> dict[str, Any]:
        return self.timeline.video

    @property
    def warnings(self) -> list[str]:
        return self.timeline.warnings

    @property
    def complete(self) -> bool:
        return self.timeline.complete

    def __getitem__(self, index):  # type: ignore[override]
        return self.items[index]

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True, eq=False)
class ShotList(_Section):
    """The shots of a video (:func:`vidlens.api.detect_shots`): shot dicts in timeline form, in order."""

    timeline: Timeline
    section = "shots"

    @property
    def shots(self) -> list[dict[str, Any]]:
        return self.items

    def to_dict(self) -> dict[str, Any]:
        """``{"schema", "video", "shots"}``, JSON-ready (what ``vidlens shots --json`` prints)."""
        return shots_payload(self.timeline)


@dataclass(frozen=True, eq=False)
class TextSegments(_Section):
    """The on-screen text of a video (:func:`vidlens.api.read_text`): timed segments with text, confidence and
    box; ``gate`` is the text gate's statistics (frames looked at, frames read)."""

    timeline: Timeline
    section = "text"

    @property
    def segments(self) -> list[dict[str, Any]]:
        return self.items

    @property
    def gate(self) -> dict[str, Any]:
        return self.timeline.sections.get("text_gate", {})

    def to_dict(self) -> dict[str, Any]:
        """``{"schema", "video", "text", "text_gate"}``, JSON-ready (what ``vidlens text --json`` prints)."""
        return text_payload(self.timeline)


@dataclass(frozen=True)
class PredictionRun:
    """A trained model over several videos (:func:`vidlens.api.predict`): one result per video classified
    (as :func:`vidlens.api.predict_video` returns it), in order, and the videos skipped with why."""

    results: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"path", "error"}

    def to_dict(self) -> dict[str, Any]:
        return {"results": self.results, "skipped": self.skipped}

    def skip(self, path: str | Path, error: BaseException) -> None:
        self.skipped.append({"path": str(path), "error": str(error)})


class FrameCount(NamedTuple):
    """A video's declared facts and its frames counted by decoding (:func:`vidlens.api.count_frames`)."""

    info: VideoInfo
    frames: int

    def to_dict(self) -> dict[str, Any]:
        return {**self.info.to_dict(), "frame_count": self.frames, "frame_count_source": "counted"}


class Annotation(NamedTuple):
    """The annotated video written (:func:`vidlens.api.annotate`) and the timeline whose tracks it drew."""

    timeline: Timeline
    path: Path

    def to_dict(self) -> dict[str, Any]:
        """``{"output", "tracks", "warnings"}`` (what ``vidlens annotate --json`` prints)."""
        return {"output": str(self.path), "tracks": len(self.timeline["objects"]), "warnings": self.timeline.warnings}


class Anonymization(NamedTuple):
    """The anonymized video (:func:`vidlens.api.anonymize`): the timeline whose faces were hidden and what was
    written and hidden (:class:`~vidlens.privacy.anonymize.AnonymizeResult`)."""

    timeline: Timeline
    result: AnonymizeResult

    def to_dict(self) -> dict[str, Any]:
        """The result's facts and the timeline's warnings (what ``vidlens anonymize --json`` prints)."""
        return self.result.to_dict() | {"warnings": self.timeline.warnings}
