"""The model registry refuses missing, unknown and tampered models with messages that say the fix."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from vidlens.runtime.registry import ModelIntegrityError, ModelNotFoundError, list_models, model_entry


def write_manifest(directory: Path, data: bytes = b"model bytes", sha: str | None = None, schema="vidlens.models/1"):
    (directory / "tiny.onnx").write_bytes(data)
    manifest = {"schema": schema, "models": {"tiny": {
        "file": "tiny.onnx", "sha256": sha or hashlib.sha256(data).hexdigest(), "bytes": len(data),
        "task": "test", "variant": "fp32", "license": "MIT",
        "variants": {"int8": {"file": "tiny.int8.onnx", "sha256": "0" * 64, "bytes": 1}},
    }}}
    (directory / "MANIFEST.json").write_text(json.dumps(manifest))
    return directory


def test_a_good_model_verifies(tmp_path: Path) -> None:
    entry = model_entry("tiny", directory=write_manifest(tmp_path))
    assert entry.variant == "fp32" and entry.path.name == "tiny.onnx" and entry.license == "MIT"
    assert [(e.name, e.variant) for e in list_models(tmp_path)] == [("tiny", "fp32"), ("tiny", "int8")]


def test_sha_mismatch_is_refused(tmp_path: Path) -> None:
    write_manifest(tmp_path, sha="f" * 64)
    with pytest.raises(ModelIntegrityError, match=r"damaged or was replaced.*reinstall"):
        model_entry("tiny", directory=tmp_path)


def test_missing_file_names_the_fix(tmp_path: Path) -> None:
    write_manifest(tmp_path)
    with pytest.raises(ModelNotFoundError, match=r"missing.*git checkout -- src/vidlens/models"):
        model_entry("tiny", "int8", directory=tmp_path)


@pytest.mark.parametrize(("name", "variant", "message"), [
    ("nope", None, "unknown model 'nope'; shipped models: tiny"),
    ("tiny", "int4", "no 'int4' variant"),
])
def test_unknown_names(tmp_path: Path, name: str, variant: str | None, message: str) -> None:
    write_manifest(tmp_path)
    with pytest.raises(ModelNotFoundError, match=message):
        model_entry(name, variant, directory=tmp_path)


def test_wrong_schema(tmp_path: Path) -> None:
    write_manifest(tmp_path, schema="other/9")
    with pytest.raises(ModelNotFoundError, match="schema"):
        model_entry("tiny", directory=tmp_path)


def test_no_manifest(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no model manifest"):
        model_entry("tiny", directory=tmp_path)
