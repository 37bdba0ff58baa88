"""Faces blurred in the still images an analysis derives (``--blur-faces``): keyframes, the contact
sheet, ``segments/`` thumbnails (and so the library's), object track thumbnails.

The images are cut from frames the analyzers saw while the video streamed past, before the face
tracks were known, so they are blurred when written, in ``finish``: an analyzer asked to blur faces
names ``faces`` in its ``after``, so the faces analyzer runs (it is added when missing) and
finishes first. Faces are hidden from the run's face *tracks* exactly as ``vidlens anonymize``
hides them in a video (:mod:`vidlens.privacy.regions`: interpolated between detections, held past
the ends, margin growing away from a detection; :mod:`vidlens.privacy.effects` blur), mapped onto
each image's own size and crop. When blurring was asked for but there are no face tracks to blur
with (the faces analyzer could not run), an analyzer writes no image rather than a sharp one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from .effects import Mode, hide
from .regions import CoverPlan, Region, plan_cover

__all__ = ["NO_FACES_WARNING", "FaceBlur", "face_blur"]

NO_FACES_WARNING = "blur_faces: there are no face tracks to blur with (the faces analyzer did not finish), so no " \
                   "image was written"


class FaceBlur:
    """The face tracks of one run, ready to hide in any still image cut from one of its frames."""

    def __init__(self, tracks: list[dict[str, Any]], fps: float | None, display_size: tuple[int, int]) -> None:
        self.display_size = (int(display_size[0]), int(display_size[1]))
        self._plan: CoverPlan | None = plan_cover(tracks, fps=fps) if tracks and fps else None

    def regions(self, frame: int, scale: tuple[float, float], origin: tuple[float, float] = (0.0, 0.0)
                ) -> list[Region]:
        """Face regions on ``frame`` in image pixels: display pixels times ``scale``, minus ``origin``."""
        if self._plan is None:
            return []
        ox, oy = origin
        return [replace(r, cx=r.cx - ox, cy=r.cy - oy) for r in replace(self._plan, scale=scale).regions(frame)]

    def image(self, rgb: np.ndarray, frame: int) -> np.ndarray:
        """``rgb`` (the whole of ``frame``, at any size) with its faces blurred; the input is not changed."""
        w, h = self.display_size
        return self._hide(rgb, self.regions(frame, (rgb.shape[1] / w, rgb.shape[0] / h)))

    def crop(self, rgb: np.ndarray, frame: int, frame_size: tuple[int, int], origin: tuple[float, float],
             factor: float) -> np.ndarray:
        """A crop with its faces blurred: cut at ``origin`` from ``frame`` seen at ``frame_size``, then resized
        by ``factor``."""
        w, h = self.display_size
        scale = (frame_size[0] / w * factor, frame_size[1] / h * factor)
        return self._hide(rgb, self.regions(frame, scale, (origin[0] * factor, origin[1] * factor)))

    @staticmethod
    def _hide(rgb: np.ndarray, regions: list[Region]) -> np.ndarray:
        if not regions:
            return rgb
        out = np.array(rgb, copy=True)
        hide(out, regions, Mode.BLUR)
        return out


def face_blur(context: Any) -> FaceBlur | None:
    """The run's :class:`FaceBlur`, from the faces analyzer's part; None when that part is missing."""
    part = context.parts.get("faces")
    if part is None:
        return None
    rate = context.clock.rate  # the declared rate, else the measured average of the decoded frames
    fps = float(rate) if rate else None
    return FaceBlur(part.sections.get("faces") or [], fps, context.info.display_size)
