"""Decode once, fan frames out to analyzers in batches, and assemble the analysis in memory.

:func:`run` is the engine: the decode thread decodes every frame, runs each analyzer's sampler, and
converts the frame once per distinct look (size + pixel format) that some analyzer wants, while the
main thread feeds batches to the analyzers (decoding runs ahead of analysis through a bounded
queue). At the end each analyzer's part is joined into one :class:`~vidlens.analysis.Analysis`: its
sections (a name written twice is a bug, refused), its fields per shot (joined into the shots
section) and its artifacts. Nothing is written to disk here; ``vidlens.outputs.write`` does that.
A failing analyzer is reported in ``analysis.warnings`` and the others go on. Ctrl-C stops decoding,
finishes the analyzers on what they saw, and returns an analysis marked incomplete.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .analysis import Analysis, Artifact
from .analyzers import Analyzer, AnalyzerContext, FrameBatch, TimelinePart, create_analyzers
from .errors import DiskFullError, UsageError, disk_full, is_disk_full
from .media import AudioChunk, AudioTap, DecodedFrame, Sampler, VideoInfo, VideoReader, probe
from .media.reader import FrameConverter
from .timebase import TIME_TOLERANCE_S, TimeSpec
from .timeline import FrameClock, Timeline

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
    pts: list[int] = field(default_factory=list)
    time_base: Fraction | None = None
    seconds: float = 0.0
    sampled: int = 0
    failed: str | None = None


@dataclass
class _Span:
    """The analysed range. A bound given in frames (``300f``) is a frame index, exact on variable frame rate;
    its time is known once that frame is decoded (until then audio before a frame-given start is dropped)."""

    begin_s: float = 0.0
    end_s: float = float("inf")
    begin_frame: int | None = None
    end_frame: int | None = None

    def starts_at(self, frame: DecodedFrame) -> bool:
        """True when ``frame`` is at or after the range's start."""
        if self.begin_frame is not None:
            return frame.index >= self.begin_frame
        return frame.time >= self.begin_s - TIME_TOLERANCE_S

    def ended_by(self, frame: DecodedFrame) -> bool:
        """True when ``frame`` is at or after the range's end (it is not analysed)."""
        if self.end_frame is not None:
            return frame.index >= self.end_frame
        return frame.time >= self.end_s

    def contains(self, frame: DecodedFrame) -> bool:
        return self.starts_at(frame) and not self.ended_by(frame)


@dataclass
class _Decoded:
    """What the decode loop saw: every frame's pts and time, where the range began, and how it stopped."""

    times: list[float] = field(default_factory=list)
    pts: list[int] = field(default_factory=list)
    first_frame: int | None = None
    interrupted: bool = False
    reached_end: bool = False  # stopped at --end: what lies after it was not read, so it cannot count as missing
    convert_seconds: float = 0.0


