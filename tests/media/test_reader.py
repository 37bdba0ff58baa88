"""Frame-exact decoding: indices and times from pts, damaged files, sampling."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import gradient_frames
from vidlens.media import FrameSpec, Sampler, VideoReader, probe


def test_indices_and_times_follow_pts(make_video) -> None:
    path = make_video(frames=gradient_frames(20), fps=Fraction(25))
    with VideoReader(path) as reader:
        frames = list(reader)
    assert [f.index for f in frames] == list(range(20))
    assert [f.time for f in frames] == [Fraction(i, 25) for i in range(20)]
    assert reader.stats.complete and reader.stats.frames == 20


def test_variable_frame_rate_times_are_exact(make_video) -> None:
    # pts in 1/1000 s: irregular gaps as a phone camera writes them
    pts = [0, 33, 66, 133, 150, 250, 283, 400, 433, 466]
    path = make_video(frames=gradient_frames(len(pts)), fps=Fraction(30), pts=pts, time_base=Fraction(1, 1000))
    with VideoReader(path) as reader:
        times = [f.time for f in reader]
    assert times == [Fraction(p, 1000) for p in pts]


def test_out_of_order_pts_are_reordered_not_the_frames(megamind) -> None:
    # Megamind.avi (packed B-frames) hands out swapped pts; the first frame has pts 1.
    with VideoReader(megamind) as reader:
        frames = list(reader)
    times = [f.time for f in frames]
    assert len(frames) == 270
    assert all(b > a for a, b in itertools.pairwise(times))
    assert frames[0].pts == 1 and frames[0].time == 0
    assert float(frames[98].time) == pytest.approx(4.087, abs=5e-4)
    assert reader.stats.reordered_pts > 0


def test_threaded_prefetch_gives_the_same_frames(make_video) -> None:
    path = make_video(frames=gradient_frames(40))
    spec = FrameSpec(width=32, height=16, pixel_format="gray")
    plain = [f.to_ndarray(spec) for f in VideoReader(path).frames()]
    threaded = [f.payload for f in VideoReader(path).frames(prepare=lambda f: f.to_ndarray(spec), prefetch=4)]
    assert len(plain) == len(threaded) == 40
    assert all(np.array_equal(a, b) for a, b in zip(plain, threaded))
    assert threaded[0].shape == (16, 32)


def test_consumer_can_stop_early(make_video) -> None:
    reader = VideoReader(make_video(frames=gradient_frames(60)))
    seen = 0
    for _ in reader.frames(prefetch=2):
        seen += 1
        if seen == 5:
            break
    assert seen == 5  # the decode thread was joined without hanging


def test_decode_thread_errors_reach_the_caller(make_video) -> None:
    def boom(frame):
        raise RuntimeError("bad prepare")

    with pytest.raises(RuntimeError, match="bad prepare"):
        list(VideoReader(make_video()).frames(prepare=boom, prefetch=2))


def test_truncated_file_keeps_frames_and_is_marked_incomplete(make_video, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (64, 96, 3), dtype=np.uint8) for _ in range(50)]  # incompressible
    full = make_video("full.mkv", frames=frames)
    cut = tmp_path / "cut.mkv"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with VideoReader(cut) as reader:
        n = sum(1 for _ in reader)
    assert 5 < n < 50
    assert reader.stats.truncated and not reader.stats.complete
    assert any("truncated" in w for w in reader.stats.warnings())


def test_theora_empty_packets_do_not_stop_decoding(movie_hello_ogg) -> None:
    # PyAV's container.decode() raises after 58 frames here; FFmpeg decodes 242.
    with VideoReader(movie_hello_ogg) as reader:
        n = sum(1 for _ in reader)
    assert n == 242
    assert reader.stats.empty_packets == 7


def test_corrupt_sample_decodes_with_counts(megamind_bugy) -> None:
    with VideoReader(megamind_bugy) as reader:
        n = sum(1 for _ in reader)
    assert n == 270
    stats = reader.stats.to_dict()
    assert {"bad_packets", "corrupt_frames", "errors"} <= stats.keys()


def test_damaged_packets_are_skipped_and_counted(make_video, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 255, (64, 96, 3), dtype=np.uint8) for _ in range(40)]
    path = make_video("noise.avi", frames=frames, codec="mpeg4")
    data = bytearray(path.read_bytes())
    garbage = np.random.default_rng(3).integers(0, 255, 4000, dtype=np.uint8).tobytes()
    middle = len(data) // 2
    data[middle: middle + len(garbage)] = garbage
    broken = tmp_path / "broken.avi"
    broken.write_bytes(bytes(data))
    with VideoReader(broken) as reader:
        n = sum(1 for _ in reader)
    stats = reader.stats
    assert n >= 30  # the damage costs a few frames, not the rest of the file
    assert stats.bad_packets + stats.corrupt_frames + (40 - n) > 0


def test_rotation_is_applied_to_frames(make_video) -> None:
    frames = [np.zeros((64, 96, 3), np.uint8) for _ in range(5)]
    for f in frames:
        f[:16, :16] = 255  # a marker in the top-left corner of the stored image
    path = make_video(frames=frames, rotation=90)  # display matrix: turn 90 degrees counter-clockwise
    info = probe(path)
    assert info.rotation == 90
    assert info.display_size == (64, 96)
    shown = next(iter(VideoReader(path))).to_ndarray(FrameSpec(pixel_format="gray"))
    assert shown.shape == (96, 64)
    assert shown[-8:, :8].mean() > 200 and shown[:8, :8].mean() < 50  # top-left went to bottom-left


def test_keyframes_only_skims(make_video) -> None:
    path = make_video(frames=gradient_frames(30))
    reader = VideoReader(path, keyframes_only=True)
    frames = list(reader)
    assert 1 <= len(frames) < 30 and frames[0].index == 0
    assert not reader.stats.index_exact


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (FrameSpec(step=3), [0, 3, 6, 9]),
        (FrameSpec(fps=Fraction(5)), [0, 5, 10]),
        (FrameSpec(fps=Fraction(100)), list(range(12))),
    ],
)
def test_sampler(spec: FrameSpec, expected: list[int]) -> None:
    sampler = Sampler(spec)
    picked = [i for i in range(12) if sampler.wants(i, Fraction(i, 25), key_frame=(i == 0))]
    assert picked == expected


def test_sampler_by_fps_is_even_on_29_97() -> None:
    sampler = Sampler(FrameSpec(fps=Fraction(1)))
    rate = Fraction(30000, 1001)
    picked = [i for i in range(301) if sampler.wants(i, i / rate, False)]
    assert picked == [0, 30, 60, 90, 120, 150, 180, 210, 240, 270, 300]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"step": 0}, "step"), ({"fps": Fraction(0)}, "fps"), ({"pixel_format": "yuv9"}, "pixel_format"),
     ({"width": 1}, "width")],
)
def test_frame_spec_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FrameSpec(**kwargs)
