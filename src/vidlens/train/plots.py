"""Evaluation and training plots drawn with OpenCV into RGB arrays (PNG on disk), without matplotlib.

OpenCV is already a core dependency, and drawing the few plots a training report needs by hand keeps
the ``train`` extra at one package (torch) and the images identical on every machine. Each function
returns an RGB ``uint8`` array (testable: pixels can be checked) and :func:`write_png` saves one.
Text uses OpenCV's Hershey font, which has ASCII glyphs only: other characters of class names are
drawn as ``?``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..files import write_bytes_atomic

FONT = cv2.FONT_HERSHEY_SIMPLEX
WHITE = (255, 255, 255)
BLACK = (20, 20, 20)
GREY = (150, 150, 150)
LIGHT_GREY = (225, 225, 225)
#: Light to dark blue, the colour scale of the confusion matrix (row share 0 -> 1).
BLUE_LOW = np.array([247, 251, 255], np.float64)
BLUE_HIGH = np.array([8, 48, 107], np.float64)
#: Line colours of the training curves, in series order.
SERIES_COLOURS = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189))
MAX_NAME_CHARS = 28


def _ascii(text: str, limit: int = MAX_NAME_CHARS) -> str:
    text = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in str(text))
    return text if len(text) <= limit else text[: limit - 2] + ".."


def _text_size(text: str, scale: float, thickness: int = 1) -> tuple[int, int]:
    (w, h), baseline = cv2.getTextSize(text, FONT, scale, thickness)
    return w, h + baseline


def _put(img: np.ndarray, text: str, x: float, y: float, scale: float = 0.45, colour=BLACK, thickness: int = 1,
         align: str = "left") -> None:
    """Draw ``text`` with its baseline at ``y``; ``align`` is where ``x`` sits: left, centre or right."""
    w, _ = _text_size(text, scale, thickness)
    dx = {"left": 0, "centre": -w / 2, "right": -w}[align]
    cv2.putText(img, text, (round(x + dx), round(y)), FONT, scale, colour, thickness, cv2.LINE_AA)


def _put_vertical(img: np.ndarray, text: str, x: int, y: int, scale: float = 0.45, colour=BLACK) -> None:
    """Draw ``text`` rotated 90 degrees counter-clockwise (reading bottom to top), its box's top-left at (x, y)."""
    w, h = _text_size(text, scale)
    tile = np.full((h + 2, w + 2, 3), 255, np.uint8)
    cv2.putText(tile, text, (1, h - 3), FONT, scale, colour, 1, cv2.LINE_AA)
    tile = np.rot90(tile)
    th, tw = tile.shape[:2]
    y1, x1 = min(img.shape[0], y + th), min(img.shape[1], x + tw)
    if y1 > y and x1 > x:
        region = img[y:y1, x:x1]
        patch = tile[: y1 - y, : x1 - x]
        np.minimum(region, patch, out=region)  # text is dark on white: keep the darker pixel


def blues(value: float) -> tuple[int, int, int]:
    """The confusion matrix colour of a row share in [0, 1]."""
    v = min(max(float(value), 0.0), 1.0)
    rgb = BLUE_LOW + (BLUE_HIGH - BLUE_LOW) * v
    return int(rgb[0]), int(rgb[1]), int(rgb[2])


