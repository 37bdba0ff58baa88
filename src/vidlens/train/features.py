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
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InvalidMediaError, UsageError
from ..files import replacing
from ..media import FrameSpec, Sampler, probe
from ..runtime.backbone import INPUT, MODEL, backbone_input
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

    features: np.ndarray  # float16 [N, 1280]
    indices: np.ndarray  # int64 [N]
    times: np.ndarray  # float64 [N]

    def __len__(self) -> int:
        return len(self.features)


def feature_steps(cached: CachedFeatures, steps: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """``steps`` rows of ``cached`` chosen TSN-style (one per equal segment), as float32 ``[steps, 1280]``.

    Without ``rng`` each segment's centre frame (evaluation), with it a random frame per segment
    (training jitter). Fewer cached frames than steps repeat frames.
    """
    if len(cached) == 0:
        raise UsageError("no cached frame to take steps from")
    return cached.features[segment_indices(len(cached), steps, rng)].astype(np.float32)


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

    def features(self, sample: Sample, *, fps: float = 4.0, max_frames: int | None = None) -> CachedFeatures:
        """The sample's features: from disk when cached, else decoded, computed and stored.

        Frames are sampled every ``1/fps`` seconds of presentation time over the clip; with
        ``max_frames`` the rate is lowered so that about that many cover the whole clip (and no
        more are kept). Raises ``InvalidMediaError`` / ``MediaNotFoundError`` for unusable videos.
        """
        file = self.path_for(sample, fps=fps, max_frames=max_frames)
        found = _load(file)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        computed = self._compute(sample, fps, max_frames)
        _save(file, computed, {"path": str(sample.path), "start": sample.start, "end": sample.end,
                               "fps": fps, "max_frames": max_frames, "model": MODEL,
                               "model_sha256": self._model_sha, "version": CACHE_VERSION})
        return computed

    def build(self, dataset: Dataset, *, fps: float = 4.0, max_frames: int | None = None,
              progress: ProgressCallback | None = None) -> BuildReport:
        """Fill the cache for every sample; cached ones are skipped, failures listed (never raised)."""
        started = time.perf_counter()
        report = BuildReport()
        for done, sample in enumerate(dataset.samples, 1):
            misses = self.misses
            try:
                self.features(sample, fps=fps, max_frames=max_frames)
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

    def _compute(self, sample: Sample, fps: float, max_frames: int | None) -> CachedFeatures:
        if self._model is None:
            from ..runtime import load_model  # ONNX Runtime loads only when something must be computed

            self._model = load_model(MODEL, self.variant, threads=self.threads)
        return compute_features(sample, self._model, fps=fps, max_frames=max_frames, batch_size=self.batch_size)


def compute_features(sample: Sample, model: Model, *, fps: float = 4.0, max_frames: int | None = None,
                     batch_size: int = 32) -> CachedFeatures:
    """Decode ``sample`` once at ``fps`` and run ``model`` (the backbone) on its frames in batches; no cache.

    What :meth:`FeatureCache.features` stores; see it for ``max_frames``. Decoding and pixel
    conversion run in a background thread beside the model.
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
    for frame in decode_clip(sample.path, FrameSpec(min_side=INPUT), start=sample.start, end=sample.end,
                             select=sampler.wants, prefetch=2 * batch_size, info=info):
        if frame.image is None:
            continue
        batch.append(frame.image)
        indices.append(frame.index)
        times.append(frame.time)
        if len(batch) == batch_size:
            chunks.append(model.run(backbone_input(batch))["features"])
            batch = []
        if max_frames is not None and len(indices) >= max_frames:
            break
    if batch:
        chunks.append(model.run(backbone_input(batch))["features"])
    if not indices:
        raise InvalidMediaError("no frame could be sampled from this video or clip", path=sample.path)
    return CachedFeatures(np.concatenate(chunks).astype(np.float16), np.asarray(indices, np.int64),
                          np.asarray(times, np.float64))


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
