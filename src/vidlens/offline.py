"""Local-first switches: nothing vidlens runs sends anything anywhere or writes outside the folders the
README lists ("What vidlens writes and where").

:func:`apply` runs when the ``vidlens`` package is imported, which is before any vidlens module imports a
dependency that reads these variables: the CLI, the Python API, the library's worker processes (spawned:
they import vidlens first and inherit the parent's environment) and the test suite all pass through it.
A variable you set yourself is left as you set it.

- **ONNX Runtime** (official 1.32 wheels) starts Microsoft's 1DS telemetry when ``onnxruntime`` is
  *imported*: it writes ``~/.cache/Microsoft/DeveloperTools/.onnxruntime/{deviceid,onnxruntime.db}`` (queued
  events: interpreter path, OS, CPU model) and looks up its collector by DNS. ``ORT_DISABLE_TELEMETRY=1``
  before that import prevents the uploader, the events and the device id for the whole process;
  :func:`quiet_onnxruntime` also calls ``onnxruntime.disable_telemetry_events()`` before a session is made
  (the API switch, for the case where onnxruntime was imported before vidlens and the variable came too
  late, which it then reports once).
- **huggingface_hub** (installed with ``tokenizers``; vidlens reads its tokenizer from a shipped file and
  never calls the Hub): offline, no telemetry.
- Caches of libraries vidlens might pull in (Hugging Face, torch hub, matplotlib, numba) point into
  vidlens' own cache folder in processes that vidlens owns (the CLI, :func:`redirect_caches`), so that even
  a future dependency that writes one writes it where the README says. In a process of yours (the Python
  API) your caches stay where you keep them.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

#: Telemetry and network switches of dependencies, set (unless already set) when vidlens is imported.
OFFLINE_ENV = {
    "ORT_DISABLE_TELEMETRY": "1",  # ONNX Runtime 1DS telemetry: read once, when onnxruntime is imported
    "HF_HUB_OFFLINE": "1",  # huggingface_hub: never contact the Hub
    "HF_HUB_DISABLE_TELEMETRY": "1",
}
#: Cache variables pointed into :func:`cache_dir` in vidlens' own processes (sub-folder per library).
CACHE_ENV = {
    "HF_HOME": "huggingface",
    "TORCH_HOME": "torch",
    "MPLCONFIGDIR": "matplotlib",
    "NUMBA_CACHE_DIR": "numba",
}
CACHE_ENV_VAR = "VIDLENS_CACHE"

_ort_imported_first = False
_ort_quieted = False


def cache_dir() -> Path:
    """vidlens' cache folder: ``$VIDLENS_CACHE``, else ``$XDG_CACHE_HOME/vidlens`` (``~/.cache/vidlens``)."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vidlens"


def apply() -> None:
    """Set :data:`OFFLINE_ENV` (what is unset). Called on ``import vidlens``; idempotent."""
    global _ort_imported_first
    if "onnxruntime" in sys.modules and "ORT_DISABLE_TELEMETRY" not in os.environ:
        _ort_imported_first = True  # its telemetry already started: quiet_onnxruntime says so once
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)


def redirect_caches() -> None:
    """Point :data:`CACHE_ENV` (what is unset) into :func:`cache_dir`: for processes vidlens owns (the CLI).
    Nothing is created here; a library that uses its cache creates its own sub-folder."""
    base = cache_dir()
    for name, folder in CACHE_ENV.items():
        os.environ.setdefault(name, str(base / folder))


def quiet_onnxruntime() -> None:
    """Turn ONNX Runtime's telemetry events off through its API; call before creating a session."""
    global _ort_quieted
    if _ort_quieted:
        return
    import onnxruntime as ort

    ort.disable_telemetry_events()
    _ort_quieted = True
    if _ort_imported_first:
        log.warning("onnxruntime was imported before vidlens, so its telemetry started before vidlens could "
                    "turn it off (events are now disabled); set ORT_DISABLE_TELEMETRY=1 in the environment, or "
                    "import vidlens first, to stop it entirely")


def telemetry_status() -> str:
    """One line for ``vidlens version --all``: whether ONNX Runtime's telemetry is off in this process."""
    value = os.environ.get("ORT_DISABLE_TELEMETRY", "")
    if value.strip().lower() in ("1", "true") and not _ort_imported_first:
        return f"off (ORT_DISABLE_TELEMETRY={value})"
    late = ", onnxruntime was imported before vidlens" if _ort_imported_first else ""
    return f"ON (ORT_DISABLE_TELEMETRY={value or 'unset'}{late})"
