"""``vidlens models --check``: every shipped model and the OCR models run and give sane output."""

from __future__ import annotations

import json

from tests.test_cli import run
from vidlens.api import list_models as all_models
from vidlens.runtime.registry import list_models


def test_every_model_and_the_ocr_models_pass_the_self_test() -> None:
    rows = all_models(check=True)
    shipped = {(e.name, e.variant) for e in list_models()}
    assert shipped <= {(r["name"], r["variant"]) for r in rows}
    ocr = [r for r in rows if r["task"] == "ocr"]
    assert {r["name"] for r in ocr} >= {"PP-OCRv6_det_small", "PP-OCRv6_rec_small"}
    failed = [(r["name"], r["check"]) for r in rows if r["check"] != "ok"]
    assert not failed


def test_cli_lists_models_as_json() -> None:
    done = run("models", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {"efficientnet_lite0", "transnetv2", "silero_vad", "selfie_segmentation"} <= {r["name"] for r in rows}
    assert all(r["license"] and r["source"] for r in rows)
