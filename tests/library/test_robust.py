"""The library under stress: killed parents, full disks, a damaged catalog and two writers at once."""

from __future__ import annotations

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
