"""``vidlens models``: what is shipped, and a quick self-test of each model file."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .registry import ModelEntry, list_models, verify
from .session import load_model

_DTYPES = {"float32": np.float32, "uint8": np.uint8, "int32": np.int32, "int64": np.int64}


def describe(check: bool = False) -> list[dict[str, Any]]:
    """One row per model variant; with ``check``, verify sha256 and run it once on a dummy input."""
    rows = []
    for entry in list_models():
        row: dict[str, Any] = {"name": entry.name, "variant": entry.variant, "task": entry.task,
                               "file": entry.path.name, "mb": round(entry.bytes / 1e6, 2),
                               "license": entry.license,
                               "source": _source(entry)}
        if check:
            row.update(_check(entry))
        rows.append(row)
    return rows + _ocr_rows(check)


#: What the OCR self-test renders and must read back.
OCR_PROBE = "vidlens OCR 2026"


def _ocr_rows(check: bool) -> list[dict[str, Any]]:
    """The OCR models the ``text`` analyzer uses: bundled in the rapidocr wheel (a dependency), not ours."""
    from importlib.metadata import PackageNotFoundError, version

    from ..ocr.engine import OcrUnavailableError, rapidocr_dir

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

        from ..ocr import OcrEngine

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


def _source(entry: ModelEntry) -> str:
    src = entry.meta.get("source", {})
    return f"{src.get('package', '?')} {src.get('version', '')}".strip()


def _sentence_check(entry: ModelEntry) -> str:
    """The tokenizer loads, and a paraphrase is far closer than an unrelated sentence (0.76 vs 0.00 in fp32 and
    with the shipped INT8 weights)."""
    from .sentence_embedder import SentenceEmbedder

    cat, kitten, stocks = SentenceEmbedder(entry.variant, cache_size=0).embed(
        ["a cat sleeping on a sofa", "a kitten napping on the couch", "stock prices fell sharply"])
    near, far = float(cat @ kitten), float(cat @ stocks)
    return "ok" if near > far + 0.3 else f"paraphrase similarity {near:.2f} not above unrelated {far:.2f}"


#: What a model of a task must get right beyond running (by manifest task)
_TASK_CHECKS = {"sentence-embedding": _sentence_check}


def _check(entry: ModelEntry) -> dict[str, Any]:
    try:
        verify(entry)
        model = load_model(entry.name, entry.variant)
        feeds = {}
        for spec, node in zip(entry.meta.get("inputs", []), model.session.get_inputs(), strict=False):
            shape = [1 if isinstance(d, str) or d is None else int(d) for d in spec.get("shape", node.shape)]
            feeds[node.name] = np.zeros(shape, dtype=_DTYPES.get(spec.get("dtype", "float32"), np.float32))
        started = time.perf_counter()
        outputs = model.run(feeds)
        elapsed = (time.perf_counter() - started) * 1000
        finite = all(np.isfinite(v).all() for v in outputs.values() if np.issubdtype(v.dtype, np.floating))
        verdict = _TASK_CHECKS.get(entry.task, lambda e: "ok")(entry) if finite else "non-finite output"
        return {"check": verdict, "ms": round(elapsed, 1)}
    except Exception as error:  # a self-test reports, it does not crash the listing
        return {"check": f"FAILED: {error}", "ms": None}
