"""The per-frame input streams a feature head can read, in one registry (no torch).

Each stream turns a video's sampled frames (the feature look: shorter side 224 px, RGB) into one row per
frame; a head reads the streams' rows concatenated in the order of :data:`STREAMS` (the bundle's feature
input records which, under ``streams``; bundles without it read appearance only). Adding a stream is one
:class:`Stream` entry with its width, version and a factory of its stateful extractor.

Two kinds: *per-frame* streams (appearance, motion) whose row for a frame is known once the frame (and the one
before it) is seen, and *whole-clip* streams (pose: which person is the clip's main one depends on all its
frames) whose rows are computed over a clip's frames at once: the training clip's in training, each window's
in prediction (a window is as long as the training clips).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..errors import UsageError
from ..runtime.backbone import FEATURE_DIM, backbone_input
from .motion import MOTION_DIM, MOTION_VERSION, MotionExtractor
from .pose_stream import POSE_DIM, POSE_STREAM_VERSION, pose_rows

APPEARANCE = "appearance"
MOTION = "motion"
POSE = "pose"
#: What ``inputs="auto"`` computes and chooses among (see :mod:`vidlens.train.auto_inputs`); the
#: streams a bundle trained with ``auto`` reads are recorded in it.
AUTO_STREAMS = (APPEARANCE, MOTION)


class RowExtractor(Protocol):
    def rows(self, frames: Sequence[np.ndarray], times: Sequence[float]) -> np.ndarray: ...


class AppearanceRows:
    """The backbone's pooled features, float16 as the feature cache stores them."""

    def __init__(self, backbone: Any) -> None:
        self.backbone = backbone

    def rows(self, frames: Sequence[np.ndarray], times: Sequence[float]) -> np.ndarray:
        return self.backbone.run(backbone_input(list(frames)))["features"].astype(np.float16)


class PoseRows:
    """The pose stream of a clip's frames (whole-clip: call :meth:`rows` with all of a clip's or window's frames)."""

    def __init__(self, fps: float) -> None:
        self.fps = float(fps)

    def rows(self, frames: Sequence[np.ndarray], times: Sequence[float]) -> np.ndarray:
        return pose_rows(frames, fps=self.fps)


@dataclass(frozen=True)
class Stream:
    name: str
    dim: int
    version: int
    uses_backbone: bool
    factory: Callable[[Any, float], RowExtractor]  # (backbone or None, sampled fps) -> a fresh extractor
    whole_clip: bool = False  # rows depend on all of a clip's frames (computed per clip / window)


STREAMS: dict[str, Stream] = {s.name: s for s in (
    Stream(APPEARANCE, FEATURE_DIM, 1, True, lambda backbone, _fps: AppearanceRows(backbone)),
    Stream(MOTION, MOTION_DIM, MOTION_VERSION, False, lambda _backbone, _fps: MotionExtractor()),
    Stream(POSE, POSE_DIM, POSE_STREAM_VERSION, False, lambda _backbone, fps: PoseRows(fps), whole_clip=True),
)}


def parse_streams(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Stream names in registry order; ``"auto"``/``None`` -> :data:`AUTO_STREAMS`; unknown ones are a UsageError."""
    if value is None or value == "auto":
        return AUTO_STREAMS
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v).strip() for v in value]
    names = [n for n in names if n]
    for name in names:
        if name not in STREAMS:
            raise UsageError(f"unknown input stream {name!r}; choose from {', '.join(STREAMS)} (or auto)",
                             params=("inputs",))
    if not names:
        raise UsageError("give at least one input stream (or auto)", params=("inputs",))
    return tuple(n for n in STREAMS if n in names)


def spec_streams(spec: dict[str, Any]) -> tuple[str, ...]:
    """The streams a feature input spec reads (old bundles: appearance only)."""
    return tuple(spec.get("streams") or (APPEARANCE,))


def stream_dims(names: Sequence[str]) -> list[int]:
    return [STREAMS[n].dim for n in names]


def stream_slice(names: Sequence[str], name: str) -> slice:
    """The columns of stream ``name`` in a row of ``names`` concatenated."""
    lo = sum(STREAMS[n].dim for n in names[: list(names).index(name)])
    return slice(lo, lo + STREAMS[name].dim)
