"""The library under stress: killed parents, full disks, a damaged catalog and two writers at once."""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

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
    from vidlens import api
    from vidlens.errors import UsageError
    from vidlens.library.ingest import ingest
    from vidlens.library.library import Library

    videos = _videos(tmp_path / "videos", 1, frames=10)
    with Library(tmp_path / "lib") as holder, holder.writing():
        with Library(tmp_path / "lib") as other, pytest.raises(UsageError, match=r"another vidlens \(pid \d+\)"):
            ingest(other, [videos], analyzers=("shots",), wait=False)
        with pytest.raises(UsageError, match=r"another vidlens \(pid \d+\)"):
            api.index([videos], library=tmp_path / "lib", analyzers=["shots"], wait=False)
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


# -- a full disk -------------------------------------------------------------------------------------


class _FullFile:
    """A file opened for writing on a full disk: it exists (0 bytes) and every write fails with ENOSPC."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), getattr(self._handle, "name", None))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self._handle.close()


def _fill(monkeypatch: pytest.MonkeyPatch, disk: Path) -> None:
    """Make ``disk`` full for every file Python writes under it (``open``, ``Path.write_*``, ``os.fdopen``)."""
    real_open = io.open
    root = str(disk.resolve())

    def full_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(file, mode, *args, **kwargs)
        name = os.readlink(f"/proc/self/fd/{file}") if isinstance(file, int) else os.path.abspath(file)
        if any(m in mode for m in "wax+") and (name == root or name.startswith(root + os.sep)):
            return _FullFile(handle)
        return handle

    monkeypatch.setattr(io, "open", full_open)  # os.fdopen and Path.write_* call io.open
    monkeypatch.setattr(builtins, "open", full_open)


@pytest.mark.parametrize("existing", [False, True])
def test_analyze_on_a_full_disk_is_one_error_and_leaves_no_partial_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], existing: bool) -> None:
    video = encode_frames(tmp_path / "clip.mp4", gradient_frames(60))
    out = tmp_path / "disk" / "out"
    if existing:
        out.mkdir(parents=True)
        (out / "mine.txt").write_text("the user's\n")
    _fill(monkeypatch, tmp_path / "disk")
    code, said = _cli(capsys, "analyze", str(video), "-o", str(out), "--analyzers", "shots,keyframes", "-q")
    assert code == 4 and said.startswith("error: ") and "no space left on the disk" in said, said
    assert "Traceback" not in said and "internal error" not in said
    if existing:
        assert sorted(p.name for p in out.rglob("*")) == ["mine.txt"]
        assert (out / "mine.txt").read_text() == "the user's\n"
    else:
        assert not out.exists()


def test_index_on_a_full_disk_stops_and_keeps_what_was_committed(healthy: tuple[Path, Path], tmp_path: Path) -> None:
    import sqlite3

    from vidlens.errors import DiskFullError
    from vidlens.library.ingest import ingest
    from vidlens.library.library import Library

    _, source = healthy
    lib_dir = tmp_path / "lib"
    shutil.copytree(source, lib_dir)
    more = _videos(tmp_path / "more", 2, frames=40)
    for i, path in enumerate(sorted(more.iterdir())):
        path.rename(path.with_name(f"w{i}.mp4"))
    with Library(lib_dir) as lib:
        pages = lib.catalog.db.execute("PRAGMA page_count").fetchone()[0]
        lib.catalog.db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "database or disk is full"
        with pytest.raises(DiskFullError, match=r"no space left on the disk while adding .* to the library"):
            ingest(lib, [more], analyzers=FAST)
    with Library(lib_dir, create=False) as lib:
        assert lib.check()["ok"] and len(lib.catalog.videos()) == 4
        report = ingest(lib, [more], analyzers=FAST)
        assert len(report.added) == 2 and not report.failed and len(report.unchanged) == 0
    with sqlite3.connect(lib_dir / "catalog.sqlite") as db:
        assert db.execute("SELECT count(*) FROM videos").fetchone()[0] == 6


_FULL_DISK_SCRIPT = r"""
import json, os, shutil, sys
from pathlib import Path
from vidlens.cli import main

