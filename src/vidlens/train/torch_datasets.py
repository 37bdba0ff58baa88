"""PyTorch datasets over in-memory per-frame features or decoded clips, with the training augmentations.

Randomness comes only from torch's global generator (seeded and checkpointed by the training loop), so
a run is reproducible and a resumed run continues exactly where it stopped. Evaluation-mode items are
deterministic and built by :mod:`vidlens.predict.inputs`, the same code prediction uses.

Label-preserving augmentations depend on what defines the classes, so the ones that can change a label
are explicit options and **off by default**:

- ``hflip`` (clips): mirroring turns ``pan_left`` into ``pan_right`` and an object moving left into one
  moving right. Turn it on only for classes that are symmetric under mirroring (cats vs coffee).
- ``reverse`` (clips and features): playing backwards turns ``zoom_in`` into ``zoom_out``, ``up`` into
  ``down``, "sit down" into "stand up". Turn it on only when every class is its own reverse.

Colour jitter, random resized crops and temporal jitter keep motion classes intact and are on in training.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import UsageError
from ..predict.inputs import centre_square, check_clip, clip_tensor, resize_crop, segment_positions, window_positions


def _labels(labels: Sequence[int], n: int) -> list[int]:
    out = [int(y) for y in labels]
    if len(out) != n:
        raise UsageError(f"{n} inputs but {len(out)} labels")
    if any(y < 0 for y in out):
        raise UsageError("labels must be class indices >= 0")
    return out


def _coin(p: float = 0.5) -> bool:
    return bool(torch.rand(()) < p)


class FeatureSequenceDataset(Dataset):
    """Items ``(float32 [steps, D], label)`` taken from per-frame feature arrays ``[N_i, D]`` (any ``N_i``).

    Training takes one random frame per TSN segment (temporal jitter) and, if ``reverse`` is set, plays
    the sequence backwards half of the time; evaluation takes segment centres.
    """

    def __init__(self, features: Sequence[np.ndarray], labels: Sequence[int], *, steps: int = 8, train: bool = True,
                 reverse: bool = False) -> None:
        self.features = [np.asarray(f, dtype=np.float32) for f in features]
        self.labels = _labels(labels, len(self.features))
        dims = {f.shape[1] if f.ndim == 2 else None for f in self.features}
        if any(f.ndim != 2 or f.shape[0] < 1 for f in self.features) or len(dims) > 1:
            raise UsageError("features must be [N_i, D] arrays with N_i >= 1 and one D, "
                             f"got dims {sorted(map(str, dims))}")
        if steps < 1:
            raise UsageError(f"steps must be >= 1, got {steps}")
        self.steps, self.train, self.reverse = int(steps), bool(train), bool(reverse)
        self.dim = dims.pop() if dims else 0

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        array = self.features[index]
        offsets = torch.rand(self.steps, dtype=torch.float64).numpy() if self.train else None
        rows = segment_positions(array.shape[0], self.steps, offsets)
        if self.train and self.reverse and _coin():
            rows = rows[::-1]
        return torch.from_numpy(np.ascontiguousarray(array[rows])), self.labels[index]

    def input_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-dimension mean and standard deviation over every frame: the heads' input standardisation."""
        stacked = np.concatenate(self.features).astype(np.float64)
        return stacked.mean(axis=0), stacked.std(axis=0)


