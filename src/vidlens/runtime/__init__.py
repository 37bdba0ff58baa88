"""Model runtime: the registry of shipped ONNX models and ONNX Runtime sessions.

Analyzers ask for a model by name (``load_model("efficientnet_lite0")``); they never build paths
or sessions themselves. Inference is ONNX Runtime only; PyTorch appears only under ``train/``.
"""

from .registry import ModelEntry, ModelIntegrityError, ModelNotFoundError, list_models, model_entry
from .session import Model, default_threads, load_model, session_for

__all__ = [
    "Model",
    "ModelEntry",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "default_threads",
    "list_models",
    "load_model",
    "model_entry",
    "session_for",
]
