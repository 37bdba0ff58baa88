"""Names of the analyzers users can ask for, and how to build them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import UsageError
from .base import Analyzer
from .classifier import ClassifierAnalyzer
from .faces import FacesAnalyzer
from .keyframes import KeyframesAnalyzer
from .labels import LabelsAnalyzer
from .objects import ObjectsAnalyzer
from .people import PeopleAnalyzer
from .segments import SegmentsAnalyzer
from .shots import ShotsAnalyzer
from .speech import SpeechAnalyzer
from .text import TextAnalyzer

ANALYZERS: dict[str, Callable[..., Analyzer]] = {
    "shots": ShotsAnalyzer,
    "keyframes": KeyframesAnalyzer,
    "labels": LabelsAnalyzer,
    "text": TextAnalyzer,
    "speech": SpeechAnalyzer,
    "objects": ObjectsAnalyzer,
    "people": PeopleAnalyzer,  # optional: its selfie model also takes close-up animals and objects for people
    "faces": FacesAnalyzer,  # optional: CenterFace face tracks (landmarks, blurred thumbnails, per-shot counts)
    "segments": SegmentsAnalyzer,  # optional: shots cut into <= 6-s moments with thumbnail, colours, motion (library)
    "classifier": ClassifierAnalyzer,  # optional: a user-trained video classifier bundle (options: {"model": DIR})
}
#: What ``vidlens analyze`` runs when no ``--analyzers`` is given: fast on a laptop CPU.
DEFAULT_ANALYZERS: tuple[str, ...] = ("shots", "keyframes", "labels")
#: Analyzers that write images in which a face can show; ``blur_faces`` is passed to each of them.
IMAGE_ANALYZERS: tuple[str, ...] = ("keyframes", "segments", "objects", "faces")


def create_analyzers(names: Sequence[str] | None = None,
                     options: Mapping[str, Mapping[str, Any]] | None = None, *,
                     blur_faces: bool = False) -> list[Analyzer]:
    """Instantiate analyzers by name, adding what they depend on and ordering them accordingly.

    ``options`` gives keyword arguments per analyzer name (``{"objects": {"rules": "rules.yaml"}}``).
    ``blur_faces`` asks every analyzer that writes images to blur the run's faces in them; the
    ``faces`` analyzer is then added and runs before them (see :mod:`vidlens.privacy.derived`).
    """
    wanted = list(names) if names else list(DEFAULT_ANALYZERS)
    if blur_faces:
        options = {name: dict((options or {}).get(name, {})) for name in {*ANALYZERS, *(options or {})}}
        for name in IMAGE_ANALYZERS:
            options[name]["blur_faces"] = True
        wanted += [] if "faces" in wanted else ["faces"]
    unknown = [n for n in wanted if n not in ANALYZERS]
    if unknown:
        raise UsageError(f"unknown analyzer(s) {', '.join(unknown)}; available: {', '.join(ANALYZERS)}")
    built: dict[str, Analyzer] = {}

    def add(name: str) -> None:
        if name in built:
            return
        analyzer = ANALYZERS[name](**dict((options or {}).get(name, {})))
        for dep in analyzer.after:
            add(dep)
        built[name] = analyzer

    for name in wanted:
        add(name)
    return list(built.values())
