"""Cutting a clip out of a video by copying its packets (no re-encode), when that is frame-exact.

Copying packets is lossless and near-instant, but it is frame-exact only when the clip starts on a
keyframe and the stream has no frames reordered across the cut (no B-frames), so that every copied
packet decodes and nothing outside the clip is shown. :func:`stream_copy` checks those conditions on
the packets themselves (:func:`video_packets`) and decodes the written clip once to confirm its frame
count; it returns None when a copy would not be exact, and the caller re-encodes
(:func:`vidlens.media.writers.write_clip_segments`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ..errors import InvalidMediaError, is_disk_full
from ..files import replacing
from .info import video_stream_of
from .reader import VideoReader

#: Timeline moments round their time to the microsecond: a packet within this of a moment is at it.
MOMENT_ROUNDING_S = 1e-6
#: Codecs the MP4 muxer takes as they are; others are copied into Matroska.
MP4_CODECS = frozenset({"h264", "hevc", "mpeg4", "av1", "vp9", "aac", "mp3", "opus", "alac", "flac"})


@dataclass(frozen=True)
class PacketIndex:
    """The analysed video stream's packets in decode order: ``(pts, dts, is_keyframe)``, and the time base."""

    packets: list[tuple[int, int, bool]]
    time_base: Fraction


def video_packets(src: Path) -> PacketIndex | None:
    """The packet index of ``src``'s analysed video stream (None if unreadable)."""
    try:
        with av.open(str(src)) as container:
            stream = video_stream_of(container, src)
            packets = [(p.pts, p.dts, p.is_keyframe) for p in container.demux(stream) if p.pts is not None and p.size]
            return PacketIndex(packets, Fraction(stream.time_base)) if stream.time_base else None
    except (av.FFmpegError, OSError, InvalidMediaError):
        return None


def stream_copy(src: Path, index: PacketIndex | None, a: int, b: int, base: Path, *,
                start_time: float | None = None) -> Path | None:
    """Copy the packets of frames [a, b) (and the audio beside them) into ``base`` + ``.mp4`` (``.mkv`` for codecs
    MP4 does not take) if that is exact, else None. ``index`` is :func:`video_packets` of ``src``.

    Frame ``i`` is packet ``i`` only when packets are in presentation order and each is one frame; the
    written clip's frame count checks the latter, and ``start_time`` (frame ``a``'s time on the timeline's
    clock, whose zero is the first frame's pts) checks that packet ``a`` is presented at frame ``a``'s time."""
    packets = index.packets if index is not None else []
    if not packets or b > len(packets):
        return None
    decode_order = [p[0] for p in packets]
    if any(y <= x for x, y in itertools.pairwise(decode_order)):
        return None  # reordered frames (B-frames) or broken timestamps: a packet cut is not exact
    if not packets[a][2]:
        return None  # the clip does not start on a keyframe
    start_pts = packets[a][0]
    at = float((start_pts - packets[0][0]) * index.time_base) if index is not None else None
    if start_time is not None and at is not None and abs(at - start_time) > MOMENT_ROUNDING_S:
        return None  # a packet that decodes to no frame sits before the cut: positions are not frame indices
    end_pts = packets[b][0] if b < len(packets) else None
    out: Path | None = None
    try:
        out = _remux(src, start_pts, end_pts, base)
        if out is not None and sum(1 for _ in VideoReader(out, audio=False)) != b - a:
            out.unlink(missing_ok=True)
            return None
        return out
    except (av.FFmpegError, OSError, ValueError) as error:
        if out is not None:
            out.unlink(missing_ok=True)
        if is_disk_full(error):  # re-encoding would fail the same way
            raise
        return None


def _remux(src: Path, start_pts: int, end_pts: int | None, base: Path) -> Path | None:
    with av.open(str(src)) as source:
        video = video_stream_of(source, src)  # the stream the library analysed, when a file has several
        audio = source.streams.audio[0] if source.streams.audio else None
        codecs = {video.codec_context.name} | ({audio.codec_context.name} if audio else set())
        out = base.with_suffix(".mp4" if codecs <= MP4_CODECS else ".mkv")
        t0 = Fraction(start_pts) * video.time_base
        t1 = None if end_pts is None else Fraction(end_pts) * video.time_base
        with replacing(out, suffix=out.suffix) as tmp, av.open(str(tmp), "w") as sink:
            v_out = sink.add_stream_from_template(video)
            a_out = sink.add_stream_from_template(audio) if audio is not None else None
            streams = [video] + ([audio] if audio is not None else [])
            for packet in source.demux(streams):
                if packet.pts is None or packet.dts is None:
                    continue
                at = Fraction(packet.pts) * packet.time_base
                if at < t0 or (t1 is not None and at >= t1):
                    continue
                shift = round(t0 / packet.time_base)
                packet.pts -= shift
                packet.dts -= shift
                packet.stream = v_out if packet.stream.type == "video" else a_out
                sink.mux(packet)
    return out
