"""The vault: an output folder locked with a passphrase leaks no plaintext, and only the right passphrase opens it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import encode_frames, gradient_frames
from vidlens import api
from vidlens.errors import UsageError
from vidlens.privacy.retention import default_output_dir, forget
from vidlens.privacy.vault import MAGIC, VAULT_FILE, folder_state, lock, read_timeline, unlock
from vidlens.timeline import Timeline

PASS = "correct horse battery staple"
CLI = [sys.executable, "-m", "vidlens.cli"]
#: Byte patterns that would betray plaintext outputs: JPEG SOI/JFIF, timeline JSON, CSV/EDL headers, NPZ (zip), HTML.
PLAINTEXT_MARKS = (b"\xff\xd8\xff", b"JFIF", b"vidlens.timeline", b'"schema"', b"PK\x03\x04", b"<html", b"TITLE:",
                   b"shot,")


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory) -> tuple[Path, Path]:
    """A two-shot generated video and its output folder (default analyzers: timeline, keyframes, embeddings...)."""
    tmp = tmp_path_factory.mktemp("vault")
    shot_a = gradient_frames(30, 128, 96, seed=0)
    video = encode_frames(tmp / "clip.mp4", shot_a + [255 - f for f in gradient_frames(30, 128, 96, seed=1)])
    api.analyze(video, output_dir=tmp / "out")
    return video, tmp / "out"


@pytest.fixture
def folder(analyzed, tmp_path: Path) -> Path:
    return Path(shutil.copytree(analyzed[1], tmp_path / "out"))


def test_lock_leaves_no_plaintext_and_unlock_restores_every_byte(folder: Path) -> None:
    before = snapshot(folder)
    assert {"timeline.json", "report.html", "contact_sheet.jpg", "embeddings.npz"} <= before.keys()
    assert any(name.startswith("keyframes/") for name in before)
    lock(folder, PASS)
    after = snapshot(folder)
    assert set(after) == {f"{name}.enc" for name in before} | {VAULT_FILE}
    for name, data in after.items():
        if name == VAULT_FILE:  # the header: kdf parameters, salt and an encrypted check token, nothing else
            assert set(json.loads(data)) == {"format", "cipher", "kdf", "check", "files"}
            continue
        assert data.startswith(MAGIC), name
        assert not any(mark in data for mark in PLAINTEXT_MARKS), name
    assert folder_state(folder) == "locked"
    unlock(folder, PASS)
    assert snapshot(folder) == before


@pytest.mark.parametrize("action", [unlock, read_timeline, lock])
def test_wrong_passphrase_is_refused_and_changes_nothing(folder: Path, action) -> None:
    lock(folder, PASS)
    locked = snapshot(folder)
    with pytest.raises(UsageError, match="wrong passphrase"):
        action(folder, PASS + "!")
    assert snapshot(folder) == locked


def test_read_timeline_decrypts_in_memory_only(folder: Path) -> None:
    original = Timeline.load(folder / "timeline.json").to_dict()
    lock(folder, PASS)
    locked = snapshot(folder)
    assert read_timeline(folder, PASS).to_dict() == original
    assert snapshot(folder) == locked  # no plaintext (or any other file) was written


@pytest.mark.parametrize("tamper", ["flip_byte", "swap_files"])
def test_changed_or_swapped_files_fail_authentication_before_anything_is_restored(folder: Path, tamper: str) -> None:
    lock(folder, PASS)
    report, sheet = folder / "report.html.enc", folder / "contact_sheet.jpg.enc"
    if tamper == "flip_byte":
        data = bytearray(report.read_bytes())
        data[len(data) // 2] ^= 1
        report.write_bytes(bytes(data))
    else:
        a, b = report.read_bytes(), sheet.read_bytes()
        report.write_bytes(b)
        sheet.write_bytes(a)
    locked = snapshot(folder)
    with pytest.raises(UsageError, match="fails authentication"):
        unlock(folder, PASS)
    assert snapshot(folder) == locked


def test_lock_refuses_a_folder_that_is_not_an_output_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "timeline.json").write_text('{"schema": "something else"}')
    with pytest.raises(UsageError, match="not a vidlens output folder"):
        lock(tmp_path, PASS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "timeline.json"]


def run(*args, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "VIDLENS_PASSPHRASE"} | (env or {})
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=120, env=full_env,
                          stdin=subprocess.DEVNULL)


def test_cli_analyze_encrypt_then_unlock_then_forget(analyzed, tmp_path: Path) -> None:
    video = Path(shutil.copy(analyzed[0], tmp_path / "clip.mp4"))
    out = default_output_dir(video)
    no_pass = run("analyze", video, "--encrypt", "-q")
    assert no_pass.returncode == 2 and "no passphrase" in no_pass.stderr and not out.exists()
    done = run("analyze", video, "--encrypt", "-q", env={"VIDLENS_PASSPHRASE": PASS})
    assert done.returncode == 0, done.stderr
    assert folder_state(out) == "locked" and not (out / "timeline.json").exists()
    assert read_timeline(out, PASS).video["frame_count"] == 60
    secret = tmp_path / "pass.txt"
    secret.write_text("wrong\n")
    refused = run("vault", "unlock", out, "--passphrase-file", secret)
    assert refused.returncode == 2 and "wrong passphrase" in refused.stderr
    secret.write_text(PASS + "\n")
    assert run("vault", "unlock", out, "--passphrase-file", secret).returncode == 0
    assert folder_state(out) == "plain"
    gone = run("forget", video)
    assert gone.returncode == 0, gone.stderr
    assert f"removed {out}/" in gone.stdout and "timeline.json" in gone.stdout
    assert not out.exists() and video.is_file() and video.read_bytes() == analyzed[0].read_bytes()


def test_forget_deletes_a_locked_output_folder(folder: Path) -> None:
    lock(folder, PASS)
    files = len(snapshot(folder))
    removed = forget(folder)
    assert not folder.exists()
    assert removed[-1].path == folder and removed[-1].files == files


@pytest.mark.parametrize("case", ["random_folder", "foreign_file", "video_without_outputs", "missing"])
def test_forget_refuses_what_is_not_only_vidlens_output(analyzed, folder: Path, tmp_path: Path, case: str) -> None:
    if case == "random_folder":
        target = tmp_path / "photos"
        target.mkdir()
        (target / "holiday.jpg").write_bytes(b"\xff\xd8\xff mine")
    elif case == "foreign_file":  # e.g. `vidlens analyze clip.mp4 -o .`: the video sits in the output folder
        shutil.copy(analyzed[0], folder / "clip.mp4")
        target = folder
    elif case == "video_without_outputs":
        target = Path(shutil.copy(analyzed[0], tmp_path / "other.mp4"))
    else:
        target = tmp_path / "nothing.mp4"
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(UsageError):
        forget(target)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_unlock_reports_a_deleted_enc_file_and_changes_nothing(folder: Path) -> None:
    lock(folder, PASS)
    (folder / "report.html.enc").unlink()
    before = snapshot(folder)
    with pytest.raises(UsageError, match=r"report\.html\.enc"):
        unlock(folder, PASS)
    assert snapshot(folder) == before


def test_forget_refuses_a_symlink_to_an_output_folder(folder: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(folder, target_is_directory=True)
    before = snapshot(folder)
    with pytest.raises(UsageError, match="symbolic link"):
        forget(link)
    assert snapshot(folder) == before and link.is_symlink()


def test_forget_accepts_the_analyzers_own_subfolders(analyzed, tmp_path: Path) -> None:
    out = tmp_path / "out"
    api.analyze(analyzed[0], analyzers=["shots", "keyframes", "segments"], output_dir=out, report=False)
    assert any((out / "segments").iterdir()) and any((out / "keyframes").iterdir())
    removed = forget(out)
    assert not out.exists() and {r.path.name for r in removed} >= {"segments", "keyframes", "timeline.json"}


@pytest.mark.parametrize("intruder", ["keyframes/holiday.jpg", "segments/notes.txt", "faces/me.png"])
def test_forget_refuses_a_user_file_inside_a_vidlens_subfolder(folder: Path, intruder: str) -> None:
    (folder / intruder).parent.mkdir(exist_ok=True)
    (folder / intruder).write_bytes(b"mine")
    before = snapshot(folder)
    with pytest.raises(UsageError, match=intruder.replace(".", r"\.")):
        forget(folder)
    assert snapshot(folder) == before


@pytest.mark.parametrize("intruder", ["notes.txt", "keyframes/holiday.jpg"])
def test_lock_refuses_user_files_in_the_output_folder_and_encrypts_nothing(folder: Path, intruder: str) -> None:
    (folder / intruder).write_bytes(b"my own notes")
    before = snapshot(folder)
    with pytest.raises(UsageError, match=intruder.replace(".", r"\.")):
        lock(folder, PASS)
    assert snapshot(folder) == before and not (folder / VAULT_FILE).exists()


def test_analyze_encrypt_refuses_a_folder_with_user_files_before_analysing(analyzed, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match=r"notes\.txt"):
        api.analyze(analyzed[0], output_dir=out, passphrase=PASS)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
