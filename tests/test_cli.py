"""The command line: outputs, formats, and one-line errors with documented exit codes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.support import samples
from tests.timeline_schema import assert_valid

CLI = [sys.executable, "-m", "vidlens.cli"]


def run(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def make_bad_inputs(tmp: Path) -> dict[str, Path]:
    files = {
        "empty": (tmp / "empty.mp4", b""),
        "random": (tmp / "random.mp4", np.random.default_rng(0).integers(0, 256, 200_000, dtype=np.uint8).tobytes()),
        "text": (tmp / "readme.mp4", b"this is a text file, not a video\n" * 50),
    }
    out = {}
    for name, (path, data) in files.items():
        path.write_bytes(data)
        out[name] = path
    skimage = samples.package_file("skimage", "data", "astronaut.png")
    if skimage is not None:
        out["image"] = skimage
    out["missing"] = tmp / "nope.mp4"
    out["folder"] = tmp
    return out


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("bad")
    inputs = make_bad_inputs(tmp)
    inputs["audio_only"] = tmp / "tone.wav"
    with wave.open(str(inputs["audio_only"]), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        tone = (8000 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype("<i2")
        wav.writeframes(tone.tobytes())
    return inputs


@pytest.mark.parametrize("kind", ["empty", "random", "text", "image", "missing", "folder", "audio_only"])
@pytest.mark.parametrize("command", ["analyze", "shots", "info"])
def test_bad_input_is_one_line_and_exit_2(bad_inputs, kind: str, command: str, tmp_path: Path) -> None:
    if kind not in bad_inputs:
        pytest.skip(f"no {kind} sample here")
    extra = ["-o", str(tmp_path / "out")] if command == "analyze" else []
    result = run(command, bad_inputs[kind], *extra)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.stderr


def test_analyze_writes_everything(bikes: Path, tmp_path: Path) -> None:
    result = run("analyze", bikes, "-o", tmp_path, "--quiet")
    assert result.returncode == 0, result.stderr
    timeline = json.loads((tmp_path / "timeline.json").read_text())
    assert [s["start"]["frame"] for s in timeline["shots"]] == [0, 30, 76, 137, 187, 242]
    assert (tmp_path / "report.html").exists() and (tmp_path / "shots.edl").exists()


@pytest.mark.parametrize(
    ("fmt", "probe"), [("json", '"timecode"'), ("csv", "start_frame"), ("edl", "FCM: NON-DROP FRAME")]
)
def test_shots_formats(bikes: Path, fmt: str, probe: str) -> None:
    result = run("shots", bikes, "--format", fmt, "-q")
    assert result.returncode == 0, result.stderr
    assert probe in result.stdout
    if fmt == "json":
        assert [s["start"]["frame"] for s in json.loads(result.stdout)["shots"]][1:] == [30, 76, 137, 187, 242]


def test_info_json_and_count(megamind: Path) -> None:
    result = run("info", megamind, "--json", "--count")
    facts = json.loads(result.stdout)
    assert facts["frame_count"] == 270 and facts["frame_count_source"] == "counted"
    assert facts["codec"] == "mpeg4" and facts["has_audio"] is True


def test_version_all() -> None:
    result = run("version", "--all")
    assert result.returncode == 0 and "pyav" in result.stdout and "libavcodec" in result.stdout


def test_bad_option_is_a_usage_error(bikes: Path) -> None:
    result = run("summarize", bikes, "--ratio", "1.5")
    assert result.returncode == 2 and "ratio" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("size", [(1, 1), (3, 5)])
def test_a_tiny_video_is_analyzed_and_summarised(tmp_path: Path, size: tuple[int, int]) -> None:
    from vidlens.media.encode import encode_video

    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(20)]
    video = encode_video(tmp_path / "tiny.mp4", [f for f in frames for _ in range(2)])  # 40 frames
    done = run("analyze", video, "-o", tmp_path / "out", "-q", "--analyzers", "shots,keyframes,labels,segments")
    assert done.returncode == 0 and "failed" not in done.stderr, done.stderr
    timeline = json.loads((tmp_path / "out" / "timeline.json").read_text())
    assert timeline["analysis"]["complete"] and timeline["video"]["frame_count"] == 40
    # keyframe candidates are every 5th frame at 25 fps: a shot that long always has one
    assert all(s["keyframes"] for s in timeline["shots"] if s["end"]["frame"] - s["start"]["frame"] >= 5)
    summary = run("summarize", video, "--ratio", "0.5", "-o", tmp_path / "s.mp4", "--preview", tmp_path / "s.gif")
    assert summary.returncode == 0, summary.stderr
    assert (tmp_path / "s.mp4").stat().st_size > 0 and (tmp_path / "s.gif").stat().st_size > 0


@pytest.fixture
def cut(tmp_path: Path) -> Path:
    """The first 2 MB of the forensics samples' movie-hello.mp4: a file cut short."""
    source = samples.movie_hello("mp4")
    if source is None:
        pytest.skip("forensics-samples-files not installed")
    path = tmp_path / "cut.mp4"
    path.write_bytes(source.read_bytes()[:2_000_000])
    return path


