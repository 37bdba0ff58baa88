"""Clip and preview writers: frame-exact cuts, preserved timing, audio kept in sync, atomic output."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.conftest import encode_frames, gradient_frames
from tests.media._make import FPS, SAMPLE_RATE, count_frames, make_video
from vidlens.errors import UsageError
from vidlens.media import FrameSpec, VideoReader
from vidlens.media.writers import write_animated_preview, write_clip_segments

#: Three looks with hard cuts at 50 and 90; the sine is 330 Hz, 660 Hz, 990 Hz per look.
SEGMENTS = [("red_stripes", 50), ("green_checker", 40), ("blue_rings", 60)]
PITCH = {0: 330.0, 1: 660.0, 2: 990.0}


@pytest.fixture(scope="module")
def with_audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("writers") / "audio.mp4", SEGMENTS, audio=True)


@pytest.fixture(scope="module")
def silent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_video(tmp_path_factory.mktemp("writers") / "silent.mp4", SEGMENTS)


def _decode_rgb(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in container.decode(video=0)]


def _pitch(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)[spectrum.argmax()])


def test_clip_has_exact_frames_duration_and_audio(with_audio: Path, tmp_path: Path) -> None:
    spans = [(10, 30), (60, 75), (120, 150)]
    result = write_clip_segments(with_audio, spans, tmp_path / "clip.mp4")
    frames, duration, audio_s = count_frames(result.path)
    assert result.frames == frames == 65
    assert result.duration_s == pytest.approx(65 / FPS)
    assert duration == pytest.approx(65 / FPS, abs=1e-6)
    assert result.has_audio and audio_s is not None
    assert abs(audio_s - duration) <= 1 / FPS
    assert list(tmp_path.iterdir()) == [result.path]  # the temp file was renamed, nothing left over


def test_clip_frames_are_the_selected_source_frames(tmp_path: Path) -> None:
    frames = gradient_frames(60)  # a bar moves 3 columns a frame; a block's brightness counts up too
    for i, frame in enumerate(frames):
        frame[:16, :16] = 4 * i
    src = encode_frames(tmp_path / "numbered.mp4", frames)
    spans = [(3, 9), (30, 36), (50, 60)]
    result = write_clip_segments(src, spans, tmp_path / "clip.mp4", crf=12)
    source, written = _decode_rgb(src), _decode_rgb(result.path)
    expected = [i for a, b in spans for i in range(a, b)]
    assert len(written) == len(expected)
    for frame, index in zip(written, expected, strict=True):
        errors = [np.abs(frame - s).mean() for s in source]
        assert int(np.argmin(errors)) == index


def test_audio_follows_each_segment(with_audio: Path, tmp_path: Path) -> None:
    spans = [(10, 30), (60, 75), (120, 150)]  # one span inside each look: 0.8 s, 0.6 s, 1.2 s
    result = write_clip_segments(with_audio, spans, tmp_path / "clip.mp4")
    with av.open(str(result.path)) as container:
        audio = np.concatenate([f.to_ndarray()[0] for f in container.decode(audio=0)])
    start = 0.0
    for look, (a, b) in enumerate(spans):
        seconds = (b - a) / FPS
        middle = audio[round((start + 0.15) * SAMPLE_RATE):round((start + seconds - 0.15) * SAMPLE_RATE)]
        assert _pitch(middle) == pytest.approx(PITCH[look], abs=15)
        start += seconds


def test_source_without_audio_gives_video_only(silent: Path, tmp_path: Path) -> None:
    result = write_clip_segments(silent, [(0, 10)], tmp_path / "clip.mp4")
    assert not result.has_audio and result.audio_duration_s is None
    assert count_frames(result.path) == (10, pytest.approx(0.4), None)


def test_audio_can_be_dropped(with_audio: Path, tmp_path: Path) -> None:
    result = write_clip_segments(with_audio, [(0, 10)], tmp_path / "clip.mp4", audio=False)
    assert not result.has_audio and count_frames(result.path)[2] is None


def test_max_side_scales_to_even_dimensions(silent: Path, tmp_path: Path) -> None:
    result = write_clip_segments(silent, [(0, 5)], tmp_path / "small.mp4", max_side=63)
    with av.open(str(result.path)) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
    assert max(width, height) <= 63 and width % 2 == 0 and height % 2 == 0
    assert width / height == pytest.approx(160 / 90, rel=0.1)


def test_segments_past_the_end_are_clipped(silent: Path, tmp_path: Path) -> None:
    result = write_clip_segments(silent, [(140, 500)], tmp_path / "tail.mp4")
    assert result.frames == 10 == count_frames(result.path)[0]


def test_variable_frame_rate_keeps_each_frame_duration(tmp_path: Path) -> None:
    pts = [0, 33, 66, 133, 150, 250, 283, 400, 433, 466]  # ms, like a phone camera
    src = encode_frames(tmp_path / "vfr.mp4", gradient_frames(len(pts)), fps=Fraction(30), pts=pts,
                        time_base=Fraction(1, 1000))
    result = write_clip_segments(src, [(1, 4), (6, 9)], tmp_path / "clip.mp4")
    with av.open(str(result.path)) as container:
        times = [round(float(f.time), 3) for f in container.decode(video=0)]
    # durations 33, 67, 17 then 117, 33, 33 ms, concatenated from 0
    assert times == [0.0, 0.033, 0.1, 0.117, 0.234, 0.267]
    assert result.duration_s == pytest.approx(0.3)


def test_display_rotation_is_baked_in(tmp_path: Path) -> None:
    src = encode_frames(tmp_path / "phone.mp4", gradient_frames(12, width=96, height=64), rotation=90)
    result = write_clip_segments(src, [(2, 8)], tmp_path / "clip.mp4")
    with VideoReader(src) as reader:
        upright = [f.to_ndarray(FrameSpec()).astype(np.int16) for f in reader][2:8]
    written = _decode_rgb(result.path)
    assert written[0].shape == upright[0].shape == (96, 64, 3)  # portrait, as a viewer sees it
    assert all(np.abs(w - u).mean() < 10 for w, u in zip(written, upright, strict=True))


@pytest.mark.parametrize("segments", [[], [(5, 5)], [(-1, 4)], [(10, 20), (15, 30)], [(20, 30), (0, 10)]])
def test_bad_segments_are_refused(silent: Path, tmp_path: Path, segments: list[tuple[int, int]]) -> None:
    with pytest.raises(UsageError):
        write_clip_segments(silent, segments, tmp_path / "clip.mp4")
    assert not list(tmp_path.iterdir())


def test_segments_selecting_nothing_leave_no_file(silent: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="select no frame"):
        write_clip_segments(silent, [(1000, 1010)], tmp_path / "clip.mp4")
    assert not list(tmp_path.iterdir())


def test_gif_preview_decodes_with_several_frames(tmp_path: Path) -> None:
    frames = [np.full((180, 640, 3), (i * 25, 100, 255 - i * 25), np.uint8) for i in range(10)]
    out = write_animated_preview(frames, tmp_path / "preview.gif", fps=8)
    with av.open(str(out)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 10
    assert decoded[0].shape == (90, 320, 3)  # scaled down to the 320 px preview width
    assert np.abs(decoded[3].astype(int) - (75, 100, 180)).mean() < 12  # palette keeps the colours


def test_preview_needs_frames(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        write_animated_preview([], tmp_path / "preview.gif", fps=8)
