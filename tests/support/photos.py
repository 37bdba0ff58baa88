"""Real photographs that ship with locally installed packages (never downloaded).

Synthetic test videos are only useful if their shots look like real footage: natural texture,
colour and noise statistics are what shot detectors are tuned on.  Flat synthetic patterns would
make every detector look perfect.  We therefore film virtual cameras over real photos taken from
scikit-image's bundled data directory and, when installed, Debian's ``opencv-doc`` examples.

``skimage.data`` functions are deliberately not called: some of them fetch files over the network.
The files are read directly with OpenCV instead.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path

import cv2
import numpy as np

OPENCV_DOC_DATA = Path("/usr/share/doc/opencv-doc/examples/data")

# Curated natural photos, in a fixed order so that photo indices are stable across runs.
# Near-binary drawings (horse, logo, phantom, chessboards, text masks) and stereo/sequence pairs
# (motorcycle_right, leuvenB, aloeR...) are left out on purpose: a cut between two views of the
# same scene must be an explicit scenario ("near_identical"), never an accident.
SKIMAGE_PHOTOS = (
    "astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png",
    "hubble_deep_field.jpg", "retina.jpg", "ihc.png", "camera.png", "brick.png", "grass.png",
    "gravel.png", "coins.png", "moon.png", "page.png", "text.png", "color.png",
)  # fmt: skip
OPENCV_PHOTOS = (
    "fruits.jpg", "baboon.jpg", "building.jpg", "butterfly.jpg", "home.jpg", "orange.jpg",
    "apple.jpg", "messi5.jpg", "starry_night.jpg", "squirrel_cls.jpg", "aero1.jpg", "board.jpg",
    "HappyFish.jpg", "stuff.jpg", "smarties.png",
)  # fmt: skip

# Quality gate (applied on top of the curated names, in case a package version ships different
# files): enough contrast for content to be told apart after encoding, and enough distinct grey
# levels that the image is a photo rather than a two-tone drawing.
_MIN_GREY_STD = 20.0
_MIN_ENTROPY_BITS = 3.5
_MAX_TOP2_GREY_MASS = 0.7


def skimage_data_dir() -> Path | None:
    """Directory of scikit-image's bundled sample files, located without importing skimage."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data"
    return path if path.is_dir() else None


def _candidates() -> list[Path]:
    found: list[Path] = []
    sk = skimage_data_dir()
    if sk is not None:
        found += [sk / name for name in SKIMAGE_PHOTOS]
    found += [OPENCV_DOC_DATA / name for name in OPENCV_PHOTOS]
    return [p for p in found if p.is_file()]


def _is_photo_like(bgr: np.ndarray) -> bool:
    """Reject low-contrast or near-binary images (see the thresholds above)."""
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    hist = np.bincount(grey.ravel(), minlength=256).astype(np.float64) / grey.size
    nonzero = hist[hist > 0]
    entropy = float(-(nonzero * np.log2(nonzero)).sum())
    top2 = float(np.sort(hist)[-2:].sum())
    return float(grey.std()) >= _MIN_GREY_STD and entropy >= _MIN_ENTROPY_BITS and top2 <= _MAX_TOP2_GREY_MASS


@functools.cache
def _listed() -> tuple[Path, ...]:
    keep = []
    for path in _candidates():
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is not None and _is_photo_like(bgr):
            keep.append(path)
    return tuple(keep)


def list_photos() -> list[Path]:
    """Usable photos in a deterministic order (scikit-image first, then opencv-doc).

    Indices into this list are what :class:`tests.support.synth.ShotSpec` refers to, so the order
    is fixed by the curated name lists rather than by directory listing order.
    """
    return list(_listed())


def photo_rgb(name: str) -> np.ndarray:
    """The installed photo called ``name`` (e.g. ``astronaut.png``) as RGB uint8; the test is skipped without it."""
    import pytest

    found = {p.name: p for p in list_photos()}
    if name not in found:
        pytest.skip(f"{name} is not installed")
    return np.ascontiguousarray(cv2.imread(str(found[name]), cv2.IMREAD_COLOR)[:, :, ::-1])


@functools.lru_cache(maxsize=64)
def _load(path: str, min_width: int, min_height: int) -> np.ndarray:
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"cannot read image {path}")
    h, w = bgr.shape[:2]
    scale = max(1.0, min_width / w, min_height / h)
    if scale > 1.0:
        size = (math.ceil(w * scale), math.ceil(h * scale))
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_CUBIC)
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    rgb.setflags(write=False)  # shared through the cache: callers must copy before mutating
    return rgb


def load_photo(path: Path | str, min_size: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Read a photo as an RGB ``uint8`` array of shape ``(h, w, 3)`` (greyscale is expanded).

    ``min_size`` is ``(width, height)``: smaller photos are upscaled, keeping their aspect ratio,
    until both sides reach it, so a virtual camera can frame them without running off the edge.
    The returned array is cached and read-only.
    """
    return _load(str(path), int(min_size[0]), int(min_size[1]))
