"""Writers: turn selected frames back into files (a frame-exact H.264/AAC clip, an animated preview).

Why re-encode instead of stream-copying: segment bounds are presentation frame indices, and a
stream copy can only cut on key frames (and would drag in B-frame references). Re-encoding the
frames that ``VideoReader`` hands out is frame-exact, decodes the source once, and works for any
input codec. Audio is cut on the same clock (the container's presentation times), padded with
silence where the source has none, so each segment's sound stays in sync after concatenation.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from av.video.frame import PictureType

from ..errors import UsageError
from ..files import replacing
from .info import probe
from .reader import DecodedFrame, VideoReader

log = logging.getLogger(__name__)

#: Sample rates FFmpeg's native AAC encoder accepts; anything else is resampled to 48 kHz.
AAC_RATES = (7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000)
#: Preview width cap: previews are thumbnails for reports and chats, not video.
PREVIEW_MAX_WIDTH = 320


@dataclass(frozen=True)
class WriteResult:
    """What ``write_clip_segments`` wrote. ``duration_s`` is the video duration of the clip."""

    path: Path
    frames: int
    duration_s: float
    has_audio: bool
    audio_duration_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "frames": self.frames, "duration_s": round(self.duration_s, 6),
                "has_audio": self.has_audio,
                "audio_duration_s": None if self.audio_duration_s is None else round(self.audio_duration_s, 6)}


def write_clip_segments(src: str | Path, segments: Sequence[tuple[int, int]], out: str | Path, *,
                        audio: bool = True, crf: int = 20, max_side: int | None = None,
                        frame_hook: Callable[[DecodedFrame], None] | None = None,
                        draw: Callable[[DecodedFrame, np.ndarray], None] | None = None) -> WriteResult:
    """Concatenate the half-open frame ranges ``segments`` of ``src`` into an H.264 (+AAC) MP4.

    Frames keep their original durations (output pts start at 0), so playback speed is preserved
    even for variable-frame-rate sources. ``frame_hook`` sees every source frame that is written,
    letting a caller grab thumbnails without a second decode. ``draw`` gets each written frame as
    an RGB array at the output size (display orientation) to paint on in place: overlays,
    blurring. The file appears atomically.
    """
    spans = _check_segments(segments)
    if not 0 <= crf <= 51:
        raise UsageError(f"crf must be in 0..51, got {crf}")
    if max_side is not None and max_side < 2:
        raise UsageError(f"max_side must be >= 2 pixels, got {max_side}")
    src, out = Path(src), Path(out)
    info = probe(src)
    with replacing(out, suffix=".mp4") as tmp:
        with av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"}) as container:
            video = _VideoOut(container, info.display_size, info.time_base, info.estimated_rate, info.rotation, crf,
                              max_side, draw)
            sound = _AudioOut(container, src) if audio and info.has_audio else None
            reader = VideoReader(src, info=info, audio=sound is not None,
                                 audio_sink=sound.receive if sound is not None else None)
            frames = _copy_frames(reader, spans, video, sound, frame_hook)
        if frames == 0:
            raise UsageError(f"segments {list(segments)[:3]}... select no frame of this "
                             f"{reader.stats.frames}-frame video", path=src)
    return WriteResult(path=out, frames=frames, duration_s=float(video.duration),
                       has_audio=sound is not None,
                       audio_duration_s=None if sound is None else sound.samples_written / sound.rate)


def _check_segments(segments: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Segments must be chronological and disjoint: the source is decoded once, front to back."""
    spans = [(int(a), int(b)) for a, b in segments]
    if not spans:
        raise UsageError("no segments to write")
    for i, (a, b) in enumerate(spans):
        if a < 0 or b <= a:
            raise UsageError(f"segment {i} ({a}, {b}) is not a half-open frame range: need 0 <= start < end")
        if i and a < spans[i - 1][1]:
            raise UsageError(f"segment {i} ({a}, {b}) overlaps or precedes segment {i - 1} {spans[i - 1]}; "
                             "segments must be chronological and disjoint")
    return spans


