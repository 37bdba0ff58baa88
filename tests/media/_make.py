"""Tiny synthetic test videos with hard cuts between visually distinct "looks", built with PyAV.

Tests need frame-exact ground truth (which frames show which look, how long the audio is), so
the videos are generated here rather than downloaded. Each look is a colour plus a texture that
drifts a little over time (so the encoder sees real motion); the audio is a sine whose pitch
changes per segment. Kept outside ``conftest.py`` so tests import it explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

WIDTH, HEIGHT, FPS = 160, 90, 25
SAMPLE_RATE = 44100


def _look(name: str, t: int) -> np.ndarray:
    """Frame ``t`` of look ``name`` (RGB uint8, HEIGHT x WIDTH x 3)."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    img = np.zeros((HEIGHT, WIDTH, 3), np.float32)
    if name == "red_stripes":
        band = ((y + t) // 6) % 2
        img[...] = (200, 40, 30)
        img[band == 1] = (250, 200, 60)
    elif name == "green_checker":
        check = (((x + t) // 10) + (y // 10)) % 2
        img[...] = (30, 150, 40)
        img[check == 1] = (10, 60, 20)
    elif name == "blue_rings":
        r = np.hypot(x - WIDTH / 2 - 0.5 * t, y - HEIGHT / 2)
        ring = (r // 8) % 2
        img[...] = (20, 40, 190)
        img[ring == 1] = (120, 200, 250)
    elif name == "gray_ramp":
        img[...] = ((x + 2 * t) % WIDTH / WIDTH * 220 + 20)[..., None]
    elif name == "magenta_dots":
        dots = ((x + t) % 16 < 6) & (y % 16 < 6)
        img[...] = (180, 30, 160)
        img[dots] = (250, 240, 250)
    else:
        raise ValueError(f"unknown look {name!r}")
    return np.clip(img, 0, 255).astype(np.uint8)


LOOKS = ("red_stripes", "green_checker", "blue_rings", "gray_ramp", "magenta_dots")


def make_video(path: Path, segments: Sequence[tuple[str, int]], *, audio: bool = False,
               fps: int = FPS) -> Path:
    """Write an H.264 MP4 of ``segments`` = [(look, frames), ...] joined by hard cuts.

    With ``audio`` a mono AAC sine track (pitch changes at each cut) spans exactly the video.
    """
    total = sum(n for _, n in segments)
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "18"})
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        sound = None
        if audio:
            sound = out.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        t = 0
        for look, count in segments:
            for _ in range(count):
                frame = av.VideoFrame.from_ndarray(_look(look, t), format="rgb24")
                frame.pts, frame.time_base = t, Fraction(1, fps)
                out.mux(video.encode(frame))
                t += 1
        out.mux(video.encode(None))
        if sound is not None:
            _write_sine(out, sound, segments, total / fps)
    return path


def _write_sine(out: av.container.OutputContainer, stream: av.AudioStream,
                segments: Sequence[tuple[str, int]], seconds: float) -> None:
    samples = round(seconds * SAMPLE_RATE)
    freq = np.zeros(samples, np.float32)
    start = 0
    for i, (_, count) in enumerate(segments):
        end = min(samples, start + round(count / FPS * SAMPLE_RATE))
        freq[start:end] = 330.0 * (1 + i % 4)
        start = end
    phase = np.cumsum(2 * np.pi * freq / SAMPLE_RATE)
    wave = (0.3 * np.sin(phase)).astype(np.float32)
    chunk = 1024
    for offset in range(0, samples, chunk):
        block = wave[offset:offset + chunk][None, :]
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, offset, Fraction(1, SAMPLE_RATE)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def count_frames(path: Path) -> tuple[int, float, float | None]:
    """Decode ``path`` fully: (video frames, video duration s, audio duration s or None)."""
    with av.open(str(path)) as container:
        vstream = container.streams.video[0]
        times = []
        for frame in container.decode(vstream):
            times.append(frame.time)
    frames = len(times)
    step = (times[-1] - times[0]) / (frames - 1) if frames > 1 else 1 / FPS
    duration = times[-1] - times[0] + step if frames else 0.0
    audio_s = None
    with av.open(str(path)) as container:
        if container.streams.audio:
            astream = container.streams.audio[0]
            samples, rate = 0, astream.codec_context.sample_rate
            for frame in container.decode(astream):
                samples += frame.samples
            audio_s = samples / rate
    return frames, duration, audio_s