def run(
    path: str | Path,
    analyzers: Sequence[str] | Sequence[Analyzer] | None = None,
    *,
    batch_size: int = 16,
    threads: int = 0,
    progress: ProgressCallback | None = None,
    hash_file: bool = True,
    start: TimeSpec | None = None,
    end: TimeSpec | None = None,
) -> Analysis:
    """Analyze one video in memory; ``analysis.complete`` is False if it was cut short.

    ``start``/``end`` limit the analysis to a time range. Frames before it are still decoded (not
    converted), so frame indices stay exact; decoding stops at ``end``.
    Raises ``InvalidMediaError`` / ``MediaNotFoundError`` for inputs that are not decodable videos.
    """
    started = time.perf_counter()
    info = probe(path)
    warnings: list[str] = []
    failed: list[str] = []  # analyzers whose results are missing or cut short: the analysis is then incomplete
    span = _span(start, end)
    # from here on the first Ctrl-C is a request, not an exception: raised inside a model's loader (the OCR
    # engine's config library turns it into an error of its own), it would pass for a broken analyzer
    cancel = _CtrlC()
    try:
        lanes = _start_lanes(_build(analyzers), info, warnings, failed)
        audio_lanes = [lane for lane in lanes if getattr(lane.analyzer, "audio", ())]
        tap = AudioTap(s for lane in audio_lanes for s in lane.analyzer.audio) if audio_lanes and info.has_audio \
            else None
        skim = bool(lanes) and all(lane.sampler is not None and lane.sampler.spec.keyframes_only for lane in lanes)
        reader = VideoReader(path, info=info, threads=threads, keyframes_only=skim, audio_sink=tap)
        decoded = _decode(reader, lanes, span, batch_size, progress, started, warnings, (tap, audio_lanes), cancel)
    finally:
        cancel.restore()
    if cancel.requested and not decoded.interrupted:  # pressed while the last batches were analysed
        decoded.interrupted = True
        warnings.append(f"interrupted by the user after {len(decoded.times)} frames; results are partial")
    if decoded.first_frame is None and decoded.times and start is not None and not decoded.interrupted:
        where = f"frame {span.begin_frame}" if span.begin_frame is not None else f"{span.begin_s:.3f}s"
        raise UsageError(f"the range is outside the video: {{start}} {start} is at {where}, and the last "
                         f"frame is frame {len(decoded.times) - 1} at {decoded.times[-1]:.3f}s", params=("start",))
    stats = reader.stats
    stats.cancelled = decoded.interrupted or decoded.reached_end  # a file ending before --end is still judged
    warnings[:0] = info.notes + stats.warnings()
    clock = FrameClock.from_pts(decoded.pts, info.time_base, info.fps)
    context = AnalyzerContext(info=info, clock=clock, parts={}, complete=stats.complete and not decoded.interrupted,
                              first_frame=decoded.first_frame if decoded.first_frame is not None
                              else len(decoded.times))
    stage_seconds = _finish_lanes(lanes, context, warnings, failed)
    if not decoded.times:
        warnings.append("no frame could be decoded")
    sections, artifacts = _join(context.parts)
    facts = _analysis_facts(lanes, context, decoded, stats, failed, warnings, stage_seconds,
                            time.perf_counter() - started, ranged=start is not None or end is not None)
    timeline = Timeline(video=_video_facts(info, clock, hash_file), analysis=facts, sections=sections)
    return Analysis(timeline=timeline, clock=clock, artifacts=artifacts)


def _analysis_facts(lanes: list[_Lane], context: AnalyzerContext, decoded: _Decoded, stats: Any, failed: list[str],
                    warnings: list[str], stage_seconds: dict[str, float], elapsed: float,
                    ranged: bool) -> dict[str, Any]:
    """The timeline's ``analysis`` object: what ran, how it went, how long it took."""
    clock = context.clock
    return {
        "vidlens_version": __version__,
        "analyzers": {lane.analyzer.name: lane.analyzer.params() for lane in lanes},
        "elapsed_s": round(elapsed, 3),
        "complete": context.complete and bool(decoded.times) and not failed,
        "interrupted": decoded.interrupted,
        "failed_analyzers": failed,
        "warnings": warnings,
        "stages_s": {"decode_and_convert": round(decoded.convert_seconds, 4), **stage_seconds},
        "frames_sampled": {lane.analyzer.name: lane.sampled for lane in lanes},
        "decode": stats.to_dict(),
        "speed_fps": round(len(decoded.times) / elapsed, 2) if elapsed > 0 else None,
        "range": {"start": clock.moment(context.first_frame), "end": clock.moment(len(decoded.times))}
        if ranged else None,
    }


def _span(start: TimeSpec | None, end: TimeSpec | None) -> _Span:
    """The range to analyse: seconds stay seconds, frames stay frame indices (no nominal rate in between)."""
    span = _Span()
    if start is not None:
        if start.in_frames:
            span.begin_frame = start.frames
        else:
            span.begin_s = float(start.seconds or 0)
    if end is not None:
        if end.in_frames:
            span.end_frame = end.frames
        else:
            span.end_s = float(end.seconds or 0)
    if span.end_frame is not None:  # a mixed range (seconds to frames) can only be judged while decoding
        empty = span.begin_s == 0 and span.end_frame <= (span.begin_frame or 0)
    else:
        empty = span.begin_frame is None and span.end_s <= span.begin_s
    if empty:
        raise UsageError(f"the time range is empty: {{end}} {end} is not after {{start}} {start or '0s'}",
                         params=("start", "end"))
    return span


def _build(analyzers: Sequence[str] | Sequence[Analyzer] | None) -> list[Analyzer]:
    if analyzers and not isinstance(analyzers[0], str):
        return list(analyzers)  # type: ignore[arg-type]
    return create_analyzers(analyzers)  # type: ignore[arg-type]