def _copy_frames(reader: VideoReader, spans: list[tuple[int, int]], video: _VideoOut,
                 sound: _AudioOut | None, frame_hook: Callable[[DecodedFrame], None] | None) -> int:
    """Stream frames through: encode the selected ones, tell the audio side where ranges open and close.

    A frame's duration is only known when the next frame arrives, so the last selected frame is
    held back one step. Decoding stops once the last segment and its audio are written.
    """
    last_end = spans[-1][1]
    tb = reader.info.time_base
    span_i, written = 0, 0
    held: DecodedFrame | None = None
    inside = False
    last: DecodedFrame | None = None
    with contextlib.closing(reader.frames(prefetch=16)) as stream:
        for frame in stream:
            last = frame
            if held is not None:
                video.write(held, frame.pts - held.pts)
                held = None
            while span_i < len(spans) and frame.index >= spans[span_i][1]:
                span_i += 1
            selected = span_i < len(spans) and spans[span_i][0] <= frame.index
            if sound is not None:
                if selected != inside:
                    sound.boundary(frame.pts * tb)
                sound.video_reached(frame.pts * tb)
            inside = selected
            if selected:
                held = frame
                written += 1
                if frame_hook is not None:
                    frame_hook(frame)
            elif frame.index >= last_end and (sound is None or sound.finished):
                break
    rate = reader.info.estimated_rate
    step = max(1, round(1 / (rate * tb))) if rate else 1
    if held is not None:
        video.write(held, step)
    if sound is not None:
        if inside and last is not None:
            sound.boundary((last.pts + step) * tb)
        sound.finish()
    video.finish()
    return written


