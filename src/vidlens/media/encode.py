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
    """Write RGB uint8 frames (all the same even size) to ``path``; returns the path.

    The file is written under a temporary name and renamed at the end, so an interrupted run
    never leaves a half-written video behind. ``rotation`` sets the display matrix (degrees,
    counter-clockwise); ``tone_hz`` adds a mono AAC sine track as long as the video; ``audio`` adds
    the given float samples in [-1, 1] (``(n,)`` mono or ``(channels, n)``, 1 or 2 channels) at
    ``audio_rate`` as an AAC track starting with the first frame, all of it even past the last frame.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    fps = Fraction(fps)
    tb = time_base or 1 / fps
    try:
        with av.open(str(tmp), "w", format=_format_for(path)) as container:
            stream = None
            pcm_at, rate, limit = _pcm_source(tone_hz, audio, audio_rate)
            layout = "stereo" if audio is not None and np.atleast_2d(audio).shape[0] == 2 else "mono"
            tone = container.add_stream("aac", rate=rate, layout=layout) if pcm_at else None
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
                while tone is not None and samples < (i + 1) * rate / fps and (limit is None or samples < limit):
                    samples = _mux_audio(container, tone, pcm_at(samples), samples, rate, layout)
            if stream is None:
                raise ValueError("no frames to encode")
            container.mux(stream.encode(None))
            while tone is not None and limit is not None and samples < limit:
                samples = _mux_audio(container, tone, pcm_at(samples), samples, rate, layout)
            if tone is not None:
                container.mux(tone.encode(None))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


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


def _mux_audio(container, stream, pcm: np.ndarray, start: int, rate: int, layout: str) -> int:
    chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm), format="fltp", layout=layout)
    chunk.sample_rate, chunk.pts, chunk.time_base = rate, start, Fraction(1, rate)
    container.mux(stream.encode(chunk))
    return start + pcm.shape[1]


def _format_for(path: Path) -> str | None:
    """Container format from the real suffix (the temporary name keeps it, but be explicit)."""
    return {".mkv": "matroska", ".mp4": "mp4", ".avi": "avi", ".mov": "mov", ".webm": "webm"}.get(
        path.suffix.lower()
    )
