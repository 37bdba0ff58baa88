"""The optimiser every training run uses, in one place so the loop and the learning-rate sweep agree."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import UsageError


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices and kernels only: decaying biases and norm scales only hurts."""
    decay, plain = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else plain).append(p)
    if not decay and not plain:
        raise UsageError("the model has no trainable parameters (a mean ensemble needs no training)")
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


def adamw(model: nn.Module, weight_decay: float, lr: float) -> torch.optim.AdamW:
    """AdamW over :func:`parameter_groups`."""
    return torch.optim.AdamW(parameter_groups(model, weight_decay), lr=lr)
