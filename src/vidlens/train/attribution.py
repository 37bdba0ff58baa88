"""Attribution of a trained model's output to its input, in torch: which steps and which pixels mattered.

Everything here works on one input tensor (a feature sequence ``[1, T, D]`` or a clip ``[1, 3, T, H, W]``);
:mod:`vidlens.train.explain` turns videos into those inputs and the results into files.

- :func:`integrated_gradients` (Sundararajan et al., 2017): the gradient of the class's log-probability
  averaged along the straight path from a *baseline* to the input, times (input - baseline). The baseline is
  the model's own "average input": the mean fitted on the training set for its input standardisation (a
  feature head's mean feature, a 3D-CNN's mean colour), i.e. an all-zero input after standardisation. By
  completeness the attributions sum to ``log p(x) - log p(baseline)`` up to the path-integral error, which
  :class:`StepImportance` records so a too-coarse integral is visible. Plain gradient x input is the
  one-point version of it; on these small models the integral costs ``steps`` batched passes.
- :func:`hold_occlusion`: the check that the importance is not gradient noise. Each step in turn is
  replaced by the one before it (step 0 by step 1): the sequence holds still there, keeping what the clip
  looks like but losing what that step adds (the change it brings, or the moment it shows). The drop of the
  class's log-odds (:func:`log_odds`) is the step's occlusion importance. Replacing a step by a constant
  (zeros, a grey frame) would instead measure the model's reaction to a jump no training clip had.
- Occlusion effects are measured in log-odds ``log(p / (1 - p))``, not in probability: a model that is
  sure (p = 0.99999) moves its probability by float rounding only, while its log-odds still show which
  change mattered, in units comparable to the integrated gradients' log-probabilities.
- :func:`grad_cam` (Selvaraju et al., 2017) for the R(2+1)D network on its last residual block: channel
  weights are the class logit's gradient averaged over the block's time x space, the map is the ReLU of the
  weighted channel sum, upsampled to the input's frames and pixels. With ``R2Plus1D``'s three stride-2
  stages that block sees ``frames / 8`` time steps and ``size / 16`` pixels a side, so its per-frame mass
  is coarse in time: per-frame importance comes from integrated gradients, Grad-CAM says *where*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from ..errors import UsageError

#: Points on the baseline -> input path (a Riemann midpoint sum); the completeness gap shows if too few.
IG_STEPS = 32


def _target_index(model: nn.Module, target: int) -> int:
    classes = int(getattr(model, "num_classes", 0))
    if not 0 <= int(target) < classes:
        raise UsageError(f"class index {target} is out of range for a model of {classes} classes")
    return int(target)


def baseline_for(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's average input, shaped like ``x``: its standardisation mean (zero if it has none)."""
    norm = getattr(model, "norm", None)
    if norm is None or not hasattr(norm, "mean"):
        return torch.zeros_like(x)
    return norm.mean.detach().to(x.dtype).expand_as(x).clone()


def log_probs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(model(x), dim=1)


def log_odds(logits: torch.Tensor, target: int) -> torch.Tensor:
    """``log(p / (1 - p))`` of class ``target`` per row, computed from logits (exact where p rounds to 1)."""
    z = logits.double()
    others = torch.cat([z[:, :target], z[:, target + 1:]], dim=1)
    return z[:, target] - torch.logsumexp(others, dim=1)


def integrated_gradients(model: nn.Module, x: torch.Tensor, target: int, *, baseline: torch.Tensor | None = None,
                         steps: int = IG_STEPS, batch: int = 8) -> tuple[torch.Tensor, float]:
    """Attributions shaped like ``x`` (batch of 1) for the log-probability of class ``target``, and the
    completeness gap ``sum(attributions) - (log p(x) - log p(baseline))``."""
    target = _target_index(model, target)
    if x.shape[0] != 1:
        raise UsageError(f"explain one input at a time, got a batch of {x.shape[0]}")
    base = baseline_for(model, x) if baseline is None else baseline
    model.eval()
    alphas = (torch.arange(steps, dtype=x.dtype) + 0.5) / steps
    total = torch.zeros_like(x)
    for chunk in alphas.split(batch):
        shape = (-1,) + (1,) * (x.ndim - 1)
        path = (base + chunk.reshape(shape) * (x - base)).detach().requires_grad_(True)
        with torch.enable_grad():
            chosen = log_probs(model, path)[:, target].sum()
            (grad,) = torch.autograd.grad(chosen, path)
        total += grad.sum(dim=0, keepdim=True)
    attributions = (x - base) * total / steps
    with torch.no_grad():
        ends = log_probs(model, torch.cat([x, base]))[:, target]
    gap = float(attributions.sum() - (ends[0] - ends[1]))
    return attributions.detach(), gap


