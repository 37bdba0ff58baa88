"""Running a trained torch model over a dataset: class probabilities and the full metrics report.

Datasets yield ``(x, label)``; ``x`` is one tensor, or a tuple of tensors for models with several inputs
(an ensemble of a feature head and a 3D-CNN), passed to ``model(*x)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from .metrics import evaluate_predictions


def forward(model: nn.Module, x: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """``model(x)``, or ``model(*x)`` when a dataset item holds several inputs."""
    return model(*x) if isinstance(x, (tuple, list)) else model(x)


def predict_with_labels(model: nn.Module, dataset: Dataset, *, batch_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Softmax probabilities ``[N, C]`` (float64) and the dataset's labels ``[N]``, in dataset order.

    The model is switched to eval mode (no dropout, frozen batch-norm statistics) and left in it.
    """
    model.eval()
    probs: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    with torch.inference_mode():
        for x, y in DataLoader(dataset, batch_size=batch_size, shuffle=False):
            probs.append(torch.softmax(forward(model, x).double(), dim=1).numpy())
            labels.append(np.asarray(y, dtype=np.int64).reshape(-1))
    if not probs:
        num_classes = getattr(model, "num_classes", 0)
        return np.zeros((0, num_classes)), np.zeros(0, dtype=np.int64)
    return np.concatenate(probs), np.concatenate(labels)


def predict_proba(model: nn.Module, dataset: Dataset, *, batch_size: int = 32) -> np.ndarray:
    """Class probabilities ``[N, C]`` for every item of ``dataset`` (its labels are ignored)."""
    return predict_with_labels(model, dataset, batch_size=batch_size)[0]


def evaluate(model: nn.Module, dataset: Dataset, classes: Sequence[str], *, batch_size: int = 32) -> dict[str, Any]:
    """Every metric of :func:`vidlens.train.metrics.evaluate_predictions` for ``model`` on ``dataset``."""
    probs, labels = predict_with_labels(model, dataset, batch_size=batch_size)
    return evaluate_predictions(labels, probs, classes)