class _VideoOut:
    """The H.264 side: scale to even dimensions, restamp pts continuously, encode and mux."""

    def __init__(self, container: av.container.OutputContainer, display_size: tuple[int, int],
                 time_base: Fraction, fps: Fraction | None, rotation: int, crf: int, max_side: int | None,
                 draw: Callable[[DecodedFrame, np.ndarray], None] | None = None) -> None:
        width, height = display_size
        if max_side and max(width, height) > max_side:
            scale = max_side / max(width, height)
            width, height = round(width * scale), round(height * scale)
        self.width, self.height = even_side(width), even_side(height)
        self.quarter_turns = (rotation // 90) % 4
        self.container = container
        self.time_base = time_base
        self.stream = container.add_stream("libx264", rate=fps, options={"preset": "veryfast", "crf": str(crf)})
        self.stream.width, self.stream.height, self.stream.pix_fmt = self.width, self.height, "yuv420p"
        self.stream.time_base = time_base
        self.stream.codec_context.time_base = time_base  # VFR durations survive without rounding
        self.pts = 0
        self.draw = draw

    @property
    def duration(self) -> Fraction:
        return self.pts * self.time_base

    def write(self, decoded: DecodedFrame, duration: int) -> None:
        frame = self._convert(decoded.av_frame)
        if self.draw is not None:
            rgb = frame.to_ndarray(format="rgb24")
            self.draw(decoded, rgb)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        duration = max(1, duration)
        frame.pts, frame.time_base = self.pts, self.time_base
        frame.pict_type = PictureType.NONE  # let x264 place key frames, not the source's GOP
        self.pts += duration
        self.container.mux(self.stream.encode(frame))

    def _convert(self, frame: av.VideoFrame) -> av.VideoFrame:
        shrink = self.width * self.height < frame.width * frame.height
        interpolation = "AREA" if shrink else "BILINEAR"
        if not self.quarter_turns:
            return frame.reformat(width=self.width, height=self.height, format="yuv420p",
                                  interpolation=interpolation)
        # Rotated sources (phone video): bake the display rotation in, as the reader does.
        coded_w, coded_h = (self.height, self.width) if self.quarter_turns % 2 else (self.width, self.height)
        rgb = frame.to_ndarray(width=coded_w, height=coded_h, format="rgb24", interpolation=interpolation)
        rgb = np.ascontiguousarray(np.rot90(rgb, k=self.quarter_turns))
        return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")

    def finish(self) -> None:
        self.container.mux(self.stream.encode(None))


class _AudioOut:
    """The AAC side: keep the source samples whose presentation time falls in a selected range.

    Samples live on a grid ``n = round(seconds * rate)``. Ranges open and close at video frame
    times; a chunk of audio is only cut once the video has been decoded past its end (before that
    it is unknown whether its samples are wanted). Missing audio inside a range becomes silence,
    so every range contributes exactly its video length and sync holds across the joins.
    """

    def __init__(self, container: av.container.OutputContainer, src: Path) -> None:
        with av.open(str(src), metadata_errors="ignore") as probe_container:
            ctx = probe_container.streams.audio[0].codec_context
            source_rate, channels = ctx.sample_rate or 48000, ctx.channels or 2
        self.rate = source_rate if source_rate in AAC_RATES else 48000
        self.layout = "mono" if channels == 1 else "stereo"
        self.channels = 1 if channels == 1 else 2
        self.container = container
        self.stream = container.add_stream("aac", rate=self.rate, layout=self.layout)
        self.resampler = av.AudioResampler(format="fltp", layout=self.layout, rate=self.rate)
        self.chunks: deque[tuple[int, np.ndarray]] = deque()  # filled by the decode thread
        self.next_start = 0  # where a chunk without pts starts (decode thread only)
        self.ranges: list[list[int | None]] = []  # [start, end) sample indices; end None while open
        self.current = 0  # first range not yet fully written
        self.cursor: int | None = None  # next sample index to write in the current range
        self.known = -1  # video decoded up to this sample index
        self.samples_written = 0
        self.buffer = np.zeros((self.channels, 0), np.float32)
        self.frame_size = self.stream.codec_context.frame_size or 1024
        self.bad_frames = 0

    @property
    def finished(self) -> bool:
        """True when every range opened so far is closed and written (nothing more is expected)."""
        return self.current >= len(self.ranges) and all(r[1] is not None for r in self.ranges)

    def receive(self, frame: av.AudioFrame) -> None:
        """Audio sink for ``VideoReader`` (runs in its decode thread): resample and queue."""
        try:
            self._queue(self.resampler.resample(frame))
        except (av.error.FFmpegError, ValueError) as error:  # a layout change mid-stream, say
            self.bad_frames += 1
            log.warning("audio frame at pts %s dropped: %s", frame.pts, error)

    def _queue(self, frames: list[av.AudioFrame]) -> None:
        for out in frames:
            if out.pts is not None and out.time_base is not None:
                self.next_start = round(out.pts * out.time_base * self.rate)
            data = out.to_ndarray().astype(np.float32, copy=False)
            self.chunks.append((self.next_start, data))
            self.next_start += data.shape[1]

    def boundary(self, seconds: Fraction) -> None:
        """A selected range opens (or the open one closes) at this presentation time."""
        n = round(seconds * self.rate)
        if self.ranges and self.ranges[-1][1] is None:
            self.ranges[-1][1] = max(n, int(self.ranges[-1][0] or 0))
        else:
            self.ranges.append([n, None])

    def video_reached(self, seconds: Fraction) -> None:
        self.known = round(seconds * self.rate)
        self._drain(final=False)

    def finish(self) -> None:
        """End of video: cut what is queued, pad unfinished ranges with silence, flush the encoder."""
        with contextlib.suppress(av.error.FFmpegError, ValueError):
            self._queue(self.resampler.resample(None))
        self._drain(final=True)
        while self.current < len(self.ranges):
            start, end = self.ranges[self.current]
            cursor = self.cursor if self.cursor is not None else int(start or 0)
            self._emit_silence(int(end or cursor) - cursor)
            self._next_range()
        self._encode(final=True)

    def _drain(self, final: bool) -> None:
        while self.chunks and (final or self.chunks[0][0] + self.chunks[0][1].shape[1] <= self.known):
            start, data = self.chunks.popleft()
            self._cut(start, data)

    def _cut(self, n0: int, data: np.ndarray) -> None:
        n1 = n0 + data.shape[1]
        while self.current < len(self.ranges):
            start, end = self.ranges[self.current]
            a = int(start or 0)
            if self.cursor is None:
                self.cursor = a
            if end is not None and n0 >= end:  # audio has moved past this range: close it
                self._emit_silence(end - self.cursor)
                self._next_range()
                continue
            lo, hi = max(n0, self.cursor), n1 if end is None else min(n1, end)
            if hi > lo:
                self._emit_silence(lo - self.cursor)
                self._emit(data[:, lo - n0:hi - n0])
                self.cursor = hi
            if end is not None and self.cursor >= end:
                self._next_range()
                continue
            return

    def _next_range(self) -> None:
        self.current += 1
        self.cursor = None

    def _emit_silence(self, count: int) -> None:
        if count > 0:
            self._emit(np.zeros((self.channels, count), np.float32))

    def _emit(self, samples: np.ndarray) -> None:
        self.buffer = np.concatenate([self.buffer, samples], axis=1)
        self._encode(final=False)

    def _encode(self, final: bool) -> None:
        size = self.frame_size
        while self.buffer.shape[1] >= size or (final and self.buffer.shape[1]):
            block, self.buffer = self.buffer[:, :size], self.buffer[:, size:]
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout=self.layout)
            frame.sample_rate, frame.pts = self.rate, self.samples_written
            frame.time_base = Fraction(1, self.rate)
            self.samples_written += block.shape[1]
            self.container.mux(self.stream.encode(frame))
        if final:
            self.container.mux(self.stream.encode(None))


