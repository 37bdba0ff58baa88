"""``vidlens models`` for the OCR models: listed from the rapidocr wheel and checked by reading a rendered line."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .engine import OcrEngine, OcrUnavailableError, rapidocr_dir

#: What the OCR self-test renders and must read back.
OCR_PROBE = "vidlens OCR 2026"


def ocr_rows(check: bool = False) -> list[dict[str, Any]]:
    """The OCR models the ``text`` analyzer uses, one row each as :func:`vidlens.runtime.selftest.describe` gives
    for shipped models: bundled in the rapidocr wheel (a dependency), not ours; with ``check``, one line is
    rendered and must be read back."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        folder = rapidocr_dir() / "models"
        source = f"rapidocr {version('rapidocr')}"
    except (OcrUnavailableError, PackageNotFoundError):
        return []
    files = sorted(folder.glob("*.onnx"))
    result = _ocr_check() if check else {}
    return [{"name": f.stem, "variant": "bundled", "task": "ocr", "file": f.name,
             "mb": round(f.stat().st_size / 1e6, 2), "license": "Apache-2.0", "source": source, **result}
            for f in files]


def _ocr_check() -> dict[str, Any]:
    """Render a known line, read it back through the text analyzer's engine."""
    try:
        from PIL import Image, ImageDraw, ImageFont

        image = Image.new("RGB", (640, 160), (30, 30, 30))
        ImageDraw.Draw(image).text((40, 50), OCR_PROBE, font=ImageFont.load_default(size=48), fill=(240, 240, 240))
        engine = OcrEngine()
        frame = np.asarray(image)[:, :, ::-1]
        engine.read(frame)  # the first call builds the sessions
        started = time.perf_counter()
        readings = engine.read(frame)
        elapsed = (time.perf_counter() - started) * 1000
        text = " ".join(r.text for r in readings)
        ok = text.replace(" ", "").lower() == OCR_PROBE.replace(" ", "").lower()
        return {"check": "ok" if ok else f"read {text!r} instead of {OCR_PROBE!r}", "ms": round(elapsed, 1)}
    except Exception as error:  # a self-test reports, it does not crash the listing
        return {"check": f"FAILED: {error}", "ms": None}
