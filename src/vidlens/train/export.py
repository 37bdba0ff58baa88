"""ONNX export of a saved model bundle, checked against torch before it is recorded.

A trained model has to run where PyTorch is not installed (``vidlens predict``, ``vidlens analyze
--classifier``, a server): the bundle's ``model.onnx`` is what they load, through ONNX Runtime. The
export uses the TorchScript exporter (``dynamo=False``): every vidlens model is written so that it
traces (no data-dependent control flow, attention spelled out), and the traced exporter needs no
extra packages and gives one stable graph per model. The batch axis is dynamic, so one file serves
one clip or a whole test set.

The file is only recorded in ``vidlens_model.json`` once ONNX Runtime's logits match torch's on
random inputs of a batch size other than the traced one; the largest difference is recorded with it,
so a user (and the compression code, which compares its INT8 files to this) can see how exact it is.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import VidlensError
from ..files import replacing
from ..offline import quiet_onnxruntime
from ..predict.bundle import ONNX_FILE, OUTPUT_NAME, read_meta, write_meta
from .bundle import load_bundle

#: Largest |ONNX - torch| logit difference accepted, relative to the largest logit magnitude (at least 1):
#: float32 kernels differ in summation order only.
MAX_REL_DIFF = 1e-3
#: Batch size of the verification run: different from the traced batch (2), so the dynamic axis is exercised.
CHECK_BATCH = 3


class ExportError(VidlensError, RuntimeError):
    """The exported graph does not reproduce the torch model (or could not be written)."""

    exit_code = 1


def _reader_of(model: torch.nn.Module, position: int) -> torch.nn.Module:
    """The model (or ensemble member) that reads input ``position``."""
    members = getattr(model, "members", None)
    if members is None:
        return model
    return members[list(model.inputs).index(position)]


def check_inputs(model: torch.nn.Module, batch: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs like the ones the model was trained on: features drawn around the fitted input mean with
    the fitted spread (far outside it, a dimension whose training spread was tiny turns float32 rounding into
    large logits), uniform ``[0, 1]`` pixels for clips."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for position, example in enumerate(model.example_inputs(1)):
        shape = (batch, *example.shape[1:])
        if example.dim() == 5:  # clip [B, 3, T, H, W]
            out.append(torch.rand(shape, generator=generator))
            continue
        norm = getattr(_reader_of(model, position), "norm", None)
        noise = torch.randn(shape, generator=generator)
        out.append(noise if norm is None else norm.mean + norm.std * noise)
    return tuple(out)


def export_onnx(bundle_dir: str | Path, *, opset: int = 17) -> Path:
    """Write ``bundle_dir/model.onnx`` for the bundle's model, verify it with ONNX Runtime and record it.

    Returns the ONNX file's path. The metadata gains ``files.onnx`` and an ``export`` section (opset,
    largest logit difference to torch on the check batch, file size and sha256). Raises
    :class:`ExportError` when ONNX Runtime disagrees with torch by more than :data:`MAX_REL_DIFF` of the
    largest logit; the file is then not recorded.
    """
    import onnxruntime as ort

    directory = Path(bundle_dir)
    model, meta = load_bundle(directory)
    model.eval()
    names = list(model.input_names)
    target = directory / ONNX_FILE
    with replacing(target, suffix=".onnx") as tmp:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python ints in shapes are expected here
            torch.onnx.export(model, model.example_inputs(2), str(tmp), dynamo=False, opset_version=opset,
                              input_names=names, output_names=[OUTPUT_NAME],
                              dynamic_axes={name: {0: "batch"} for name in [*names, OUTPUT_NAME]})
        inputs = check_inputs(model, CHECK_BATCH)
        quiet_onnxruntime()
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        onnx_logits = session.run([OUTPUT_NAME], {n: t.numpy() for n, t in zip(names, inputs)})[0]
        with torch.no_grad():
            torch_logits = model(*inputs).numpy()
        diff = float(np.max(np.abs(onnx_logits.astype(np.float64) - torch_logits.astype(np.float64))))
        scale = max(1.0, float(np.max(np.abs(torch_logits))))
        if not np.isfinite(diff) or diff > MAX_REL_DIFF * scale:
            raise ExportError(f"the ONNX export differs from the torch model by {diff:.3g} in logits of magnitude "
                              f"up to {scale:.3g} (limit {MAX_REL_DIFF:g} of it)", path=directory)
    meta = read_meta(directory)  # re-read: the file on disk is what we update
    meta["files"] = {**meta.get("files", {}), "onnx": ONNX_FILE}
    meta["export"] = {**_export_record(target, opset, diff, onnx_logits.shape), "max_abs_logit": scale}
    write_meta(directory, meta)
    return target


def _export_record(path: Path, opset: int, diff: float, shape: tuple[int, ...]) -> dict[str, Any]:
    data = path.read_bytes()
    return {"opset": int(opset), "exporter": "torch.onnx (TorchScript)", "torch_version": torch.__version__,
            "check_batch": int(shape[0]), "max_abs_diff": diff, "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}
