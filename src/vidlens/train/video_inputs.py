"""From a video (or a clip of one) to the inputs a bundle's model takes, as its input specs say (no torch).

One spec per model input (:func:`vidlens.predict.bundle.feature_input` / :func:`~vidlens.predict.bundle.clip_input`):

* ``features``: frames sampled every ``1/fps`` seconds of presentation time, shorter side scaled to 224 by
  swscale, run through the shipped backbone (:func:`vidlens.train.features.compute_features`, the feature
  cache's recipe, stored as float16), then ``steps`` segment centres (:func:`~vidlens.predict.inputs.prepare_features`);
* ``clip``: frames sampled at ``fps`` (or every ``stride``-th frame), shorter side scaled to ``size`` by
  swscale, then the centred window of ``frames`` frames and its centred square
  (:func:`~vidlens.predict.inputs.prepare_clip`).

Training decodes with :func:`decode_clip_frames` and :class:`~vidlens.train.features.FeatureCache`,
evaluation and the streaming ``classifier`` analyzer sample with
:func:`vidlens.predict.bundle.selection_spec`, so a model is
judged and deployed on exactly the inputs it learned from.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidMediaError, UsageError
from ..media import FrameSpec, Sampler
from ..predict.bundle import selection_spec, spec_fps
from ..predict.inputs import prepare_clip, prepare_features
from ..predict.streams import APPEARANCE, spec_streams
from .dataset import Sample
from .features import CachedFeatures, FeatureCache, compute_features
from .sampling import decode_clip

if TYPE_CHECKING:
    from ..predict.predictor import OnnxPredictor

#: Frames kept per training sample of a clip model (the centred ones): bounds memory on long samples.
MAX_TRAIN_CLIP_FRAMES = 64

FeatureSource = Callable[[Sample, float, Sequence[str]], CachedFeatures]  # (sample, fps, streams) -> rows


@dataclass
class SampledFrames:
    """Decoded frames of one sample with their place in the video (frame index, seconds); ``span_s`` is the
    time the sampled frames covered before any were dropped (first to last, plus one sampling period)."""

    frames: np.ndarray  # uint8 [T, H, W, 3]
    indices: np.ndarray  # int64 [T]
    times: np.ndarray  # float64 [T]
    span_s: float


def decode_clip_frames(sample: Sample, spec: dict[str, Any], *, max_frames: int | None = None) -> SampledFrames:
    """The frames a clip input samples from ``sample`` (one sequential decode), at the spec's size.

    With ``max_frames`` only the centred ``max_frames`` are kept (training holds clips in memory).
    Raises ``InvalidMediaError`` when nothing could be sampled.
    """
    if spec.get("kind") != "clip":
        raise UsageError(f"decode_clip_frames needs a clip input spec, got {spec.get('kind')!r}")
    wanted = selection_spec(spec)
    sampler = Sampler(FrameSpec(fps=wanted.fps, step=wanted.step))
    convert = FrameSpec(min_side=wanted.min_side, pixel_format="rgb24")
    frames, indices, times = [], [], []
    for frame in decode_clip(sample.path, convert, start=sample.start, end=sample.end, select=sampler.wants):
        if frame.image is None:
            continue
        frames.append(frame.image)
        indices.append(frame.index)
        times.append(frame.time)
    if not frames:
        raise InvalidMediaError("no frame could be sampled from this video or clip", path=sample.path)
    span = covered_seconds(np.asarray(times, np.float64))
    if max_frames is not None and len(frames) > max_frames:
        first = (len(frames) - max_frames) // 2
        frames, indices, times = (x[first: first + max_frames] for x in (frames, indices, times))
    return SampledFrames(np.stack(frames), np.asarray(indices, np.int64), np.asarray(times, np.float64), span)


def covered_seconds(times: np.ndarray) -> float:
    """Seconds that sampled frames at ``times`` cover: first to last plus one median sampling period."""
    if len(times) < 2:
        return 0.0
    return float(times[-1] - times[0] + np.median(np.diff(times)))


def sample_inputs(sample: Sample, specs: Sequence[dict[str, Any]], features: FeatureSource) -> list[np.ndarray]:
    """The evaluation inputs of ``sample``, one array per spec (no batch axis), built as in training.

    ``features(sample, fps, streams)`` supplies the per-frame rows (a :class:`~vidlens.train.features.FeatureCache`
    or :func:`~vidlens.train.features.compute_features`), so cached ones are reused.
    """
    out = []
    for spec in specs:
        if spec.get("kind") == "features":
            streams = spec_streams(spec)
            cached = features(sample, spec_fps(spec), streams)
            out.append(prepare_features(cached.rows(streams), int(spec["steps"])))
        else:
            clip = decode_clip_frames(sample, spec)
            out.append(prepare_clip(clip.frames, int(spec["frames"]), int(spec["size"])))
    return out


def clip_inputs(predictor: OnnxPredictor, sample_or_path: Sample | str | Path, start: float | None = None,
                end: float | None = None, *, cache: FeatureCache | None = None) -> list[np.ndarray]:
    """The inputs of ``predictor``'s model (one array per input, no batch axis) for a dataset sample or a video
    file (``start``/``end`` in seconds pick a clip of it), prepared as in training's evaluation; feature
    inputs come from ``cache`` (a training run's feature cache) when given, else from the backbone directly."""
    if isinstance(sample_or_path, Sample):
        sample = sample_or_path
    else:
        sample = Sample(Path(sample_or_path), predictor.classes[0], start, end)  # the label is not used

    def features(item: Sample, fps: float, streams: Sequence[str]) -> CachedFeatures:
        if cache is not None:
            return cache.features(item, fps=fps, streams=streams)
        name = next(s["backbone"] for s in predictor.specs if s["kind"] == "features")
        backbone = predictor.backbone(name) if APPEARANCE in streams else None
        return compute_features(item, backbone, fps=fps, side=streams)

    return sample_inputs(sample, predictor.specs, features)
