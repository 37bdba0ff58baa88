"""INT8 copies of a bundle's ONNX model, made with ONNX Runtime's quantization tools (no torch needed).

- **Dynamic** (:func:`quantize_dynamic_file`): weights are stored as int8 ahead of time; activations are
  quantized at run time from each tensor's own min/max, so no data is needed. ONNX Runtime does this for
  MatMul / Gemm (the heads' projections and classifiers) and Conv (as ConvInteger); GRU cells stay float
  (only LSTM has a dynamic INT8 kernel).
- **Static** (:func:`quantize_static_file`): activation scales are fixed beforehand from *calibration*
  inputs, real prepared inputs of training clips (:class:`ArraysReader`), so nothing is measured at run
  time. Weights per output channel (int8), activations uint8, min/max calibration, written as QDQ
  (Quantize/DequantizeLinear pairs around float ops, which ONNX Runtime fuses into integer kernels where
  it has them) after ``quant_pre_process`` (shape inference and graph clean-up, as ONNX Runtime advises).

Whether either is faster depends on the kernels ONNX Runtime has for the ops of a model on the CPU at
hand, so :mod:`vidlens.train.compress` measures instead of assuming.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..files import replacing

#: Calibration inputs used at most (spread over the training split): min/max settles well before this.
MAX_CALIBRATION = 64


def _quantization():
    try:
        from onnxruntime import quantization
    except ImportError as error:  # onnxruntime.quantization needs the onnx package (the train extra)
        raise UsageError(f"INT8 quantization needs the onnx package: pip install 'vidlens[train]' ({error})") from None
    return quantization


@contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """The quantizer logs advice through the root logger at WARNING; the CLI reports what matters itself."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def quantize_dynamic_file(source: str | Path, target: str | Path) -> Path:
    """Write the dynamic-INT8 version of the ONNX model ``source`` to ``target`` (int8 weights)."""
    q = _quantization()
    target = Path(target)
    with replacing(target, suffix=".onnx") as tmp, _quiet_quantizer():
        q.quantize_dynamic(str(source), str(tmp), weight_type=q.QuantType.QInt8)
    return target


class ArraysReader:
    """Calibration data for ``quantize_static`` (its ``CalibrationDataReader`` protocol): one feed dict per
    prepared sample, inputs by name, batch of one."""

    def __init__(self, names: Sequence[str], items: Sequence[Sequence[np.ndarray]]) -> None:
        if not items:
            raise UsageError("static quantization needs calibration inputs (give a dataset)")
        if any(len(item) != len(names) for item in items):
            raise UsageError(f"each calibration sample needs {len(names)} input(s) ({', '.join(names)})")
        self._feeds = [{n: np.asarray(a, np.float32)[None] for n, a in zip(names, item)} for item in items]
        self._position = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self._position >= len(self._feeds):
            return None
        self._position += 1
        return self._feeds[self._position - 1]

    def rewind(self) -> None:
        self._position = 0


def calibration_subset(items: Sequence, limit: int = MAX_CALIBRATION) -> list:
    """At most ``limit`` items spread evenly over ``items`` (a dataset listed class by class keeps every class)."""
    if len(items) <= limit:
        return list(items)
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, limit).round().astype(int)]


def quantize_static_file(source: str | Path, target: str | Path, names: Sequence[str],
                         calibration: Sequence[Sequence[np.ndarray]]) -> Path:
    """Write the static-INT8 (QDQ) version of ``source`` to ``target``, with activation ranges from
    ``calibration`` (per sample, one array per model input named in ``names``, without the batch axis)."""
    q = _quantization()
    from onnxruntime.quantization.shape_inference import quant_pre_process

    reader = ArraysReader(names, calibration)  # duck-typed: the quantizer only calls get_next()
    target = Path(target)
    with replacing(target, suffix=".onnx") as tmp, _quiet_quantizer(), tempfile.TemporaryDirectory() as work:
        prepared = Path(work) / "prepared.onnx"
        quant_pre_process(str(source), str(prepared))
        q.quantize_static(str(prepared), str(tmp), reader, quant_format=q.QuantFormat.QDQ, per_channel=True,
                          activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8,
                          calibrate_method=q.CalibrationMethod.MinMax)
    return target
