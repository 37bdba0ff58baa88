"""What ``inputs="auto"`` trains on: the input streams chosen on the validation clips.

Why not always every stream: on small datasets a head given appearance (1280 numbers a frame) beside motion
(69) learns the training photos instead of how they move, and on photos it has not seen it falls to chance
(bench/RESULTS.md, "Issue 14": gru on appearance + motion 0.25-0.50 on held-out photos of 4 camera-motion
classes, on motion alone 1.00). Which streams carry the class is a property of the dataset, so it is measured
on it: every candidate set is trained with the same settings (training feature heads is seconds once the
features are cached) and the one with the best validation macro-F1 wins; among those within
:data:`TOLERANCE` of the best, the one with the fewest numbers per frame (the simplest explanation of the
labels, and the one that generalises when the extra numbers only let the head memorise).

The candidates are appearance, motion and both; when most of the training clips sampled contain a person
track (:func:`vidlens.predict.pose_stream.contains_person_track`), also pose, pose + motion and all three.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..predict.pose_stream import contains_person_track
from ..predict.streams import APPEARANCE, MOTION, POSE, STREAMS, stream_slice
from .dataset import Sample
from .features import FeatureCache

#: Validation macro-F1 within this of the best counts as as good (then fewer numbers per frame win).
TOLERANCE = 0.02
#: Training clips whose pose stream is computed to decide whether the dataset is about people.
PERSON_PROBE_CLIPS = 16
#: Share of those that must contain a person track for the pose candidates to be tried.
PEOPLE_SHARE = 0.5
PLAIN = ((APPEARANCE,), (MOTION,), (APPEARANCE, MOTION))
PEOPLE = ((POSE,), (MOTION, POSE), (APPEARANCE, MOTION, POSE))


def person_share(cache: FeatureCache, samples: Sequence[Sample], fps: float) -> float:
    """Share of up to :data:`PERSON_PROBE_CLIPS` of ``samples`` (evenly spread) with a person track.

    Their pose rows are cached, so the training that follows does not compute them again; a sample that
    cannot be decoded counts as without a person (the build reports it).
    """
    if not samples:
        return 0.0
    picks = sorted({int(i) for i in np.linspace(0, len(samples) - 1, min(PERSON_PROBE_CLIPS, len(samples)))})
    found = 0
    for i in picks:
        try:
            rows = cache.features(samples[i], fps=fps, streams=(APPEARANCE, MOTION, POSE)).side[POSE]
        except Exception:
            continue
        found += contains_person_track(rows)
    return found / len(picks)


def candidates(people: bool) -> tuple[tuple[str, ...], ...]:
    return PLAIN + PEOPLE if people else PLAIN


def union(sets: Sequence[Sequence[str]]) -> tuple[str, ...]:
    """Every stream of ``sets`` in registry order."""
    wanted = {n for s in sets for n in s}
    return tuple(n for n in STREAMS if n in wanted)


def columns(computed: Sequence[str], chosen: Sequence[str]) -> np.ndarray:
    """Column indices of ``chosen``'s streams in rows of ``computed`` concatenated."""
    return np.concatenate([np.arange(stream_slice(computed, n).start, stream_slice(computed, n).stop)
                           for n in chosen])


def width(streams: Sequence[str]) -> int:
    return sum(STREAMS[n].dim for n in streams)


def choose(scores: dict[tuple[str, ...], float | None]) -> tuple[str, ...]:
    """The candidate with the best score, or the narrowest of those within :data:`TOLERANCE` of it."""
    known = {c: s for c, s in scores.items() if s is not None}
    if not known:
        return next(iter(scores))
    best = max(known.values())
    return min((c for c, s in known.items() if s >= best - TOLERANCE), key=width)


def label(streams: Sequence[str]) -> str:
    return " + ".join(streams)
