"""The ``speech`` analyzer on videos whose soundtrack has known content: recorded speech placed at known
times (Allison Smith's prompts from Debian's asterisk-core-sounds-en-wav), tones, silence, no audio, a cut file."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.timeline_schema import assert_valid
from vidlens import pipeline
from vidlens.analyzers.speech import speech_segments
from vidlens.media import AudioSpec, AudioTap

from ..conftest import gradient_frames

SPEECH_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
RATE = 16000
FPS = 25
#: Allowed error of a speech boundary: VAD chunks are 32 ms, padding 30 ms, AAC and resampling a few ms more.
TOLERANCE_S = 0.15


def recording(name: str) -> np.ndarray:
    """A prompt (8 kHz, 16-bit) at 16 kHz; linear interpolation is enough for a voice band-limited to 4 kHz."""
    path = SPEECH_DIR / name
    if not path.is_file():
        pytest.skip("asterisk-core-sounds-en-wav is not installed (scripts/install-system-packages.sh)")
    with wave.open(str(path)) as w:
        assert w.getframerate() == 8000 and w.getsampwidth() == 2
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    return np.interp(np.arange(2 * x.size) / 2, np.arange(x.size), x).astype(np.float32)


def voiced_extent(x: np.ndarray) -> tuple[float, float]:
    """First and last 10 ms of the clip louder than -40 dBFS: where the voice really starts and ends."""
    frames = x[: x.size // 160 * 160].reshape(-1, 160)
    loud = np.flatnonzero(20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-12) > -40)
    return loud[0] * 0.01, (loud[-1] + 1) * 0.01


def soundtrack(seconds: float, placed: list[tuple[float, np.ndarray]], seed: int = 0) -> np.ndarray:
    """Faint noise (-60 dBFS) with clips added at their start times."""
    track = (0.001 * np.random.default_rng(seed).standard_normal(int(seconds * RATE))).astype(np.float32)
    for start, clip in placed:
        i = int(start * RATE)
        track[i: i + clip.size] += clip
    return track


def video_with_audio(path: Path, audio: np.ndarray, seconds: float, rate: int = RATE) -> Path:
    from vidlens.media.encode import encode_video

    frames = gradient_frames(int(seconds * FPS), width=64, height=48)
    return encode_video(path, frames, fps=Fraction(FPS), audio=audio, audio_rate=rate)


def test_recorded_speech_is_found_at_its_place(tmp_path: Path) -> None:
    clips = [(1.0, recording("all-circuits-busy-now.wav")), (5.0, recording("agent-newlocation.wav"))]
    video = video_with_audio(tmp_path / "talk.mp4", soundtrack(10.0, clips), 10.0)
    timeline = pipeline.run(video, ["speech"], hash_file=False).timeline
    speech = timeline["speech"]
    assert timeline.analysis["warnings"] == []
    for start, clip in clips:
        on, off = voiced_extent(clip)
        truth = (start + on, start + off)
        inside = [s for s in speech if s["end_s"] > truth[0] - TOLERANCE_S and s["start_s"] < truth[1] + TOLERANCE_S]
        assert inside, f"no speech found in {truth}"
        assert inside[0]["start_s"] == pytest.approx(truth[0], abs=TOLERANCE_S)
        assert inside[-1]["end_s"] == pytest.approx(truth[1], abs=TOLERANCE_S)
        covered = sum(min(s["end_s"], truth[1]) - max(s["start_s"], truth[0]) for s in inside)
        assert covered >= 0.8 * (truth[1] - truth[0])
        assert all(s["confidence"] >= 0.5 for s in inside)
    outside = [s for s in speech if not any(start - TOLERANCE_S < s["start_s"] < start + clip.size / RATE + TOLERANCE_S
                                            for start, clip in clips)]
    assert outside == []
    first = speech[0]
    assert first["start"]["frame"] == int(first["start_s"] * FPS)  # frames follow the times (constant 25 fps)
    summary = timeline["audio"]
    assert summary["speech_ratio"] == pytest.approx(sum(s["end_s"] - s["start_s"] for s in speech) / 10.0, abs=0.01)
    assert_valid(timeline)  # speech, silence and audio as the published schema describes them


def test_tones_and_silence_are_not_speech(tmp_path: Path) -> None:
    t = np.arange(12 * RATE) / RATE
    on = (t % 4) < 2  # 2 s of tone, 2 s of silence, three times
    track = np.where(on, 0.1 * np.sin(2 * np.pi * 1000 * t) + 0.05 * np.sin(2 * np.pi * 350 * t), 0.0)
    video = video_with_audio(tmp_path / "tones.mp4", track.astype(np.float32), 12.0)
    timeline = pipeline.run(video, ["speech"], hash_file=False).timeline
    assert timeline["speech"] == []
    silence = [(s["start_s"], s["end_s"]) for s in timeline["silence"]]
    assert len(silence) == 3
    for k, (start, end) in enumerate(silence):  # the gaps at 2-4, 6-8, 10-12 s
        assert start == pytest.approx(4 * k + 2, abs=0.15) and end == pytest.approx(4 * k + 4, abs=0.15)
    assert timeline["audio"]["speech_ratio"] == 0.0


def test_loudness_of_a_stereo_sine_in_a_video(tmp_path: Path) -> None:
    t = np.arange(6 * 48000) / 48000
    tone = (0.1 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)  # -20 dBFS on both channels: -20.0 LUFS
    video = video_with_audio(tmp_path / "sine.mp4", np.stack([tone, tone]), 6.0, rate=48000)
    summary = pipeline.run(video, ["speech"], hash_file=False).timeline["audio"]
    assert summary["channels"] == ["FL", "FR"]
    assert summary["integrated_lufs"] == pytest.approx(-20.0, abs=0.2)  # AAC coding costs a little
    assert summary["sample_peak_dbfs"] == pytest.approx(-20.0, abs=1.5)  # AAC rings a little at the onset


def test_video_without_audio_gets_a_warning_not_an_error(make_video) -> None:
    timeline = pipeline.run(make_video(), ["speech"], hash_file=False).timeline
    assert timeline.complete
    assert timeline["speech"] == [] and timeline["audio"] == {"has_audio": False}
    assert any("no audio track" in w for w in timeline.analysis["warnings"])


def test_cut_file_keeps_the_speech_before_the_cut(tmp_path: Path) -> None:
    clips = [(1.0, recording("all-circuits-busy-now.wav")), (6.0, recording("agent-newlocation.wav"))]
    whole = video_with_audio(tmp_path / "talk.mkv", soundtrack(10.0, clips), 10.0)
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.45)])
    timeline = pipeline.run(cut, ["speech"], hash_file=False).timeline
    assert not timeline.complete
    speech = timeline["speech"]
    assert speech and speech[0]["start_s"] == pytest.approx(1.0 + voiced_extent(clips[0][1])[0], abs=TOLERANCE_S)
    assert timeline["audio"]["end_s"] < 6.0


def test_audio_tap_fills_a_gap_and_keeps_later_times() -> None:
    """Undecodable packets leave a hole in the pts: the tap fills it with zeros marked ``filled``.

    Times hold to within the resampler's buffered delay (under 2 ms)."""
    spec = AudioSpec(16000, mono=True)
    tap = AudioTap([spec])
    for start in (0, 1024, 2048, 8192, 9216):  # 48 kHz frames of 1024 samples; 2048..8192 lost
        frame = av.AudioFrame.from_ndarray(np.full((1, 1024), 0.5, np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 48000, start, Fraction(1, 48000)
        tap(frame)
    tap.flush()
    chunks = tap.drain()
    filled = [c for c in chunks if c.filled]
    assert len(filled) == 1
    assert filled[0].start == pytest.approx(3072 / 48000, abs=2e-3)
    assert filled[0].end == pytest.approx(8192 / 48000, abs=2e-3)
    after = [c for c in chunks if c.start >= filled[0].end - 1e-9]
    assert after and after[0].start == pytest.approx(8192 / 48000, abs=2e-3)
    assert tap.filled_s == pytest.approx((8192 - 3072) / 48000, abs=2e-3)


@pytest.mark.parametrize(("probs", "expected"), [
    # one chunk above the threshold is shorter than min_speech (250 ms = 8 chunks): dropped
    ([0.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], []),
    # a dip to 0.4 (between neg_threshold 0.35 and 0.5) does not end speech (hysteresis)
    ([0.9] * 10 + [0.4] * 5 + [0.9] * 10 + [0.0] * 10, [(0, 25)]),
    # a drop below 0.35 shorter than min_silence (100 ms = 3.1 chunks) does not split
    ([0.9] * 10 + [0.1] * 3 + [0.9] * 10 + [0.0] * 10, [(0, 23)]),
    # a long drop splits
    ([0.9] * 10 + [0.1] * 10 + [0.9] * 10 + [0.0] * 10, [(0, 10), (20, 30)]),
])
def test_speech_segment_rules(probs: list[float], expected: list[tuple[int, int]]) -> None:
    found = speech_segments(np.array(probs), len(probs) * 512, 0.5, 0.35, 4000, 1600, 0)
    assert [(s // 512, e // 512) for s, e, _ in found] == expected
