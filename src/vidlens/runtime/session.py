"""ONNX Runtime sessions: one per model file per process, tuned for a small CPU.

On a 2-core laptop, intra-op parallelism over the cores with no inter-op parallelism is the
fastest setting for these small CNNs; the decode thread keeps running beside it.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from ..offline import quiet_onnxruntime
from .registry import ModelEntry, model_entry

_sessions: dict[tuple[Path, int, int, int], ort.InferenceSession] = {}
_lock = threading.Lock()


def default_threads() -> int:
    """Threads for one session: all cores, but at most 4 (beyond that small CNNs stop scaling)."""
    env = os.environ.get("VIDLENS_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(4, os.cpu_count() or 1))


@dataclass
class Model:
    """A loaded model: its manifest entry and a ready session."""

    entry: ModelEntry
    session: ort.InferenceSession

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.session.get_inputs()]

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.session.get_outputs()]

    def run(self, inputs: dict[str, np.ndarray] | np.ndarray) -> dict[str, np.ndarray]:
        """Run a batch; a bare array feeds the (single) input. Returns outputs by name."""
        if isinstance(inputs, np.ndarray):
            inputs = {self.input_names[0]: inputs}
        values = self.session.run(None, inputs)
        return dict(zip(self.output_names, values, strict=True))


def load_model(name: str, variant: str | None = None, *, threads: int | None = None) -> Model:
    """The model ``name`` from the shipped registry (sha256-checked), with a cached session.

    ``threads`` overrides ``default_threads()`` for models too small to gain from more (Silero VAD
    runs twice as fast on one thread, leaving the other core to decoding)."""
    entry = model_entry(name, variant)
    return Model(entry, session_for(entry.path, threads))


def session_for(path: Path, threads: int | None = None) -> ort.InferenceSession:
    """The process's one session per ONNX file and thread count (ours via ``load_model``, or a file a
    dependency ships). A file rewritten since (a model trained again and re-exported) gets a new session."""
    threads = threads or default_threads()
    stat = Path(path).stat()
    key = (Path(path), threads, stat.st_mtime_ns, stat.st_size)
    with _lock:
        session = _sessions.get(key)
        if session is None:
            quiet_onnxruntime()  # no telemetry events (ORT_DISABLE_TELEMETRY is set on import: vidlens.offline)
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.log_severity_level = 3
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            _sessions[key] = session
    return session