disk, videos, more, clip = map(Path, sys.argv[1:5])
codes = {"index": main(["index", str(videos), "-L", str(disk / "lib"), "--analyzers", "shots,labels,segments",
                        "-q"])}
for name in os.listdir(disk / "lib" / "vectors"):  # the indexes must be rebuilt from the catalog
    os.unlink(disk / "lib" / "vectors" / name)
with open(disk / "filler", "wb", buffering=0) as filler:  # fill the disk
    for size in (1 << 16, 4096, 512, 1):
        try:
            while True:
                filler.write(b"\0" * size)
        except OSError:
            pass
before = sorted(str(p.relative_to(disk)) for p in disk.rglob("*"))
codes["index_full"] = main(["index", str(more), "-L", str(disk / "lib"), "--analyzers", "shots,labels,segments",
                            "-q"])
for name, args in (("stats", ["library", "stats"]), ("search", ["search", "colour", "-f", "json"]),
                   ("check", ["library", "check"])):
    codes[name] = main([*args, "-L", str(disk / "lib")])
codes["analyze"] = main(["analyze", str(clip), "-o", str(disk / "out"), "--analyzers", "shots,keyframes", "-q"])
codes["export"] = main(["search", "colour", "-L", str(disk / "lib"), "--export-clips", str(disk / "clips")])
after = sorted(str(p.relative_to(disk)) for p in disk.rglob("*"))
print("RESULT" + json.dumps({"codes": codes, "before": before, "after": after}))
"""


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="cannot mount a small tmpfs (unshare -rm)")
def test_a_real_full_disk_index_analyze_and_the_read_only_commands(tmp_path: Path) -> None:
    """On a 4 MB tmpfs, filled: index and analyze exit 4 leaving nothing; stats, search and check answer
    (rebuilding the lost vector indexes in memory) and write nothing."""
    disk = tmp_path / "disk"
    disk.mkdir()
    videos = _videos(tmp_path / "videos", 2, frames=40)
    more = _videos(tmp_path / "more", 1, frames=40)
    clip = encode_frames(tmp_path / "clip.mp4", gradient_frames(200, seed=7))
    done = subprocess.run(["unshare", "-rm", "sh", "-c", 'mount -t tmpfs -o size=4m tmpfs "$0" && exec "$@"',
                           str(disk), sys.executable, "-c", _FULL_DISK_SCRIPT, str(disk), str(videos), str(more),
                           str(clip)], capture_output=True, text=True, env=ENV, timeout=300)
    assert "RESULT" in done.stdout, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT", 1)[1])
    assert result["codes"] == {"index": 0, "index_full": 4, "stats": 0, "search": 0, "check": 0, "analyze": 4,
                               "export": 4}, (
        result, done.stderr[-3000:])
    assert result["after"] == result["before"], ("a command wrote on the full disk", result)
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.stderr.count("no space left on the disk") == 3, done.stderr[-3000:]


_READ_ONLY_SCRIPT = r"""
import json, sys
from vidlens.cli import main

lib = sys.argv[1]
codes = {name: main([*args, "-L", lib]) for name, args in (
    ("stats", ["library", "stats"]), ("search", ["search", "colour", "-f", "json"]), ("check", ["library", "check"]))}
print("RESULT" + json.dumps(codes))
"""


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="cannot mount in a user namespace (unshare -rm)")
def test_the_read_only_commands_read_a_library_on_read_only_storage(healthy: tuple[Path, Path],
                                                                    tmp_path: Path) -> None:
    """A library on a read-only mount (a snapshot, a backup disk), its vector indexes lost: SQLite cannot make
    a WAL reader's shared files there, nor can the indexes be saved; stats, search and check still answer."""
    lib = tmp_path / "lib"
    shutil.copytree(healthy[1], lib)
    shutil.rmtree(lib / "vectors")
    before = sorted(p.name for p in lib.rglob("*"))
    mount = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" && exec "$@"'
    done = subprocess.run(["unshare", "-rm", "sh", "-c", mount, str(lib), sys.executable, "-c", _READ_ONLY_SCRIPT,
                           str(lib)], capture_output=True, text=True, env=ENV, timeout=300)
    assert "RESULT" in done.stdout, done.stderr[-3000:]
    assert json.loads(done.stdout.split("RESULT", 1)[1]) == {"stats": 0, "search": 0, "check": 0}, done.stderr
    assert "error" not in done.stderr, done.stderr[-3000:]
    assert sorted(p.name for p in lib.rglob("*")) == before


