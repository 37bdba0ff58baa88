"""Video summaries: pick the shots that best represent a video under a length budget, and cut them.

The method follows the SumMe/TVSum protocol: split the video into short candidate segments
(shots, long ones cut into pieces), give each an importance score, and choose segments by 0/1
knapsack under a budget of ``ratio`` x duration. Importance is unsupervised and cheap: every
segment gets a colour/layout/texture descriptor, and a facility-location objective (how much of
the video, weighted by time, a segment "looks like") rewards representative segments while its
diminishing returns penalise redundancy: the second copy of a look that recurs adds almost
nothing. A last pass refuses near-duplicate pairs outright.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from . import pipeline
from .analysis import Analysis, Artifact
from .analyzers import AnalyzerContext, FrameBatch, TimelinePart, create_analyzers
from .errors import InvalidMediaError, UsageError
from .media import DecodedFrame, FrameSpec, VideoInfo, VideoReader
from .media.writers import WriteResult, write_animated_preview, write_clip_segments
from .timeline import Timeline

#: Descriptors per second of video: enough to average out motion, cheap at 128 px.
DESCRIPTOR_FPS = 6.0
#: Candidates shorter than this are flashes or transition leftovers, not watchable clips.
MIN_SEGMENT_S = 0.4
#: Segment descriptors closer than this show the same thing; a summary keeps only one of them.
DUPLICATE_DISTANCE = 0.15
#: Knapsack resolution: one frame, or coarser so the table stays at most this many units wide.
KNAPSACK_UNITS = 20_000
PREVIEW_MAX_FRAMES = 60
PREVIEW_BURST = 12
PREVIEW_FPS = 8.0
PREVIEW_SIDE = 320
GRADUAL = ("dissolve", "fade")
#: The in-memory artifact :class:`SummaryFeatures` leaves in the analysis (never written by ``vidlens analyze``).
DESCRIPTORS_ARTIFACT = "summary_descriptors.npz"


@dataclass
class SummarySegment:
    """One chosen segment: half-open ``[start, end)`` as timeline moments, plus why it was chosen."""

    start: dict[str, Any]
    end: dict[str, Any]
    frames: int
    duration: float
    shot: int
    score: float  # per-frame importance in [0, 1]: quality x normalised coverage gain
    gain: float  # facility-location gain: share of the video it newly represents
    representativeness: float  # share of the video (time-weighted similarity) it resembles

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "frames": self.frames, "duration": round(self.duration, 6),
                "shot": self.shot, "score": round(self.score, 4), "gain": round(self.gain, 4),
                "representativeness": round(self.representativeness, 4)}


@dataclass
class SummaryResult:
    """The summary of one video: chosen segments in chronological order and the files written."""

    video: str
    ratio: float
    video_duration_s: float
    budget_s: float
    duration_s: float
    candidates: int
    segments: list[SummarySegment]
    output: WriteResult | None = None
    preview: Path | None = None
    timings_s: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"video": self.video, "ratio": self.ratio, "video_duration_s": round(self.video_duration_s, 6),
                "budget_s": round(self.budget_s, 6), "duration_s": round(self.duration_s, 6),
                "candidates": self.candidates, "segments": [s.to_dict() for s in self.segments],
                "output": None if self.output is None else self.output.to_dict(),
                "preview": None if self.preview is None else str(self.preview),
                "timings_s": self.timings_s, "warnings": list(self.warnings)}


def summarize(path: str | Path, *, ratio: float = 0.15, output: Path | None = None, preview: Path | None = None,
              timeline: Timeline | None = None, max_segment_s: float = 4.0) -> SummaryResult:
    """Summarise ``path`` into at most ``ratio`` of its duration; optionally write the MP4 and a GIF.

    Without ``timeline`` the shots are detected in the same decode that computes the segment
    descriptors; with one, its shots are reused and only the descriptors are computed (they need
    the pixels). A caller that runs its own pass adds :class:`SummaryFeatures` to it and calls
    :func:`summarize_analysis` instead: no second decode.
    """
    _check_options(path, ratio, output, preview, max_segment_s)
    t0 = time.perf_counter()
    analyzers = [SummaryFeatures()] if timeline is not None else [*create_analyzers(["shots", "keyframes"]),
                                                                  SummaryFeatures()]
    analysis = pipeline.run(Path(path), analyzers, hash_file=False)
    seconds = time.perf_counter() - t0
    return summarize_analysis(analysis, path, ratio=ratio, output=output, preview=preview, shots=timeline,
                              max_segment_s=max_segment_s, analysis_s=seconds)


def summarize_analysis(analysis: Analysis, path: str | Path, *, ratio: float = 0.15, output: Path | None = None,
                       preview: Path | None = None, shots: Timeline | None = None, max_segment_s: float = 4.0,
                       analysis_s: float = 0.0) -> SummaryResult:
    """The summary of an analysis that ran :class:`SummaryFeatures` (and the shot detector, unless
    ``shots`` gives a timeline whose shots to use); ``path`` is the analysed video, cut for the outputs.

    Times come from the analysis's clock (the frames' pts), so variable frame rate is exact."""
    _check_options(path, ratio, output, preview, max_segment_s)
    path = Path(path)
    t1 = time.perf_counter()
    timeline = shots if shots is not None else analysis.timeline
    clock = analysis.clock
    warnings = _clock_warnings(analysis, timeline, path)
    total_s = clock.end_time
    budget_s = ratio * total_s
    fps = float(clock.rate or DESCRIPTOR_FPS)  # the declared rate, else the frames' measured one
    spans = _candidates(timeline, clock.frame_count, fps, budget_s, max_segment_s, path)
    desc, quality = segment_descriptors(_descriptors(analysis, path), [(a, b) for a, b, _ in spans])
    durations = np.array([clock.time(b) - clock.time(a) for a, b, _ in spans])
    scores, gains, represent = importance(desc, durations, quality)
    chosen = select(desc, durations, scores, budget_s, unit_s=max(1 / fps, budget_s / KNAPSACK_UNITS))
    if not chosen:
        shortest = float(durations.min())
        raise UsageError(f"ratio {ratio} leaves a budget of {budget_s:.3f}s, shorter than the shortest segment "
                         f"({shortest:.3f}s); nothing fits: use a ratio of at least "
                         f"{math.ceil(shortest / total_s * 1000) / 1000:g}", path=path)
    segments = [SummarySegment(start=clock.moment(spans[i][0]), end=clock.moment(spans[i][1]),
                               frames=spans[i][1] - spans[i][0], duration=float(durations[i]), shot=spans[i][2],
                               score=float(scores[i]), gain=float(gains[i]),
                               representativeness=float(represent[i])) for i in chosen]
    timings = {"analysis": analysis_s, "scoring": time.perf_counter() - t1}
    result = SummaryResult(video=str(path), ratio=ratio, video_duration_s=total_s, budget_s=budget_s,
                           duration_s=float(sum(s.duration for s in segments)), candidates=len(spans),
                           segments=segments, timings_s=timings, warnings=warnings)
    _write_outputs(result, path, [(spans[i][0], spans[i][1]) for i in chosen], fps, output, preview)
    timings["total"] = analysis_s + time.perf_counter() - t1
    result.timings_s = {k: round(v, 3) for k, v in timings.items()}
    return result


def _check_options(path: str | Path, ratio: float, output: Path | None, preview: Path | None,
                   max_segment_s: float) -> None:
    if not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
        raise UsageError(f"ratio must be in (0, 1], got {ratio!r}")
    from .paths import refuse_input_as_output

    for target in (output, preview):
        if target is not None:
            refuse_input_as_output(target, path)
    if not max_segment_s > 0:
        raise UsageError(f"max_segment_s must be > 0, got {max_segment_s!r}")


def _clock_warnings(analysis: Analysis, timeline: Timeline, path: Path) -> list[str]:
    """The analysis's warnings, plus one if the given shots' timeline counts other frames; refuses no frames."""
    frame_count = analysis.clock.frame_count
    if frame_count == 0:
        raise InvalidMediaError("no decodable video frame to summarise", path=path)
    warnings = list(dict.fromkeys([*analysis.timeline.warnings, *timeline.warnings]))
    if timeline.video.get("frame_count") not in (None, frame_count):
        warnings.append(f"the timeline counts {timeline.video['frame_count']} frames but the video has "
                        f"{frame_count}; was it made from another file?")
    return warnings


def _candidates(timeline: Timeline, frame_count: int, fps: float, budget_s: float, max_segment_s: float,
                path: Path) -> list[tuple[int, int, int]]:
    """Candidate ``(start, end, shot)`` spans: shots cut into pieces that fit the budget."""
    piece_frames = max(1, math.floor(piece_seconds(max_segment_s, budget_s) * fps + 1e-6))
    min_frames = min(piece_frames, max(1, round(MIN_SEGMENT_S * fps)))
    # a fast-cut video may have no shot as long as MIN_SEGMENT_S: then its short shots are the candidates
    spans = (candidate_segments(timeline.shots, frame_count, piece_frames, min_frames=min_frames)
             or candidate_segments(timeline.shots, frame_count, piece_frames))
    if not spans:
        raise InvalidMediaError("no frame outside a gradual transition to summarise", path=path)
    return spans


def _descriptors(analysis: Analysis, path: Path) -> dict[str, np.ndarray]:
    arrays = analysis.arrays(DESCRIPTORS_ARTIFACT)
    if arrays is None:
        raise UsageError("the analysis has no summary descriptors: add SummaryFeatures() to its analyzers",
                         path=path)
    if not len(arrays["indices"]):
        raise InvalidMediaError("no frame could be described for the summary", path=path)
    return arrays


# -- candidates ---------------------------------------------------------------------------------

def piece_seconds(max_segment_s: float, budget_s: float) -> float:
    """Longest candidate: ``max_segment_s``, but short enough that about three fit the budget.

    On short videos a 4 s piece may not fit the budget at all, or fill it with one shot; capping
    pieces at a third of the budget (never below ``2 x MIN_SEGMENT_S``, never above the budget)
    keeps room for several different shots.
    """
    return min(max_segment_s, budget_s, max(budget_s / 3, 2 * MIN_SEGMENT_S))


def candidate_segments(shots: list[dict[str, Any]], frame_count: int, piece_frames: int,
                       min_frames: int = 1) -> list[tuple[int, int, int]]:
    """(start, end, shot index) candidates: shots minus gradual transitions, cut into even pieces.

    Frames inside a dissolve or fade mix two shots, so they are trimmed off rather than letting
    a candidate straddle the transition; leftovers shorter than ``min_frames`` are dropped.
    """
    if not shots:
        shots = [{"index": 0, "start": {"frame": 0}, "end": {"frame": frame_count}}]
    gradual = [(s["transition_span"]["start"], s["transition_span"]["end"]) for s in shots
               if s.get("transition") in GRADUAL and s.get("transition_span")]
    out: list[tuple[int, int, int]] = []
    for shot in shots:
        for a, b in _subtract([(shot["start"]["frame"], shot["end"]["frame"])], gradual):
            if b - a < min_frames:
                continue
            count = math.ceil((b - a) / piece_frames)
            edges = [a + round(k * (b - a) / count) for k in range(count + 1)]
            out.extend((lo, hi, int(shot.get("index", 0))) for lo, hi in itertools.pairwise(edges) if hi > lo)
    return out


def _subtract(ranges: list[tuple[int, int]], holes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    for h0, h1 in holes:
        ranges = [piece for a, b in ranges for piece in ((a, min(b, h0)), (max(a, h1), b)) if piece[1] > piece[0]]
    return ranges


# -- descriptors --------------------------------------------------------------------------------

class SummaryFeatures:
    """Pipeline analyzer that computes a frame descriptor every few frames, for :func:`summarize_analysis`.

    It asks for the same look as the shot detector (128 px RGB), so it adds no decoding or
    scaling of its own when both run in one pass. Its result is the in-memory artifact
    :data:`DESCRIPTORS_ARTIFACT` (frame indices, descriptors, quality); it adds no timeline section.
    """

    name = "summary_features"
    after: tuple[str, ...] = ()
    needs = FrameSpec(max_side=128, pixel_format="rgb24")

    def __init__(self) -> None:
        self.step = 1
        self.indices: list[int] = []
        self.vectors: list[np.ndarray] = []
        self.quality: list[float] = []

    def start(self, info: VideoInfo) -> None:
        rate = info.estimated_rate  # unknown: a descriptor for every frame (slower, never a guessed rate)
        self.step = max(1, round(float(rate) / DESCRIPTOR_FPS)) if rate else 1

    def process(self, batch: FrameBatch) -> None:
        for rgb, index in zip(batch.frames, batch.indices, strict=True):
            if index % self.step == 0:
                vector, quality = frame_descriptor(rgb)
                self.indices.append(int(index))
                self.vectors.append(vector)
                self.quality.append(quality)

    def finish(self, context: AnalyzerContext) -> TimelinePart:
        arrays = {"indices": np.asarray(self.indices, dtype=np.int64),
                  "vectors": np.stack(self.vectors) if self.vectors else np.zeros((0, 0), np.float32),
                  "quality": np.asarray(self.quality, dtype=np.float64)}
        return TimelinePart(params=self.params(), artifacts={DESCRIPTORS_ARTIFACT: Artifact(arrays=arrays)})

    def params(self) -> dict[str, Any]:
        return {"descriptor_fps": DESCRIPTOR_FPS, "step": self.step}


def segment_descriptors(arrays: dict[str, np.ndarray], spans: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Mean descriptor and quality per segment (the nearest sample for very short ones)."""
    indices, vectors, quality = arrays["indices"], arrays["vectors"], arrays["quality"]
    desc, qual = [], []
    for a, b in spans:
        lo, hi = np.searchsorted(indices, [a, b])
        if hi <= lo:
            lo = min(int(np.abs(indices - (a + b) // 2).argmin()), len(indices) - 1)
            hi = lo + 1
        desc.append(vectors[lo:hi].mean(0))
        qual.append(quality[lo:hi].mean())
    return np.stack(desc), np.asarray(qual)


def frame_descriptor(rgb: np.ndarray) -> tuple[np.ndarray, float]:
    """A small vector whose Euclidean distances mean "looks different", and a quality in [0, 1].

    Three parts of similar weight: an HSV colour histogram (Hellinger embedding, so distances
    are bounded and not dominated by one bin), a 4x4 colour layout, and an edge-orientation
    histogram that separates textures of similar colour. Quality is low for black, washed-out
    and flat frames (fades, title cards), which make poor summary content.
    """
    small = cv2.resize(rgb, (64, max(2, round(64 * rgb.shape[0] / rgb.shape[1]))), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    hist = np.sqrt(hist / max(float(hist.sum()), 1.0))
    lab = cv2.cvtColor(small, cv2.COLOR_RGB2LAB)
    layout = cv2.resize(lab, (4, 4), interpolation=cv2.INTER_AREA).astype(np.float32).ravel() / 255.0
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx, gy = cv2.Sobel(gray, cv2.CV_32F, 1, 0), cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    magnitude, angle = cv2.cartToPolar(gx, gy)
    bins = (angle.ravel() % np.pi / np.pi * 8).astype(np.int64) % 8
    edges = np.bincount(bins, weights=magnitude.ravel(), minlength=8)
    edge_strength = float(magnitude.mean())
    edges = np.sqrt(edges / max(float(edges.sum()), 1e-6)) * min(1.0, edge_strength / 20.0)
    vector = np.concatenate([hist, layout * 0.5, edges * 0.7]).astype(np.float32)
    brightness, contrast = float(gray.mean()), float(gray.std())
    quality = float(np.clip((contrast - 4.0) / 20.0, 0.2, 1.0)) * (1.0 if 20.0 <= brightness <= 240.0 else 0.3)
    return vector, quality


# -- scoring and selection ----------------------------------------------------------------------

def importance(desc: np.ndarray, durations: np.ndarray, quality: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-segment (score, coverage gain, representativeness).

    Similarity is a Gaussian of descriptor distance, scaled by the median distance so it adapts
    to how varied the video is. Representativeness is the time-weighted mean similarity to all
    segments. Gains come from lazy greedy facility location over all candidates: a segment's
    gain is how much coverage it adds after the more representative ones, so repeats of a look
    already covered score near zero. Score = quality x gain / max gain.
    """
    dist = _distances(desc)
    off = dist[~np.eye(len(dist), dtype=bool)]
    sigma = max(float(np.median(off)) if off.size else 1.0, 0.05)
    sim = np.exp(-((dist / sigma) ** 2))
    weights = durations / max(float(durations.sum()), 1e-9)
    represent = sim @ weights
    gains = _facility_location_gains(sim, weights)
    scores = quality * gains / max(float(gains.max()), 1e-12)
    return scores, gains, represent


def _distances(desc: np.ndarray) -> np.ndarray:
    sq = (desc ** 2).sum(1)
    return np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * desc @ desc.T, 0.0))


def _facility_location_gains(sim: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Marginal gain of each item in the greedy order (lazy evaluation: gains only shrink)."""
    n = len(sim)
    covered = np.zeros(n)
    gains = np.zeros(n)
    heap = [(-float(sim[i] @ weights), i) for i in range(n)]
    heapq.heapify(heap)
    while heap:
        _, i = heapq.heappop(heap)
        gain = float(np.maximum(sim[i] - covered, 0.0) @ weights)
        if heap and gain < -heap[0][0] - 1e-12:
            heapq.heappush(heap, (-gain, i))
            continue
        gains[i] = gain
        covered = np.maximum(covered, sim[i])
    return gains


def select(desc: np.ndarray, durations: np.ndarray, scores: np.ndarray, budget_s: float,
           unit_s: float) -> list[int]:
    """Indices of the chosen segments, chronological: knapsack, then no near-duplicate pairs.

    Knapsack value is score x duration (the sum of frame importances, as in SumMe/TVSum). When
    the best packing holds two near-duplicates, the lower-scored one is barred and the packing
    redone, so the freed time goes to different content.
    """
    costs = np.ceil(durations / unit_s - 1e-6).astype(np.int64).clip(min=1)
    capacity = math.floor(budget_s / unit_s + 1e-6)
    dist = _distances(desc)
    allowed = np.ones(len(desc), dtype=bool)
    while True:
        chosen = _knapsack(scores * durations, costs, capacity, allowed)
        barred = _duplicates(chosen, scores, dist)
        if not barred:
            return sorted(chosen)
        allowed[barred] = False


def _duplicates(chosen: list[int], scores: np.ndarray, dist: np.ndarray) -> list[int]:
    kept: list[int] = []
    barred: list[int] = []
    for i in sorted(chosen, key=lambda i: -scores[i]):
        if any(dist[i, k] < DUPLICATE_DISTANCE for k in kept):
            barred.append(i)
        else:
            kept.append(i)
    return barred


def _knapsack(values: np.ndarray, costs: np.ndarray, capacity: int, allowed: np.ndarray) -> list[int]:
    """Exact 0/1 knapsack by dynamic programming over capacity units (vectorised per item)."""
    best = np.zeros(capacity + 1)
    take = np.zeros((len(values), capacity + 1), dtype=bool)
    for i, (value, cost) in enumerate(zip(values, costs, strict=True)):
        if not allowed[i] or cost > capacity or value <= 0:
            continue
        candidate = best[: capacity + 1 - cost] + value
        better = candidate > best[cost:] + 1e-12
        take[i, cost:] = better
        best[cost:] = np.where(better, candidate, best[cost:])
    chosen, room = [], int(best.argmax())
    for i in range(len(values) - 1, -1, -1):
        if take[i, room]:
            chosen.append(i)
            room -= int(costs[i])
    return chosen


# -- outputs ------------------------------------------------------------------------------------

def _write_outputs(result: SummaryResult, path: Path, spans: list[tuple[int, int]], fps: float,
                   output: Path | None, preview: Path | None) -> None:
    """Write the MP4 and/or the GIF; when both are wanted one decode feeds both."""
    if not spans or (output is None and preview is None):
        return
    t0 = time.perf_counter()
    wanted, preview_fps = preview_indices(spans, fps)
    grabbed: dict[int, np.ndarray] = {}
    spec = FrameSpec(max_side=PREVIEW_SIDE)

    def grab(frame: DecodedFrame) -> None:
        if preview is not None and frame.index in wanted:
            grabbed[frame.index] = frame.to_ndarray(spec)

    if output is not None:
        result.output = write_clip_segments(path, spans, Path(output), frame_hook=grab)
        result.timings_s["write_video"] = time.perf_counter() - t0
    if preview is not None:
        t1 = time.perf_counter()
        if output is None:
            _grab_frames(path, wanted, grab)
        frames = [grabbed[i] for i in sorted(grabbed)]
        if frames:
            result.preview = write_animated_preview(frames, Path(preview), preview_fps)
        result.timings_s["write_preview"] = time.perf_counter() - t1


def preview_indices(spans: list[tuple[int, int]], fps: float) -> tuple[set[int], float]:
    """A short burst from the middle of each segment, at most ``PREVIEW_MAX_FRAMES`` in all."""
    step = max(1, round(fps / PREVIEW_FPS))
    if len(spans) > PREVIEW_MAX_FRAMES:
        picks = np.linspace(0, len(spans) - 1, PREVIEW_MAX_FRAMES).round().astype(int)
        spans = [spans[i] for i in sorted(set(picks.tolist()))]
    per_segment = max(1, min(PREVIEW_BURST, PREVIEW_MAX_FRAMES // len(spans)))
    wanted: set[int] = set()
    for a, b in spans:
        start = max(a, (a + b) // 2 - per_segment * step // 2)
        wanted.update(range(start, b, step)[:per_segment])
    return wanted, fps / step


def _grab_frames(path: Path, wanted: set[int], grab: Any) -> None:
    """Decode up to the last wanted frame (no audio) and hand the wanted ones to ``grab``."""
    last = max(wanted)
    with VideoReader(path, audio=False) as reader, contextlib.closing(reader.frames(prefetch=8)) as frames:
        for frame in frames:
            if frame.index in wanted:
                grab(frame)
            if frame.index >= last:
                break