def _time_axis(model: nn.Module, x: torch.Tensor) -> int:
    """The time axis of an input: 1 for ``[B, T, D]`` feature sequences, 2 for ``[B, 3, T, H, W]`` clips."""
    if x.ndim == 3:
        return 1
    if x.ndim == 5:
        return 2
    raise UsageError(f"cannot explain an input of shape {tuple(x.shape)} (need [1, T, D] or [1, 3, T, H, W])")


def hold_occlusion(model: nn.Module, x: torch.Tensor, target: int) -> tuple[np.ndarray, float]:
    """Per step, how much the class's log-odds drop when the step is replaced by its predecessor (step 0 by
    step 1); and the unchanged probability. Positive = the step supports the class."""
    target = _target_index(model, target)
    axis = _time_axis(model, x)
    t = x.shape[axis]
    variants = [x]
    for step in range(t):
        if t == 1:
            break
        source = step - 1 if step > 0 else 1
        held = x.clone()
        held.select(axis, step).copy_(x.select(axis, source))
        variants.append(held)
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(v) for v in torch.cat(variants).split(16)])
    odds = log_odds(logits, target)
    p = float(torch.softmax(logits[:1].double(), dim=1)[0, target])
    drops = (odds[0] - odds[1:]).numpy() if t > 1 else np.zeros(1)
    return drops, p


@dataclass
class StepImportance:
    """Per-step importance of one input for one class.

    ``integrated_gradients``: signed attribution summed over the step's features or pixels (log-probability
    units; positive supports the class). ``occlusion``: drop of the class's log-odds when the step holds the
    previous one. ``agreement``: Spearman rank correlation of the two (None for fewer than 3 steps or constant values).
    """

    integrated_gradients: np.ndarray
    occlusion: np.ndarray
    probability: float
    completeness_gap: float

    @property
    def agreement(self) -> float | None:
        return spearman(self.integrated_gradients, self.occlusion)

    def top_steps(self, k: int) -> list[int]:
        """The ``k`` steps with the largest integrated-gradients importance, most important first."""
        order = np.argsort(-self.integrated_gradients, kind="stable")
        return [int(i) for i in order[:k]]


def spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None when undefined."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.size < 3 or a.size != b.size or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None

    def ranks(v: np.ndarray) -> np.ndarray:
        order = np.argsort(v, kind="stable")
        r = np.empty(v.size)
        r[order] = np.arange(v.size, dtype=np.float64)
        for value in np.unique(v):  # ties share their mean rank
            tied = v == value
            r[tied] = r[tied].mean()
        return r

    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def step_importance(model: nn.Module, x: torch.Tensor, target: int, *, steps: int = IG_STEPS) -> StepImportance:
    """Integrated gradients summed per time step, and the hold-occlusion check, for class ``target``."""
    axis = _time_axis(model, x)
    attributions, gap = integrated_gradients(model, x, target, steps=steps)
    other = [d for d in range(attributions.ndim) if d != axis]
    per_step = attributions.sum(dim=other).double().numpy()
    drops, p = hold_occlusion(model, x, target)
    return StepImportance(per_step, drops, p, gap)


def grad_cam(model: nn.Module, clip: torch.Tensor, target: int, *, layer: nn.Module | None = None) -> np.ndarray:
    """Grad-CAM of class ``target`` for a clip model, ``float32 [T, H, W]`` at the input's frames and pixels,
    scaled so the whole clip's maximum is 1 (all zeros when nothing supports the class).

    ``layer`` defaults to the R(2+1)D network's last residual block.
    """
    target = _target_index(model, target)
    if clip.ndim != 5 or clip.shape[0] != 1:
        raise UsageError(f"Grad-CAM needs one clip [1, 3, T, H, W], got shape {tuple(clip.shape)}")
    if layer is None:
        stages = getattr(model, "stages", None)
        if not isinstance(stages, nn.Sequential) or len(stages) == 0:
            raise UsageError(f"Grad-CAM needs a 3D-CNN with residual stages; {type(model).__name__} has none")
        layer = stages[-1]
    seen: dict[str, torch.Tensor] = {}

    def keep(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
        output.retain_grad()
        seen["activation"] = output

    model.eval()
    handle = layer.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            logits = model(clip.detach())
            logits[0, target].backward()
    finally:
        handle.remove()
    activation = seen["activation"]
    weights = activation.grad.mean(dim=(2, 3, 4), keepdim=True)  # [1, C, 1, 1, 1]
    cam = torch.relu((weights * activation).sum(dim=1, keepdim=True)).detach()  # [1, 1, T', H', W']
    cam = functional.interpolate(cam, size=tuple(clip.shape[2:]), mode="trilinear", align_corners=False)[0, 0]
    peak = float(cam.max())
    model.zero_grad(set_to_none=True)
    return (cam / peak if peak > 0 else cam).float().numpy()
