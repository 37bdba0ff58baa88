"""A disk cache of per-frame ImageNet features, so training epochs run without decoding.

A classifier on top of a frozen backbone sees the same frames every epoch; decoding them and
running EfficientNet-Lite0 (18 ms a frame on two cores) each time costs far more than the head
being trained. Here each video, or clip of one, is decoded once at a fixed rate, its frames go
through the shipped backbone in batches (its 1280-d pooled ``features`` output, the same input
as the ``labels`` analyzer: centre 224 px square, ``(x - 127) / 128``, NCHW) and the result is
stored as one ``.npz`` file. Later calls load it; :func:`feature_steps` turns it into ``T``
TSN-style steps, with jitter for training.

The cache key is the file's content (not its name: renamed or copied videos hit, an edited one
misses), the clip range, the sampling rate and frame cap, and the model file's sha256. Files are
written under a temporary name and renamed, so an interrupted build or several workers filling
the same cache never leave half a file.
"""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InvalidMediaError, UsageError
from ..files import replacing
from ..media import FrameSpec, Sampler, probe
from ..predict.motion import fill_first_row
from ..predict.streams import APPEARANCE, MOTION, STREAMS
from ..runtime.backbone import FEATURE_DIM, INPUT, MODEL, backbone_input
from .dataset import Dataset, ProgressCallback, Sample
from .sampling import decode_clip, segment_indices

if TYPE_CHECKING:
    from ..runtime import Model

#: Bump when what is stored changes meaning (input pre-processing, sampling rules...).
CACHE_VERSION = 1
#: Bytes hashed at each of the head, middle and tail of a file for its content key.
KEY_CHUNK = 1 << 18


@dataclass
class CachedFeatures:
    """Backbone features of the sampled frames of one sample.

    ``indices`` and ``times`` place each row in the *video* (presentation frame index, seconds from
    its first frame), not in the clip, so they map straight onto a timeline.
    """

    features: np.ndarray  # float16 [N, 1280] (zero columns when only other streams were asked for)
    indices: np.ndarray  # int64 [N]
    times: np.ndarray  # float64 [N]
    side: dict[str, np.ndarray] = field(default_factory=dict)  # other streams asked for: float32 [N, dim]

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def motion(self) -> np.ndarray | None:
        return self.side.get(MOTION)

    def rows(self, streams: Sequence[str] = (APPEARANCE,)) -> np.ndarray:
        """The per-frame rows of ``streams`` concatenated (registry order), float32 ``[N, sum of dims]``."""
        parts = []
        for name in streams:
            part = self.features if name == APPEARANCE else self.side.get(name)
            if part is None or len(part) != len(self):
                raise UsageError(f"the {name} stream was not computed for these features")
            parts.append(part.astype(np.float32))
        return np.concatenate(parts, axis=1)


