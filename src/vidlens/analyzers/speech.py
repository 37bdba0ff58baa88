"""``speech`` analyzer: when people talk (Silero VAD), how loud the soundtrack is, and where it is silent.

It wants no frames: the pipeline hands it the audio track, decoded in the same pass as the video
and resampled twice by the media layer, 16 kHz mono for Silero VAD and 48 kHz with the source's
channels for loudness (BS.1770 weights channels separately and is specified at 48 kHz).

Silero VAD gives a speech probability per 32 ms chunk. The shipped model is the package's sequence
export: a block of chunks per ONNX call with the LSTM state carried between calls, which gives the
streaming model's probabilities at a fraction of its per-call overhead. Chunks become segments the
way the reference ``get_speech_timestamps`` does it (re-implemented here): speech starts at a chunk
>= ``threshold``, ends after ``min_silence_s`` below ``threshold - 0.15`` (hysteresis, so a dip
does not split a sentence), segments shorter than ``min_speech_s`` are dropped and the rest padded
by ``pad_s``. Silence is a run of >= ``silence_min_s`` of 100 ms steps quieter than both an absolute
floor and a level relative to the file's integrated loudness, so a loud film's pauses count too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UsageError
from ..media import AudioChunk, AudioSpec, VideoInfo
from ..media.loudness import STEP, LoudnessMeter, figures, loudness
from ..timeline import FrameClock
from .base import AnalyzerContext, FrameBatch, TimelinePart

MODEL = "silero_vad"
VAD_SPEC = AudioSpec(sample_rate=16000, mono=True)
LOUDNESS_SPEC = AudioSpec(sample_rate=48000, mono=False)
CHUNK = 512  # samples per VAD decision (32 ms at 16 kHz)
CONTEXT = 64  # samples of the previous chunk the model sees before each chunk
BLOCK = 256  # chunks per ONNX call (8.2 s): long enough to amortise the call, short enough to stream
SHORT_TERM_EVERY = 10  # report the short-term loudness every 10 steps (1 s)


class SpeechAnalyzer:
    name = "speech"
    needs = None  # audio only
    after: tuple[str, ...] = ()
    audio = (VAD_SPEC, LOUDNESS_SPEC)

    def __init__(self, threshold: float = 0.5, min_speech_s: float = 0.25, min_silence_s: float = 0.1,
                 pad_s: float = 0.03, silence_min_s: float = 1.0, silence_floor_lufs: float = -60.0,
                 silence_below_lu: float = 25.0, silence_ceiling_lufs: float = -45.0) -> None:
        if not 0 < threshold < 1:
            raise UsageError(f"speech threshold must be in (0, 1), got {threshold}")
        for name, value in (("min_speech_s", min_speech_s), ("min_silence_s", min_silence_s), ("pad_s", pad_s),
                            ("silence_min_s", silence_min_s)):
            if value < 0:
                raise UsageError(f"speech {name} must be >= 0, got {value}")
        self.threshold, self.neg_threshold = threshold, max(threshold - 0.15, 0.01)
        self.min_speech_s, self.min_silence_s, self.pad_s = min_speech_s, min_silence_s, pad_s
        self.silence_min_s, self.silence_floor_lufs = silence_min_s, silence_floor_lufs
        self.silence_below_lu, self.silence_ceiling_lufs = silence_below_lu, silence_ceiling_lufs

    def params(self) -> dict[str, Any]:
        return {"model": MODEL, "threshold": self.threshold, "neg_threshold": round(self.neg_threshold, 4),
                "min_speech_s": self.min_speech_s, "min_silence_s": self.min_silence_s, "pad_s": self.pad_s,
                "silence_min_s": self.silence_min_s, "silence_floor_lufs": self.silence_floor_lufs,
                "silence_below_lu": self.silence_below_lu, "silence_ceiling_lufs": self.silence_ceiling_lufs}

    def start(self, info: VideoInfo) -> None:
        from ..runtime import load_model  # ONNX Runtime loads only when a model is used

        self.has_audio = info.has_audio
        self.model = load_model(MODEL, threads=1)  # a tiny LSTM: one thread is fastest, the other core decodes
        self._pcm: list[np.ndarray] = []  # 16 kHz samples not yet run through the model
        self._pending = 0
        self._context = np.zeros(CONTEXT, np.float32)
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._probs: list[np.ndarray] = []
        self._vad_start: float | None = None
        self._vad_samples = 0
        self._gaps: list[tuple[float, float]] = []
        self._meter: LoudnessMeter | None = None
        self._loud_start: float | None = None

    def process(self, batch: FrameBatch) -> None:
        """Never called: the analyzer asks for no frames."""

    def process_audio(self, chunk: AudioChunk) -> None:
        if chunk.spec == VAD_SPEC:
            if self._vad_start is None:
                self._vad_start = chunk.start
            if chunk.filled:
                self._gaps.append((chunk.start, chunk.end))
            self._pcm.append(chunk.samples[0])
            self._pending += chunk.samples.shape[1]
            self._vad_samples += chunk.samples.shape[1]
            if self._pending >= BLOCK * CHUNK:
                self._run_vad(final=False)
        elif chunk.spec == LOUDNESS_SPEC:
            if self._meter is None:
                self._meter = LoudnessMeter(chunk.channels)
                self._channels = chunk.channels
                self._loud_start = chunk.start
            self._meter.push(chunk.samples, missing=chunk.filled)

    def _run_vad(self, final: bool) -> None:
        """Run the model on every whole chunk buffered (and, at the end, the zero-padded last one)."""
        pcm = np.concatenate(self._pcm) if self._pcm else np.zeros(0, np.float32)
        whole = len(pcm) // CHUNK * CHUNK
        if final and len(pcm) > whole:
            pcm = np.concatenate([pcm, np.zeros(CHUNK - (len(pcm) - whole), np.float32)])
            whole = len(pcm)
        chunks, rest = pcm[:whole].reshape(-1, CHUNK), pcm[whole:]
        self._pcm, self._pending = [rest], len(rest)
        for i in range(0, len(chunks), BLOCK):
            block = chunks[i: i + BLOCK]
            context = np.empty((len(block), CONTEXT), np.float32)
            context[0] = self._context
            context[1:] = block[:-1, -CONTEXT:]
            self._context = block[-1, -CONTEXT:].copy()
            out = self.model.run({"input": np.concatenate([context, block], axis=1), "h": self._h, "c": self._c})
            self._probs.append(out["speech_probs"].reshape(-1))
            self._h, self._c = out["hn"], out["cn"]

    def finish(self, context: AnalyzerContext) -> TimelinePart:
        part = TimelinePart(params=self.params())
        if not self.has_audio:
            part.sections["audio"] = {"has_audio": False}
            part.warnings.append("the video has no audio track: no speech or loudness analysis")
            return part
        if self._vad_start is None:
            part.sections["audio"] = {"has_audio": True, "decoded": False}
            part.warnings.append("the audio track could not be decoded (or lies outside the analysed range)")
            return part
        self._run_vad(final=True)
        probs = np.concatenate(self._probs) if self._probs else np.zeros(0, np.float32)
        clock = context.clock
        start, rate = self._vad_start, VAD_SPEC.sample_rate
        duration = self._vad_samples / rate
        speech = [
            {**_span(clock, start + s / rate, start + e / rate), "confidence": round(conf, 4)}
            for s, e, conf in speech_segments(probs, self._vad_samples, self.threshold, self.neg_threshold,
                                              round(self.min_speech_s * rate), round(self.min_silence_s * rate),
                                              round(self.pad_s * rate))
        ]
        summary: dict[str, Any] = {"has_audio": True, "decoded": True, "start_s": round(start, 3),
                                   "end_s": round(start + duration, 3), "duration_s": round(duration, 3)}
        speech_s = sum(s["end_s"] - s["start_s"] for s in speech)
        summary |= {"speech_s": round(speech_s, 3), "speech_ratio": round(speech_s / duration, 4) if duration else None,
                    "speech_segments": len(speech)}
        silence: list[dict[str, Any]] = []
        if self._meter is not None:
            steps = self._meter.steps()
            loud = figures(steps)
            silence = self._silence(steps, loud.integrated_lufs, clock)
            silence_s = sum(s["end_s"] - s["start_s"] for s in silence)
            summary |= {
                "channels": list(self._channels), "integrated_lufs": _round(loud.integrated_lufs, 2),
                "loudness_range_lu": _round(loud.loudness_range_lu, 2),
                "sample_peak_dbfs": _round(20 * np.log10(self._meter.peak) if self._meter.peak > 0 else None, 2),
                "silence_s": round(silence_s, 3), "silence_ratio": round(silence_s / duration, 4) if duration else None,
                "short_term_lufs": {
                    "window_s": 3.0, "step_s": SHORT_TERM_EVERY * STEP / 48000,
                    "times": [round(self._loud_start + (k + 0.5) * 0.1, 2)
                              for k in range(0, len(steps), SHORT_TERM_EVERY)],
                    "lufs": [_round(v, 1) for v in loud.short_term_lufs[::SHORT_TERM_EVERY]],
                },
            }
        if self._gaps:
            lost = sum(b - a for a, b in self._gaps)
            summary["gaps"] = [{"start_s": round(a, 3), "end_s": round(b, 3)} for a, b in self._gaps]
            part.warnings.append(f"{lost:.2f}s of audio in {len(self._gaps)} gap(s) could not be decoded; "
                                 "treated as missing (not speech, not counted in loudness)")
        video_end = clock.end_time
        if context.complete and start + duration < video_end - 1.0 and video_end - clock.time(context.first_frame) > 1:
            part.warnings.append(f"audio ends at {start + duration:.2f}s, before the video ({video_end:.2f}s)")
        part.sections.update({"speech": speech, "silence": silence, "audio": summary})
        return part

    def _silence(self, steps: np.ndarray, integrated: float | None, clock: FrameClock) -> list[dict[str, Any]]:
        """Runs of 100 ms steps below the silence level for at least ``silence_min_s``."""
        level = self.silence_floor_lufs
        if integrated is not None:
            level = min(self.silence_ceiling_lufs, max(level, integrated - self.silence_below_lu))
        with np.errstate(divide="ignore"):
            lufs = np.where(steps > 0, -0.691 + 10 * np.log10(np.where(steps > 0, steps, 1)), -np.inf)
        quiet = (lufs < level) & ~np.isnan(steps)
        out = []
        for a, b in _runs(quiet):
            if (b - a) * 0.1 + 1e-9 < self.silence_min_s:
                continue
            t0, t1 = self._loud_start + a * 0.1, self._loud_start + b * 0.1
            energy = float(np.mean(steps[a:b]))
            level_lufs = loudness(energy)
            out.append({**_span(clock, t0, t1), "level_lufs": _round(level_lufs, 1), "threshold_lufs": round(level, 1)})
        return out


def speech_segments(probs: np.ndarray, total: int, threshold: float, neg_threshold: float, min_speech: int,
                    min_silence: int, pad: int) -> list[tuple[int, int, float]]:
    """(start, end, mean probability) in samples, from per-chunk speech probabilities.

    Same rules as silero-vad's ``get_speech_timestamps`` without its max-duration split.
    """
    found: list[tuple[int, int]] = []
    triggered, start, temp_end = False, 0, 0
    for i, p in enumerate(probs):
        cur = i * CHUNK
        if p >= threshold and temp_end:
            temp_end = 0
        if p >= threshold and not triggered:
            triggered, start = True, cur
            continue
        if p < neg_threshold and triggered:
            if not temp_end:
                temp_end = cur
            if cur - temp_end < min_silence:
                continue
            if temp_end - start > min_speech:
                found.append((start, temp_end))
            triggered, temp_end = False, 0
    if triggered and total - start > min_speech:
        found.append((start, total))
    out = []
    for s, e in found:
        conf = float(np.mean(probs[s // CHUNK: max(s // CHUNK + 1, -(-e // CHUNK))]))
        out.append([s, e, conf])
    for k, seg in enumerate(out):  # pad, splitting the gap when two segments are closer than 2 pads
        if k == 0:
            seg[0] = max(0, seg[0] - pad)
        if k + 1 < len(out):
            gap = out[k + 1][0] - seg[1]
            if gap < 2 * pad:
                seg[1] += gap // 2
                out[k + 1][0] = max(0, out[k + 1][0] - gap // 2)
            else:
                seg[1] = min(total, seg[1] + pad)
                out[k + 1][0] = max(0, out[k + 1][0] - pad)
        else:
            seg[1] = min(total, seg[1] + pad)
    return [(s, e, c) for s, e, c in out]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs of a boolean array."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _span(clock: FrameClock, t0: float, t1: float) -> dict[str, Any]:
    """A segment in frames (half-open: the frame shown at ``t0`` up to the first frame at or after ``t1``)
    and in exact seconds, which are finer than frames for sound."""
    first = clock.frame_at(t0)
    end = max(first + 1, int(np.searchsorted(clock.times, t1 - 1e-9, side="left")))
    return {"start": clock.moment(first), "end": clock.moment(end), "start_s": round(t0, 3), "end_s": round(t1, 3)}


def _round(value: float | None, digits: int) -> float | None:
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)
