"""The per-frame input streams a feature head can read, in one registry (no torch).

Each stream turns a video's sampled frames (the feature look: shorter side 224 px, RGB) into one row per
frame; a head reads the streams' rows concatenated in the order of :data:`STREAMS` (the bundle's feature
input records which, under ``streams``; bundles without it read appearance only). Adding a stream is one
:class:`Stream` entry with its width, version and a factory of its stateful extractor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..errors import UsageError
from ..runtime.backbone import FEATURE_DIM, backbone_input
from .motion import MOTION_DIM, MOTION_VERSION, MotionExtractor

APPEARANCE = "appearance"
MOTION = "motion"
#: What ``inputs="auto"`` picks for the feature heads.
AUTO_STREAMS = (APPEARANCE, MOTION)
#: Streams named by issue 14 that are not built yet (asked for: a clear error).
RESERVED = ("pose",)


class RowExtractor(Protocol):
    def rows(self, frames: Sequence[np.ndarray], times: Sequence[float]) -> np.ndarray: ...


class AppearanceRows:
    """The backbone's pooled features, float16 as the feature cache stores them."""

    def __init__(self, backbone: Any) -> None:
        self.backbone = backbone

    def rows(self, frames: Sequence[np.ndarray], times: Sequence[float]) -> np.ndarray:
        return self.backbone.run(backbone_input(list(frames)))["features"].astype(np.float16)


@dataclass(frozen=True)
class Stream:
    name: str
    dim: int
    version: int
    uses_backbone: bool
    factory: Callable[[Any], RowExtractor]  # (backbone or None) -> a fresh extractor for one video


STREAMS: dict[str, Stream] = {s.name: s for s in (
    Stream(APPEARANCE, FEATURE_DIM, 1, True, AppearanceRows),
    Stream(MOTION, MOTION_DIM, MOTION_VERSION, False, lambda _backbone: MotionExtractor()),
)}


def parse_streams(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Stream names in registry order; ``"auto"``/``None`` -> :data:`AUTO_STREAMS`; unknown ones are a UsageError."""
    if value is None or value == "auto":
        return AUTO_STREAMS
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else [str(v).strip() for v in value]
    names = [n for n in names if n]
    for name in names:
        if name in RESERVED:
            raise UsageError(f"the {name} input stream is not available in this version; choose from "
                             f"{', '.join(STREAMS)}", params=("inputs",))
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
