"""Reading text in a frame with RapidOCR 3.x (PP-OCRv6 detection + recognition, ONNX, shipped in its wheel).

We depend on the ``rapidocr`` package rather than copying its models: it brings the exact pre- and
post-processing the models were trained with (DB box decoding, angle classifier, CTC decoding).
Only the models bundled in the wheel are used; nothing is ever downloaded. Its logger prints at INFO
on every start, so it is quietened before the engine is built.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import VidlensError

#: The detector shipped in the rapidocr wheel; the gate runs it alone at a small size.
DET_MODEL = "PP-OCRv6_det_small.onnx"
#: Score a one-character reading needs to be kept.
LONE_CHAR_SCORE = 0.9


class OcrUnavailableError(VidlensError):
    """rapidocr (or its bundled models) cannot be found."""


@dataclass(frozen=True)
class Reading:
    """One line of text read in one frame; ``box`` is (x0, y0, x1, y1) in that frame's pixels.

    ``held``: carried over from an earlier frame by the gate, not read again (it says the line is
    still there, but is no new evidence of what it says).
    """

    text: str
    score: float
    box: tuple[float, float, float, float]
    held: bool = False


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def rapidocr_dir() -> Path:
    """The installed rapidocr package folder, without importing it (its import is slow and chatty)."""
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise OcrUnavailableError("on-screen text needs the rapidocr package: pip install 'rapidocr>=3.10,<4'")
    return Path(next(iter(spec.submodule_search_locations)))


def det_model_path() -> Path:
    path = rapidocr_dir() / "models" / DET_MODEL
    if not path.is_file():
        raise OcrUnavailableError(f"rapidocr is installed but its bundled model {DET_MODEL} is missing; "
                                  "reinstall it: pip install --force-reinstall 'rapidocr>=3.10,<4'")
    return path


class OcrEngine:
    """Full OCR of one frame: detection at up to ``max_side`` pixels, angle classification, recognition."""

    def __init__(self, max_side: int = 1280, min_score: float = 0.5, threads: int | None = None) -> None:
        det_model_path()  # a clear error before rapidocr's own
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        from rapidocr import RapidOCR

        from ..offline import quiet_onnxruntime
        from ..runtime import default_threads

        quiet_onnxruntime()  # rapidocr makes its own ONNX Runtime sessions
        threads = threads or default_threads()
        self.min_score = min_score
        self._engine = RapidOCR(params={
            "Global.log_level": "error",
            "Global.text_score": min_score,
            "Det.limit_type": "max",  # never upscale a frame: 720p is read as is, 4K is shrunk
            "Det.limit_side_len": max_side,
            "EngineConfig.onnxruntime.intra_op_num_threads": threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        })

    def read(self, frame_bgr: np.ndarray) -> list[Reading]:
        """Every line read with at least ``min_score``, top to bottom; [] when there is none."""
        result = self._engine(np.ascontiguousarray(frame_bgr))
        if result is None or not len(result) or result.boxes is None:
            return []
        out = []
        for quad, text, score in zip(result.boxes, result.txts, result.scores, strict=True):
            text = " ".join(str(text).split())
            alnum = sum(ch.isalnum() for ch in text)
            # a lone character is the commonest misreading of texture: it must be read very confidently
            if float(score) < self.min_score or alnum == 0 or (alnum == 1 and float(score) < LONE_CHAR_SCORE):
                continue
            q = np.asarray(quad, dtype=np.float64)
            box = (float(q[:, 0].min()), float(q[:, 1].min()), float(q[:, 0].max()), float(q[:, 1].max()))
            out.append(Reading(text, round(float(score), 4), box))
        return sorted(out, key=lambda r: (r.box[1], r.box[0]))
