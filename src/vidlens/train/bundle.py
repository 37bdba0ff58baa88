"""Saving and loading a bundle's torch weights (``weights.pt``); the format itself, its metadata and input
specs are :mod:`vidlens.predict.bundle` (torch-free).

This module imports torch only inside :func:`save_bundle` and :func:`load_bundle`.
"""

from __future__ import annotations

import datetime as dt
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..errors import UsageError
from ..predict.bundle import (
    BUNDLE_FORMAT,
    META_FILE,
    OUTPUT_NAME,
    WEIGHTS_FILE,
    InvalidBundleError,
    read_meta,
    write_meta,
)

if TYPE_CHECKING:
    from .models import VideoClassifier

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
