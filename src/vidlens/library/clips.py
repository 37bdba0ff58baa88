"""Search results as clip files: stream copy when the cut is exact that way, re-encode otherwise.

Copying packets is lossless and near-instant, but it is frame-exact only when the moment starts on a
keyframe and the stream has no frames reordered across the cut (no B-frames), so that every copied
packet decodes and nothing outside the moment is shown. Those conditions are checked on the packets
themselves, and the written clip is decoded once to confirm its frame count; anything else goes
through ``write_clip_segments`` (H.264 re-encode, frame-exact, audio kept).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..errors import InvalidMediaError, is_disk_full
from ..media import VideoReader
from ..media.info import video_stream_of
from ..media.writers import write_clip_segments
from ..timeline import make_private

#: Codecs the MP4 muxer takes as they are; others are copied into Matroska.
MP4_CODECS = frozenset({"h264", "hevc", "mpeg4", "av1", "vp9", "aac", "mp3", "opus", "alac", "flac"})


def export_moments(moments: Sequence[Mapping[str, Any]], folder: Path) -> list[dict[str, Any]]:
    """One clip per moment (dicts as search returns them) in ``folder``; returns what was written."""
    from ..paths import refuse_input_as_output

    for moment in moments:
        refuse_input_as_output(folder, moment["path"], folder=True)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    packets: dict[Path, list[tuple[int, int, bool]] | None] = {}  # each source demuxed once
    for number, moment in enumerate(moments, 1):
        src = Path(moment["path"])
        a, b = int(moment["start"]["frame"]), int(moment["end"]["frame"])
        stem = re.sub(r"[^\w.-]+", "_", src.stem)[:60]
        base = folder / f"{number:02d}_{stem}_{a}-{b}"
        for candidate in {base.with_suffix(".mp4"), base.with_suffix(src.suffix)}:
            refuse_input_as_output(candidate, src)
        if src not in packets:
            packets[src] = _video_packets(src)
        method, path = "copy", _stream_copy(src, packets[src], a, b, base)
        if path is None:
            method, path = "re-encode", write_clip_segments(src, [(a, b)], base.with_suffix(".mp4")).path
        written.append({"moment": number, "path": str(path), "method": method, "source": str(src),
                        "start": moment["start"], "end": moment["end"]})
    return written


def _video_packets(src: Path) -> list[tuple[int, int, bool]] | None:
    """``(pts, dts, is_keyframe)`` of the analysed video stream's packets in decode order (None if unreadable)."""
    try:
        with av.open(str(src)) as container:
            stream = video_stream_of(container, src)
            return [(p.pts, p.dts, p.is_keyframe) for p in container.demux(stream) if p.pts is not None and p.size]
    except (av.FFmpegError, OSError, InvalidMediaError):
        return None


def _stream_copy(src: Path, packets: list[tuple[int, int, bool]] | None, a: int, b: int, base: Path) -> Path | None:
    """Copy the packets of frames [a, b) (and the audio beside them) if that is exact, else None."""
    if not packets or b > len(packets):
        return None
    decode_order = [p[0] for p in packets]
    if any(y <= x for x, y in itertools.pairwise(decode_order)):
        return None  # reordered frames (B-frames) or broken timestamps: a packet cut is not exact
    if not packets[a][2]:
        return None  # the moment does not start on a keyframe
    start_pts = packets[a][0]
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
        tmp = out.with_name(f".{out.name}.partial{out.suffix}")
        t0 = Fraction(start_pts) * video.time_base
        t1 = None if end_pts is None else Fraction(end_pts) * video.time_base
        try:
            with av.open(str(tmp), "w") as sink:
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
            make_private(tmp)
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
    return out
