"""Decode once, fan frames out to analyzers in batches, and assemble the timeline.

The decode thread decodes every frame, runs each analyzer's sampler, and converts the frame once
per distinct look (size + pixel format) that some analyzer wants; the main thread feeds batches
to the analyzers. A failing analyzer is reported in ``analysis.warnings`` and the others go on.
Ctrl-C stops decoding, finishes the analyzers on what they saw, and returns a timeline marked
incomplete.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .analyzers import Analyzer, AnalyzerContext, FrameBatch, create_analyzers
from .errors import DiskFullError, UsageError, disk_full, is_disk_full
from .media import AudioChunk, AudioTap, DecodedFrame, Sampler, VideoInfo, VideoReader, probe
from .media.reader import FrameConverter
from .timebase import TimeSpec
from .timeline import PRIVATE_DIR_MODE, FrameClock, Timeline

log = logging.getLogger(__name__)

#: Called with (frames decoded, expected total or None, seconds elapsed).
ProgressCallback = Callable[[int, int | None, float], None]


@dataclass
class _Lane:
    """One analyzer's view of the stream: its sampler, pending batch and timings."""

    analyzer: Analyzer
    sampler: Sampler | None  # None: the analyzer wants no frames (audio only)
    frames: list[np.ndarray] = field(default_factory=list)
    indices: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    seconds: float = 0.0
    sampled: int = 0
    failed: str | None = None


