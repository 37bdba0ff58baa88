"""Videos with rendered on-screen text at known times and places: ground truth for the text analyzer.

Each caption is drawn with a real font (DejaVu / Liberation when the system has them, else Pillow's
bundled font) over a moving background — a photo panned by the virtual camera or a real video — so
frames keep changing under the text the way they do in footage with subtitles or lower thirds.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from vidlens.media import FrameSpec, VideoReader
from vidlens.media.encode import encode_video

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))


@dataclass(frozen=True)
class Caption:
    """``text`` shown on frames [start, end) at centre (x, y) (fractions of the frame), ``size`` = height fraction."""

    text: str
    start: int
    end: int
    x: float = 0.5
    y: float = 0.85
    size: float = 0.05
    color: tuple[int, int, int] = (255, 255, 255)
    outline: bool = True
    font: str | None = None  # a font file name; None = the first available


def available_fonts() -> list[Path]:
    return sorted(p for d in FONT_DIRS if d.is_dir() for p in d.glob("*.ttf"))


def _font(name: str | None, px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    fonts = available_fonts()
    chosen = next((f for f in fonts if f.name == name), None) if name else (fonts[0] if fonts else None)
    if chosen is None:
        return ImageFont.load_default(size=px)
    return ImageFont.truetype(str(chosen), px)


def draw_caption(frame: np.ndarray, caption: Caption) -> tuple[int, int, int, int]:
    """Draw in place on an RGB frame; returns the text's bounding box (x0, y0, x1, y1)."""
    h, w = frame.shape[:2]
    px = max(8, round(caption.size * h))
    font = _font(caption.font, px)
    image = Image.fromarray(frame)
    draw = ImageDraw.Draw(image)
    stroke = max(1, px // 16) if caption.outline else 0
    x0, y0, x1, y1 = draw.textbbox((0, 0), caption.text, font=font, stroke_width=stroke)
    left = round(caption.x * w - (x1 - x0) / 2) - x0
    top = round(caption.y * h - (y1 - y0) / 2) - y0
    draw.text((left, top), caption.text, font=font, fill=caption.color, stroke_width=stroke,
              stroke_fill=(0, 0, 0))
    frame[:] = np.asarray(image)
    return left + x0, top + y0, left + x1, top + y1


def panning_photo(photo: np.ndarray, size: tuple[int, int], frames: int, travel: float = 0.15) -> Iterator[np.ndarray]:
    """A camera slowly panning across ``photo`` (RGB) with a window of ``size`` (w, h)."""
    w, h = size
    ph, pw = photo.shape[:2]
    scale = max(w * (1 + travel) / pw, h / ph)
    big = cv2.resize(photo, (round(pw * scale) + 1, round(ph * scale) + 1), interpolation=cv2.INTER_AREA)
    span = big.shape[1] - w
    for i in range(frames):
        x = round(span * i / max(1, frames - 1))
        y = (big.shape[0] - h) // 2
        yield np.ascontiguousarray(big[y: y + h, x: x + w])


def video_frames(path: Path, size: tuple[int, int], frames: int) -> Iterator[np.ndarray]:
    """``frames`` frames of a real video scaled to ``size`` (w, h), looping if it is shorter."""
    spec = FrameSpec(width=size[0], height=size[1], pixel_format="rgb24")
    made = 0
    while made < frames:
        with VideoReader(path, audio=False) as reader:
            for frame in reader:
                yield frame.to_ndarray(spec).copy()
                made += 1
                if made >= frames:
                    return


def caption_video(path: Path, background: Iterator[np.ndarray], captions: Sequence[Caption],
                  fps: int = 25) -> list[dict]:
    """Encode the background with the captions drawn on; returns the truth (captions with their boxes)."""
    boxes: dict[int, tuple[int, int, int, int]] = {}

    def frames() -> Iterator[np.ndarray]:
        for i, frame in enumerate(background):
            for k, cap in enumerate(captions):
                if cap.start <= i < cap.end:
                    boxes[k] = draw_caption(frame, cap)
            yield frame

    encode_video(path, frames(), fps=Fraction(fps))
    return [{**asdict(c), "box": list(boxes.get(k, ()))} for k, c in enumerate(captions)]
