"""Re-analysing into an existing output folder: what the previous run wrote and this one does not is removed,
so no keyframe or thumbnail of the previous video passes for this one's; a user's files are never touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import encode_frames, gradient_frames
from vidlens import api
from vidlens.errors import UsageError
from vidlens.privacy.vault import read_timeline, unlock

PASS = "correct horse battery staple"


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> tuple[Path, Path]:
    """A: two shots (60 frames); B: one shot of another length (20 frames), so their keyframes differ."""
    tmp = tmp_path_factory.mktemp("rerun")
    a = encode_frames(tmp / "a.mp4", gradient_frames(30, 128, 96, seed=0)
                      + [255 - f for f in gradient_frames(30, 128, 96, seed=1)])
    b = encode_frames(tmp / "b.mp4", gradient_frames(20, 128, 96, seed=2))
    return a, b


def files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def keyframe_images(timeline) -> set[str]:
    return {k["image"] for shot in timeline.shots for k in shot["keyframes"] if k["image"]}


def _user_files(out: Path) -> None:
    (out / "notes.txt").write_text("mine")
    (out / "keyframes" / "holiday.jpg").write_bytes(b"\xff\xd8\xff mine")


@pytest.mark.parametrize("old_timeline", [False, True], ids=["manifest", "timeline-written-before-the-manifest"])
def test_rerun_removes_the_previous_videos_outputs_and_keeps_user_files(videos, tmp_path: Path,
                                                                         old_timeline: bool) -> None:
    a, b = videos
    out = tmp_path / "out"
    first = api.analyze(a, analyzers=["shots", "keyframes", "segments"], output_dir=out)
    assert len(first.shots) == 2 and (out / "report.html").is_file() and (out / "segments").is_dir()
    assert set(first.analysis["outputs"]) == files(out)
    _user_files(out)
    if old_timeline:  # a folder from a vidlens that did not record analysis.outputs: the references are used
        data = json.loads((out / "timeline.json").read_text())
        del data["analysis"]["outputs"]
        (out / "timeline.json").write_text(json.dumps(data))
    second = api.analyze(b, analyzers=["shots", "keyframes"], output_dir=out, report=False)
    left = files(out)
    assert keyframe_images(second) and keyframe_images(first) - keyframe_images(second)  # some are stale
    assert {f for f in left if f.startswith("keyframes/")} == keyframe_images(second) | {"keyframes/holiday.jpg"}
    assert not (out / "segments").exists() and not (out / "report.html").exists()
    assert left == set(second.analysis["outputs"]) | {"notes.txt", "keyframes/holiday.jpg"}
    assert (out / "notes.txt").read_text() == "mine"


def test_a_tampered_timeline_cannot_make_a_rerun_delete_user_files(videos, tmp_path: Path) -> None:
    a, b = videos
    out = tmp_path / "out"
    api.analyze(a, analyzers=["shots", "keyframes"], output_dir=out)
    _user_files(out)
    outside = tmp_path / "precious.txt"
    outside.write_text("mine")
    data = json.loads((out / "timeline.json").read_text())
    data["analysis"]["outputs"] += ["notes.txt", "keyframes/holiday.jpg", "../precious.txt", str(outside)]
    (out / "timeline.json").write_text(json.dumps(data))
    api.analyze(b, analyzers=["shots", "keyframes"], output_dir=out)
    assert (out / "notes.txt").is_file() and (out / "keyframes" / "holiday.jpg").is_file() and outside.is_file()


def test_rerun_into_a_locked_folder_discards_the_previous_encrypted_outputs(videos, tmp_path: Path) -> None:
    a, b = videos
    out = tmp_path / "out"
    first = api.analyze(a, analyzers=["shots", "keyframes"], output_dir=out, passphrase=PASS)
    second = api.analyze(b, analyzers=["shots", "keyframes"], output_dir=out, passphrase=PASS)
    assert read_timeline(out, PASS).video["frame_count"] == 20
    assert {f for f in files(out) if f.startswith("keyframes/")} == {f + ".enc" for f in keyframe_images(second)}
    restored = {p.relative_to(out).as_posix() for p in unlock(out, PASS)}  # no "encrypted file missing"
    assert keyframe_images(first) - keyframe_images(second)
    assert restored == set(second.analysis["outputs"])


def test_rerun_into_a_locked_folder_without_the_passphrase_is_refused(videos, tmp_path: Path) -> None:
    a, b = videos
    out = tmp_path / "out"
    api.analyze(a, analyzers=["shots", "keyframes"], output_dir=out, passphrase=PASS)
    before = files(out)
    with pytest.raises(UsageError, match="is locked"):
        api.analyze(b, analyzers=["shots", "keyframes"], output_dir=out)
    assert files(out) == before
