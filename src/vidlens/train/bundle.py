"""The saved-model format: a directory holding ``vidlens_model.json`` (everything needed to prepare inputs
and read outputs) and ``weights.pt`` (the torch state dict); an ONNX export adds ``model.onnx``.

The JSON is enough to run the model from ONNX Runtime without torch: each entry of ``inputs`` says how
to build one model input from a video (per-frame backbone features at ``fps``, ``steps`` segment
centres; or a window of ``frames`` decoded frames, centre square resized to ``size``, RGB in [0, 1]) —
exactly :func:`vidlens.train.inputs.prepare_features` / :func:`~vidlens.train.inputs.prepare_clip` —
with its ONNX input ``name``, ``layout`` and ``shape``. Standardisation is inside the model. The output
is ``logits`` ``[batch, C]``: softmax gives class probabilities in the order of ``classes``.

This module imports torch only inside :func:`save_bundle` and :func:`load_bundle`, so metadata can be
read where only ONNX Runtime is installed.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import UsageError, VidlensError
from ..timeline import write_text_atomic

if TYPE_CHECKING:
    from .models import VideoClassifier

BUNDLE_FORMAT = "vidlens.model/1"
META_FILE = "vidlens_model.json"
WEIGHTS_FILE = "weights.pt"
ONNX_FILE = "model.onnx"
OUTPUT_NAME = "logits"
#: Backbone of feature inputs: the shipped ImageNet model in the runtime registry, and its feature size.
DEFAULT_BACKBONE = "efficientnet_lite0"
DEFAULT_BACKBONE_DIM = 1280


class InvalidBundleError(VidlensError, ValueError):
    """A directory is not a readable vidlens model (missing files, unknown format, mismatched weights)."""

    exit_code = 2


def feature_input(*, steps: int, fps: float | None, backbone: str = DEFAULT_BACKBONE,
                  dim: int = DEFAULT_BACKBONE_DIM) -> dict[str, Any]:
    """Input spec of a head over per-frame features: frames sampled at ``fps`` (None = every frame), each
    turned into a ``dim`` feature by ``backbone``, then ``steps`` TSN segment centres."""
    return {"kind": "features", "backbone": backbone, "dim": int(dim), "steps": int(steps),
            "fps": None if fps is None else float(fps), "selection": "segment-centres", "layout": "NTD",
            "dtype": "float32"}


def clip_input(*, frames: int, size: int, fps: float | None = None, stride: int | None = None) -> dict[str, Any]:
    """Input spec of a clip model: ``frames`` consecutive frames sampled at ``fps`` or every ``stride``-th
    decoded frame, the centred window of a longer clip, each frame's centred square resized to ``size``."""
    if fps is not None and stride is not None:
        raise UsageError("give a clip's frame rate or its stride, not both")
    return {"kind": "clip", "frames": int(frames), "size": int(size), "fps": None if fps is None else float(fps),
            "stride": None if stride is None else int(stride), "window": "centre", "crop": "centre-square",
            "layout": "NCTHW", "channels": "RGB", "value_range": [0.0, 1.0], "dtype": "float32"}


def _check_input(model: VideoClassifier, spec: dict[str, Any], name: str, shape: Sequence[int]) -> dict[str, Any]:
    kind = spec.get("kind")
    if kind == "features" and len(shape) == 3:
        expected = {"steps": shape[1], "dim": shape[2]}
    elif kind == "clip" and len(shape) == 5:
        expected = {"frames": shape[2], "size": shape[3]}
    else:
        model_kind = {3: "features", 5: "clip"}.get(len(shape), "?")
        raise UsageError(f"input {name!r} of {model.arch} takes {model_kind}, but its spec is of kind {kind!r}")
    for key, value in expected.items():
        if spec.get(key) != value:
            raise UsageError(f"input {name!r}: the spec says {key}={spec.get(key)} but the model was built for {value}")
    return {**spec, "name": name, "shape": ["batch", *shape[1:]]}


def save_bundle(directory: str | Path, model: VideoClassifier, *, classes: Sequence[str],
                inputs: Sequence[dict[str, Any]], training: dict[str, Any] | None = None,
                metrics: dict[str, Any] | None = None) -> Path:
    """Write ``model`` as a bundle directory and return it.

    ``inputs`` has one spec per model input (:func:`feature_input`, :func:`clip_input`), in ``forward``
    order; ``training`` (e.g. ``TrainResult.to_dict()``) and ``metrics`` (e.g. ``evaluate(...)``) are
    stored as given. Existing files of the same names are replaced (the JSON atomically, last).
    """
    import torch

    out = Path(directory)
    names = [str(c) for c in classes]
    if len(names) != model.num_classes or len(set(names)) != len(names):
        raise UsageError(f"need {model.num_classes} distinct class names, got {len(names)} "
                         f"({len(set(names))} distinct)")
    if len(inputs) != len(model.input_names):
        raise UsageError(f"{model.arch} takes {len(model.input_names)} input(s) but {len(inputs)} spec(s) were given")
    examples = model.example_inputs(1)
    specs = [_check_input(model, dict(spec), name, tuple(example.shape))
             for spec, name, example in zip(inputs, model.input_names, examples)]
    out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), out / WEIGHTS_FILE)
    previous = read_meta(out) if (out / META_FILE).exists() else {}
    meta = {
        "format": BUNDLE_FORMAT,
        "arch": model.arch,
        "hyper_parameters": model.hyper_parameters,
        "classes": names,
        "inputs": specs,
        "output": {"name": OUTPUT_NAME, "shape": ["batch", len(names)], "activation": "softmax"},
        "normalisation": "inside the model: input standardisation fitted on the training set",
        "training": training,
        "metrics": metrics,
        "files": {"weights": WEIGHTS_FILE, "onnx": None},
        "created": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "vidlens_version": __version__,
        "torch_version": torch.__version__,
    }
    if previous.get("files", {}).get("onnx") and (out / previous["files"]["onnx"]).exists():
        (out / previous["files"]["onnx"]).unlink()  # a stale export would no longer match the new weights
    write_meta(out, meta)
    return out


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


def load_bundle(directory: str | Path) -> tuple[VideoClassifier, dict[str, Any]]:
    """Rebuild the model from its metadata, load its weights (CPU, eval mode) and return it with the metadata."""
    import torch

    from .models import build_model

    meta = read_meta(directory)
    weights = Path(directory) / meta.get("files", {}).get("weights", WEIGHTS_FILE)
    if not weights.is_file():
        raise InvalidBundleError(f"model weights {weights.name} are missing", path=directory)
    try:
        model = build_model(meta["arch"], len(meta["classes"]), **meta["hyper_parameters"])
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    except (UsageError, RuntimeError, KeyError, TypeError, ValueError, EOFError, pickle.UnpicklingError) as error:
        raise InvalidBundleError(f"weights do not fit the recorded architecture: {str(error).splitlines()[0]}",
                                 path=weights) from None
    model.eval()
    return model, meta
