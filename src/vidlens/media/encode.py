"""Encode raw frames into a video file (H.264 by default), with exact pts and an optional tone.

Used to make test and benchmark videos with known content, so it favours exactness over speed:
frame ``i`` gets pts ``pts[i]`` (default ``i``) in ``time_base`` (default ``1/fps``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

TONE_RATE = 48000


def encode_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    *,
    fps: Fraction | int = Fraction(25),
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    rotation: int | None = None,
    codec: str = "libx264",
    crf: int = 18,
    tone_hz: float | None = None,
) -> Path:
    """Write RGB uint8 frames (all the same even size) to ``path``; returns the path.

    The file is written under a temporary name and renamed at the end, so an interrupted run
    never leaves a half-written video behind. ``rotation`` sets the display matrix (degrees,
    counter-clockwise); ``tone_hz`` adds a mono AAC sine track as long as the video.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    fps = Fraction(fps)
    tb = time_base or 1 / fps
    try:
        with av.open(str(tmp), "w", format=_format_for(path)) as container:
            stream = None
            tone = container.add_stream("aac", rate=TONE_RATE, layout="mono") if tone_hz else None
            samples = 0
            for i, rgb in enumerate(frames):
                if stream is None:
                    stream = container.add_stream(codec, rate=fps)
                    stream.height, stream.width = rgb.shape[:2]
                    stream.pix_fmt = "yuv420p"
                    stream.codec_context.time_base = tb
                    stream.time_base = tb
                    if codec == "libx264":
                        stream.options = {"crf": str(crf), "preset": "veryfast"}
                    if rotation is not None:
                        stream.set_display_rotation(rotation)
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                frame.pts, frame.time_base = (i if pts is None else pts[i]), tb
                container.mux(stream.encode(frame))
                while tone is not None and samples < (i + 1) * TONE_RATE / fps:
                    pcm = 0.2 * np.sin(2 * np.pi * float(tone_hz) * (samples + np.arange(1024)) / TONE_RATE)
                    chunk = av.AudioFrame.from_ndarray(pcm.astype(np.float32)[None], format="fltp", layout="mono")
                    chunk.sample_rate, chunk.pts, chunk.time_base = TONE_RATE, samples, Fraction(1, TONE_RATE)
                    container.mux(tone.encode(chunk))
                    samples += 1024
            if stream is None:
                raise ValueError("no frames to encode")
            container.mux(stream.encode(None))
            if tone is not None:
                container.mux(tone.encode(None))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _format_for(path: Path) -> str | None:
    """Container format from the real suffix (the temporary name keeps it, but be explicit)."""
    return {".mkv": "matroska", ".mp4": "mp4", ".avi": "avi", ".mov": "mov", ".webm": "webm"}.get(
        path.suffix.lower()
    )
