"""The model registry: ``models/MANIFEST.json`` (schema ``vidlens.models/1``) and its files.

Every shipped ONNX file is listed with its sha256, source package, licence, conversion command
and input/output spec. A file is hashed once per process before its first use, so a damaged or
swapped model is refused with a message that says how to fix it.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import VidlensError

MANIFEST_SCHEMA = "vidlens.models/1"
_FIX = ("reinstall vidlens (`pip install --force-reinstall vidlens`) or, from a source checkout, "
        "restore it with `git checkout -- src/vidlens/models` (regenerate with `python tools/convert_models.py`)")


class ModelNotFoundError(VidlensError, FileNotFoundError):
    """The model is not in the manifest, or its file is missing."""

    exit_code = 2


class ModelIntegrityError(VidlensError, ValueError):
    """The model file's sha256 does not match the manifest."""

    exit_code = 2


@dataclass(frozen=True)
class ModelEntry:
    """One model of the manifest (one variant: ``fp32`` or ``int8``)."""

    name: str
    variant: str
    path: Path
    sha256: str
    bytes: int
    meta: dict[str, Any]

    @property
    def task(self) -> str:
        return self.meta.get("task", "")

    @property
    def license(self) -> str:
        return self.meta.get("license", "unknown")

    def labels_path(self) -> Path | None:
        rel = self.meta.get("labels")
        return self.path.parent / rel if rel else None


def models_dir() -> Path:
    return Path(str(resources.files("vidlens") / "models"))


@cache
def _manifest(directory: Path) -> dict[str, Any]:
    path = directory / "MANIFEST.json"
    if not path.is_file():
        raise ModelNotFoundError(f"no model manifest at {path}; {_FIX}")
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("schema") != MANIFEST_SCHEMA:
        raise ModelNotFoundError(f"model manifest has schema {data.get('schema')!r}, expected {MANIFEST_SCHEMA!r}")
    return data


def list_models(directory: Path | None = None) -> list[ModelEntry]:
    """Every model and variant in the manifest (files are not checked here)."""
    directory = directory or models_dir()
    out = []
    for name, meta in _manifest(directory)["models"].items():
        out.append(_entry(directory, name, meta, meta.get("variant", "fp32"), meta))
        for variant, spec in meta.get("variants", {}).items():
            out.append(_entry(directory, name, meta, variant, spec))
    return out


def _entry(directory: Path, name: str, meta: dict, variant: str, spec: dict) -> ModelEntry:
    return ModelEntry(name=name, variant=variant, path=directory / spec["file"], sha256=spec["sha256"],
                      bytes=int(spec.get("bytes", 0)), meta=meta)


def model_entry(name: str, variant: str | None = None, directory: Path | None = None) -> ModelEntry:
    """The manifest entry for ``name`` (default variant unless ``variant`` is given), verified."""
    entries = [e for e in list_models(directory) if e.name == name]
    if not entries:
        known = sorted({e.name for e in list_models(directory)})
        raise ModelNotFoundError(f"unknown model {name!r}; shipped models: {', '.join(known) or 'none'}")
    if variant is None:
        entry = entries[0]
    else:
        matches = [e for e in entries if e.variant == variant]
        if not matches:
            raise ModelNotFoundError(f"model {name!r} has no {variant!r} variant "
                                     f"(available: {', '.join(e.variant for e in entries)})")
        entry = matches[0]
    verify(entry)
    return entry


_verified: set[tuple[Path, str]] = set()
_lock = threading.Lock()


def verify(entry: ModelEntry) -> None:
    """Check the file exists and matches its sha256 (once per process per file)."""
    _check_file(entry.path, entry.sha256, f"model file for {entry.name} ({entry.variant})")


def companion_file(entry: ModelEntry, key: str) -> Path:
    """A file shipped beside a model and listed in its manifest entry under ``key`` (a tokenizer, say),
    checked like the model file itself, so a damaged one fails here with the fix and not deep in a parser."""
    spec = entry.meta.get(key)
    if not isinstance(spec, dict) or "file" not in spec or "sha256" not in spec:
        raise ModelNotFoundError(f"the manifest entry of {entry.name} lists no {key} file; {_FIX}")
    path = entry.path.parent / spec["file"]
    _check_file(path, spec["sha256"], f"{key} file for {entry.name}")
    return path


def _check_file(path: Path, sha256: str, what: str) -> None:
    key = (path, sha256)
    with _lock:
        if key in _verified:
            return
    if not path.is_file():
        raise ModelNotFoundError(f"{what} is missing: {path}; {_FIX}")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    if digest.hexdigest() != sha256:
        raise ModelIntegrityError(
            f"{what} ({path.name}) is damaged or was replaced (sha256 {digest.hexdigest()[:12]}… "
            f"!= manifest {sha256[:12]}…); {_FIX}"
        )
    with _lock:
        _verified.add(key)