def confusion_matrix_image(confusion: Sequence[Sequence[int]] | np.ndarray, classes: Sequence[str], *,
                           title: str = "confusion matrix") -> np.ndarray:
    """The confusion matrix as an image: true class in rows, predicted in columns, each cell coloured by its
    share of the row (recall for the diagonal) and labelled with its count.

    Colouring by row share rather than by count keeps rare classes readable when classes are imbalanced.
    """
    cm = np.asarray(confusion, dtype=np.int64)
    c = len(classes)
    if cm.shape != (c, c):
        raise ValueError(f"confusion matrix of shape {cm.shape} does not match {c} classes")
    names = [_ascii(n) for n in classes]
    cell = int(min(64, max(22, 640 // max(c, 1))))
    count_scale = 0.45 if cell >= 40 else 0.32
    name_scale = 0.45
    name_w = max(_text_size(n, name_scale)[0] for n in names) + 12
    left, top = name_w + 28, 44
    bottom = name_w + 30
    bar_w = 70
    width, height = left + c * cell + bar_w + 20, top + c * cell + bottom
    img = np.full((height, width, 3), 255, np.uint8)
    _put(img, _ascii(title, 80), left, 26, 0.6, thickness=1)
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape, np.float64), where=rows > 0)
    for i in range(c):
        for j in range(c):
            x0, y0 = left + j * cell, top + i * cell
            colour = blues(share[i, j])
            cv2.rectangle(img, (x0, y0), (x0 + cell - 1, y0 + cell - 1), colour, -1)
            text = str(int(cm[i, j]))
            tw, th = _text_size(text, count_scale)
            if tw < cell - 2:
                _put(img, text, x0 + cell / 2, y0 + cell / 2 + th / 3, count_scale,
                     WHITE if share[i, j] > 0.5 else BLACK, align="centre")
    cv2.rectangle(img, (left - 1, top - 1), (left + c * cell, top + c * cell), GREY, 1)
    for i, name in enumerate(names):  # row names (true classes), right-aligned against the grid
        _put(img, name, left - 6, top + i * cell + cell / 2 + 4, name_scale, align="right")
        _put_vertical(img, name, left + i * cell + (cell - _text_size(name, name_scale)[1]) // 2,
                      top + c * cell + 6, name_scale)
    _put_vertical(img, "true", 4, top + max(0, c * cell // 2 - 20), 0.5, GREY)
    _put(img, "predicted", left + c * cell / 2, height - 8, 0.5, GREY, align="centre")
    # colour bar: row share 0 (bottom) to 1 (top)
    bx, bh = left + c * cell + 20, c * cell
    for y in range(bh):
        cv2.line(img, (bx, top + y), (bx + 14, top + y), blues(1.0 - y / max(bh - 1, 1)), 1)
    cv2.rectangle(img, (bx, top), (bx + 14, top + bh - 1), GREY, 1)
    _put(img, "100%", bx + 18, top + 10, 0.38)
    _put(img, "0%", bx + 18, top + bh, 0.38)
    _put(img, "of row", bx + 18, top + bh // 2 + 4, 0.38, GREY)
    return img


def _nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return [lo]
    raw = (hi - lo) / target
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + k * step, 10) for k in range(int((hi - first) / step + 1e-9) + 1)]


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 and abs(value) >= 1 else f"{value:.3g}"


class _Axes:
    """A rectangle of the image with data -> pixel transforms, a frame, ticks and a grid."""

    def __init__(self, img: np.ndarray, rect: tuple[int, int, int, int], x_range: tuple[float, float],
                 y_range: tuple[float, float]) -> None:
        self.img, (self.x0, self.y0, self.x1, self.y1) = img, rect
        self.xr, self.yr = x_range, y_range

    def px(self, x: float, y: float) -> tuple[int, int]:
        (a, b), (c, d) = self.xr, self.yr
        fx = (x - a) / (b - a) if b > a else 0.5
        fy = (y - c) / (d - c) if d > c else 0.5
        return round(self.x0 + fx * (self.x1 - self.x0)), round(self.y1 - fy * (self.y1 - self.y0))

    def frame(self, title: str, xlabel: str, ylabel: str, x_ticks: Sequence[float] | None = None) -> None:
        img = self.img
        for y in _nice_ticks(*self.yr):
            _, py = self.px(self.xr[0], y)
            cv2.line(img, (self.x0, py), (self.x1, py), LIGHT_GREY, 1)
            _put(img, _fmt(y), self.x0 - 6, py + 4, 0.38, align="right")
        for x in x_ticks if x_ticks is not None else _nice_ticks(*self.xr):
            px, _ = self.px(x, self.yr[0])
            cv2.line(img, (px, self.y1), (px, self.y1 + 4), GREY, 1)
            _put(img, _fmt(x), px, self.y1 + 18, 0.38, align="centre")
        cv2.rectangle(img, (self.x0, self.y0), (self.x1, self.y1), GREY, 1)
        _put(img, _ascii(title, 60), self.x0, self.y0 - 10, 0.5)
        _put(img, xlabel, (self.x0 + self.x1) / 2, self.y1 + 38, 0.42, GREY, align="centre")
        _put_vertical(img, ylabel, self.x0 - 58, (self.y0 + self.y1) // 2 - 30, 0.42, GREY)

    def polyline(self, xs: Sequence[float], ys: Sequence[float | None], colour, thickness: int = 2) -> None:
        points = [self.px(x, y) for x, y in zip(xs, ys) if y is not None and math.isfinite(y)]
        if len(points) > 1:
            cv2.polylines(self.img, [np.array(points, np.int32)], False, colour, thickness, cv2.LINE_AA)
        for p in points:
            cv2.circle(self.img, p, 3, colour, -1, cv2.LINE_AA)

    def legend(self, entries: Sequence[tuple[str, tuple[int, int, int]]]) -> None:
        """One row under the x label, so it never hides a curve."""
        x, y = self.x0, self.y1 + 58
        for name, colour in entries:
            cv2.line(self.img, (x, y - 4), (x + 22, y - 4), colour, 2, cv2.LINE_AA)
            _put(self.img, name, x + 28, y, 0.4)
            x += 40 + _text_size(name, 0.4)[0]


def reliability_diagram_image(bins: Sequence[Mapping[str, Any]], *, ece: float | None = None,
                              title: str = "reliability") -> np.ndarray:
    """Accuracy against confidence per bin (bars), the diagonal of perfect calibration, the gap to it (red
    outline), and the share of samples per bin underneath; ``bins`` is :func:`metrics.reliability_bins`."""
    size, left, top = 360, 80, 40
    hist_h = 70
    img = np.full((top + size + 50 + hist_h + 40, left + size + 30, 3), 255, np.uint8)
    ax = _Axes(img, (left, top, left + size, top + size), (0.0, 1.0), (0.0, 1.0))
    label = title if ece is None else f"{title}   ECE {ece:.3f}"
    total = sum(int(b["count"]) for b in bins) or 1
    for b in bins:
        if not b["count"]:
            continue
        xa, _ = ax.px(float(b["lower"]), 0)
        xb, y_base = ax.px(float(b["upper"]), 0)
        _, y_acc = ax.px(0, float(b["accuracy"]))
        _, y_conf = ax.px(0, float(b["confidence"]))
        cv2.rectangle(img, (xa + 1, y_acc), (xb - 1, y_base), (70, 130, 200), -1)
        cv2.rectangle(img, (xa + 1, min(y_acc, y_conf)), (xb - 1, max(y_acc, y_conf)), (214, 39, 40), 1)
    ax.frame(label, "confidence", "accuracy", x_ticks=[0, 0.2, 0.4, 0.6, 0.8, 1.0])
    cv2.line(img, ax.px(0, 0), ax.px(1, 1), GREY, 1, cv2.LINE_AA)
    # sample share per bin
    h0 = top + size + 50
    hx = _Axes(img, (left, h0, left + size, h0 + hist_h), (0.0, 1.0), (0.0, 1.0))
    for b in bins:
        if b["count"]:
            xa, yb = hx.px(float(b["lower"]), 0)
            xb, yt = hx.px(float(b["upper"]), int(b["count"]) / total)
            cv2.rectangle(img, (xa + 1, yt), (xb - 1, yb), (120, 120, 120), -1)
    cv2.rectangle(img, (hx.x0, hx.y0), (hx.x1, hx.y1), GREY, 1)
    _put(img, "share of samples per bin", left, h0 + hist_h + 18, 0.4, GREY)
    return img


def training_curves_image(history: Sequence[Mapping[str, Any]], *, best_epoch: int | None = None) -> np.ndarray:
    """Loss (train, validation) and accuracy / validation macro-F1 per epoch, side by side; a dashed
    vertical line marks ``best_epoch``. ``history`` rows are the loop's per-epoch records."""
    if not history:
        raise ValueError("no epochs to plot")
    epochs = [int(r["epoch"]) for r in history]
    x_range = (min(epochs) - 0.5, max(epochs) + 0.5) if len(epochs) > 1 else (epochs[0] - 1.0, epochs[0] + 1.0)
    x_ticks = [e for e in _nice_ticks(*x_range) if float(e).is_integer()] or epochs

    def series(key: str) -> list[float | None]:
        return [None if r.get(key) is None else float(r[key]) for r in history]

    panel_w, panel_h, left, top, gap = 420, 280, 80, 40, 100
    img = np.full((top + panel_h + 72, left + 2 * panel_w + gap + 20, 3), 255, np.uint8)
    loss_series = [("train loss", series("train_loss")), ("val loss", series("val_loss"))]
    values = [v for _, ys in loss_series for v in ys if v is not None and math.isfinite(v)]
    hi = max(values) * 1.05 if values else 1.0
    panels = [
        ("loss", (left, top, left + panel_w, top + panel_h), (0.0, hi if hi > 0 else 1.0), loss_series),
        ("accuracy / macro-F1", (left + panel_w + gap, top, left + 2 * panel_w + gap, top + panel_h), (0.0, 1.0),
         [("train acc", series("train_accuracy")), ("val acc", series("val_accuracy")),
          ("val macro-F1", series("val_macro_f1"))]),
    ]
    for title, rect, y_range, lines in panels:
        ax = _Axes(img, rect, x_range, y_range)
        ax.frame(title, "epoch", title.split(" ")[0], x_ticks=x_ticks)
        if best_epoch is not None:
            px, _ = ax.px(best_epoch, 0)
            for y in range(ax.y0, ax.y1, 8):
                cv2.line(img, (px, y), (px, min(y + 4, ax.y1)), (150, 150, 150), 1)
        shown = []
        for (name, ys), colour in zip(lines, SERIES_COLOURS):
            if any(v is not None for v in ys):
                ax.polyline(epochs, ys, colour)
                shown.append((name, colour))
        ax.legend(shown)
    return img


def write_png(path: str | Path, rgb: np.ndarray) -> Path:
    """Save an RGB image as PNG (atomically: a crash never leaves half a file)."""
    ok, buf = cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("PNG encoding failed")
    return write_bytes_atomic(Path(path), buf.tobytes())


def step_importance_image(labels: Sequence[str], importance: Sequence[float], occlusion: Sequence[float] | None = None,
                          *, title: str = "step importance", highlight: Sequence[int] = ()) -> np.ndarray:
    """Signed bars of per-step importance (blue supports the class, red speaks against it), and the
    occlusion check's drops (of log-odds) as dots on their own right-hand scale, one column per step.

    ``labels`` name the steps under their bars (e.g. the time); ``highlight`` steps get a darker frame
    (those with a spatial heat map). Values are scaled per series: the plot compares steps, the numbers
    are in the JSON next to it.
    """
    values = np.asarray(importance, np.float64)
    n = len(values)
    if n == 0 or len(labels) != n or (occlusion is not None and len(occlusion) != n):
        raise ValueError("need one label, importance (and occlusion drop) per step")
    column = max(26, min(70, 720 // n))
    left, top, plot_h = 80, 48, 240
    width = left + n * column + 90
    img = np.full((top + plot_h + 90, width, 3), 255, np.uint8)
    span = float(np.abs(values).max()) or 1.0
    ax = _Axes(img, (left, top, left + n * column, top + plot_h), (-0.5, n - 0.5), (-span * 1.1, span * 1.1))
    ax.frame(title, "step (time)", "importance", x_ticks=[])
    _, zero = ax.px(0, 0)
    cv2.line(img, (ax.x0, zero), (ax.x1, zero), GREY, 1)
    for i, value in enumerate(values):
        x0, _ = ax.px(i - 0.35, 0)
        x1, y = ax.px(i + 0.35, value)
        colour = (31, 119, 180) if value >= 0 else (214, 39, 40)
        cv2.rectangle(img, (x0, min(y, zero)), (x1, max(y, zero)), colour, -1)
        if i in highlight:
            cv2.rectangle(img, (x0 - 2, ax.y0 + 2), (x1 + 2, ax.y1 - 2), BLACK, 1)
        _put(img, _ascii(labels[i], 8), (x0 + x1) / 2, ax.y1 + 16, 0.34, align="centre")
    if occlusion is not None:
        drops = np.asarray(occlusion, np.float64)
        scale = float(np.abs(drops).max()) or 1.0
        right = _Axes(img, (ax.x0, ax.y0, ax.x1, ax.y1), (-0.5, n - 0.5), (-scale * 1.1, scale * 1.1))
        for i, drop in enumerate(drops):
            cv2.circle(img, right.px(i, drop), 5, (255, 127, 14), -1, cv2.LINE_AA)
        _put(img, f"+{_fmt(scale)}", ax.x1 + 6, right.px(0, scale)[1] + 4, 0.36, (255, 127, 14))
        _put(img, f"-{_fmt(scale)}", ax.x1 + 6, right.px(0, -scale)[1] + 4, 0.36, (255, 127, 14))
    entries = [("integrated gradients", (31, 119, 180))]
    if occlusion is not None:
        entries.append(("occlusion: log-odds drop (dots, right scale)", (255, 127, 14)))
    x = ax.x0
    for name, colour in entries:
        cv2.rectangle(img, (x, ax.y1 + 52), (x + 14, ax.y1 + 62), colour, -1)
        _put(img, name, x + 20, ax.y1 + 62, 0.4)
        x += 40 + _text_size(name, 0.4)[0]
    return img
