"""Decode throughput of vidlens against the FFmpeg CLI and raw PyAV, measured in the same run.

Every method decodes the whole video stream of the same file with the same decoder thread count
(``--threads``, default: the number of CPUs) and is timed ``--repeat`` times in interleaved rounds;
the best (shortest) wall time counts. Printed: decoded frames per second and the ratio of each
method to raw PyAV decoding to RGB (b) and to ``ffmpeg -f null`` (a).

Methods:
  (a) ``ffmpeg -threads N -i FILE -an -f null -`` in a subprocess (wall time, includes process start)
  (b) raw PyAV ``container.decode(video=0)`` + ``frame.to_ndarray(format="rgb24")`` at full size
  (c) raw PyAV decode only
  (d) ``VideoReader`` decode only
  (e) ``VideoReader`` with ``prepare`` converting to rgb24 at full size (``frame.to_ndarray(spec)``),
      ``prefetch=32``; (e2) the same through one ``FrameConverter`` (a reused swscale context)
  (f) ``VideoReader`` making the shot detector's frames (``FrameSpec(max_side=128)``), ``prefetch=32``;
      (f2) the same through one ``FrameConverter``
  (g) ``pipeline.run(path, hash_file=False).timeline``: the default analyzers (shots + keyframes)
  (h) ``pipeline.run(path, ["shots"], hash_file=False).timeline``

Note: the ffmpeg CLI on the machine need not be the FFmpeg that PyAV bundles; both versions are
printed. Run from the repository root: ``python bench/decode_speed.py``.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import av

from _common import DATA_DIR, finish_run, hello_720p_long, looped_copy, markdown_table, print_machine_info
from tests.support import samples
from vidlens import pipeline
from vidlens.media import FrameSpec, VideoReader
from vidlens.media.reader import FrameConverter

#: Target of the issue: VideoReader delivering full-size RGB at >= 0.9x raw PyAV decode-to-RGB.
READER_GOAL = 0.9

Measure = Callable[[Path, int], int]  # (file, threads) -> frames decoded


@dataclass
class Method:
    """One way of decoding a file; ``run`` returns the number of frames it produced."""

    key: str
    label: str
    run: Measure
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user + system seconds, threads and children included
    frames: int = 0

    @property
    def best(self) -> float:
        return min(self.times)

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def best_cpu(self) -> float:
        return min(self.cpu)

    @property
    def fps(self) -> float:
        return self.frames / self.best


def ffmpeg_null(path: Path, threads: int) -> int:
    """(a) The FFmpeg CLI decoding to the null muxer; frames parsed from its final ``frame=`` stat."""
    cmd = ["ffmpeg", "-hide_banner", "-nostdin", "-threads", str(threads), "-i", str(path),
           "-map", "0:v:0", "-an", "-fps_mode", "passthrough", "-f", "null", "-"]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg failed: {done.stderr[-2000:]}")
    counts = re.findall(r"frame=\s*(\d+)", done.stderr)
    if not counts:
        raise RuntimeError("could not read the frame count from ffmpeg's output")
    return int(counts[-1])


def _open_pyav(path: Path, threads: int) -> tuple[av.container.InputContainer, av.VideoStream]:
    container = av.open(str(path))
    stream = container.streams.video[0]
    stream.codec_context.thread_type = "AUTO"
    stream.codec_context.thread_count = threads
    return container, stream


def pyav_rgb(path: Path, threads: int) -> int:
    """(b) Raw PyAV decode + full-size rgb24 ndarray for every frame."""
    container, _ = _open_pyav(path, threads)
    n = 0
    with container:
        for frame in container.decode(video=0):
            frame.to_ndarray(format="rgb24")
            n += 1
    return n


def pyav_decode(path: Path, threads: int) -> int:
    """(c) Raw PyAV decode, no pixel conversion."""
    container, _ = _open_pyav(path, threads)
    n = 0
    with container:
        for _frame in container.decode(video=0):
            n += 1
    return n


def reader_decode(path: Path, threads: int) -> int:
    """(d) ``VideoReader`` iterated in the caller's thread, no conversion."""
    n = 0
    with VideoReader(path, audio=False, threads=threads) as reader:
        for _frame in reader:
            n += 1
    return n


def _count_prepared(path: Path, threads: int, prepare) -> int:
    """Frames decoded by ``VideoReader`` with ``prepare`` run in its decode thread."""
    n = 0
    with VideoReader(path, audio=False, threads=threads) as reader:
        for frame in reader.frames(prepare=prepare, prefetch=32):
            assert frame.payload is not None
            n += 1
    return n


def _reader_prepared(spec: FrameSpec) -> Measure:
    def run(path: Path, threads: int) -> int:
        return _count_prepared(path, threads, lambda frame: frame.to_ndarray(spec))

    return run


def _reader_converter(spec: FrameSpec) -> Measure:
    """Like :func:`_reader_prepared` but through one ``FrameConverter`` (one reused swscale context)."""

    def run(path: Path, threads: int) -> int:
        convert = FrameConverter(spec)
        return _count_prepared(path, threads, lambda frame: convert(frame.av_frame, frame.rotation))

    return run


def _pipeline(analyzers: list[str] | None) -> Measure:
    def run(path: Path, threads: int) -> int:
        timeline = pipeline.run(path, analyzers, threads=threads, hash_file=False).timeline
        if not timeline.analysis["complete"]:
            raise RuntimeError(f"pipeline incomplete on {path}: {timeline.analysis['warnings']}")
        return int(timeline.video["frame_count"])

    return run


