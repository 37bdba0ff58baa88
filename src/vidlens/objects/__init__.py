"""Objects in video: detection on sampled frames, tracking with stable ids, rules (lines, zones).

The seams: a detector turns frames into :class:`Detections`; a tracker turns per-frame detections
into tracks (the same :class:`Detections` with ``track_ids``); rules turn tracks into events. Each
side can be swapped (NanoDet or CenterNet; ByteTrack-style or plain IoU) without touching the others.
Detectors and poses load ONNX Runtime models, so they are imported from their modules
(``vidlens.objects.detectors``, ``vidlens.objects.pose``), not here.
"""

from .types import COCO80, Detections, coco80_names

__all__ = ["COCO80", "Detections", "coco80_names"]
