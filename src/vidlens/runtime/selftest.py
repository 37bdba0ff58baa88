"""``vidlens models``: what is shipped, and a quick self-test of each model file.

Only the models of the runtime registry; the OCR models (bundled in the rapidocr wheel) are listed and
checked by :mod:`vidlens.ocr.selftest`, and :func:`vidlens.api.list_models` joins the two.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .registry import ModelEntry, list_models, verify
from .session import load_model

_DTYPES = {"float32": np.float32, "uint8": np.uint8, "int32": np.int32, "int64": np.int64}


def describe(check: bool = False) -> list[dict[str, Any]]:
    """One row per shipped model variant; with ``check``, verify sha256 and run it once on a dummy input."""
    rows = []
    for entry in list_models():
        row: dict[str, Any] = {"name": entry.name, "variant": entry.variant, "task": entry.task,
                               "file": entry.path.name, "mb": round(entry.bytes / 1e6, 2),
                               "license": entry.license,
                               "source": _source(entry)}
        if check:
            row.update(_check(entry))
        rows.append(row)
    return rows


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
