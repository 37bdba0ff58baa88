"""How a region is hidden: blur, pixelate, solid fill, or a matte for compositing elsewhere.

Strength is relative to the region's size, so a close-up face and a distant one are hidden equally
well: the Gaussian blur's sigma is a quarter of the region's larger semi-axis (about a third of the
face's width once the margin is added), and pixelation leaves about eight blocks across the region.
Fine structure (eyes, mouth, hair line) is then below one blur radius / one block, and what is
left of it sits under the 8-bit quantisation of the output, so no deblurring brings it back.

Edges are feathered *outward*: the blend runs from full strength on the region's boundary to none
at ``1 + FEATHER`` times its size, so feathering never weakens the hiding inside the region.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

import cv2
import numpy as np

from .regions import Region

#: Width of the outward soft edge, as a fraction of the region's semi-axes.
FEATHER = 0.2
#: Blur sigma as a fraction of the region's larger semi-axis.
BLUR_SIGMA = 0.25
#: Pixel blocks across the region's larger axis.
PIXEL_BLOCKS = 8


class Mode(str, Enum):
    """``blur`` and ``pixelate`` keep the scene readable; ``solid`` fills black; ``mask`` writes the
    matte itself (white where a region is hidden) for compositing in an editor."""

    BLUR = "blur"
    PIXELATE = "pixelate"
    SOLID = "solid"
    MASK = "mask"


def alpha_of(region: Region, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """The region's blend weight over the window ``[x0, x1) x [y0, y1)``: 1 inside, fading outward."""
    ys = (np.arange(y0, y1, dtype=np.float32) + 0.5 - region.cy) / max(region.ay, 0.5)
    xs = (np.arange(x0, x1, dtype=np.float32) + 0.5 - region.cx) / max(region.ax, 0.5)
    if region.ellipse:
        r = np.sqrt(ys[:, None] ** 2 + xs[None, :] ** 2)
    else:
        r = np.maximum(np.abs(ys)[:, None], np.abs(xs)[None, :])
    return np.clip((1 + FEATHER - r) / FEATHER, 0.0, 1.0)


def window_of(region: Region, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The pixel window the region (with its soft edge) touches, clipped to the frame."""
    ex, ey = region.ax * (1 + FEATHER), region.ay * (1 + FEATHER)
    x0, y0 = max(0, int(np.floor(region.cx - ex))), max(0, int(np.floor(region.cy - ey)))
    x1, y1 = min(width, int(np.ceil(region.cx + ex)) + 1), min(height, int(np.ceil(region.cy + ey)) + 1)
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None


def hide(rgb: np.ndarray, regions: Sequence[Region], mode: Mode) -> None:
    """Hide ``regions`` in ``rgb`` (H x W x 3 uint8) in place."""
    height, width = rgb.shape[:2]
    if mode is Mode.MASK:
        matte = np.zeros((height, width), np.float32)
        for region in regions:
            win = window_of(region, width, height)
            if win is not None:
                x0, y0, x1, y1 = win
                np.maximum(matte[y0:y1, x0:x1], alpha_of(region, *win), out=matte[y0:y1, x0:x1])
        rgb[:] = np.rint(matte * 255).astype(np.uint8)[..., None]
        return
    for region in regions:
        win = window_of(region, width, height)
        if win is None:
            continue
        x0, y0, x1, y1 = win
        alpha = alpha_of(region, *win)[..., None]
        patch = rgb[y0:y1, x0:x1]
        hidden = _hidden(rgb, region, win, mode)
        rgb[y0:y1, x0:x1] = np.rint(alpha * hidden + (1 - alpha) * patch).astype(np.uint8)


def _hidden(rgb: np.ndarray, region: Region, win: tuple[int, int, int, int], mode: Mode) -> np.ndarray:
    x0, y0, x1, y1 = win
    size = 2 * max(region.ax, region.ay)
    if mode is Mode.SOLID:
        return np.zeros((y1 - y0, x1 - x0, 3), np.float32)
    if mode is Mode.PIXELATE:
        block = max(2, round(size / PIXEL_BLOCKS))
        patch = rgb[y0:y1, x0:x1]
        small = cv2.resize(patch, (max(1, round((x1 - x0) / block)), max(1, round((y1 - y0) / block))),
                           interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST).astype(np.float32)
    # blur: read a border of 2 sigma around the window so the window's edge sees real neighbours
    sigma = max(1.0, BLUR_SIGMA * size / 2)
    pad = int(np.ceil(2 * sigma))
    height, width = rgb.shape[:2]
    px0, py0, px1, py1 = max(0, x0 - pad), max(0, y0 - pad), min(width, x1 + pad), min(height, y1 + pad)
    # downsample first: the same blur at a fraction of the cost (sigma stays >= 2 px at the small size)
    factor = max(1, int(sigma // 2))
    big = rgb[py0:py1, px0:px1]
    small = cv2.resize(big, (max(1, (px1 - px0) // factor), max(1, (py1 - py0) // factor)),
                       interpolation=cv2.INTER_AREA) if factor > 1 else big
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor, borderType=cv2.BORDER_REFLECT)
    blurred = cv2.resize(small, (px1 - px0, py1 - py0), interpolation=cv2.INTER_LINEAR) if factor > 1 else small
    return blurred[y0 - py0:y1 - py0, x0 - px0:x1 - px0].astype(np.float32)
