"""One video's analysis in memory: the timeline, the files analyzers produced beside it, and the clock.

The pipeline returns an :class:`Analysis`; nothing is on disk yet. ``vidlens.outputs.write`` puts it in
an output folder; the library's ingest, query by clip, the stream monitor and the server read it
directly. An :class:`Artifact` is what one output file will hold — encoded bytes (a JPEG), arrays (an
``.npz``) or a spill file an analyzer streamed while it ran (the person-mask video, too large to hold).
Artifacts are named by their path relative to the output folder, the name the timeline refers to them by.
"""

from __future__ import annotations

import shutil
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .timeline import FrameClock, Timeline

__all__ = ["Analysis", "Artifact"]


@dataclass
class Artifact:
    """The contents of one output file: exactly one of ``data``, ``arrays`` or ``spill``.

    A spill file lives in a private temporary folder (``spill_dir``) that is removed when the artifact
    is garbage-collected or :meth:`discard` is called; writing it moves a copy into place."""

    data: bytes | None = None
    arrays: dict[str, np.ndarray] | None = None
    spill: Path | None = None
    spill_dir: Path | None = None

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.data, self.arrays, self.spill)) != 1:
            raise ValueError("an artifact holds exactly one of data, arrays or spill")
        if self.spill_dir is not None:
            self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.spill_dir), True)

    def discard(self) -> None:
        """Remove a spill file's temporary folder now (no-op for in-memory artifacts)."""
        if self.spill_dir is not None:
            self._cleanup()


@dataclass
class Analysis:
    """What analysing one video produced; ``timeline.analysis["complete"]`` says whether it is partial."""

    timeline: Timeline
    clock: FrameClock
    artifacts: dict[str, Artifact] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.timeline.complete

    def arrays(self, name: str) -> dict[str, np.ndarray] | None:
        """The arrays of the ``.npz`` artifact ``name`` (e.g. the labels analyzer's embeddings), if produced."""
        artifact = self.artifacts.get(name)
        return artifact.arrays if artifact is not None else None

    def data(self, name: str) -> bytes | None:
        """The bytes of the artifact ``name`` (a keyframe or thumbnail JPEG), if produced in memory."""
        artifact = self.artifacts.get(name)
        return artifact.data if artifact is not None else None

    def discard(self) -> None:
        """Free the spill files now instead of at garbage collection."""
        for artifact in self.artifacts.values():
            artifact.discard()
