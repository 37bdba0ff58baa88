"""Magnitude pruning of a trained model (torch): the smallest weights, counted over the whole model, set to 0.

Global unstructured L1 pruning (``torch.nn.utils.prune.global_unstructured``) ranks every weight of the
convolutions, linear layers and LSTM/GRU matrices together and zeroes the ``amount`` smallest by magnitude,
so layers with many redundant weights lose more than thin ones. Biases, normalisation and the input
standardisation are left alone (few values, large effect).

Until :func:`make_permanent`, each pruned weight is ``weight_orig * weight_mask`` recomputed before every
forward pass, so fine-tuning with the ordinary training loop updates the surviving weights and the zeros
stay zeros. Unstructured zeros do not make a dense ONNX file smaller or faster; they make it *compress*
(the gzip size in :mod:`vidlens.train.compress` shows by how much).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune

from ..errors import UsageError

PRUNABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def prunable_weights(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """``(module, parameter name)`` of every weight matrix or kernel global pruning ranks."""
    found: list[tuple[nn.Module, str]] = []
    for module in model.modules():
        if isinstance(module, PRUNABLE):
            found.append((module, "weight"))
        elif isinstance(module, nn.RNNBase):
            found += [(module, name) for name in module._flat_weights_names if name.startswith("weight")]
    return found


def prune_global(model: nn.Module, amount: float) -> list[tuple[nn.Module, str]]:
    """Zero the ``amount`` (a fraction in ``(0, 1)``) smallest-magnitude prunable weights of ``model``, masks
    kept in place for fine-tuning; returns the pruned ``(module, name)`` pairs."""
    if not 0.0 < float(amount) < 1.0:
        raise UsageError(f"a pruning amount is a fraction between 0 and 1 (0.3 = 30 %), got {amount}")
    targets = prunable_weights(model)
    if not targets:
        raise UsageError(f"{type(model).__name__} has no convolution, linear or recurrent weights to prune")
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=float(amount))
    return targets


def make_permanent(model: nn.Module) -> None:
    """Fold every pruning mask into its weight (plain parameters again, zeros included)."""
    for module, name in prunable_weights(model):
        if prune.is_pruned(module) and hasattr(module, f"{name}_mask"):
            prune.remove(module, name)


def sparsity(model: nn.Module) -> dict[str, Any]:
    """Zeros among the prunable weights and among all parameters (what a pruned file can compress away)."""
    with torch.no_grad():
        weights = [getattr(module, name) for module, name in prunable_weights(model)]
        zeros = sum(int((w == 0).sum()) for w in weights)
        total = sum(w.numel() for w in weights)
        all_zeros = sum(int((p == 0).sum()) for p in model.parameters())
        all_total = sum(p.numel() for p in model.parameters())
    return {"prunable_zeros": zeros, "prunable_weights": total,
            "prunable_sparsity": zeros / total if total else 0.0,
            "parameter_sparsity": all_zeros / all_total if all_total else 0.0}
