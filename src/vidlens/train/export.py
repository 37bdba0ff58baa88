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
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import VidlensError
from .bundle import ONNX_FILE, OUTPUT_NAME, load_bundle, read_meta, write_meta

#: Largest |ONNX - torch| logit difference accepted (float32 kernels differ in summation order only).
MAX_ABS_DIFF = 1e-3
#: Batch size of the verification run: different from the traced batch (2), so the dynamic axis is exercised.
CHECK_BATCH = 3


class ExportError(VidlensError, RuntimeError):
    """The exported graph does not reproduce the torch model (or could not be written)."""

    exit_code = 1


def check_inputs(model: torch.nn.Module, batch: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Random inputs in each input's natural range: standard normal features (raw backbone features are
    about that scale), uniform ``[0, 1]`` pixels for clips."""
    generator = torch.Generator().manual_seed(seed)
    out = []
    for example in model.example_inputs(1):
        shape = (batch, *example.shape[1:])
        if example.dim() == 5:  # clip [B, 3, T, H, W]
            out.append(torch.rand(shape, generator=generator))
        else:
            out.append(torch.randn(shape, generator=generator))
    return tuple(out)


def export_onnx(bundle_dir: str | Path, *, opset: int = 17) -> Path:
    """Write ``bundle_dir/model.onnx`` for the bundle's model, verify it with ONNX Runtime and record it.

    Returns the ONNX file's path. The metadata gains ``files.onnx`` and an ``export`` section (opset,
    largest logit difference to torch on the check batch, file size and sha256). Raises
    :class:`ExportError` when ONNX Runtime disagrees with torch by more than :data:`MAX_ABS_DIFF`;
    the file is then not recorded.
    """
    import onnxruntime as ort

    directory = Path(bundle_dir)
    model, meta = load_bundle(directory)
    model.eval()
    names = list(model.input_names)
    target = directory / ONNX_FILE
    fd, tmp_name = tempfile.mkstemp(prefix=f".{ONNX_FILE}.", suffix=".partial", dir=directory)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer warnings about Python ints in shapes are expected here
            torch.onnx.export(model, model.example_inputs(2), str(tmp), dynamo=False, opset_version=opset,
                              input_names=names, output_names=[OUTPUT_NAME],
                              dynamic_axes={name: {0: "batch"} for name in [*names, OUTPUT_NAME]})
        inputs = check_inputs(model, CHECK_BATCH)
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        onnx_logits = session.run([OUTPUT_NAME], {n: t.numpy() for n, t in zip(names, inputs)})[0]
        with torch.no_grad():
            torch_logits = model(*inputs).numpy()
        diff = float(np.max(np.abs(onnx_logits.astype(np.float64) - torch_logits.astype(np.float64))))
        if not np.isfinite(diff) or diff > MAX_ABS_DIFF:
            raise ExportError(f"the ONNX export differs from the torch model by {diff:.3g} in the logits "
                              f"(limit {MAX_ABS_DIFF:g})", path=directory)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    meta = read_meta(directory)  # re-read: the file on disk is what we update
    meta["files"] = {**meta.get("files", {}), "onnx": ONNX_FILE}
    meta["export"] = _export_record(target, opset, diff, onnx_logits.shape)
    write_meta(directory, meta)
    return target


def _export_record(path: Path, opset: int, diff: float, shape: tuple[int, ...]) -> dict[str, Any]:
    data = path.read_bytes()
    return {"opset": int(opset), "exporter": "torch.onnx (TorchScript)", "torch_version": torch.__version__,
            "check_batch": int(shape[0]), "max_abs_diff": diff, "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest()}
