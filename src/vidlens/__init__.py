"""vidlens: local-first video understanding with one frame-exact timeline for every analysis."""

from . import offline as _offline

_offline.apply()  # before any vidlens module imports onnxruntime & co (see vidlens.offline)

__version__ = "0.1.0"