def methods() -> list[Method]:
    """The methods in table order; (b) and (a) are the reference rows."""
    return [
        Method("a", "ffmpeg -f null (CLI subprocess)", ffmpeg_null),
        Method("b", "PyAV decode + to_ndarray rgb24", pyav_rgb),
        Method("c", "PyAV decode only", pyav_decode),
        Method("d", "VideoReader decode only", reader_decode),
        Method("e", "VideoReader prepare=rgb24 full, prefetch=32", _reader_prepared(FrameSpec(pixel_format="rgb24"))),
        Method("e2", "same as (e) via FrameConverter", _reader_converter(FrameSpec(pixel_format="rgb24"))),
        Method("f", "VideoReader prepare=max_side 128, prefetch=32",
               _reader_prepared(FrameSpec(max_side=128, pixel_format="rgb24"))),
        Method("f2", "same as (f) via FrameConverter",
               _reader_converter(FrameSpec(max_side=128, pixel_format="rgb24"))),
        Method("g", "pipeline.run default (shots+keyframes)", _pipeline(None)),
        Method("h", "pipeline.run ['shots']", _pipeline(["shots"])),
    ]


def bench_file(path: Path, threads: int, repeat: int) -> list[Method]:
    """Time every method ``repeat`` times in interleaved rounds; print progress to stdout."""
    rows = methods()
    for round_ in range(repeat):
        for m in rows:
            c0, t0 = _cpu_seconds(), time.perf_counter()
            frames = m.run(path, threads)
            m.times.append(time.perf_counter() - t0)
            m.cpu.append(_cpu_seconds() - c0)
            if m.frames and frames != m.frames:
                raise RuntimeError(f"({m.key}) decoded {frames} frames, earlier {m.frames}")
            m.frames = frames
            print(f"  round {round_ + 1} ({m.key}) {frames} frames {m.times[-1]:.3f}s wall {m.cpu[-1]:.3f}s cpu",
                  flush=True)
    return rows


def _cpu_seconds() -> float:
    """CPU time of this process (all threads) and its finished children (the ffmpeg CLI)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def report(name: str, path: Path, rows: list[Method], threads: int) -> dict[str, object]:
    """Print the markdown table of one file and return its numbers as a dict."""
    by_key = {m.key: m for m in rows}
    ref_b, ref_a = by_key["b"].fps, by_key["a"].fps
    cpu_b = by_key["b"].best_cpu
    table = [
        (f"({m.key}) {m.label}", m.frames, f"{m.best:.3f}", f"{m.median:.3f}", f"{m.fps:.1f}", f"{m.fps / ref_b:.2f}x",
         f"{m.fps / ref_a:.2f}x", f"{m.best_cpu:.2f}", f"{cpu_b / m.best_cpu:.2f}x")
        for m in rows
    ]
    print(f"\n### {name}: `{path.name}`, threads={threads}, {len(rows[0].times)} runs each\n")
    print(markdown_table(["method", "frames", "best s", "median s", "fps (best)", "vs (b) PyAV rgb", "vs (a) ffmpeg",
                          "CPU s", "CPU vs (b)"], table))
    print("\nfps and the two ratios after it come from the best wall time; 'CPU vs (b)' is (b)'s CPU time / the "
          "method's (higher = less work), which other load on the machine disturbs less.\n")
    goal = by_key["e"].fps / ref_b
    for key in ("e", "e2"):
        ratio = by_key[key].fps / ref_b
        verdict = "met" if ratio >= READER_GOAL else "NOT met"
        print(f"reader full-size RGB ({key}) / raw PyAV RGB (b) = {ratio:.2f} (goal >= {READER_GOAL}: {verdict})")
    frame_counts = {m.key: m.frames for m in rows}
    if len(set(frame_counts.values())) > 1:
        print(f"note: frame counts differ between methods: {frame_counts}")
    return {
        "file": str(path),
        "threads": threads,
        "methods": {m.key: {"label": m.label, "frames": m.frames, "times_s": m.times, "cpu_s": m.cpu, "fps": m.fps,
                            "vs_pyav_rgb": m.fps / ref_b, "vs_ffmpeg": m.fps / ref_a} for m in rows},
        "reader_vs_pyav_rgb": goal,
        "reader_converter_vs_pyav_rgb": by_key["e2"].fps / ref_b,
    }


def test_files(which: list[str]) -> list[tuple[str, Path]]:
    """The named benchmark inputs, made on first use under ``bench/_data/``."""
    out: list[tuple[str, Path]] = []
    phone = samples.phone_clip()
    for name in which:
        if name == "720p":
            out.append(("720p H.264, movie-hello x8", hello_720p_long()))
        elif name == "1080p" and phone is not None:
            out.append(("1080p H.264 phone clip", phone))
        elif name == "1080p-x10" and phone is not None:
            out.append(("1080p H.264 phone clip x10", looped_copy(phone, DATA_DIR / "phone1080p_x10.mp4", loops=9)))
        else:
            print(f"skipping {name}: input not available")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="decoder threads for every method (default: number of CPUs)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per method; the best counts (default 5)")
    parser.add_argument("--files", nargs="+", default=["720p", "1080p", "1080p-x10"],
                        choices=["720p", "1080p", "1080p-x10"], help="which inputs to benchmark")
    parser.add_argument("--json", type=Path, help="also write the numbers to this JSON file")
    args = parser.parse_args()

    print_machine_info()
    results = []
    for name, path in test_files(args.files):
        print(f"\n== {name}: {path} (load average before: {_loadavg()})", flush=True)
        rows = bench_file(path, args.threads, args.repeat)
        print(f"load average after: {_loadavg()}")
        results.append(report(name, path, rows, args.threads))
    finish_run(args.json, results)


if __name__ == "__main__":
    main()
