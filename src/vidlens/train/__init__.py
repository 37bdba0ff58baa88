"""Training, evaluation and export of user video classifiers (issue 7; PyTorch is the optional ``train`` extra).

The data side (``dataset``, ``sampling``, ``features``, ``video_inputs``) and ``metrics``, ``plots``, ``report``
need only NumPy, PyAV, OpenCV and ONNX Runtime, so datasets can be checked, features cached and models
evaluated on machines without PyTorch; running a trained model is :mod:`vidlens.predict` (never torch). The
PyTorch parts (models, loop, torch_datasets, evaluation, fit, ...) import torch themselves; this package's
``__init__`` must never import it at import time (:func:`need_torch` does, when called).
"""

from __future__ import annotations

from ..errors import UsageError


def need_torch(what: str) -> None:
    """A :class:`~vidlens.errors.UsageError` saying how to install PyTorch unless it can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise UsageError(f"{what} needs PyTorch (CPU): pip install 'vidlens[train]' (torch==2.13.0); evaluating and "
                         "predicting with a trained model do not") from None
