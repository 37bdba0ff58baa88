"""``VideoInfo``: what a video file says about itself, and what we verified by decoding.

Container metadata lies (frame counts, durations, frame rates), so every figure says where it
came from: ``frame_count_source`` is ``"counted"`` only after a full decode.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from ..errors import InvalidMediaError, MediaNotFoundError
from ..paths import why_not_readable

#: Demuxers that FFmpeg uses for still images; opening a photo "works" but it is not a video.
_IMAGE_FORMATS = {"image2", "gif_pipe", "apng"}
_IMAGE_CODECS = {"png", "mjpeg", "bmp", "tiff", "webp", "gif", "jpeg2000", "ppm", "pgm", "pam", "qoi"}
#: Larger frames than this are refused as hostile or unusable on a laptop (about 16k x 16k).
MAX_PIXELS = 1 << 28


@dataclass(frozen=True)
class VideoInfo:
    """Facts about a video file. Rates are exact ``Fraction``s; unknown values are ``None``."""

    path: Path
    container: str
    codec: str
    width: int
    height: int
    rotation: int
    time_base: Fraction
    start_pts: int | None
    average_rate: Fraction | None
    nominal_rate: Fraction | None
    duration_s: float | None
    frame_count: int | None
    frame_count_source: str  # "container" | "estimated" | "counted" | "unknown"
    has_audio: bool
    audio_codec: str | None = None
    size_bytes: int = 0
    bit_rate: int | None = None
    notes: list[str] = field(default_factory=list)
    stream_index: int = 0  # the container's index of the video stream read (the largest of several)
    video_streams: int = 1

    @property
    def fps(self) -> Fraction | None:
        """The declared rate (average, else nominal); ``None`` when the file declares none (never a guess)."""
        return self.average_rate or self.nominal_rate

    @property
    def estimated_rate(self) -> Fraction | None:
        """A rate for settings that must be fixed before the first frame (a tracker's memory in frames, a
        sampling step): the declared rate, else the container's frame count over its duration; ``None`` when
        neither is known. Once frames are decoded, use the clock's measured rate
        (:attr:`vidlens.timeline.FrameClock.rate`) instead."""
        if self.fps:
            return self.fps
        if self.frame_count and self.frame_count_source == "container" and self.duration_s:
            return Fraction(self.frame_count) / Fraction(self.duration_s).limit_denominator(1_000_000)
        return None

    def rate_for(self, purpose: str) -> float:
        """:attr:`estimated_rate` as a float, or a clear error naming what needed it."""
        rate = self.estimated_rate
        if not rate:
            raise InvalidMediaError(f"the video declares no frame rate, and {purpose} needs one", path=self.path)
        return float(rate)

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as shown to a viewer, after the rotation in the display matrix."""
        if self.rotation % 180:
            return self.height, self.width
        return self.width, self.height

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        for key in ("time_base", "average_rate", "nominal_rate"):
            d[key] = None if d[key] is None else str(d[key])
        return d


def _positive_rate(rate: Fraction | None) -> Fraction | None:
    return Fraction(rate) if rate is not None and rate > 0 else None


