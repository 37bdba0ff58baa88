"""Tiny in-memory data sets whose class is defined by temporal order or motion, with known labels: they
test and benchmark the training code (``vidlens.train``) in seconds, without decoding any video.

- :func:`order_sequences`: per-frame feature sequences where one direction rises (class 0) or falls
  (class 1) over time. Every frame value is equally likely in both classes, so a model that ignores
  order (mean pooling) cannot beat chance while a temporal model can.
- :func:`moving_square_clips`: clips over real photos with a pasted square moving up (class 0) or down
  (class 1); any single frame is equally likely in both classes.
- :func:`pulse_sequences`: sequences where a single step, at a random known position, carries the class
  (a pulse along a direction, + for class 0, - for class 1) and every other step is noise: what an
  explanation of the temporal importance must point at.
"""

from __future__ import annotations

import cv2
import numpy as np

from tests.support.photos import list_photos, load_photo


def order_sequences(n: int, *, dim: int = 16, seed: int = 0, min_len: int = 12, max_len: int = 24,
                    noise: float = 0.3) -> tuple[list[np.ndarray], list[int]]:
    """``n`` balanced sequences ``[N_i, dim]``: a per-sequence appearance (``N(0, 1)`` per dimension), per-frame
    noise of standard deviation ``noise``, and a ramp from -1.5 to 1.5 along a fixed unit direction that
    rises for class 0 and falls for class 1."""
    rng = np.random.default_rng(seed)
    direction = np.random.default_rng(1234).normal(size=dim)
    direction /= np.linalg.norm(direction)
    features, labels = [], []
    for i in range(n):
        label = i % 2
        length = int(rng.integers(min_len, max_len + 1))
        ramp = np.linspace(-1.5, 1.5, length)
        if label == 1:
            ramp = ramp[::-1]
        appearance = rng.normal(size=dim)
        frames = appearance + ramp[:, None] * direction + noise * rng.normal(size=(length, dim))
        features.append(frames.astype(np.float32))
        labels.append(label)
    return features, labels


def moving_square_clips(n: int, *, frames: int = 8, size: int = 32, square: int = 8, speed: int = 2,
                        seed: int = 0) -> tuple[list[np.ndarray], list[int]]:
    """``n`` balanced ``uint8 [frames, size, size, 3]`` clips: a square moving up (0) or down (1) over a real photo."""
    rng = np.random.default_rng(seed)
    photos = list_photos()
    clips, labels = [], []
    travel = speed * (frames - 1)
    for i in range(n):
        label = i % 2
        photo = load_photo(photos[int(rng.integers(len(photos)))])
        h, w = photo.shape[:2]
        side = int(rng.integers(min(h, w) // 3, min(h, w) + 1))
        y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        background = cv2.resize(photo[y0: y0 + side, x0: x0 + side], (size, size), interpolation=cv2.INTER_AREA)
        x = int(rng.integers(0, size - square + 1))
        top = int(rng.integers(0, size - square - travel + 1))  # the path stays inside the frame
        under = background[top: top + square + travel, x: x + square].mean()
        colour = np.uint8(20 if under > 128 else 235)  # visible against the photo it crosses
        ys = top + speed * np.arange(frames)
        if label == 0:
            ys = ys[::-1]
        clip = np.repeat(background[None], frames, axis=0)
        for t, y in enumerate(ys):
            clip[t, y: y + square, x: x + square] = colour
        clips.append(clip)
        labels.append(label)
    return clips, labels


def pulse_sequences(n: int, *, steps: int = 8, dim: int = 16, seed: int = 0, strength: float = 2.0,
                    noise: float = 0.5) -> tuple[list[np.ndarray], list[int], list[int]]:
    """``n`` balanced sequences ``[steps, dim]`` of noise (standard deviation ``noise``) with a pulse of
    ``strength`` along a fixed unit direction at one random step: ``+`` for class 0, ``-`` for class 1.
    Returns the sequences, their labels and the pulse positions (the only steps that tell the class)."""
    rng = np.random.default_rng(seed)
    direction = np.random.default_rng(4321).normal(size=dim)
    direction /= np.linalg.norm(direction)
    features, labels, pulses = [], [], []
    for i in range(n):
        label = i % 2
        where = int(rng.integers(steps))
        frames = noise * rng.normal(size=(steps, dim))
        frames[where] += (strength if label == 0 else -strength) * direction
        features.append(frames.astype(np.float32))
        labels.append(label)
        pulses.append(where)
    return features, labels, pulses
