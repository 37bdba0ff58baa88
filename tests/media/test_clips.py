"""Packet copy of a clip: exact or refused, never a clip of other frames."""

from __future__ import annotations

from pathlib import Path

from tests.media._make import count_frames, make_video
from vidlens.media.clips import stream_copy, video_packets


def test_a_copy_starts_where_the_timeline_says_or_is_refused(tmp_path: Path) -> None:
    src = make_video(tmp_path / "src.mp4", [("red_stripes", 30), ("green_checker", 30)])
    index = video_packets(src)
    assert index is not None and index.time_base > 0 and len(index.packets) == 60
    copied = stream_copy(src, index, 0, 20, tmp_path / "exact", start_time=0.0)
    assert copied is not None and count_frames(copied)[0] == 20
    # packet 0 is not presented at 0.5 s: the frame index and the packet position disagree, so no copy
    assert stream_copy(src, index, 0, 20, tmp_path / "shifted", start_time=0.5) is None
    assert not list(tmp_path.glob("shifted*"))
    assert not index.packets[5][2]  # mid-GOP: a copy would start on a frame that cannot decode alone
    assert stream_copy(src, index, 5, 20, tmp_path / "mid") is None
