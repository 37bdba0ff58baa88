"""Videos made of real photos, one shot per photo, with optional captions: ground truth for library search.

A "reel" shows each photo for a known number of seconds with a slow pan (so frames change as in
footage), hard cuts between them, and captions drawn on chosen shots. The truth says which photo and
which words are on screen in which frames, which is what a search for "cat" or for the caption's
words must find.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .captions import Caption, caption_video, panning_photo
from .photos import list_photos, load_photo


@dataclass(frozen=True)
class ReelShot:
    photo: str  # file name of a photo from list_photos()
    seconds: float
    caption: str | None = None


@dataclass(frozen=True)
class ReelTruth:
    path: str
    fps: int
    shots: list[dict]  # photo, caption, start, end (frames), start_time, end_time

    def shot_of(self, photo: str) -> dict:
        return next(s for s in self.shots if s["photo"] == photo)


def photo_path(name: str) -> Path | None:
    return next((p for p in list_photos() if p.name == name), None)


def make_reel(path: Path, shots: Sequence[ReelShot], *, size: tuple[int, int] = (320, 180),
              fps: int = 10) -> ReelTruth:
    """Encode the reel at ``path`` and write ``<path>.truth.json`` beside it."""
    frames_per = [max(1, round(s.seconds * fps)) for s in shots]
    bounds = np.concatenate([[0], np.cumsum(frames_per)]).astype(int)
    photos = []
    for shot in shots:
        found = photo_path(shot.photo)
        if found is None:
            raise FileNotFoundError(f"photo {shot.photo} is not installed")
        photos.append(load_photo(found))

    def background() -> Iterator[np.ndarray]:
        for photo, n in zip(photos, frames_per):
            yield from panning_photo(photo, size, n, travel=0.1)

    captions = [Caption(s.caption, int(a), int(b), size=0.09) for s, a, b in zip(shots, bounds[:-1], bounds[1:])
                if s.caption]
    caption_video(path, background(), captions, fps=fps)
    truth = ReelTruth(str(path), fps, [{**asdict(s), "start": int(a), "end": int(b), "start_time": a / fps,
                                        "end_time": b / fps} for s, a, b in zip(shots, bounds[:-1], bounds[1:])])
    Path(f"{path}.truth.json").write_text(json.dumps(asdict(truth), indent=1), encoding="utf-8")
    return truth
