"""Audio for analyzers: what they ask for (``AudioSpec``) and the tap that resamples it (``AudioTap``).

The audio track is decoded by ``VideoReader`` in the same pass as the video (one read of the file);
the tap is its ``audio_sink``. Each decoded frame is resampled by FFmpeg's libswresample
(``av.AudioResampler``) to every spec some analyzer asked for, and handed out as float32 chunks
placed on a sample clock. Samples are counted rather than read from each output frame's pts, so
chunk times are exact and monotonic; a jump in the input pts (undecodable packets, a damaged or
cut file) is filled with zeros marked ``filled`` so later audio keeps its true time (to within the
resampler's buffered delay, about a millisecond).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import av
import numpy as np

from ..errors import UsageError

#: A pts jump larger than this (seconds) between consecutive audio frames is a gap, not jitter.
GAP_TOLERANCE_S = 0.02


@dataclass(frozen=True)
class AudioSpec:
    """Audio an analyzer needs: float32 samples at ``sample_rate``, downmixed to mono or with the
    source's channels kept (``mono=False``, e.g. for loudness, which weights channels separately)."""

    sample_rate: int = 16000
    mono: bool = True

    def __post_init__(self) -> None:
        if not 1000 <= self.sample_rate <= 384000:
            raise UsageError(f"sample_rate must be in 1000..384000 Hz, got {self.sample_rate}")


@dataclass
class AudioChunk:
    """Consecutive samples of one spec. ``samples`` is float32 ``(channels, n)``; ``start`` is the
    first sample's time in seconds on the container's clock (the pipeline shifts it to the timeline).
    ``filled`` chunks are zeros standing in for audio that could not be decoded."""

    spec: AudioSpec
    samples: np.ndarray
    start: float
    channels: tuple[str, ...]
    filled: bool = False

    @property
    def end(self) -> float:
        return self.start + self.samples.shape[1] / self.spec.sample_rate

    def clipped(self, begin: float, end: float) -> AudioChunk | None:
        """The part of the chunk inside [begin, end) seconds, or None when nothing is left."""
        rate = self.spec.sample_rate
        first = max(0, round((begin - self.start) * rate))
        last = min(self.samples.shape[1], round((end - self.start) * rate)) if end != float("inf") else None
        samples = self.samples[:, first:last]
        if samples.shape[1] == 0:
            return None
        return AudioChunk(self.spec, samples, self.start + first / rate, self.channels, self.filled)


class _Track:
    """One spec's resampler and its sample clock."""

    def __init__(self, spec: AudioSpec) -> None:
        self.spec = spec
        self._resampler = av.AudioResampler(format="fltp", layout="mono" if spec.mono else None,
                                            rate=spec.sample_rate)
        self._start: float | None = None  # container time of output sample 0
        self._written = 0  # output samples handed out so far
        self._input_end: float | None = None  # where the next input frame should start (seconds)
        self._channels: tuple[str, ...] = ()

    def push(self, frame: av.AudioFrame | None) -> list[AudioChunk]:
        out: list[AudioChunk] = []
        if frame is not None:
            start = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else None
            if self._start is None:
                self._start = start if start is not None else 0.0
                self._input_end = self._start
            elif start is not None and self._input_end is not None and start - self._input_end > GAP_TOLERANCE_S:
                out.append(self._fill(start - self._input_end))
            begin = start if start is not None else self._input_end
            self._input_end = max(self._input_end or 0.0, (begin or 0.0) + frame.samples / frame.sample_rate)
        for resampled in self._resampler.resample(frame):
            samples = resampled.to_ndarray().astype(np.float32, copy=False)
            if not self._channels:
                self._channels = tuple(c.name for c in resampled.layout.channels)
            out.append(self._emit(samples, filled=False))
        return [c for c in out if c.samples.shape[1]]

    def _fill(self, seconds: float) -> AudioChunk:
        n = round(seconds * self.spec.sample_rate)
        return self._emit(np.zeros((max(1, len(self._channels)), n), dtype=np.float32), filled=True)

    def _emit(self, samples: np.ndarray, filled: bool) -> AudioChunk:
        start = (self._start or 0.0) + self._written / self.spec.sample_rate
        self._written += samples.shape[1]
        return AudioChunk(self.spec, samples, start, self._channels or ("FC",), filled)


class AudioTap:
    """``VideoReader`` audio sink that resamples every decoded frame to each requested spec.

    It is called from the decode thread and read from the consumer's thread: ``drain`` hands out
    the chunks ready so far, ``flush`` (after decoding) pushes out what the resamplers still hold.
    """

    def __init__(self, specs: Iterable[AudioSpec]) -> None:
        self._tracks = [_Track(spec) for spec in dict.fromkeys(specs)]
        self._ready: deque[AudioChunk] = deque()
        self._lock = threading.Lock()
        self.frames = 0
        self.filled_s = 0.0

    @property
    def specs(self) -> list[AudioSpec]:
        return [t.spec for t in self._tracks]

    def __call__(self, frame: av.AudioFrame) -> None:
        self.frames += 1
        self._push(frame)

    def flush(self) -> None:
        self._push(None)

    def _push(self, frame: av.AudioFrame | None) -> None:
        chunks = [c for track in self._tracks for c in track.push(frame)]
        with self._lock:
            for chunk in chunks:
                if chunk.filled and chunk.spec == self._tracks[0].spec:
                    self.filled_s += chunk.samples.shape[1] / chunk.spec.sample_rate
            self._ready.extend(chunks)

    def drain(self) -> list[AudioChunk]:
        with self._lock:
            out = list(self._ready)
            self._ready.clear()
        return out