def _start_lanes(built: list[Analyzer], info: VideoInfo, warnings: list[str], failed: list[str]) -> list[_Lane]:
    lanes = []
    for analyzer in built:
        try:
            analyzer.start(info)
            lanes.append(_Lane(analyzer, Sampler(analyzer.needs) if analyzer.needs is not None else None,
                               time_base=info.time_base))
        except UsageError:  # a bad option (unknown class, detector, model folder) is the caller's to fix
            raise
        except Exception as error:  # an analyzer that cannot start must not sink the others
            log.debug("analyzer %s could not start", analyzer.name, exc_info=True)
            warnings.append(f"analyzer {analyzer.name} could not start: {error}")
            failed.append(analyzer.name)
    return lanes


def _decode(reader: VideoReader, lanes: list[_Lane], span: _Span, batch_size: int,
            progress: ProgressCallback | None, started: float, warnings: list[str],
            audio: tuple[AudioTap | None, list[_Lane]], cancel: _CtrlC) -> _Decoded:
    """The decode loop: frames (converted in the decode thread) go to their lanes in batches; Ctrl-C
    (``cancel``) or ``span``'s end stops it. Every lane is fed its last, short batch before this returns."""
    tap, audio_lanes = audio
    seen = _Decoded()
    expected = reader.info.frame_count
    try:
        if cancel.requested:  # pressed while the analyzers were starting
            raise KeyboardInterrupt
        for frame in reader.frames(prepare=_Converter(lanes, span, seen), prefetch=max(8, 2 * batch_size)):
            if cancel.requested:
                raise KeyboardInterrupt
            if span.ended_by(frame):
                seen.reached_end = True
                if span.end_frame is not None:
                    span.end_s = float(frame.time)  # the audio ends with the video
                reader.stop()
                break
            seen.times.append(float(frame.time))
            seen.pts.append(frame.pts)
            if seen.first_frame is None and span.starts_at(frame):
                seen.first_frame = frame.index
                span.begin_s = float(frame.time) if span.begin_frame is not None else span.begin_s
            _deal(frame, lanes, batch_size, warnings)
            if tap is not None:
                _feed_audio(tap.drain(), audio_lanes, float(reader.origin), span, seen.first_frame is not None,
                            warnings)
            if progress is not None and frame.index % 10 == 0:
                progress(len(seen.times), expected, time.perf_counter() - started)
        if cancel.requested:  # pressed while the last frames were being analysed: still a request to stop
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        seen.interrupted = True
    except DiskFullError:
        reader.stop()
        raise
    if seen.interrupted:
        reader.stop()
        warnings.append(f"interrupted by the user after {len(seen.times)} frames; results are partial")
    for lane in lanes:
        _feed(lane, warnings)
    if tap is not None and reader.origin is not None:
        tap.flush()
        _feed_audio(tap.drain(), audio_lanes, float(reader.origin), span, seen.first_frame is not None, warnings)
    if progress is not None:
        progress(len(seen.times), len(seen.times), time.perf_counter() - started)
    return seen


class _Converter:
    """Runs in the decode thread for each frame: ask each lane's sampler, and convert the frame once per
    distinct look (size + pixel format) the lanes that want it need. Frames outside the range are skipped."""

    def __init__(self, lanes: list[_Lane], span: _Span, seen: _Decoded) -> None:
        self.lanes, self.span, self.seen = lanes, span, seen
        self.converters: dict[tuple, FrameConverter] = {}

    def __call__(self, frame: DecodedFrame) -> dict[int, np.ndarray]:
        t0 = time.perf_counter()
        looks: dict[tuple, np.ndarray] = {}
        out: dict[int, np.ndarray] = {}
        if not self.span.contains(frame):
            return out
        for i, lane in enumerate(self.lanes):
            if lane.failed or lane.sampler is None or not lane.sampler.wants(frame.index, frame.time, frame.key_frame):
                continue
            spec = lane.analyzer.needs
            if spec.look not in looks:
                convert = self.converters.setdefault(spec.look, FrameConverter(spec))
                looks[spec.look] = convert(frame.av_frame, frame.rotation)
            out[i] = looks[spec.look]
        self.seen.convert_seconds += time.perf_counter() - t0
        return out


