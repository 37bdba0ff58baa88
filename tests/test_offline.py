"""Local-first: ``vidlens analyze`` and ``vidlens index`` (real processes; index with two spawned workers) started
with an empty ``HOME`` and no ``XDG_*`` variables write only into the folders the docs list, create
nothing under ``~/.cache/Microsoft`` (ONNX Runtime's telemetry store) and, where strace is installed, open no
internet socket and look up no host name."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import encode_frames, gradient_frames
from vidlens.offline import CACHE_ENV, OFFLINE_ENV

#: Folders under HOME that vidlens documents (docs/guide.md "What vidlens writes and where").
DOCUMENTED_IN_HOME = (Path(".local/share/vidlens"), Path(".cache/vidlens"))
#: strace lines that mean the network was used: a socket connected to (or a datagram sent to) an internet
#: address, or a host-name lookup (glibc asks nscd first, then the DNS server on port 53).
NETWORK_USE = re.compile(r"(connect|sendto|sendmsg|sendmmsg)\(.*(AF_INET6?\b|nscd)")


def clean_env(home: Path) -> dict[str, str]:
    """The test process's environment without what would hide the bug: HOME is fresh, XDG_* and vidlens'
    own folder variables are unset, and so are the switches ``import vidlens`` set in this process."""
    drop = {"HOME", "VIDLENS_CACHE", "VIDLENS_LIBRARY", *OFFLINE_ENV, *CACHE_ENV}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("XDG_")}
    env["HOME"] = str(home)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [os.environ.get("PYTHONPATH")])])
    return env


def strace_prefix(log: Path) -> list[str]:
    """``strace -f`` on network system calls, or nothing where strace is missing or may not trace."""
    strace = shutil.which("strace")
    if strace is None or subprocess.run([strace, "-qq", "-e", "trace=none", "true"], capture_output=True).returncode:
        return []
    return [strace, "-f", "-qq", "-e", "trace=network", "-o", str(log)]


def run_vidlens(args: list[str], env: dict[str, str], log: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([*strace_prefix(log), sys.executable, "-m", "vidlens.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def written_outside_documented(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")
                  if not p.is_dir() and not any(p.relative_to(home).is_relative_to(d) for d in DOCUMENTED_IN_HOME))


def network_calls(logs: list[Path]) -> list[str]:
    return [line.strip() for log in logs if log.exists() for line in log.read_text().splitlines()
            if NETWORK_USE.search(line)]


def test_analyze_and_index_write_only_documented_folders_and_use_no_network(tmp_path):
    home, videos = tmp_path / "home", tmp_path / "videos"
    home.mkdir()
    videos.mkdir()
    encode_frames(videos / "a.mp4", gradient_frames(30))
    encode_frames(videos / "b.mp4", gradient_frames(40, seed=3))
    env = clean_env(home)
    logs = [tmp_path / "analyze.strace", tmp_path / "index.strace"]

    run_vidlens(["analyze", str(videos / "a.mp4"), "-q"], env, logs[0])  # labels: ONNX Runtime sessions
    run_vidlens(["index", str(videos), "-j", "2"], env, logs[1])  # default library, default analyzers (OCR too)

    assert (videos / "a.mp4.vidlens" / "timeline.json").is_file()
    assert (home / ".local/share/vidlens/library/catalog.sqlite").is_file()
    assert not (home / ".cache" / "Microsoft").exists()
    assert written_outside_documented(home) == []
    assert network_calls(logs) == []
    version = subprocess.run([sys.executable, "-m", "vidlens.cli", "version", "--all"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert "telemetry off (ORT_DISABLE_TELEMETRY=1)" in version.stdout, version.stdout


def test_onnxruntime_imported_before_vidlens_is_reported(tmp_path):
    """Too late for the variable: the session's API switch still runs, and vidlens says what to do."""
    (tmp_path / "home").mkdir()
    code = ("import onnxruntime, logging; logging.basicConfig(); from vidlens import offline; "
            "from vidlens.runtime import load_model; load_model('efficientnet_lite0'); "
            "print(offline.telemetry_status())")
    done = subprocess.run([sys.executable, "-c", code], env=clean_env(tmp_path / "home"), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "onnxruntime was imported before vidlens" in done.stdout
    assert "ORT_DISABLE_TELEMETRY=1" in done.stderr and "import vidlens first" in done.stderr


@pytest.mark.parametrize("preset", ["0", "1"])
def test_a_variable_you_set_is_left_alone(tmp_path, preset):
    env = clean_env(tmp_path) | {"ORT_DISABLE_TELEMETRY": preset, "HF_HOME": str(tmp_path / "hf")}
    code = "import os, vidlens.cli; vidlens.cli.redirect_caches(); print(os.environ['ORT_DISABLE_TELEMETRY'], " \
           "os.environ['HF_HOME'], os.environ['TORCH_HOME'])"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == [preset, str(tmp_path / "hf"), str(tmp_path / ".cache/vidlens/torch")], done.stderr
