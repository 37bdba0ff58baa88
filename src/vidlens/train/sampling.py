"""Which frames of a video a classifier sees, and reading them with one sequential decode.

Two schemes, the two the action-recognition literature uses:

* :func:`segment_indices` (TSN): cut the video into ``T`` equal segments and take one frame of each,
  the centre for evaluation or a random one for training (temporal jitter), so ``T`` frames cover
  the whole video whatever its length;
* :func:`dense_clips`: clips of ``T`` consecutive frames at a stride, for 3D-CNNs that need motion
  between neighbouring frames.

:func:`read_frames` then decodes the video (or the clip ``[start, end)`` of it) once, front to back,
with :class:`~vidlens.media.VideoReader`, converting only the wanted frames with swscale at the
wanted size. Seeking per frame is slower than decoding a short clip through and lands on
key frames, not on exact indices.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import InvalidMediaError, UsageError
from ..media import DecodedFrame, FrameSpec, VideoInfo, VideoReader
from ..media.reader import FrameConverter
from ..predict.inputs import segment_positions

#: Tolerance on clip bounds (seconds): pts are rounded by containers, a frame at 1.9999999 s is at 2 s.
TIME_TOLERANCE = 1e-6


def segment_indices(frame_count: int, segments: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """One frame index per equal segment of ``frame_count`` frames (TSN sampling), int64 ``[segments]``.

    Without ``rng`` each segment gives its centre frame (deterministic, for evaluation); with it a
    uniformly random frame inside the segment (temporal jitter, for training). Indices never
    decrease; with fewer frames than segments some frames repeat.
    """
    if frame_count < 1:
        raise UsageError(f"frame_count must be >= 1, got {frame_count}")
    if segments < 1:
        raise UsageError(f"segments must be >= 1, got {segments}")
    return segment_positions(frame_count, segments, None if rng is None else rng.random(segments))


def dense_clips(frame_count: int, length: int, stride: int, step: int | None = None) -> list[np.ndarray]:
    """Clips of ``length`` frames ``stride`` apart, a new clip every ``step`` frames (default: back to back).

    Each clip spans ``(length - 1) * stride + 1`` frames. A video shorter than one span still gives
    one clip, padded by repeating its last frame; clips that would run past the end are not made.
    """
    for name, value in (("frame_count", frame_count), ("length", length), ("stride", stride)):
        if value < 1:
            raise UsageError(f"{name} must be >= 1, got {value}")
    step = length * stride if step is None else step
    if step < 1:
        raise UsageError(f"step must be >= 1, got {step}")
    offsets = np.arange(length, dtype=np.int64) * stride
    span = int(offsets[-1]) + 1
    if frame_count < span:
        return [np.minimum(offsets, frame_count - 1)]
    return [start + offsets for start in range(0, frame_count - span + 1, step)]


def estimate_frame_count(info: VideoInfo, start: float | None = None, end: float | None = None) -> int:
    """Frames in the video, or in its clip ``[start, end)``, as the container suggests (at least 1).

    Containers lie about counts; this is only for choosing indices before decoding. :func:`read_frames`
    repeats the last frame for indices past the real end, so an overestimate costs nothing.
    """
    if start is None and end is None and info.frame_count:
        return max(1, info.frame_count)
    stop = end if end is not None else info.duration_s
    if stop is None:
        return max(1, info.frame_count or 1)
    if info.duration_s is not None:
        stop = min(stop, info.duration_s)
    rate = info.estimated_rate
    if not rate:
        return max(1, info.frame_count or 1)
    return max(1, round((stop - (start or 0.0)) * float(rate)))


def frame_spec(size: int | tuple[int, int] | None, **kwargs) -> FrameSpec:
    """The ``FrameSpec`` for a size: ``int`` = shorter side, ``(width, height)`` = exact, ``None`` = as decoded."""
    if size is None:
        return FrameSpec(**kwargs)
    if isinstance(size, (int, np.integer)):
        return FrameSpec(min_side=int(size), **kwargs)
    width, height = size
    return FrameSpec(width=int(width), height=int(height), **kwargs)


@dataclass
class ClipFrame:
    """A frame inside the clip: ``offset`` counts from the clip's first frame, ``index``/``time`` from the video's.

    ``image`` is the converted frame when the selector wanted it, else ``None`` (convert later with
    ``frame.to_ndarray(spec)`` if needed).
    """

    offset: int
    index: int
    time: float
    frame: DecodedFrame
    image: np.ndarray | None


def decode_clip(path: str | Path, spec: FrameSpec, *, start: float | None = None, end: float | None = None,
                select: Callable[[int, Fraction, bool], bool] | None = None, last: int | None = None,
                threads: int = 0, prefetch: int = 0, info: VideoInfo | None = None) -> Iterator[ClipFrame]:
    """Every frame of ``[start, end)`` in order, converted to ``spec`` when ``select(offset, time, key)`` says so.

    One sequential decode (no seeking: frames before ``start`` are decoded, not converted, so
    indices stay exact). Decoding stops at ``end`` or after clip offset ``last``. With
    ``prefetch`` > 0 decoding and conversion run in a background thread (see ``VideoReader.frames``).
    ``select`` runs in decode order, so a stateful ``Sampler`` can be used in it.
    """
    begin = (start or 0.0) - TIME_TOLERANCE
    stop = math.inf if end is None else end - TIME_TOLERANCE
    convert = FrameConverter(spec)
    first: list[int] = []

    def prepare(frame: DecodedFrame) -> tuple[int, np.ndarray | None] | None:
        t = float(frame.time)
        if t < begin or t >= stop:
            return None
        if not first:
            first.append(frame.index)
        offset = frame.index - first[0]
        if select is None or select(offset, frame.time, frame.key_frame):
            return offset, convert(frame.av_frame, frame.rotation)
        return offset, None

    with VideoReader(path, audio=False, threads=threads, info=info) as reader:
        for frame in reader.frames(prepare=prepare, prefetch=prefetch):
            if float(frame.time) >= stop:
                break
            if frame.payload is None:
                continue
            offset, image = frame.payload
            yield ClipFrame(offset, frame.index, float(frame.time), frame, image)
            if last is not None and offset >= last:
                break


def read_frames(path: str | Path, indices: Sequence[int] | np.ndarray, size: int | tuple[int, int] | None,
                start: float | None = None, end: float | None = None, *, threads: int = 0) -> np.ndarray:
    """The frames at ``indices`` as ``uint8`` RGB ``[T, H, W, 3]``, in the order given (repeats allowed).

    Indices count from the clip's first frame when ``start``/``end`` (seconds) are given, else from
    the video's. ``size``: ``int`` scales the shorter side to it, ``(width, height)`` gives an exact
    size, ``None`` keeps the decoded size; scaling runs in swscale, once per wanted frame. Indices
    past the clip's last frame get that last frame (counts from the container are estimates).
    Raises ``InvalidMediaError`` when the range holds no frame.
    """
    wanted = np.asarray(indices, dtype=np.int64).ravel()
    if wanted.size == 0:
        raise UsageError("no frame indices to read")
    if int(wanted.min()) < 0:
        raise UsageError(f"frame indices must be >= 0, got {int(wanted.min())}")
    spec = frame_spec(size)
    unique = set(wanted.tolist())
    images: dict[int, np.ndarray] = {}
    final: ClipFrame | None = None
    for clip_frame in decode_clip(path, spec, start=start, end=end, select=lambda o, t, k: o in unique,
                                  last=int(wanted.max()), threads=threads):
        if clip_frame.image is not None:
            images[clip_frame.offset] = clip_frame.image
        final = clip_frame
    if final is None:
        stop = "end" if end is None else f"{end:g}s"
        where = "" if start is None and end is None else f" in [{start or 0:g}s, {stop})"
        raise InvalidMediaError(f"no decodable frame{where}", path=path)
    if final.image is None and int(wanted.max()) > final.offset:
        images[final.offset] = final.frame.to_ndarray(spec)
    return np.stack([images[min(int(i), final.offset)] for i in wanted])