def run_pipeline(
    path: str | Path,
    analyzers: Sequence[str] | Sequence[Analyzer] | None = None,
    *,
    output_dir: Path | None = None,
    batch_size: int = 16,
    threads: int = 0,
    progress: ProgressCallback | None = None,
    hash_file: bool = True,
    start: TimeSpec | None = None,
    end: TimeSpec | None = None,
) -> Timeline:
    """Analyze one video; returns its timeline (``analysis.complete`` is False if it was cut short).

    ``start``/``end`` limit the analysis to a time range. Frames before it are still decoded (not
    converted), so frame indices stay exact; decoding stops at ``end``.
    Raises ``InvalidMediaError`` / ``MediaNotFoundError`` for inputs that are not decodable videos.
    """
    started = time.perf_counter()
    info = probe(path)
    if output_dir is not None:
        output_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)  # owner-only, like its files
    built = (
        list(analyzers) if analyzers and not isinstance(analyzers[0], str)  # type: ignore[index]
        else create_analyzers(analyzers)  # type: ignore[arg-type]
    )
    warnings: list[str] = []
    lanes: list[_Lane] = []
    failed: list[str] = []  # analyzers whose results are missing or cut short: the timeline is then incomplete
    for analyzer in built:
        try:
            analyzer.start(info)
            lanes.append(_Lane(analyzer, Sampler(analyzer.needs) if analyzer.needs is not None else None))
        except UsageError:  # a bad option (unknown class, detector, model folder) is the caller's to fix
            raise
        except Exception as error:  # an analyzer that cannot start must not sink the others
            log.debug("analyzer %s could not start", analyzer.name, exc_info=True)
            warnings.append(f"analyzer {analyzer.name} could not start: {error}")
            failed.append(analyzer.name)
    begin_s = float(start.to_seconds(info.fps)) if start is not None else 0.0
    end_s = float(end.to_seconds(info.fps)) if end is not None else float("inf")
    if end_s <= begin_s:
        raise UsageError(f"the time range is empty: --end {end} is not after --start {start or '0s'}")
    skim = bool(lanes) and all(lane.sampler is not None and lane.sampler.spec.keyframes_only for lane in lanes)
    audio_lanes = [lane for lane in lanes if getattr(lane.analyzer, "audio", ())]
    tap = AudioTap(s for lane in audio_lanes for s in lane.analyzer.audio) if audio_lanes and info.has_audio else None
    reader = VideoReader(path, info=info, threads=threads, keyframes_only=skim, audio_sink=tap)
    first_frame: int | None = None
    times: list[float] = []
    interrupted = False
    reached_end = False  # stopped at --end: what lies after it was not read, so it cannot count as missing
    decode_seconds = [0.0]

    converters: dict[tuple, FrameConverter] = {}

    def prepare(frame: DecodedFrame) -> dict[int, np.ndarray]:
        """Runs in the decode thread: sample and convert once per distinct look."""
        t0 = time.perf_counter()
        looks: dict[tuple, np.ndarray] = {}
        out: dict[int, np.ndarray] = {}
        if not begin_s - 1e-9 <= frame.time < end_s:
            return out
        for i, lane in enumerate(lanes):
            if lane.failed or lane.sampler is None or not lane.sampler.wants(frame.index, frame.time, frame.key_frame):
                continue
            spec = lane.analyzer.needs
            if spec.look not in looks:
                convert = converters.setdefault(spec.look, FrameConverter(spec))
                looks[spec.look] = convert(frame.av_frame, frame.rotation)
            out[i] = looks[spec.look]
        decode_seconds[0] += time.perf_counter() - t0
        return out

    cancel = _CtrlC()
    try:
        for frame in reader.frames(prepare=prepare, prefetch=max(8, 2 * batch_size)):
            if cancel.requested:
                raise KeyboardInterrupt
            if frame.time >= end_s:
                reached_end = True
                reader.stop()
                break
            times.append(float(frame.time))
            if first_frame is None and frame.time >= begin_s - 1e-9:
                first_frame = frame.index
            for i, array in frame.payload.items():
                lane = lanes[i]
                lane.frames.append(array)
                lane.indices.append(frame.index)
                lane.times.append(float(frame.time))
                if len(lane.frames) >= batch_size:
                    _feed(lane, warnings)
            if tap is not None:
                _feed_audio(tap.drain(), audio_lanes, float(reader.origin), begin_s, end_s, warnings)
            if progress is not None and frame.index % 10 == 0:
                progress(len(times), info.frame_count, time.perf_counter() - started)
        if cancel.requested:  # pressed while the last frames were being analysed: still a request to stop
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupted = True
        reader.stop()
        warnings.append(f"interrupted by the user after {len(times)} frames; results are partial")
    except DiskFullError:
        reader.stop()
        raise
    finally:
        cancel.restore()
    if cancel.requested and not interrupted:  # pressed after the last check, before the handler was removed
        interrupted = True
        reader.stop()
        warnings.append(f"interrupted by the user after {len(times)} frames; results are partial")
    for lane in lanes:
        _feed(lane, warnings)
    if tap is not None and reader.origin is not None:
        tap.flush()
        _feed_audio(tap.drain(), audio_lanes, float(reader.origin), begin_s, end_s, warnings)
    if progress is not None:
        progress(len(times), len(times), time.perf_counter() - started)

    if first_frame is None and times and begin_s > 0 and not interrupted:
        raise UsageError(f"the range is outside the video: --start {start} is at {begin_s:.3f}s, and the last "
                         f"frame is at {times[-1]:.3f}s")
    stats = reader.stats
    stats.cancelled = interrupted or reached_end  # a file that ends before --end is still judged for truncation
    warnings = info.notes + stats.warnings() + warnings
    clock = FrameClock(times, info.fps)
    complete = stats.complete and not interrupted
    context = AnalyzerContext(info=info, clock=clock, output_dir=output_dir, parts={}, complete=complete,
                              first_frame=first_frame if first_frame is not None else len(times))
    stage_seconds: dict[str, float] = {}
    for lane in lanes:
        name = lane.analyzer.name
        if lane.failed:
            failed.append(name)
            continue
        t0 = time.perf_counter()
        try:
            part = lane.analyzer.finish(context)
        except Exception as error:
            if is_disk_full(error):  # not the analyzer's fault, and every other writer would fail too
                raise disk_full(error, f"writing the {name} outputs") from error
            log.debug("analyzer %s failed to finish", name, exc_info=True)
            warnings.append(f"analyzer {name} failed: {type(error).__name__}: {error}")
            failed.append(name)
            continue
        context.parts[name] = part
        warnings.extend(f"{name}: {w}" for w in part.warnings)
        stage_seconds[name] = round(lane.seconds + time.perf_counter() - t0, 4)
    if not times:
        warnings.append("no frame could be decoded")
    complete = complete and bool(times) and not failed

    sections: dict[str, Any] = {}
    for part in context.parts.values():
        sections.update(part.sections)
    elapsed = time.perf_counter() - started
    analysis = {
        "vidlens_version": __version__,
        "analyzers": {lane.analyzer.name: lane.analyzer.params() for lane in lanes},
        "elapsed_s": round(elapsed, 3),
        "complete": complete,
        "interrupted": interrupted,
        "failed_analyzers": failed,
        "warnings": warnings,
        "stages_s": {"decode_and_convert": round(decode_seconds[0], 4), **stage_seconds},
        "frames_sampled": {lane.analyzer.name: lane.sampled for lane in lanes},
        "decode": stats.to_dict(),
        "speed_fps": round(len(times) / elapsed, 2) if elapsed > 0 else None,
        "range": None if start is None and end is None else {
            "start": clock.moment(context.first_frame), "end": clock.moment(len(times)),
        },
    }
    timeline = Timeline(video=_video_facts(info, clock, hash_file), analysis=analysis, sections=sections)
    return timeline


