"""The bundle format: a directory holding ``vidlens_model.json`` (everything needed to prepare inputs and
read outputs) and ``weights.pt`` (the torch state dict, :mod:`vidlens.train.bundle`); an ONNX export adds
``model.onnx``.

The JSON is enough to run the model from ONNX Runtime without torch: each entry of ``inputs`` says how
to build one model input from a video (per-frame backbone features at ``fps``, ``steps`` segment
centres; or a window of ``frames`` decoded frames, centre square resized to ``size``, RGB in [0, 1]) —
exactly :func:`vidlens.predict.inputs.prepare_features` / :func:`~vidlens.predict.inputs.prepare_clip` —
with its ONNX input ``name``, ``layout`` and ``shape``. Standardisation is inside the model. The output
is ``logits`` ``[batch, C]``: softmax gives class probabilities in the order of ``classes``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

from ..errors import UsageError, VidlensError
from ..files import write_text_atomic
from ..media import FrameSpec
from ..runtime.backbone import FEATURE_DIM, INPUT, MODEL

BUNDLE_FORMAT = "vidlens.model/1"
META_FILE = "vidlens_model.json"
WEIGHTS_FILE = "weights.pt"
ONNX_FILE = "model.onnx"
OUTPUT_NAME = "logits"
#: Backbone of feature inputs: the shipped ImageNet model in the runtime registry, and its feature size.
DEFAULT_BACKBONE = MODEL
DEFAULT_BACKBONE_DIM = FEATURE_DIM
#: Sampling rate used for an input spec whose ``fps`` is ``None`` ("every frame"): above any real frame rate.
EVERY_FRAME_FPS = 1000.0


class InvalidBundleError(VidlensError, ValueError):
    """A directory is not a readable vidlens model (missing files, unknown format, mismatched weights)."""

    exit_code = 2


def feature_input(*, steps: int, fps: float | None, backbone: str = DEFAULT_BACKBONE,
                  dim: int = DEFAULT_BACKBONE_DIM, streams: Sequence[str] | None = None) -> dict[str, Any]:
    """Input spec of a head over per-frame features: frames sampled at ``fps`` (None = every frame), each
    turned into a ``dim`` feature by ``backbone``, then ``steps`` TSN segment centres. With ``streams``
    (:mod:`vidlens.predict.streams`) each row is those streams' rows concatenated and ``dim`` their total."""
    spec = {"kind": "features", "backbone": backbone, "dim": int(dim), "steps": int(steps),
            "fps": None if fps is None else float(fps), "selection": "segment-centres", "layout": "NTD",
            "dtype": "float32"}
    if streams is not None:
        from .streams import STREAMS, stream_dims

        spec["streams"] = list(streams)
        spec["stream_dims"] = stream_dims(streams)
        spec["stream_versions"] = [STREAMS[n].version for n in streams]
        spec["dim"] = int(sum(spec["stream_dims"]))
    return spec


def clip_input(*, frames: int, size: int, fps: float | None = None, stride: int | None = None) -> dict[str, Any]:
    """Input spec of a clip model: ``frames`` consecutive frames sampled at ``fps`` or every ``stride``-th
    decoded frame, the centred window of a longer clip, each frame's centred square resized to ``size``."""
    if fps is not None and stride is not None:
        raise UsageError("give a clip's frame rate or its stride, not both")
    return {"kind": "clip", "frames": int(frames), "size": int(size), "fps": None if fps is None else float(fps),
            "stride": None if stride is None else int(stride), "window": "centre", "crop": "centre-square",
            "layout": "NCTHW", "channels": "RGB", "value_range": [0.0, 1.0], "dtype": "float32"}


def read_meta(directory: str | Path) -> dict[str, Any]:
    """The bundle's metadata (no torch needed); :class:`InvalidBundleError` if it is not a vidlens model."""
    path = Path(directory) / META_FILE
    if not path.is_file():
        raise InvalidBundleError(f"not a vidlens model directory (no {META_FILE})", path=directory)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidBundleError(f"unreadable model metadata: {error}", path=path) from None
    if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise InvalidBundleError(f"unsupported model format {found!r} (this vidlens reads {BUNDLE_FORMAT})", path=path)
    for key in ("arch", "hyper_parameters", "classes", "inputs"):
        if key not in meta:
            raise InvalidBundleError(f"model metadata lacks {key!r}", path=path)
    return meta


def write_meta(directory: str | Path, meta: dict[str, Any]) -> Path:
    """Replace the bundle's metadata atomically (e.g. after an export adds ``files.onnx``)."""
    return write_text_atomic(Path(directory) / META_FILE, json.dumps(meta, indent=1, ensure_ascii=False) + "\n")



def spec_fps(spec: dict[str, Any]) -> float | None:
    """The input's sampling rate in frames per second (``None`` for a stride-sampled clip)."""
    if spec.get("kind") == "clip" and spec.get("stride"):
        return None
    fps = spec.get("fps")
    return EVERY_FRAME_FPS if fps is None else float(fps)


def selection_spec(spec: dict[str, Any]) -> FrameSpec:
    """The ``FrameSpec`` (size and which frames) that training decoded this input's frames with."""
    kind = spec.get("kind")
    if kind == "features":
        return FrameSpec(min_side=INPUT, pixel_format="rgb24",
                         fps=Fraction(spec_fps(spec)).limit_denominator(10_000))
    if kind == "clip":
        size = int(spec["size"])
        if spec.get("stride"):
            return FrameSpec(min_side=size, pixel_format="rgb24", step=int(spec["stride"]))
        return FrameSpec(min_side=size, pixel_format="rgb24", fps=Fraction(spec_fps(spec)).limit_denominator(10_000))
    raise UsageError(f"unknown model input kind {kind!r} (expected features or clip)")
