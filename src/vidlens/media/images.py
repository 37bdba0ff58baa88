"""Still-image outputs: JPEG encoding and the contact sheet (a grid of keyframes with timecodes)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np


def encode_jpeg(rgb: np.ndarray, quality: int = 88) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return buf.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def contact_sheet(images: Sequence[np.ndarray], captions: Sequence[str], *, columns: int = 6,
                  tile_width: int = 240) -> np.ndarray:
    """Lay RGB images out in a grid, each captioned underneath (e.g. with its timecode)."""
    if not images:
        raise ValueError("a contact sheet needs at least one image")
    aspect = images[0].shape[0] / images[0].shape[1]
    tile_h = max(2, round(tile_width * aspect))
    caption_h = 22
    columns = max(1, min(columns, len(images)))
    rows = (len(images) + columns - 1) // columns
    sheet = np.full((rows * (tile_h + caption_h), columns * tile_width, 3), 24, np.uint8)
    for i, (image, caption) in enumerate(zip(images, captions)):
        r, c = divmod(i, columns)
        y, x = r * (tile_h + caption_h), c * tile_width
        sheet[y: y + tile_h, x: x + tile_width] = cv2.resize(image, (tile_width, tile_h), interpolation=cv2.INTER_AREA)
        cv2.putText(sheet, caption, (x + 6, y + tile_h + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (230, 230, 230), 1,
                    cv2.LINE_AA)
    return sheet


def write_jpeg(path: Path, rgb: np.ndarray, quality: int = 88) -> Path:
    """Write ``rgb`` as a JPEG, atomically and owner-only like every derived file (``write_bytes_atomic``)."""
    from ..files import write_bytes_atomic

    return write_bytes_atomic(Path(path), encode_jpeg(rgb, quality))
