"""Names of the analyzers users can ask for, and how to build them."""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from pathlib import Path
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
#: A preset's analyzers (the library's ``--fast``: pictures only, no objects, text, faces): several times quicker.
FAST_ANALYZERS: tuple[str, ...] = ("shots", "labels", "segments")


class Preset(str, Enum):
    """Named analyzer sets a caller can ask for instead of listing analyzers (``preset="fast"``)."""

    FAST = "fast"  # pictures only: shots, labels, segments (labels, colours, motion, visual and ConSE vectors)


PRESETS: dict[Preset, tuple[str, ...]] = {Preset.FAST: FAST_ANALYZERS}
#: Analyzers that write images in which a face can show; ``blur_faces`` is passed to each of them.
IMAGE_ANALYZERS: tuple[str, ...] = ("keyframes", "segments", "objects", "faces")


#: How a plain annotation (as written in an analyzer's ``__init__``) is checked; a name not here is not checked.
_CHECKS: dict[str, Callable[[Any], bool]] = {
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "Path": lambda v: isinstance(v, (str, Path)),
    "None": lambda v: v is None,
    "list[str]": lambda v: isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v),
}


def analyzer_options(name: str) -> dict[str, str]:
    """The options an analyzer takes, by name, with their annotation as written (``"float"``, ``"str | None"``)."""
    params = inspect.signature(ANALYZERS[name]).parameters.values()
    return {p.name: p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", "")
            for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def check_options(name: str, options: Mapping[str, Any]) -> None:
    """Refuse (UsageError) an option the analyzer does not take, or a value of the wrong type for it."""
    if not isinstance(options, Mapping):
        raise UsageError(f"options for the {name} analyzer must be a mapping of option to value, "
                         f"got {type(options).__name__}")
    valid = analyzer_options(name)
    unknown = sorted(str(k) for k in options if k not in valid)
    if unknown:
        raise UsageError(f"the {name} analyzer has no option {', '.join(unknown)}; valid: {', '.join(valid)}")
    for key, value in options.items():
        kinds = [kind.strip() for kind in valid[key].split("|")]
        if all(kind in _CHECKS for kind in kinds) and not any(_CHECKS[kind](value) for kind in kinds):
            raise UsageError(f"the {name} analyzer's option {key} must be {valid[key]}, "
                             f"got {type(value).__name__} {value!r}")


def preset_analyzers(preset: Preset | str) -> list[str]:
    """The analyzers of a preset, by its name or :class:`Preset`; an unknown name is a UsageError."""
    try:
        return list(PRESETS[Preset(preset)])
    except ValueError:
        raise UsageError(f"unknown preset {preset!r}; available: {', '.join(p.value for p in Preset)}") from None


def requested(names: Sequence[str] | None, options: Mapping[str, Mapping[str, Any]] | None = None, *,
              preset: Preset | str | None = None, extras: Mapping[str, Mapping[str, Any] | None] | None = None,
              ) -> tuple[list[str] | None, dict[str, dict[str, Any]]]:
    """The analyzer names and options a call asks for: ``names``, else the ``preset``'s analyzers, else None
    (the caller's default). ``extras`` maps an analyzer to options that ask for it (None: not asked): each one
    asked for is added to the list (to :data:`DEFAULT_ANALYZERS` when there is none) with those options merged
    into its own, the way ``--rules``, ``--emotions`` and ``--classifier`` add theirs."""
    wanted = list(names) if names else preset_analyzers(preset) if preset is not None else None
    merged = {name: dict(given) for name, given in (options or {}).items()}
    for name, values in (extras or {}).items():
        if values is None:
            continue
        wanted = wanted or list(DEFAULT_ANALYZERS)
        wanted += [] if name in wanted else [name]
        merged[name] = {**merged.get(name, {}), **values}
    return wanted, merged


def create_analyzers(names: Sequence[str] | None = None,
                     options: Mapping[str, Mapping[str, Any]] | None = None, *,
                     blur_faces: bool = False) -> list[Analyzer]:
    """Instantiate analyzers by name, adding what they depend on and ordering them accordingly.

    ``options`` gives keyword arguments per analyzer name (``{"objects": {"rules": "rules.yaml"}}``);
    an option the analyzer does not take, or of the wrong type, is a UsageError naming the valid ones.
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
    for name, given in (options or {}).items():
        if name not in ANALYZERS:
            raise UsageError(f"options for unknown analyzer {name}; available: {', '.join(ANALYZERS)}")
        check_options(name, given)
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