class ClipDataset(Dataset):
    """Items ``(float32 [3, frames, size, size] in [0, 1], label)`` from ``uint8 [T, H, W, 3]`` RGB clips.

    Training: a random window of ``frames`` consecutive frames, one random resized crop for the whole
    clip (area ``crop_scale`` of the frame, aspect ratio in [3/4, 4/3]), colour jitter of strength
    ``color_jitter`` (brightness, contrast, saturation; 0 = off) and, only if enabled, ``hflip`` and
    ``reverse`` (see the module docstring for why they are off by default). Evaluation: the centred
    window and centred square (:func:`vidlens.predict.inputs.prepare_clip`).
    """

    def __init__(self, clips: Sequence[np.ndarray], labels: Sequence[int], *, train: bool = True, size: int = 112,
                 frames: int | None = None, hflip: bool = False, reverse: bool = False, color_jitter: float = 0.2,
                 crop_scale: tuple[float, float] = (0.6, 1.0)) -> None:
        self.clips = [check_clip(c) for c in clips]
        self.labels = _labels(labels, len(self.clips))
        if size < 8:
            raise UsageError(f"clip size must be >= 8 pixels, got {size}")
        if not 0.0 < crop_scale[0] <= crop_scale[1] <= 1.0:
            raise UsageError(f"crop_scale must satisfy 0 < low <= high <= 1, got {crop_scale}")
        if color_jitter < 0:
            raise UsageError(f"color_jitter must be >= 0, got {color_jitter}")
        self.size = int(size)
        self.frames = int(frames) if frames is not None else (min(c.shape[0] for c in self.clips) if self.clips else 1)
        self.train, self.hflip, self.reverse = bool(train), bool(hflip), bool(reverse)
        self.color_jitter, self.crop_scale = float(color_jitter), (float(crop_scale[0]), float(crop_scale[1]))

    def __len__(self) -> int:
        return len(self.clips)

    def _random_box(self, height: int, width: int) -> tuple[int, int, int, int]:
        area = height * width * float(torch.empty(()).uniform_(*self.crop_scale))
        log_ratio = float(torch.empty(()).uniform_(np.log(3 / 4), np.log(4 / 3)))
        w = round(np.sqrt(area * np.exp(log_ratio)))
        h = round(np.sqrt(area / np.exp(log_ratio)))
        w, h = max(1, min(w, width)), max(1, min(h, height))
        x = int(torch.randint(0, width - w + 1, ()))
        y = int(torch.randint(0, height - h + 1, ()))
        return x, y, w, h

    def _jitter(self, clip: np.ndarray) -> np.ndarray:
        """Brightness, contrast and saturation factors in ``[1 - j, 1 + j]``, the same for every frame."""
        j = self.color_jitter
        b, c, s = (1.0 + j * (2 * torch.rand(3, dtype=torch.float64) - 1)).tolist()
        clip = clip * np.float32(b)
        grey = clip[0] * 0.299 + clip[1] * 0.587 + clip[2] * 0.114  # [T, H, W]
        clip = (clip - grey.mean()) * np.float32(c) + grey.mean()
        grey = clip[0] * 0.299 + clip[1] * 0.587 + clip[2] * 0.114
        clip = (clip - grey) * np.float32(s) + grey
        return np.clip(clip, 0.0, 1.0).astype(np.float32)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        clip = self.clips[index]
        n, height, width = clip.shape[:3]
        if self.train:
            start = int(torch.randint(0, max(1, n - self.frames + 1), ()))
            picked = clip[window_positions(n, self.frames, start)]
            box = self._random_box(height, width)
        else:
            picked = clip[window_positions(n, self.frames)]
            box = centre_square(height, width)
        out = clip_tensor(np.stack([resize_crop(f, box, self.size) for f in picked]))
        if self.train:
            if self.hflip and _coin():
                out = out[:, :, :, ::-1]
            if self.reverse and _coin():
                out = out[:, ::-1]
            if self.color_jitter > 0:
                out = self._jitter(out)
        return torch.from_numpy(np.ascontiguousarray(out, dtype=np.float32)), self.labels[index]

    def input_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-channel mean and standard deviation of the pixels in ``[0, 1]``: the 3D-CNN's standardisation."""
        total = np.zeros(3)
        squares = np.zeros(3)
        count = 0
        for clip in self.clips:
            pixels = clip.reshape(-1, 3).astype(np.float64) / 255.0
            total += pixels.sum(axis=0)
            squares += (pixels**2).sum(axis=0)
            count += pixels.shape[0]
        mean = total / max(count, 1)
        return mean, np.sqrt(np.maximum(squares / max(count, 1) - mean**2, 0.0))