def feature_steps(cached: CachedFeatures, steps: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``steps`` rows of ``cached`` chosen TSN-style (one per equal segment), as float32 ``[steps, 1280]``.

    Without ``rng`` each segment's centre frame (evaluation), with it a random frame per segment
    (training jitter). Fewer cached frames than steps repeat frames.
    """
    if len(cached) == 0:
        raise UsageError("no cached frame to take steps from")
    return cached.features[segment_indices(len(cached), steps, rng)].astype(np.float32)


def _stream_file(file: Path, name: str) -> Path:
    """A side stream's entry beside an appearance entry (same key, plus the stream's name and version)."""
    return file.with_name(f"{file.stem}.{name}{STREAMS[name].version}.npz")


def content_key(path: Path) -> str:
    """sha256 of the file's size and of 256 KiB at its head, middle and tail (the whole file if small).

    Why not the full hash: the key is computed whenever a sample is looked up, and hashing a
    1 GB video takes seconds while a cached epoch over it takes milliseconds. Compressed video
    differing only between those three windows with the same size is not a case worth the cost.
    """
    size = path.stat().st_size
    digest = hashlib.sha256(f"{size}:".encode())
    with open(path, "rb") as handle:
        if size <= 3 * KEY_CHUNK:
            digest.update(handle.read())
        else:
            for offset in (0, (size - KEY_CHUNK) // 2, size - KEY_CHUNK):
                handle.seek(offset)
                digest.update(handle.read(KEY_CHUNK))
    return digest.hexdigest()


@dataclass
class BuildReport:
    """What :meth:`FeatureCache.build` did: samples computed, found cached, and failed (with reasons)."""

    computed: int = 0
    cached: int = 0
    failed: list[tuple[Sample, str]] = field(default_factory=list)
    seconds: float = 0.0


class FeatureCache:
    """Per-frame backbone features of samples, computed once and kept under ``root``.

    >>> cache = FeatureCache(Path("~/.cache/vidlens/features").expanduser())   # doctest: +SKIP
    >>> x = feature_steps(cache.features(sample), 8)                            # doctest: +SKIP

    ``hits`` and ``misses`` count lookups, so callers (and tests) can see what was decoded.
    ``threads`` is for the ONNX Runtime session (default: the runtime's choice).
    """

    def __init__(self, root: str | Path, *, batch_size: int = 32, variant: str | None = None,
                 threads: int | None = None) -> None:
        if batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        self.root = Path(root).expanduser()
        self.root.mkdir(parents=True, exist_ok=True)
        self.batch_size, self.variant, self.threads = batch_size, variant, threads
        self.hits = 0
        self.misses = 0
        self._keys: dict[tuple[str, int, int], str] = {}
        self._model_sha: str | None = None
        self._model = None

    # -- lookup -------------------------------------------------------------------------------

    def path_for(self, sample: Sample, *, fps: float = 4.0, max_frames: int | None = None) -> Path:
        """Where ``sample``'s features at these settings are (or will be) stored."""
        _check_settings(fps, max_frames)
        if self._model_sha is None:
            from ..runtime import model_entry

            self._model_sha = model_entry(MODEL, self.variant).sha256
        recipe = {
            "version": CACHE_VERSION, "content": self._content_key(sample.path),
            "start": sample.start, "end": sample.end, "fps": float(fps), "max_frames": max_frames,
            "model": self._model_sha, "input": INPUT, "crop": "centre",
        }
        key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
        return self.root / key[:2] / f"{key}.npz"

    def features(self, sample: Sample, *, fps: float = 4.0, max_frames: int | None = None,
                 streams: Sequence[str] = (APPEARANCE,)) -> CachedFeatures:
        """The sample's features: from disk when cached, else decoded, computed and stored.

        Frames are sampled every ``1/fps`` seconds of presentation time over the clip; with
        ``max_frames`` the rate is lowered so that about that many cover the whole clip (and no
        more are kept). Other streams in ``streams`` (motion, pose) come too: computed in the same decode
        pass when the appearance entry is missing, each stored in a sibling entry keyed the same plus the
        stream's name and version (entries written before a stream existed stay valid; a missing side entry
        costs one decode without the backbone). Raises ``InvalidMediaError`` / ``MediaNotFoundError`` for
        unusable videos.
        """
        file = self.path_for(sample, fps=fps, max_frames=max_frames)
        wanted = [n for n in streams if n != APPEARANCE]
        found = _load(file)
        side = {}
        if found is not None:
            side = {n: rows for n in wanted if (rows := _load_stream(_stream_file(file, n), n, found)) is not None}
        missing = [n for n in wanted if n not in side]
        if found is not None and not missing:
            self.hits += 1
            found.side = side
            return found
        self.misses += 1
        meta = {"path": str(sample.path), "start": sample.start, "end": sample.end, "fps": fps,
                "max_frames": max_frames, "model": MODEL, "model_sha256": self._model_sha, "version": CACHE_VERSION}
        if found is None:
            computed = self._compute(sample, fps, max_frames, side=wanted)
            _save(file, computed, meta)
        else:
            computed = compute_features(sample, None, fps=fps, max_frames=max_frames, side=missing)
            if not np.array_equal(computed.indices, found.indices):
                raise InvalidMediaError("the streams and the appearance entry sampled different frames",
                                        path=sample.path)
            computed.features = found.features
            computed.side |= side
        for name in missing:
            _save_stream(_stream_file(file, name), computed,
                         {**meta, "stream": name, "stream_version": STREAMS[name].version})
        return computed

    def build(self, dataset: Dataset, *, fps: float = 4.0, max_frames: int | None = None,
              progress: ProgressCallback | None = None, streams: Sequence[str] = (APPEARANCE,)) -> BuildReport:
        """Fill the cache for every sample; cached ones are skipped, failures listed (never raised)."""
        started = time.perf_counter()
        report = BuildReport()
        for done, sample in enumerate(dataset.samples, 1):
            misses = self.misses
            try:
                self.features(sample, fps=fps, max_frames=max_frames, streams=streams)
            except Exception as error:  # one bad video must not stop the build; it is reported
                message = " ".join(str(error.args[0] if error.args else type(error).__name__).split())
                report.failed.append((sample, message))
            else:
                if self.misses > misses:
                    report.computed += 1
                else:
                    report.cached += 1
            if progress is not None:
                progress(done, len(dataset.samples), time.perf_counter() - started)
        report.seconds = time.perf_counter() - started
        return report

    # -- computing ----------------------------------------------------------------------------

    def _content_key(self, path: Path) -> str:
        stat = path.stat()
        memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if memo not in self._keys:
            self._keys[memo] = content_key(path)
        return self._keys[memo]

    def _compute(self, sample: Sample, fps: float, max_frames: int | None, *,
                 side: Sequence[str]) -> CachedFeatures:
        if self._model is None:
            from ..runtime import load_model  # ONNX Runtime loads only when something must be computed

            self._model = load_model(MODEL, self.variant, threads=self.threads)
        return compute_features(sample, self._model, fps=fps, max_frames=max_frames, batch_size=self.batch_size,
                                side=side)


def compute_features(sample: Sample, model: Model | None, *, fps: float = 4.0, max_frames: int | None = None,
                     batch_size: int = 32, side: Sequence[str] = ()) -> CachedFeatures:
    """Decode ``sample`` once at ``fps`` and run ``model`` (the backbone) on its frames in batches; no cache.

    What :meth:`FeatureCache.features` stores; see it for ``max_frames``. Decoding and pixel
    conversion run in a background thread beside the model. ``side`` names other streams
    (:mod:`vidlens.predict.streams`: motion, pose) whose rows of the same frames come too; without ``model``
    only them (appearance columns zero). A whole-clip stream (pose) keeps the clip's sampled frames until
    the end of the clip.
    """
    _check_settings(fps, max_frames)
    info = probe(sample.path)
    rate = float(fps)
    if max_frames is not None:
        stop = sample.end if sample.end is not None else info.duration_s
        if stop is not None and info.duration_s is not None:
            stop = min(stop, info.duration_s)
        if stop is not None and stop > (sample.start or 0.0):
            rate = min(rate, max_frames / (stop - (sample.start or 0.0)))
    sampler = Sampler(FrameSpec(fps=Fraction(rate).limit_denominator(10_000)))
    chunks: list[np.ndarray] = []
    batch: list[np.ndarray] = []
    indices: list[int] = []
    times: list[float] = []
    side = [n for n in side if n != APPEARANCE]
    per_frame = {n: STREAMS[n].factory(None, rate) for n in side if not STREAMS[n].whole_clip}
    side_rows: dict[str, list[np.ndarray]] = {n: [] for n in per_frame}
    clip_frames: list[np.ndarray] | None = [] if any(STREAMS[n].whole_clip for n in side) else None
    for frame in decode_clip(sample.path, FrameSpec(min_side=INPUT), start=sample.start, end=sample.end,
                             select=sampler.wants, prefetch=2 * batch_size, info=info):
        if frame.image is None:
            continue
        indices.append(frame.index)
        times.append(frame.time)
        for name, extractor in per_frame.items():
            side_rows[name].append(extractor.rows([frame.image], [frame.time])[0])
        if clip_frames is not None:
            clip_frames.append(frame.image)
        if model is None:
            continue
        batch.append(frame.image)
        if len(batch) == batch_size:
            chunks.append(model.run(backbone_input(batch))["features"])
            batch = []
        if max_frames is not None and len(indices) >= max_frames:
            break
    if batch and model is not None:
        chunks.append(model.run(backbone_input(batch))["features"])
    if not indices:
        raise InvalidMediaError("no frame could be sampled from this video or clip", path=sample.path)
    features = (np.concatenate(chunks).astype(np.float16) if chunks
                else np.zeros((len(indices), FEATURE_DIM), np.float16))
    rows = {n: np.stack(r).astype(np.float32) for n, r in side_rows.items()}
    if MOTION in rows:
        fill_first_row(rows[MOTION])
    for name in side:
        if STREAMS[name].whole_clip:
            rows[name] = np.asarray(STREAMS[name].factory(None, rate).rows(clip_frames, times), np.float32)
    return CachedFeatures(features, np.asarray(indices, np.int64), np.asarray(times, np.float64), rows)


def _check_settings(fps: float, max_frames: int | None) -> None:
    if not fps > 0:
        raise UsageError(f"fps must be > 0, got {fps}")
    if max_frames is not None and max_frames < 1:
        raise UsageError(f"max_frames must be >= 1, got {max_frames}")


def _load(file: Path) -> CachedFeatures | None:
    """The cached entry, or ``None`` if absent or unreadable (then it is recomputed and replaced)."""
    try:
        with np.load(file, allow_pickle=False) as data:
            found = CachedFeatures(data["features"], data["indices"], data["times"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None
    if found.features.ndim != 2 or len(found.indices) != len(found.features) or len(found) == 0:
        return None
    return found


def _save(file: Path, cached: CachedFeatures, meta: dict) -> None:
    with replacing(file, suffix=".npz") as tmp:  # readers see the old state or the whole new file
        np.savez(tmp, features=cached.features, indices=cached.indices, times=cached.times,
                 meta=np.array(json.dumps(meta)))


def _load_stream(file: Path, name: str, appearance: CachedFeatures) -> np.ndarray | None:
    """Stream ``name``'s rows matching ``appearance``'s frames, or ``None`` (absent, unreadable or stale)."""
    try:
        with np.load(file, allow_pickle=False) as data:
            rows, indices = data["rows"], data["indices"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return None
    shape = (len(appearance), STREAMS[name].dim)
    if rows.ndim != 2 or rows.shape != shape or not np.array_equal(indices, appearance.indices):
        return None
    return rows


def _save_stream(file: Path, cached: CachedFeatures, meta: dict) -> None:
    with replacing(file, suffix=".npz") as tmp:
        np.savez(tmp, rows=cached.side[meta["stream"]], indices=cached.indices, meta=np.array(json.dumps(meta)))
