"""Helpers shared by the benchmark scripts: where data lives, test files, machine facts, tables.

Not part of the ``vidlens`` package; the scripts import it as a sibling module (they are run as
``python bench/<script>.py``, which puts ``bench/`` on ``sys.path``). Importing it also puts the repository
root on ``sys.path``, so the test-data generators import as ``tests.support`` (they are not in the wheel):
scripts import ``_common`` before ``tests.support``, which is the order isort gives them.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(1, str(REPO_ROOT))
#: Generated inputs (ignored by git through the repository's ``/bench/_data/`` rule).
DATA_DIR = BENCH_DIR / "_data"


def ffmpeg_cli_version() -> str:
    """First line of ``ffmpeg -version`` (the CLI, which is not the FFmpeg that PyAV bundles)."""
    exe = shutil.which("ffmpeg")
    if exe is None:
        return "ffmpeg CLI not found"
    out = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True, check=False).stdout
    return out.splitlines()[0] if out else "unknown"


def cpu_model() -> str:
    """The ``model name`` line of /proc/cpuinfo, or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def source_state() -> str:
    """The commit the benchmarked code comes from, and any uncommitted changes under ``src/``.

    Others may edit the work tree while a benchmark runs; this records what was measured.
    """
    root = BENCH_DIR.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    head = git("log", "-1", "--format=%h %s")
    if not head:
        return "not a git checkout"
    dirty = git("diff", "--name-only", "HEAD", "--", "src").split()
    dirty += git("ls-files", "--others", "--exclude-standard", "--", "src").split()
    return head + (f" + uncommitted changes in {', '.join(dirty)}" if dirty else " (src clean)")


def machine_info() -> dict[str, str]:
    """Facts that decide how comparable two benchmark runs are."""
    import av

    import vidlens

    libs = ", ".join(f"{name} {'.'.join(map(str, v))}" for name, v in av.library_versions.items())
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu_model(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "pyav": f"{av.__version__} ({libs})",
        "ffmpeg_cli": ffmpeg_cli_version(),
        "vidlens": f"{vidlens.__version__}, git {source_state()}",
    }


def print_machine_info() -> None:
    """Print :func:`machine_info` as ``key: value`` lines."""
    for key, value in machine_info().items():
        print(f"{key}: {value}")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured markdown table; numbers are right-aligned."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    numeric = [all(_is_number(r[i]) for r in cells[1:]) and len(cells) > 1 for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(row, widths, numeric)) + " |"

    rule = "| " + " | ".join(("-" * (w - 1) + ":") if n else "-" * w for w, n in zip(widths, numeric)) + " |"
    return "\n".join([fmt(cells[0]), rule, *(fmt(r) for r in cells[1:])])


def _is_number(text: str) -> bool:
    return bool(re.fullmatch(r"[-+]?\d+(\.\d+)?[x%]?|—|-|n/a", text))


def run_ffmpeg(args: Sequence[str]) -> None:
    """Run the ffmpeg CLI quietly; raise with its stderr when it fails."""
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr}")


def looped_copy(source: Path, target: Path, loops: int, audio: bool = False) -> Path:
    """``source`` played ``loops`` + 1 times in a row, stream-copied (no re-encode), video only
    unless ``audio`` (then its first audio stream too).

    Made once: an existing ``target`` is reused. Written to a temporary name first so an
    interrupted run never leaves a half file behind.
    """
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.partial{target.suffix}")
    streams = ["-map", "0:v:0"] + (["-map", "0:a:0"] if audio else [])
    run_ffmpeg(["-stream_loop", str(loops), "-i", str(source), *streams, "-c", "copy", str(tmp)])
    tmp.replace(target)
    return target


def hello_720p_long(audio: bool = False) -> Path:
    """The 720p H.264 benchmark file: forensics-samples ``movie-hello.mp4`` looped 8 times (~2000 frames),
    with its AAC stereo track when ``audio``."""
    from tests.support import samples

    source = samples.movie_hello("mp4")
    if source is None:
        raise SystemExit("movie-hello.mp4 (forensics-samples) is not installed; cannot build the 720p file")
    name = "hello720p_x8_audio.mp4" if audio else "hello720p_x8.mp4"
    return looped_copy(source, DATA_DIR / name, loops=7, audio=audio)


def finish_run(json_path: Path | None, numbers: object) -> None:
    """Write the numbers as JSON when asked, and say which vidlens source was measured."""
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(numbers, indent=1) + "\n")
    print(f"\nvidlens source at the end: {source_state()}")