def open_container(path: str | Path) -> av.container.InputContainer:
    """Open a media file for reading, turning every failure into a one-line vidlens error.

    FFmpeg's return code alone can mislead (a 20000x20000 frame size comes back as "Device or resource
    busy"), so its last error log line is given as the reason; the capture keeps that line (and any
    other) off stderr.
    """
    p = Path(path)
    if (reason := why_not_readable(p)) is not None:
        raise MediaNotFoundError(reason, path=p)
    if p.stat().st_size == 0:
        raise InvalidMediaError("empty file (0 bytes), not a video", path=p)
    previous = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture() as logs:
            return av.open(str(p), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError as error:
        # the exception carries FFmpeg's last error line (the capture alone misses a repeated one)
        last = getattr(error, "log", None) or (logs[-1] if logs else None)
        detail = last[2].strip() if last else (error.strerror or str(error))
        raise InvalidMediaError(f"not a readable media file ({detail})", path=p) from None
    except (UnicodeDecodeError, OSError, ValueError) as error:
        raise InvalidMediaError(f"not a readable media file ({error})", path=p) from None
    finally:
        av.logging.set_level(previous)


def video_stream_of(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    """The best video stream, or a clear error for audio-only files, stills and hostile sizes."""
    if not container.streams.video:
        if container.streams.audio:
            codec = container.streams.audio[0].codec_context.name
            raise InvalidMediaError(f"audio only ({codec}), there is no video stream", path=path)
        raise InvalidMediaError(f"no video stream in this {container.format.name} file", path=path)
    stream = max(container.streams.video, key=lambda s: (s.codec_context.width or 0) * (s.codec_context.height or 0))
    codec = stream.codec_context.name
    if container.format.name in _IMAGE_FORMATS or container.format.name.endswith("_pipe") or (
        codec in _IMAGE_CODECS and (stream.frames or 0) <= 1 and stream.duration in (None, 0, 1)
    ):
        raise InvalidMediaError(f"a still image ({codec}), not a video", path=path)
    width, height = stream.codec_context.width, stream.codec_context.height
    if not width or not height:
        raise InvalidMediaError("video stream has no frame size (corrupt header?)", path=path)
    if width * height > MAX_PIXELS:
        raise InvalidMediaError(f"frame size {width}x{height} is too large to analyze", path=path)
    return stream


def probe(path: str | Path) -> VideoInfo:
    """Read a video's facts from its container and its first decodable frame (cheap: no full decode)."""
    p = Path(path)
    with open_container(p) as container:
        stream = video_stream_of(container, p)
        ctx = stream.codec_context
        time_base = Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000)
        average = _positive_rate(stream.average_rate)
        nominal = _positive_rate(stream.base_rate) or _positive_rate(stream.guessed_rate)
        if stream.duration is not None and stream.duration > 0:
            duration_s: float | None = float(stream.duration * time_base)
        elif container.duration:
            duration_s = container.duration / av.time_base
        else:
            duration_s = None
        rate = average or nominal
        if stream.frames and stream.frames > 0:
            count, source = int(stream.frames), "container"
        elif duration_s and rate:
            count, source = round(duration_s * float(rate)), "estimated"
        else:
            count, source = None, "unknown"
        rotation = _first_frame_rotation(container, stream, p)
        audio = container.streams.audio[0] if container.streams.audio else None
        videos = len(container.streams.video)
        notes = [] if videos == 1 else [
            f"the file has {videos} video streams: stream {stream.index} ({ctx.width}x{ctx.height} {ctx.name}, the "
            "largest) is analysed, the others are ignored"]
        return VideoInfo(
            path=p,
            container=container.format.name,
            codec=ctx.name,
            width=ctx.width,
            height=ctx.height,
            rotation=rotation,
            time_base=time_base,
            start_pts=stream.start_time,
            average_rate=average,
            nominal_rate=nominal,
            duration_s=duration_s,
            frame_count=count,
            frame_count_source=source,
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio is not None else None,
            size_bytes=os.path.getsize(p),
            bit_rate=container.bit_rate or None,
            notes=notes,
            stream_index=stream.index,
            video_streams=videos,
        )


def _first_frame_rotation(container: av.container.InputContainer, stream, path: Path) -> int:
    """Decode until the first frame, proving the stream is decodable, and read its display rotation."""
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            try:
                frames = stream.codec_context.decode(packet)
            except av.error.FFmpegError:
                continue
            for frame in frames:
                return round(frame.rotation or 0) % 360
        for frame in stream.codec_context.decode(None):  # flush: short files may hold frames back
            return round(frame.rotation or 0) % 360
    except av.error.FFmpegError as error:
        raise InvalidMediaError(f"no decodable video frame ({error.strerror or error})", path=path) from None
    raise InvalidMediaError("no decodable video frame in the file", path=path)
