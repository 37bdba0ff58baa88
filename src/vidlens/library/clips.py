"""Search results as clip files: stream copy when the cut is exact that way, re-encode otherwise.

Copying packets is lossless and near-instant, but it is frame-exact only when the moment starts on a
keyframe and the stream has no frames reordered across the cut (no B-frames), so that every copied
packet decodes and nothing outside the moment is shown. Those conditions are checked on the packets
themselves, and the written clip is decoded once to confirm its frame count (:mod:`vidlens.media.clips`);
anything else goes through ``write_clip_segments`` (H.264 re-encode, frame-exact, audio kept).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..media.clips import PacketIndex, stream_copy, video_packets
from ..media.writers import write_clip_segments


def export_moments(moments: Sequence[Mapping[str, Any]], folder: Path) -> list[dict[str, Any]]:
    """One clip per moment (dicts as search returns them) in ``folder``; returns what was written."""
    from ..paths import refuse_input_as_output

    for moment in moments:
        refuse_input_as_output(folder, moment["path"], folder=True)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    packets: dict[Path, PacketIndex | None] = {}  # each source demuxed once
    for number, moment in enumerate(moments, 1):
        src = Path(moment["path"])
        a, b = int(moment["start"]["frame"]), int(moment["end"]["frame"])
        stem = re.sub(r"[^\w.-]+", "_", src.stem)[:60]
        base = folder / f"{number:02d}_{stem}_{a}-{b}"
        for candidate in {base.with_suffix(".mp4"), base.with_suffix(src.suffix)}:
            refuse_input_as_output(candidate, src)
        if src not in packets:
            packets[src] = video_packets(src)
        start_time = moment["start"].get("time")
        method, path = "copy", stream_copy(src, packets[src], a, b, base,
                                           start_time=float(start_time) if start_time is not None else None)
        if path is None:
            method, path = "re-encode", write_clip_segments(src, [(a, b)], base.with_suffix(".mp4")).path
        written.append({"moment": number, "path": str(path), "method": method, "source": str(src),
                        "start": moment["start"], "end": moment["end"]})
    return written