class _CtrlC:
    """Turns the first Ctrl-C into a polite request (finish what was seen, write it); a second
    Ctrl-C interrupts at once. Only the main thread can own signal handlers; elsewhere it is inert."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None
        # a process started with SIGINT ignored (a background job) was told not to be interrupted: keep it so
        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            self._previous = signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def _feed(lane: _Lane, warnings: list[str]) -> None:
    if not lane.frames or lane.failed:
        lane.frames.clear()
        return
    batch = FrameBatch(lane.frames, np.asarray(lane.indices, dtype=np.int64), np.asarray(lane.times))
    lane.frames, lane.indices, lane.times = [], [], []
    t0 = time.perf_counter()
    try:
        lane.analyzer.process(batch)
        lane.sampled += len(batch)
    except Exception as error:
        if is_disk_full(error):
            raise disk_full(error, f"writing the {lane.analyzer.name} outputs") from error
        log.debug("analyzer %s failed", lane.analyzer.name, exc_info=True)
        lane.failed = f"{type(error).__name__}: {error}"
        warnings.append(f"analyzer {lane.analyzer.name} failed at frame {int(batch.indices[0])}: {lane.failed}")
    lane.seconds += time.perf_counter() - t0


def _feed_audio(chunks: list[AudioChunk], lanes: list[_Lane], origin: float, begin_s: float, end_s: float,
                warnings: list[str]) -> None:
    """Hand audio chunks, moved onto the timeline's clock and cut to the analysed range, to the
    analyzers that asked for their spec."""
    for chunk in chunks:
        chunk.start -= origin
        clipped = chunk.clipped(begin_s, end_s)
        if clipped is None:
            continue
        for lane in lanes:
            if lane.failed or clipped.spec not in lane.analyzer.audio:
                continue
            t0 = time.perf_counter()
            try:
                lane.analyzer.process_audio(clipped)
            except Exception as error:
                log.debug("analyzer %s failed on audio", lane.analyzer.name, exc_info=True)
                lane.failed = f"{type(error).__name__}: {error}"
                warnings.append(f"analyzer {lane.analyzer.name} failed on audio at {clipped.start:.3f}s: {lane.failed}")
            lane.seconds += time.perf_counter() - t0


def _video_facts(info: VideoInfo, clock: FrameClock, hash_file: bool) -> dict[str, Any]:
    width, height = info.display_size
    return {
        "path": str(info.path),
        "sha256": file_sha256(info.path) if hash_file else None,
        "size_bytes": info.size_bytes,
        "container": info.container,
        "codec": info.codec,
        "width": width,
        "height": height,
        "rotation": info.rotation,
        "fps": round(float(info.fps), 6),
        "fps_exact": str(info.fps),
        "nominal_fps": str(info.nominal_rate) if info.nominal_rate else None,
        "duration": round(clock.end_time, 6),
        "frame_count": clock.frame_count,
        "frame_count_source": "counted",
        "declared_frame_count": info.frame_count,
        "declared_frame_count_source": info.frame_count_source,
        "declared_duration": info.duration_s,
        "has_audio": info.has_audio,
        "audio_codec": info.audio_codec,
    }


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
