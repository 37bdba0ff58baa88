"""The values that cross the detector → tracker → rules seams: COCO-80 :class:`Detections`.

The box container, IoU and NMS themselves are generic and shared with faces: :mod:`vidlens.boxes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..boxes import Boxes

#: COCO-80 class names in the detectors' output order (from human.js ``labels.ts``, MIT).
COCO80_FILE = "labels/coco80.txt"


@cache
def coco80_names() -> tuple[str, ...]:
    text = resources.files("vidlens.models").joinpath(COCO80_FILE).read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


COCO80 = coco80_names()


@dataclass
class Detections(Boxes):
    """:class:`vidlens.boxes.Boxes` whose ``classes`` are COCO-80 indices (what the object detectors return)."""

    def names(self) -> list[str]:
        return [COCO80[c] for c in self.classes]