def test_truncated_video_is_analyzed_and_marked(cut: Path, tmp_path: Path) -> None:
    result = run("analyze", cut, "-o", tmp_path / "out", "-q")
    assert result.returncode == 0, result.stderr
    assert "truncated" in result.stderr
    timeline = json.loads((tmp_path / "out" / "timeline.json").read_text())
    assert timeline["analysis"]["complete"] is False and timeline["video"]["frame_count"] > 50
    assert_valid(timeline)  # a truncated file's timeline is still a timeline: the schema holds


def test_ctrl_c_writes_a_partial_timeline(tmp_path: Path) -> None:
    source = samples.vtest()
    if source is None or shutil.which("ffmpeg") is None:
        pytest.skip("opencv-doc or the ffmpeg CLI is not installed")
    video = tmp_path / "long.avi"  # 10 x 795 frames, stream-copied: long enough to interrupt
    subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", "9", "-i", str(source), "-c", "copy", str(video)],
                   check=True)
    out = tmp_path / "out"
    proc = subprocess.Popen([*CLI, "analyze", str(video), "-o", str(out), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            # as from a terminal: a test run started in the background inherits SIGINT ignored
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(2.0)  # imports plus a part of the decode
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    timeline = json.loads((out / "timeline.json").read_text())
    assert timeline["analysis"]["interrupted"] is True and timeline["analysis"]["complete"] is False
    assert 0 < timeline["video"]["frame_count"] < 7950
    assert_valid(timeline)  # so does an interrupted run's


def test_analyze_help_names_every_analyzer() -> None:
    from vidlens.analyzers.registry import ANALYZERS

    done = run("analyze", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    missing = [name for name in ANALYZERS if name not in text]
    assert not missing, f"vidlens analyze --help does not name {missing}"


@pytest.fixture(scope="module")
def two_streams(tmp_path_factory) -> Path:
    """A Matroska file with a small video stream first and a larger one second (as some recorders write)."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg CLI is not installed (see the README's setup command)")
    path = tmp_path_factory.mktemp("streams") / "two.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=s=160x120:d=2:r=25", "-f", "lavfi", "-i",
                    "testsrc2=s=320x240:d=2:r=25", "-map", "0", "-map", "1", "-c:v", "libx264", "-g", "25",
                    "-bf", "0", "-pix_fmt", "yuv420p", str(path)], check=True, timeout=60)
    return path


def test_with_two_video_streams_the_one_analysed_is_named(two_streams: Path, tmp_path: Path) -> None:
    facts = run("info", two_streams, "--json")
    assert facts.returncode == 0 and "2 video streams: stream 1 (320x240" in facts.stderr
    assert json.loads(facts.stdout)["stream_index"] == 1 and json.loads(facts.stdout)["video_streams"] == 2
    done = run("analyze", two_streams, "-o", tmp_path / "out", "-q", "--analyzers", "shots")
    assert done.returncode == 0 and "stream 1 (320x240 h264, the largest) is analysed" in done.stderr
    timeline = json.loads((tmp_path / "out" / "timeline.json").read_text())
    assert timeline["video"]["width"] == 320 and any("2 video streams" in w for w in timeline["analysis"]["warnings"])


def test_clip_export_cuts_the_stream_that_was_analysed(two_streams: Path, tmp_path: Path) -> None:
    from vidlens import api
    from vidlens.media import probe

    moment = {"path": str(two_streams), "start": {"frame": 25}, "end": {"frame": 50}}
    (clip,) = api.export_clips([moment], tmp_path)
    assert clip["method"] == "copy" and probe(clip["path"]).width == 320


def test_an_end_past_a_truncated_files_last_frame_still_says_truncated(cut: Path, tmp_path: Path) -> None:
    """``--end`` once marked every run as cancelled, so a file cut short inside the range passed as complete."""
    past = run("analyze", cut, "-o", tmp_path / "past", "-q", "--end", "10:00:00")
    assert past.returncode == 0 and "truncated" in past.stderr, past.stderr
    assert json.loads((tmp_path / "past" / "timeline.json").read_text())["analysis"]["complete"] is False
    inside = run("analyze", cut, "-o", tmp_path / "inside", "-q", "--end", "1s")  # stopped before the cut
    assert inside.returncode == 0 and "truncated" not in inside.stderr, inside.stderr
    assert json.loads((tmp_path / "inside" / "timeline.json").read_text())["analysis"]["complete"] is True
