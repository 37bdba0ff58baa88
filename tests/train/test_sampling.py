"""Clip sampling (TSN segments, dense clips) and reading frames with one sequential decode."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from tests.conftest import gradient_frames
from vidlens.errors import InvalidMediaError, UsageError
from vidlens.media import probe
from vidlens.train import sampling
from vidlens.train.sampling import dense_clips, estimate_frame_count, read_frames, segment_indices

FPS = 25


@pytest.mark.parametrize(("frame_count", "segments"), [(100, 8), (8, 8), (9, 8), (3, 8), (1, 4), (1000, 1), (37, 5)])
def test_segment_indices_cover_the_video_one_per_segment(frame_count: int, segments: int) -> None:
    centre = segment_indices(frame_count, segments)
    assert centre.shape == (segments,) and centre.dtype == np.int64
    assert centre.min() >= 0 and centre.max() < frame_count
    assert np.all(np.diff(centre) >= 0)
    edges = np.arange(segments + 1) * frame_count / segments
    assert len(np.unique(centre)) == min(segments, frame_count)  # frames repeat only when there are too few
    for trial in range(20):
        jitter = segment_indices(frame_count, segments, np.random.default_rng(trial))
        assert np.all(np.diff(jitter) >= 0) and jitter.max() < frame_count
        # each index lies in its own segment
        assert np.all(jitter >= np.floor(edges[:-1])) and np.all(jitter <= np.maximum(np.ceil(edges[1:]) - 1,
                                                                                     np.floor(edges[:-1])))
    assert np.array_equal(centre, segment_indices(frame_count, segments))


def test_segment_jitter_varies_and_spreads_inside_segments() -> None:
    draws = np.stack([segment_indices(80, 4, np.random.default_rng(s)) for s in range(200)])
    for k in range(4):  # each segment of 20 frames is visited across most of its width
        assert draws[:, k].min() <= 20 * k + 2 and draws[:, k].max() >= 20 * k + 17
    assert len({tuple(row) for row in draws}) > 150


@pytest.mark.parametrize(("bad", "message"), [((0, 4), "frame_count"), ((10, 0), "segments")])
def test_segment_indices_refuse_empty_inputs(bad: tuple[int, int], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        segment_indices(*bad)


@pytest.mark.parametrize(("frame_count", "length", "stride", "step"), [
    (100, 8, 2, None), (100, 8, 1, 4), (16, 16, 1, None), (17, 4, 3, 2), (50, 1, 1, 10),
])
def test_dense_clips_are_regular_and_inside_the_video(frame_count: int, length: int, stride: int,
                                                      step: int | None) -> None:
    clips = dense_clips(frame_count, length, stride, step)
    span = (length - 1) * stride + 1
    step = length * stride if step is None else step
    assert len(clips) == (frame_count - span) // step + 1
    for k, clip in enumerate(clips):
        assert clip.shape == (length,) and clip[0] == k * step
        assert np.all(np.diff(clip) == stride) and clip[-1] < frame_count


def test_short_video_gives_one_clip_padded_with_its_last_frame() -> None:
    (clip,) = dense_clips(5, 8, 2)
    assert clip.tolist() == [0, 2, 4, 4, 4, 4, 4, 4]
    with pytest.raises(UsageError, match="stride"):
        dense_clips(10, 4, 0)


# ----------------------------------------------------------------------------- read_frames


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vidlens.media.encode import encode_video

    return encode_video(tmp_path_factory.mktemp("sampling") / "clip.mp4", gradient_frames(40, 96, 64),
                        fps=Fraction(FPS))


def pyav_frames(path: Path) -> list[np.ndarray]:
    """The plain PyAV loop: every frame in decode order, RGB."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_read_frames_equals_a_plain_pyav_loop(video: Path) -> None:
    reference = pyav_frames(video)
    wanted = [0, 7, 7, 3, 39, 12]  # unsorted, with a repeat
    got = read_frames(video, wanted, None)
    assert got.shape == (len(wanted), 64, 96, 3) and got.dtype == np.uint8
    for frame, i in zip(got, wanted):
        assert np.array_equal(frame, reference[i])


def test_read_frames_in_a_clip_counts_from_the_clip_start(video: Path) -> None:
    reference = pyav_frames(video)
    got = read_frames(video, [0, 1, 5], None, start=0.4, end=0.8)  # frames 10..19 at 25 fps
    for frame, i in zip(got, [10, 11, 15]):
        assert np.array_equal(frame, reference[i])
    # past the clip's end: its last frame (19), not a frame after the end
    assert np.array_equal(read_frames(video, [30], None, start=0.4, end=0.8)[0], reference[19])
    assert np.array_equal(read_frames(video, [500], None)[0], reference[-1])


def test_read_frames_resizes_in_the_decoder(video: Path) -> None:
    reference = pyav_frames(video)
    short = read_frames(video, [4], 32)
    assert short.shape == (1, 32, 48, 3)
    exact = read_frames(video, [4], (40, 30))
    assert exact.shape == (1, 30, 40, 3)
    expected = cv2.resize(reference[4], (48, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    assert np.abs(short[0].astype(np.float32) - expected).mean() < 6


def test_read_frames_opens_the_video_once_and_never_seeks(video: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readers: list[object] = []
    real = sampling.VideoReader

    def counting(*args, **kwargs):
        readers.append(args)
        return real(*args, **kwargs)

    def no_seek(*args, **kwargs):
        raise AssertionError("read_frames must not seek")

    monkeypatch.setattr(sampling, "VideoReader", counting)
    monkeypatch.setattr(av.container.InputContainer, "seek", no_seek)
    read_frames(video, segment_indices(40, 8), 32)
    assert len(readers) == 1


def test_read_frames_refuses_bad_requests(video: Path) -> None:
    with pytest.raises(UsageError, match=">= 0"):
        read_frames(video, [-1], None)
    with pytest.raises(UsageError, match="no frame indices"):
        read_frames(video, [], None)
    with pytest.raises(InvalidMediaError, match="no decodable frame"):
        read_frames(video, [0], None, start=5.0)


def test_estimated_frame_count(video: Path) -> None:
    info = probe(video)
    assert estimate_frame_count(info) == 40
    assert estimate_frame_count(info, 0.4, 0.8) == 10
    assert estimate_frame_count(info, 1.0, 99.0) == 15  # the video ends at 1.6 s
    n = estimate_frame_count(info, 0.4, 0.8)
    assert len(read_frames(video, segment_indices(n, 4), None, 0.4, 0.8)) == 4
