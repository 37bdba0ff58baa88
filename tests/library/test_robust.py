"""The library under stress: killed parents, full disks, a damaged catalog and two writers at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import encode_frames, gradient_frames

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def _videos(folder: Path, n: int, frames: int = 60) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        encode_frames(folder / f"v{i}.mp4", gradient_frames(frames, seed=i))
    return folder


def _session(sid: int) -> list[int]:
    """Live processes of a session (a killed parent's orphans keep it), from /proc."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # session id; zombies are dead already
            pids.append(int(entry))
    return pids


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return b""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_index_workers_die_with_their_parent(tmp_path: Path, how: signal.Signals) -> None:
    videos = _videos(tmp_path / "videos", 4, frames=300)
    temp = tmp_path / "temp"
    temp.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "vidlens.cli", "index", str(videos), "-L", str(tmp_path / "lib"),
                             "-j", "2", "--analyzers", "shots,labels", "-q"], env={**ENV, "TMPDIR": str(temp)},
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            children = [p for p in _session(proc.pid) if p != proc.pid]
            workers = [p for p in children if b"spawn_main" in _cmdline(p)]
            if len(workers) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None and len(workers) >= 2, "the workers never started"
        time.sleep(0.5)  # inside their imports and analysis, not at the start line
        proc.send_signal(how)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _session(proc.pid):
            time.sleep(0.05)
        left = _session(proc.pid)
        assert not left, [_cmdline(p) for p in left]
        assert not list(temp.glob("vidlens-*")), "a worker left its temporary files"
    finally:
        for pid in _session(proc.pid):
            os.kill(pid, signal.SIGKILL)
        proc.wait()


def _locked(lock: Path) -> bool:
    import fcntl

    if not lock.exists():
        return False
    with lock.open("rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def test_a_second_index_waits_for_the_first_and_analyses_nothing_twice(tmp_path: Path) -> None:
    videos = _videos(tmp_path / "videos", 3, frames=90)
    lib = tmp_path / "lib"
    command = [sys.executable, "-m", "vidlens.cli", "index", str(videos), "-L", str(lib), "--analyzers",
               "shots,labels", "--json"]
    first = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and first.poll() is None and not _locked(lib / "lock"):
        time.sleep(0.02)
    assert first.poll() is None, "the first index finished before the second could start"
    second = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out1, err1 = first.communicate(timeout=300)
    out2, err2 = second.communicate(timeout=300)
    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    one, two = json.loads(out1), json.loads(out2)
    assert len(one["added"]) == 3 and one["unchanged"] == 0
    assert two["added"] == [] and two["updated"] == [] and two["unchanged"] == 3
    said = " ".join(err2.split())
    assert f"another vidlens (pid {first.pid}) is writing to the library" in said and "waiting" in said, err2
    from vidlens.library.library import Library

    with Library(lib, create=False) as opened:
        assert len(opened.catalog.videos()) == 3 and opened.check()["ok"]


def test_index_without_waiting_refuses_a_busy_library(tmp_path: Path) -> None:
    from vidlens.errors import UsageError
    from vidlens.library.ingest import ingest
    from vidlens.library.library import Library

    videos = _videos(tmp_path / "videos", 1, frames=10)
    with Library(tmp_path / "lib") as holder, holder.writing():
        with Library(tmp_path / "lib") as other, pytest.raises(UsageError, match=r"another vidlens \(pid \d+\)"):
            ingest(other, [videos], analyzers=("shots",), wait=False)
        with holder.writing():  # reentrant in its own process
            assert len(ingest(holder, [videos], analyzers=("shots",)).added) == 1


# -- a damaged catalog -------------------------------------------------------------------------------

FAST = ("shots", "labels", "segments")


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Four small videos and a library of them (copied by each test before it damages it)."""
    from vidlens.library.ingest import ingest
    from vidlens.library.library import Library

    root = tmp_path_factory.mktemp("healthy")
    videos = _videos(root / "videos", 4, frames=40)
    with Library(root / "lib") as lib:
        assert len(ingest(lib, [videos], analyzers=FAST).added) == 4
    return videos, root / "lib"


def _page_of(catalog: Path, table: str) -> int:
    import sqlite3

    with sqlite3.connect(catalog) as db:
        try:
            pages = [r[0] for r in db.execute("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf'"
                                              " ORDER BY pageno", (table,))]
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table")
        size = db.execute("PRAGMA page_size").fetchone()[0]
    assert pages, table
    return (pages[0] - 1) * size  # the offset of its first leaf page


def _damage(catalog: Path, offset: int, n: int = 1000) -> None:
    import numpy as np

    with catalog.open("r+b") as handle:
        handle.seek(offset + 8)  # past the page header's first bytes: its cells and their pointers
        handle.write(np.random.default_rng(0).integers(0, 256, n, dtype=np.uint8).tobytes())


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    from vidlens.cli import main

    code = main(list(args))
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())


def test_a_corrupt_page_is_reported_repaired_and_reindexed(healthy: tuple[Path, Path], tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    videos, source = healthy
    lib = tmp_path / "lib"
    shutil.copytree(source, lib)
    _damage(lib / "catalog.sqlite", _page_of(lib / "catalog.sqlite", "segments"))

    code, said = _cli(capsys, "library", "check", "-L", str(lib))
    assert code == 3 and "damaged" in said and "library check --repair" in said, said
    code, said = _cli(capsys, "index", str(videos), "-L", str(lib), "--analyzers", ",".join(FAST))
    assert code == 3 and "damaged" in said and "library check --repair" in said and "unchanged" not in said, said

    code, said = _cli(capsys, "library", "check", "--repair", "-L", str(lib), "--json")
    assert code == 0, said
    result = json.loads(said[said.index("{"):])
    recovered = result["recovered"]
    assert result["ok"] and result["problems"] and recovered["removed"], result
    assert recovered["videos"] + len(recovered["removed"]) == 4 and Path(recovered["backup"]).exists()
    assert set(result["rebuilt"]) == {"visual", "facts", "conse"}
    assert _cli(capsys, "library", "check", "-L", str(lib)) == (0, "ok")

    code, said = _cli(capsys, "index", str(videos), "-L", str(lib), "--analyzers", ",".join(FAST), "--json")
    report = json.loads(said[said.index("{"):])
    assert code == 0 and sorted(report["added"]) == recovered["removed"] and report["unchanged"] == recovered["videos"]
    assert _cli(capsys, "library", "check", "-L", str(lib)) == (0, "ok")
    code, said = _cli(capsys, "search", "colour", "-L", str(lib), "-f", "json", "-n", "10")
    assert code == 0 and len({m["path"] for m in json.loads(said)["moments"]}) == 4


def test_a_broken_full_text_index_is_reported_and_rebuilt_without_loss(healthy: tuple[Path, Path], tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import shutil
    import sqlite3

    _, source = healthy
    lib = tmp_path / "lib"
    shutil.copytree(source, lib)
    with sqlite3.connect(lib / "catalog.sqlite") as db:  # the FTS index's own blobs, not its content
        db.execute("UPDATE facts_fts_data SET block = zeroblob(length(block)) WHERE id > 10")
    code, said = _cli(capsys, "library", "check", "-L", str(lib))
    assert code == 3 and "full-text index" in said, said
    code, said = _cli(capsys, "library", "check", "--repair", "-L", str(lib), "--json")
    result = json.loads(said[said.index("{"):])
    assert code == 0 and result["ok"] and result["recovered"]["videos"] == 4 and not result["recovered"]["removed"]
    assert _cli(capsys, "library", "check", "-L", str(lib)) == (0, "ok")
