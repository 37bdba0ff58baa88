"""A learning-rate finder (Smith 2017, "Cyclical learning rates", section 3.3): a short sweep on the training
set with the learning rate growing exponentially each step, and the steepest-descent point of the loss.

The sweep trains a throw-away copy of the optimisation (a fresh AdamW with the run's weight decay, gradient
clipping and label smoothing, no warm-up, no mixup) on the model, then puts the model's weights and
batch-norm statistics and torch's random state back exactly as they were, so a run that finds its learning
rate is the same run as one told that rate (and stays reproducible with its seed).

The suggestion is the learning rate where the smoothed loss falls fastest per decade of learning rate, taken
between the start of the sweep and its lowest loss, and never above the rate of the lowest loss: past it the
loss stops falling and soon diverges. The sweep stops early once the smoothed loss exceeds ``divergence``
times its best.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..errors import UsageError
from .evaluation import forward
from .optimizer import adamw
from .settings import TrainConfig

#: Defaults of the sweep: from LR_LOW to LR_HIGH in LR_FIND_STEPS optimiser steps.
LR_LOW, LR_HIGH, LR_FIND_STEPS = 1e-5, 1.0, 50
#: The shortest sweep a time limit may shorten it to.
MIN_STEPS = 12
#: Share of a training time budget the sweep may take.
BUDGET_SHARE = 0.15


@dataclass(frozen=True)
class LRFinding:
    """What a sweep found: the suggested ``lr`` (steepest descent), the rate of the lowest smoothed loss, and
    the curve (``lrs`` and smoothed ``losses``, one per step run)."""

    lr: float
    lowest_loss_lr: float
    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    diverged: bool
    seconds: float

    @property
    def steps(self) -> int:
        return len(self.lrs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, curve included (what the training history records)."""
        return {"lr": self.lr, "lowest_loss_lr": self.lowest_loss_lr, "steps": self.steps, "diverged": self.diverged,
                "seconds": round(self.seconds, 3), "lrs": [float(f"{v:.4g}") for v in self.lrs],
                "losses": [round(v, 5) for v in self.losses]}


def _batches(loader: DataLoader) -> Iterator[Any]:
    while True:  # a small training set is cycled: the sweep's length does not depend on it
        yield from loader


def find_lr(model: nn.Module, train_set: Dataset, config: TrainConfig, *, low: float = LR_LOW, high: float = LR_HIGH,
            steps: int = LR_FIND_STEPS, divergence: float = 4.0, smoothing: float = 0.9,
            max_seconds: float | None = None) -> LRFinding:
    """Sweep the learning rate from ``low`` to ``high`` over ``steps`` optimiser steps on ``train_set`` (batches of
    ``config.batch_size``, seeded by ``config.seed``) and suggest one; ``model`` is left as it was.

    ``max_seconds`` (the loop passes a share of a time budget) shortens the sweep to the steps that fit, timed
    on its first step, never below :data:`MIN_STEPS`: a 3D-CNN step on a CPU can take a second, and a sweep that
    eats the budget leaves no epochs to train."""
    if not 0 < low < high:
        raise UsageError(f"the learning-rate sweep needs 0 < low < high, got {low} and {high}")
    if steps < 5:
        raise UsageError(f"the learning-rate sweep needs at least 5 steps, got {steps}")
    if len(train_set) == 0:  # type: ignore[arg-type]
        raise UsageError("the training set is empty")

    started = time.perf_counter()
    saved = copy.deepcopy(model.state_dict())
    lrs: list[float] = []
    losses: list[float] = []
    diverged = False
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        generator = torch.Generator()
        generator.manual_seed(config.seed)
        loader = DataLoader(train_set, batch_size=config.batch_size, shuffle=True, generator=generator)
        optimizer = adamw(model, config.weight_decay, low)
        criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        params = [p for p in model.parameters() if p.requires_grad]
        growth = (high / low) ** (1.0 / (steps - 1))
        average, best = 0.0, math.inf
        model.train()
        for step, (x, y) in zip(range(steps), _batches(loader)):
            if step == 1 and max_seconds is not None:  # re-plan the sweep's length on the first step's time
                fit = int(max_seconds / max(time.perf_counter() - started, 1e-6))
                steps = max(min(MIN_STEPS, steps), min(steps, fit))
                growth = (high / low) ** (1.0 / (steps - 1))
            if step >= steps:
                break
            lr = low * growth**step
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss = criterion(forward(model, x), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.grad_clip > 0:
                nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            value = float(loss.detach())
            if not math.isfinite(value):
                diverged = True
                break
            average = smoothing * average + (1 - smoothing) * value
            smoothed = average / (1 - smoothing ** (step + 1))  # bias-corrected
            lrs.append(lr)
            losses.append(smoothed)
            best = min(best, smoothed)
            if step > 2 and smoothed > divergence * best:
                diverged = True
                break
    model.load_state_dict(saved)
    lr, lowest = suggest(lrs, losses, low)
    return LRFinding(lr, lowest, tuple(lrs), tuple(losses), diverged, time.perf_counter() - started)


def suggest(lrs: list[float] | tuple[float, ...], losses: list[float] | tuple[float, ...],
            fallback: float) -> tuple[float, float]:
    """(steepest-descent rate, lowest-loss rate) of a sweep; ``fallback`` for both when it is too short to tell."""
    if len(lrs) < 3:
        return fallback, fallback
    loss = np.asarray(losses, dtype=np.float64)
    log_lr = np.log10(np.asarray(lrs, dtype=np.float64))
    lowest = int(np.argmin(loss))
    if lowest < 2:  # the loss only rose: the sweep started too high to descend
        return float(lrs[0]), float(lrs[lowest])
    slope = np.gradient(loss[: lowest + 1], log_lr[: lowest + 1])
    steepest = int(np.argmin(slope))
    return float(lrs[steepest]), float(lrs[lowest])