def even_side(pixels: int) -> int:
    """The even size (at least 2) a side is coded at: H.264 in 4:2:0 and GIF previews need it."""
    return max(2, pixels - pixels % 2)


def write_animated_preview(frames: Sequence[np.ndarray], out: str | Path, fps: float, *,
                           max_width: int = PREVIEW_MAX_WIDTH) -> Path:
    """Write RGB ``frames`` as a looping animated GIF (or WebP when ``out`` ends in ``.webp``).

    GIF is the default because every browser, chat and markdown viewer shows it. Colours come
    from one palette fitted to all frames (k-means), which looks far better than a fixed
    palette and does not flicker from frame to frame.
    """
    if not frames:
        raise UsageError("an animated preview needs at least one frame")
    if not fps > 0:
        raise UsageError(f"preview fps must be > 0, got {fps}")
    out = Path(out)
    height, width = frames[0].shape[:2]
    if width > max_width:
        width, height = max_width, max(2, round(height * max_width / width))
    width, height = even_side(width), even_side(height)
    small = [cv2.resize(np.asarray(f, np.uint8), (width, height), interpolation=cv2.INTER_AREA) for f in frames]
    webp = out.suffix.lower() == ".webp"
    # Loop forever: WebP's muxer plays once by default, GIF's already loops.
    with replacing(out, suffix=".webp" if webp else ".gif") as tmp, \
            av.open(str(tmp), "w", format="webp" if webp else "gif",
                    options={"loop": "0"} if webp else {}) as container:
        stream = container.add_stream("libwebp_anim" if webp else "gif",
                                      rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p" if webp else "pal8"
        frame_tb = Fraction(1, 1000)
        stream.codec_context.time_base = frame_tb
        for i, frame in enumerate(_preview_frames(small, webp)):
            frame.pts, frame.time_base = round(i * 1000 / fps), frame_tb
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out


def _preview_frames(images: list[np.ndarray], webp: bool) -> Iterator[av.VideoFrame]:
    if webp:
        for image in images:
            yield av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        return
    palette, lut = _palette(images)
    for image in images:
        q = (image >> 3).astype(np.int32)
        indices = lut[(q[..., 0] << 10) | (q[..., 1] << 5) | q[..., 2]]
        yield av.VideoFrame.from_ndarray((np.ascontiguousarray(indices), palette), format="pal8")


def _palette(images: list[np.ndarray], colours: int = 255) -> tuple[np.ndarray, np.ndarray]:
    """A shared palette (ARGB) and a 15-bit RGB -> palette index lookup table.

    Entry 255 is left fully transparent: FFmpeg's GIF encoder then stores only the pixels that
    changed since the previous frame (``transdiff``), which shrinks previews several times.
    """
    rng = np.random.default_rng(0)
    pixels = np.concatenate([im.reshape(-1, 3) for im in images])
    if len(pixels) > 20_000:  # plenty for 255 colours; k-means time grows with it
        pixels = pixels[rng.choice(len(pixels), 20_000, replace=False)]
    unique = np.unique(pixels, axis=0)
    if len(unique) <= colours:
        centres = unique.astype(np.float32)
    else:
        criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 6, 1.0)
        _, _, centres = cv2.kmeans(pixels.astype(np.float32), colours, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    grid = (np.arange(32, dtype=np.float32) * 8 + 4)
    cube = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), axis=-1).reshape(-1, 3)
    lut = np.empty(len(cube), np.uint8)
    for lo in range(0, len(cube), 4096):
        block = cube[lo:lo + 4096]
        dist = (block ** 2).sum(1)[:, None] - 2 * block @ centres.T + (centres ** 2).sum(1)[None, :]
        lut[lo:lo + 4096] = dist.argmin(1)
    palette = np.zeros((256, 4), np.uint8)
    palette[:255, 0] = 255
    palette[: len(centres), 1:] = np.clip(np.rint(centres), 0, 255).astype(np.uint8)
    return palette, lut