def _deal(frame: DecodedFrame, lanes: list[_Lane], batch_size: int, warnings: list[str]) -> None:
    """Put the frame's converted pixels into the lanes that sampled it; a full batch goes to its analyzer."""
    for i, array in frame.payload.items():
        lane = lanes[i]
        lane.frames.append(array)
        lane.indices.append(frame.index)
        lane.times.append(float(frame.time))
        lane.pts.append(frame.pts)
        if len(lane.frames) >= batch_size:
            _feed(lane, warnings)


def _finish_lanes(lanes: list[_Lane], context: AnalyzerContext, warnings: list[str],
                  failed: list[str]) -> dict[str, float]:
    """Each analyzer's ``finish``, in order; a part's shot fields are joined into the shots section at once,
    so a later analyzer reads them as if the shots analyzer had written them. Returns seconds per stage."""
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
        _join_shot_fields(name, part, context.parts.get("shots"))
        context.parts[name] = part
        warnings.extend(f"{name}: {w}" for w in part.warnings)
        stage_seconds[name] = round(lane.seconds + time.perf_counter() - t0, 4)
    return stage_seconds


def _join_shot_fields(name: str, part: TimelinePart, shots_part: TimelinePart | None) -> None:
    """Add an analyzer's per-shot fields to the shots it names (the shots section stays the shots analyzer's:
    an analyzer may add fields to a shot, not replace the ones the shots analyzer wrote)."""
    if shots_part is None or not part.shot_fields:
        return
    by_index = {shot["index"]: shot for shot in shots_part.sections.get("shots", [])}
    owned = {"index", "start", "end", "duration"}
    for index, fields in part.shot_fields.items():
        shot = by_index.get(index)
        if shot is None:
            raise RuntimeError(f"analyzer {name} adds fields to shot {index}, which does not exist")
        clash = owned & fields.keys()
        if clash:
            raise RuntimeError(f"analyzer {name} may not change the shots' {sorted(clash)}")
        shot.update(fields)


def _join(parts: dict[str, TimelinePart]) -> tuple[dict[str, Any], dict[str, Artifact]]:
    """All parts' sections and artifacts; two analyzers writing the same section or file is a bug."""
    sections: dict[str, Any] = {}
    artifacts: dict[str, Artifact] = {}
    owner: dict[str, str] = {}
    for name, part in parts.items():
        for key, value in part.sections.items():
            if key in owner:
                raise RuntimeError(f"analyzers {owner[key]} and {name} both write the timeline section {key!r}")
            owner[key] = name
            sections[key] = value
        for file, artifact in part.artifacts.items():
            if file in artifacts:
                raise RuntimeError(f"two analyzers produce the output file {file!r} (the second is {name})")
            artifacts[file] = artifact
    return sections, artifacts


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
    batch = FrameBatch(lane.frames, np.asarray(lane.indices, dtype=np.int64), np.asarray(lane.times),
                       pts=np.asarray(lane.pts, dtype=np.int64), time_base=lane.time_base)
    lane.frames, lane.indices, lane.times, lane.pts = [], [], [], []
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


def _feed_audio(chunks: list[AudioChunk], lanes: list[_Lane], origin: float, span: _Span, started: bool,
                warnings: list[str]) -> None:
    """Hand audio chunks, moved onto the timeline's clock and cut to the analysed range, to the
    analyzers that asked for their spec. Before a frame-given start is reached (``started``) its time is
    not known yet, and the audio is dropped."""
    for chunk in chunks:
        chunk.start -= origin
        if not started and span.begin_frame is not None:
            continue
        clipped = chunk.clipped(span.begin_s, span.end_s)
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
        "fps": round(float(info.fps), 6) if info.fps else None,
        "fps_exact": str(info.fps) if info.fps else None,
        "nominal_fps": str(info.nominal_rate) if info.nominal_rate else None,
        "duration": round(clock.end_time, 6),
        "frame_count": clock.frame_count,
        "frame_count_source": "counted",
        "declared_frame_count": info.frame_count,
        "declared_frame_count_source": info.frame_count_source,
        "declared_duration": info.duration_s,
        "has_audio": info.has_audio,
        "audio_codec": info.audio_codec,
        "time_base": f"{clock.time_base.numerator}/{clock.time_base.denominator}" if clock.time_base else None,
        "start_pts": clock.start_pts,
    }


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
