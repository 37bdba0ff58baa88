"""Encode raw frames into a video file (H.264 by default), with exact pts and an optional tone.

Used to make test and benchmark videos with known content, so it favours exactness over speed:
frame ``i`` gets pts ``pts[i]`` (default ``i``) in ``time_base`` (default ``1/fps``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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
    audio: np.ndarray | None = None,
    audio_rate: int = TONE_RATE,
) -> Path:
    """Write RGB uint8 frames (all the same size; odd sizes are coded 4:4:4) to ``path``; returns the path.

    The file is written under a temporary name and renamed at the end, so an interrupted run
    never leaves a half-written video behind. ``rotation`` sets the display matrix (degrees,
    counter-clockwise); ``tone_hz`` adds a mono AAC sine track as long as the video; ``audio`` adds
    the given float samples in [-1, 1] (``(n,)`` mono or ``(channels, n)``, 1 or 2 channels) at
    ``audio_rate`` as an AAC track starting with the first frame, all of it even past the last frame.
    """
    with VideoEncoder(path, fps=fps, time_base=time_base, rotation=rotation, codec=codec, crf=crf,
                      tone_hz=tone_hz, audio=audio, audio_rate=audio_rate) as encoder:
        for i, rgb in enumerate(frames):
            encoder.write(rgb, i if pts is None else pts[i])
    return Path(path)


class VideoEncoder:
    """Frames in, one at a time, with exact pts; a video file out, renamed into place on ``close``.

    For producers that cannot hand over an iterable (an analyzer receives its frames batch by
    batch). Frames are RGB ``HxWx3`` or grey ``HxW`` uint8, all the same even size. Used as a
    context manager, an exception deletes the partial file instead of renaming it. Audio (a tone
    or given samples, see :func:`encode_video`) is interleaved as the frames arrive.
    """

    def __init__(self, path: str | Path, *, fps: Fraction | int = Fraction(25), time_base: Fraction | None = None,
                 rotation: int | None = None, codec: str = "libx264", crf: int = 18,
                 tone_hz: float | None = None, audio: np.ndarray | None = None, audio_rate: int = TONE_RATE) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.stem}.partial{self.path.suffix}")
        self.fps = Fraction(fps)
        self.time_base = time_base or 1 / self.fps
        self.rotation, self.codec, self.crf = rotation, codec, crf
        self.frames = 0
        self._samples = 0
        self._pcm_at, self._rate, self._limit = _pcm_source(tone_hz, audio, audio_rate)
        self._layout = "stereo" if audio is not None and np.atleast_2d(audio).shape[0] == 2 else "mono"
        self._container = av.open(str(self._tmp), "w", format=_format_for(self.path))
        self._stream: av.video.stream.VideoStream | None = None
        self._audio = (self._container.add_stream("aac", rate=self._rate, layout=self._layout)
                       if self._pcm_at else None)

    def write(self, image: np.ndarray, pts: int | None = None) -> None:
        """Encode one frame at ``pts`` (in ``time_base``; default: the frame's number)."""
        if self._stream is None:
            self._open_stream(image.shape[1], image.shape[0])
        fmt = "gray" if image.ndim == 2 else "rgb24"
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=fmt)
        frame.pts, frame.time_base = (self.frames if pts is None else int(pts)), self.time_base
        self._container.mux(self._stream.encode(frame))
        self.frames += 1
        while self._audio is not None and self._samples < self.frames * self._rate / self.fps \
                and (self._limit is None or self._samples < self._limit):
            self._mux_audio()

    def _mux_audio(self) -> None:
        pcm = self._pcm_at(self._samples)
        chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm), format="fltp", layout=self._layout)
        chunk.sample_rate, chunk.pts, chunk.time_base = self._rate, self._samples, Fraction(1, self._rate)
        self._container.mux(self._audio.encode(chunk))
        self._samples += pcm.shape[1]

    def _open_stream(self, width: int, height: int) -> None:
        stream = self._container.add_stream(self.codec, rate=self.fps)
        stream.height, stream.width = height, width
        stream.pix_fmt = "yuv420p" if width % 2 == height % 2 == 0 else "yuv444p"  # 4:2:0 needs even sides
        stream.codec_context.time_base = self.time_base
        stream.time_base = self.time_base
        if self.codec == "libx264":
            stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        if self.rotation is not None:
            stream.set_display_rotation(self.rotation)
        self._stream = stream

    def close(self) -> Path:
        """Flush the encoders (given audio is written in full, even past the last frame) and rename the file."""
        try:
            if self._stream is None:
                raise ValueError("no frames to encode")
            self._container.mux(self._stream.encode(None))
            while self._audio is not None and self._limit is not None and self._samples < self._limit:
                self._mux_audio()
            if self._audio is not None:
                self._container.mux(self._audio.encode(None))
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


def _pcm_source(tone_hz: float | None, audio: np.ndarray | None,
                rate: int) -> tuple[Callable[[int], np.ndarray] | None, int, int | None]:
    """(1024 float32 samples per channel starting at a sample index, rate, total samples or None)."""
    if audio is not None:
        pcm = np.atleast_2d(np.asarray(audio, dtype=np.float32))
        if pcm.shape[0] not in (1, 2):
            raise ValueError(f"audio must be mono or stereo, got {pcm.shape[0]} channels")

        def from_array(start: int) -> np.ndarray:
            block = np.zeros((pcm.shape[0], 1024), np.float32)
            part = pcm[:, start: start + 1024]
            block[:, : part.shape[1]] = part
            return block

        return from_array, rate, pcm.shape[1]
    if tone_hz:
        return (lambda start: (0.2 * np.sin(2 * np.pi * float(tone_hz) * (start + np.arange(1024)) / TONE_RATE))
                .astype(np.float32)[None]), TONE_RATE, None
    return None, TONE_RATE, None


def _format_for(path: Path) -> str | None:
    """Container format from the real suffix (the temporary name keeps it, but be explicit)."""
    return {".mkv": "matroska", ".mp4": "mp4", ".avi": "avi", ".mov": "mov", ".webm": "webm"}.get(
        path.suffix.lower()
    )
