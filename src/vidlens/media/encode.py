"""Encode raw frames into a video file (H.264 by default), with exact pts and an optional tone.

Used to make test and benchmark videos with known content, and for per-frame outputs such as
mask videos, so it favours exactness over speed: frame ``i`` gets pts ``pts[i]`` (default ``i``)
in ``time_base`` (default ``1/fps``).
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
    with VideoEncoder(path, fps=fps, time_base=time_base, rotation=rotation, codec=codec, crf=crf,
                      tone_hz=tone_hz) as encoder:
        for i, rgb in enumerate(frames):
            encoder.write(rgb, i if pts is None else pts[i])
    return Path(path)


class VideoEncoder:
    """Frames in, one at a time, with exact pts; a video file out, renamed into place on ``close``.

    For producers that cannot hand over an iterable (an analyzer receives its frames batch by
    batch). Frames are RGB ``HxWx3`` or grey ``HxW`` uint8, all the same even size. Used as a
    context manager, an exception deletes the partial file instead of renaming it.
    """

    def __init__(self, path: str | Path, *, fps: Fraction | int = Fraction(25), time_base: Fraction | None = None,
                 rotation: int | None = None, codec: str = "libx264", crf: int = 18,
                 tone_hz: float | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self.fps = Fraction(fps)
        self.time_base = time_base or 1 / self.fps
        self.rotation, self.codec, self.crf, self.tone_hz = rotation, codec, crf, tone_hz
        self.frames = 0
        self._samples = 0
        self._container = av.open(str(self._tmp), "w", format=_format_for(self.path))
        self._stream: av.video.stream.VideoStream | None = None
        self._tone = (self._container.add_stream("aac", rate=TONE_RATE, layout="mono") if tone_hz else None)

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        """Encode one frame at ``pts`` (in ``time_base``; default: the frame's number)."""
        if self._stream is None:
            self._open_stream(image.shape[1], image.shape[0])
        fmt = "gray" if image.ndim == 2 else "rgb24"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=fmt)
        frame.pts, frame.time_base = (self.frames if pts is None else int(pts)), self.time_base
        self._container.mux(self._stream.encode(frame))
        self.frames += 1
        while self._tone is not None and self._samples < self.frames * TONE_RATE / self.fps:
            pcm = 0.2 * np.sin(2 * np.pi * float(self.tone_hz) * (self._samples + np.arange(1024)) / TONE_RATE)
            chunk = av.AudioFrame.from_ndarray(pcm.astype(np.float32)[None], format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts, chunk.time_base = TONE_RATE, self._samples, Fraction(1, TONE_RATE)
            self._container.mux(self._tone.encode(chunk))
            self._samples += 1024

    def _open_stream(self, width: int, height: int) -> None:
        stream = self._container.add_stream(self.codec, rate=self.fps)
        stream.height, stream.width = height, width
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = self.time_base
        stream.time_base = self.time_base
        if self.codec == "libx264":
            stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        if self.rotation is not None:
            stream.set_display_rotation(self.rotation)
        self._stream = stream

    def close(self) -> Path:
        """Flush the encoders and rename the file into place."""
        try:
            if self._stream is None:
                raise ValueError("no frames to encode")
            self._container.mux(self._stream.encode(None))
            if self._tone is not None:
                self._container.mux(self._tone.encode(None))
            self._container.close()
            self._tmp.replace(self.path)
        finally:
            self.abort()
        return self.path

    def abort(self) -> None:
        """Drop the partial file (a no-op after a successful ``close``)."""
        self._container.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoEncoder:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def _format_for(path: Path) -> str | None:
    """Container format from the real suffix (the temporary name keeps it, but be explicit)."""
    return {".mkv": "matroska", ".mp4": "mp4", ".avi": "avi", ".mov": "mov", ".webm": "webm"}.get(
        path.suffix.lower()
    )
