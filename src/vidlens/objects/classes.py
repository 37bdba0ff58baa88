"""Which COCO-80 classes a caller wants, given as names or indices, checked once."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..errors import UsageError
from .types import COCO80


def class_mask(classes: Iterable[str | int] | None) -> np.ndarray | None:
    """A boolean mask over the 80 classes (``None`` = all).  Unknown names raise :class:`UsageError`."""
    if classes is None:
        return None
    if isinstance(classes, (str, int)):
        classes = [classes]
    mask = np.zeros(len(COCO80), bool)
    for c in classes:
        if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
            if not 0 <= int(c) < len(COCO80):
                raise UsageError(f"class index {c} is outside COCO-80 (0..{len(COCO80) - 1})")
            mask[int(c)] = True
        elif isinstance(c, str) and c.strip().lower() in COCO80:
            mask[COCO80.index(c.strip().lower())] = True
        else:
            raise UsageError(f"unknown class {c!r}; the COCO-80 classes are: {', '.join(COCO80)}")
    return mask
