"""``annotate_video``: every frame painted with its track's box, same frame count and timing, audio kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidlens.media import FrameSpec, VideoReader, probe
from vidlens.objects.annotate import annotate_video
from vidlens.objects.draw import track_colour
from vidlens.objects.tracks import boxes_on_frame, track_box_at
from vidlens.timeline import Timeline

N, W, H = 40, 320, 240


def moving_track() -> dict:
    # detector rows every 10 frames; the box slides right 4 px per frame
    rows = [[f, 20 + 4 * f, 60, 80 + 4 * f, 160, 0.9] for f in range(0, N, 10)] + [[N - 1, 20 + 4 * (N - 1), 60,
                                                                                     80 + 4 * (N - 1), 160, 0.9]]
    return {"id": 5, "class": "person", "confidence": 0.9, "boxes": rows}


def test_boxes_are_interpolated_between_stored_rows() -> None:
    track = moving_track()
    assert np.allclose(track_box_at(track, 13), [72, 60, 132, 160])
    assert track_box_at(track, N) is None
    on = boxes_on_frame([track], 13)
    assert on.track_ids.tolist() == [5] and on.names() == ["person"]


def test_annotated_video_keeps_frames_timing_and_audio(make_video, tmp_path: Path) -> None:
    src = make_video("src.mp4", [np.full((H, W, 3), 40, np.uint8)] * N, tone_hz=440)
    info = probe(src)
    timeline = Timeline(video={"width": W, "height": H, "frame_count": N}, analysis={},
                        sections={"objects": [moving_track()], "events": []})
    out = annotate_video(src, timeline, tmp_path / "annotated.mp4")
    assert out.frames == N and out.has_audio
    assert abs(out.duration_s - info.duration_s) < 1e-3
    colour = np.array(track_colour(5), float)
    with VideoReader(out.path) as reader:
        frames = [f.to_ndarray(FrameSpec(pixel_format="rgb24")) for f in reader]
    assert len(frames) == N
    for index in (0, 13, 39):
        x0, y0, _, y1 = track_box_at(moving_track(), index)
        left_edge = frames[index][int(y0) + 20: int(y1) - 20, int(x0)]
        # a 2-px line after 4:2:0 chroma subsampling: well on its way from the grey background to the colour
        assert np.abs(left_edge.mean(axis=0) - colour).max() < 0.3 * np.abs(40 - colour).max(), index
        outside = frames[index][int(y1) + 20:, :]
        assert np.abs(outside.astype(float) - 40).mean() < 4  # nothing drawn away from the box


def test_mot_export_has_a_row_per_frame_per_track() -> None:
    from vidlens.export import objects_mot

    timeline = Timeline(video={"width": W, "height": H, "frame_count": N}, analysis={},
                        sections={"objects": [moving_track()]})
    rows = [line.split(",") for line in objects_mot(timeline).splitlines()]
    assert len(rows) == N and rows[0][:2] == ["1", "5"] and rows[-1][0] == str(N)
    frame, tid, x, y, w, h = (float(v) for v in rows[13][:6])
    assert (frame, tid, x, y, w, h) == (14, 5, 72, 60, 60, 100)


def test_long_gaps_are_not_bridged() -> None:
    track = {"id": 1, "class": "person", "max_gap": 10,
             "boxes": [[0, 0, 0, 10, 10, 0.9], [5, 5, 0, 15, 10, 0.9], [40, 40, 0, 50, 10, 0.9]]}
    assert np.allclose(track_box_at(track, 2), [2, 0, 12, 10])
    assert track_box_at(track, 20) is None
    assert np.allclose(track_box_at(track, 40), [40, 0, 50, 10])


def test_mot_export_leaves_long_gaps_out() -> None:
    from vidlens.export import objects_mot

    track = {"id": 4, "class": "car", "max_gap": 10, "confidence": 0.8,
             "boxes": [[0, 0, 0, 10, 10, 0.8], [5, 5, 0, 15, 10, 0.8], [40, 40, 0, 50, 10, 0.8]]}
    timeline = Timeline(video={"width": W, "height": H, "frame_count": 41}, analysis={}, sections={"objects": [track]})
    frames = [int(line.split(",")[0]) - 1 for line in objects_mot(timeline).splitlines()]
    assert frames == [*range(0, 6), 40]
