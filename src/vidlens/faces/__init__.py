"""Faces: detection (CenterFace, BlazeFace) with landmarks, behind the objects' ``Detector`` protocol.

Its own package rather than more modules in ``objects/``: faces carry landmarks, have their own
class list (one class, ``face``, not COCO-80), a tiled mode for small faces in large frames, and are
what anonymisation and emotion analysis build on. The box container, IoU, NMS and letterboxing are
the generic ones in :mod:`vidlens.boxes` (faces import nothing from ``objects/``); the ``faces``
analyzer reuses the objects' tracker and track format.  The decoders (``centerface``, ``blazeface``, ``tiling``) need
only NumPy and OpenCV, so the model conversion tool imports them from the source tree.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FACE_DETECTORS", "FaceDetections", "load_face_detector"]


def __getattr__(name: str) -> Any:  # lazy: importing the decoders must not load ONNX Runtime
    if name in ("FACE_DETECTORS", "load_face_detector"):
        from . import detectors

        return getattr(detectors, name)
    if name == "FaceDetections":
        from .types import FaceDetections

        return FaceDetections
    raise AttributeError(name)