def test_repair_survives_damage_to_any_table(healthy: tuple[Path, Path], tmp_path: Path) -> None:
    """Random bytes over the cells of each page of the catalog in turn: the check says damaged or ok (or,
    when the file cannot even open, the one-line exit-3 error), and a repair always ends, leaving a healthy
    catalog of whole videos (a damaged page once sent the row-by-row recovery round in circles)."""
    import sqlite3

    import numpy as np

    from vidlens.library.library import Library, repair_library

    with sqlite3.connect(healthy[1] / "catalog.sqlite") as db:
        try:
            pages = db.execute("SELECT name, pageno FROM dbstat WHERE name != 'sqlite_schema'").fetchall()
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table")
        size = db.execute("PRAGMA page_size").fetchone()[0]
    rng = np.random.default_rng(1)
    for name, page in pages:
        for offset in (8,):  # past the first bytes of the page header: cell pointers and cells
            lib = tmp_path / f"{name}-{page}-{offset}"
            shutil.copytree(healthy[1], lib)
            with (lib / "catalog.sqlite").open("r+b") as handle:
                handle.seek((page - 1) * size + offset)
                handle.write(rng.integers(0, 256, 1000, dtype=np.uint8).tobytes())
            try:
                with Library(lib, create=False) as opened:
                    opened.check()
            except Exception as error:  # only the documented one-line error, when it cannot even open
                assert getattr(error, "exit_code", 1) == 3, (name, offset, error)
            result = repair_library(lib)
            assert result["ok"], (name, offset, result)
            with Library(lib, create=False) as opened:
                assert opened.check()["ok"], (name, offset)
                kept = {v.path for v in opened.catalog.videos()}
            recovered = result["recovered"]
            assert recovered is None or len(kept) == recovered["videos"], (name, offset, result)


@pytest.mark.parametrize("command", [["library", "prune"], ["library", "check", "--repair"]])
def test_the_other_writers_wait_for_the_lock_and_say_so(healthy: tuple[Path, Path], tmp_path: Path,
                                                        command: list[str]) -> None:
    from vidlens.library.library import lock_folder

    lib = tmp_path / "lib"
    shutil.copytree(healthy[1], lib)
    held = lock_folder(lib)
    assert held is not None
    proc = subprocess.Popen([sys.executable, "-m", "vidlens.cli", *command, "-L", str(lib)], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        import select

        assert proc.stderr is not None
        ready, _, _ = select.select([proc.stderr], [], [], 60)  # the waiting notice, or the end of the run
        line = proc.stderr.readline() if ready else ""
        assert f"another vidlens (pid {os.getpid()}) is writing to the library" in line, line
        time.sleep(0.3)
        assert proc.poll() is None, "it did not wait"
    finally:
        os.close(held)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err


def test_index_writes_nothing_to_the_temporary_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The analysis reaches the catalog in memory: a full temporary folder does not stop the ingest (it did
    while each video was analysed into a temporary output folder and read back)."""
    import tempfile

    from vidlens.library.ingest import ingest
    from vidlens.library.library import Library

    videos = _videos(tmp_path / "videos", 2, frames=40)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    _fill(monkeypatch, temp)
    with Library(tmp_path / "lib") as lib:
        report = ingest(lib, [videos], analyzers=FAST)
        assert len(report.added) == 2 and not report.failed and lib.check()["ok"]
        assert all(v.complete for v in lib.catalog.videos())
    assert not list(temp.iterdir())
