"""The output folder: every name vidlens writes there, the default folder for a video, and :func:`write`.

:func:`write` is the one place an analysis becomes files: the analyzers' artifacts (keyframes,
thumbnails, embeddings, the mask video), the shot lists, the report and, last, ``timeline.json``, each
written atomically, so a folder with a timeline is a folder whose files are all there. It records
what it wrote in ``analysis.outputs``, so a rerun into the folder, ``forget`` and ``vault lock`` can
tell vidlens' files from a user's.

An output folder holds, at its top level, only the names in :data:`OUTPUT_NAMES` (or their ``.enc``
form once locked, and hidden temp files of atomic writes); inside the analyzers' own subfolders
(:data:`SUBFOLDER_PATTERNS`) only files named the way those analyzers name them. Anything else — the
video after ``-o .``, a user's notes, a photo dropped into ``keyframes/`` — is *foreign*: ``forget``
and ``vault lock`` refuse the folder and name it, because deleting or encrypting a user's file is
worse than leaving derived data alone.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from .analysis import Analysis, Artifact
from .analyzers.faces import FACES_DIR
from .analyzers.keyframes import CONTACT_SHEET_FILE, KEYFRAMES_DIR
from .analyzers.labels import EMBEDDINGS_FILE
from .analyzers.objects import TRACKS_DIR
from .analyzers.people import MASKS_FILE
from .analyzers.segments import FOLDER as SEGMENTS_DIR
from .files import PRIVATE_DIR_MODE, replacing, write_bytes_atomic, write_text_atomic

__all__ = ["ENCRYPTED_SUFFIX", "OUTPUT_FILES", "OUTPUT_NAMES", "SUBFOLDER_PATTERNS", "default_folder",
           "default_preview", "default_summary", "foreign_entries", "is_output_path", "remove_stale", "write",
           "written_outputs"]

ENCRYPTED_SUFFIX = ".enc"
TIMELINE_FILE = "timeline.json"
SHOTS_CSV = "shots.csv"
SHOTS_EDL = "shots.edl"
REPORT_FILE = "report.html"
VAULT_FILE = "vault.json"
#: Files an analysis (:func:`write`, the report, the vault) writes at the top level.
OUTPUT_FILES = frozenset({TIMELINE_FILE, SHOTS_CSV, SHOTS_EDL, REPORT_FILE, CONTACT_SHEET_FILE,
                          EMBEDDINGS_FILE, MASKS_FILE, VAULT_FILE})
#: The analyzers' own subfolders and the names of the files they write there.
SUBFOLDER_PATTERNS: dict[str, re.Pattern[str]] = {
    KEYFRAMES_DIR: re.compile(r"\d{6,}\.jpg"),  # keyframes analyzer: <frame>.jpg
    SEGMENTS_DIR: re.compile(r"\d{5,}\.jpg"),  # segments analyzer: <segment>.jpg
    FACES_DIR: re.compile(r"track_\d+\.jpg"),  # faces analyzer: blurred track thumbnails
    TRACKS_DIR: re.compile(r"track_\d+\.jpg"),  # objects analyzer: track thumbnails
}
OUTPUT_NAMES = OUTPUT_FILES | frozenset(SUBFOLDER_PATTERNS)


def _base(name: str) -> str:
    return name[: -len(ENCRYPTED_SUFFIX)] if name.endswith(ENCRYPTED_SUFFIX) else name


def _hidden(name: str) -> bool:
    # temp files of atomic writes (files.replacing: .timeline.json.XXXX, .embeddings.npz.XXXX.npz)
    return name.startswith(".")


def foreign_entries(folder: Path) -> list[str]:
    """Paths (relative to ``folder``, sorted) of what vidlens did not write there; links are always foreign."""
    foreign = []
    for entry in sorted(folder.iterdir()):
        name = entry.name
        if entry.is_symlink():
            foreign.append(name)
        elif _hidden(name):
            continue
        elif name in SUBFOLDER_PATTERNS:
            if not entry.is_dir():
                foreign.append(name)
                continue
            pattern = SUBFOLDER_PATTERNS[name]
            for inner in sorted(entry.iterdir()):
                ok = inner.is_file() and not inner.is_symlink() and (
                    _hidden(inner.name) or pattern.fullmatch(_base(inner.name)) is not None)
                if not ok:
                    foreign.append(f"{name}/{inner.name}")
        elif _base(name) not in OUTPUT_FILES or not entry.is_file():
            foreign.append(name)
    return foreign


def is_output_path(rel: str) -> bool:
    """Whether ``rel`` (relative, POSIX) is a name vidlens writes in an output folder: a top-level output
    file, or a file named as an analyzer names them inside its own subfolder."""
    parts = rel.split("/")
    if len(parts) == 1:
        return parts[0] in OUTPUT_FILES
    return len(parts) == 2 and parts[0] in SUBFOLDER_PATTERNS and SUBFOLDER_PATTERNS[parts[0]].fullmatch(parts[1]) \
        is not None


def written_outputs(timeline: Any, *, report: bool | None = None) -> set[str]:
    """The files (relative paths) an analysis wrote into its output folder, as its timeline records them.

    ``analysis.outputs`` when the timeline has that list (:func:`write` stores it); else, for a
    timeline written before, the files its sections refer to plus the fixed names. Only names vidlens
    writes (:func:`is_output_path`) are returned, whatever the timeline says."""
    data = timeline.to_dict() if hasattr(timeline, "to_dict") else timeline
    analysis = data.get("analysis") or {}
    recorded = analysis.get("outputs")
    if isinstance(recorded, list):
        names = {str(n) for n in recorded}
    else:
        sections = data.get("sections") if isinstance(data.get("sections"), dict) else data
        names = {"timeline.json"}
        shots = sections.get("shots") or []
        if shots:
            names |= {"shots.csv", "shots.edl"}
        if report is not False:
            names.add("report.html")
        for shot in shots:
            names |= {k.get("image") for k in shot.get("keyframes") or [] if isinstance(k, dict)}
        for key in ("segments", "objects", "faces"):
            names |= {item.get("thumbnail") for item in sections.get(key) or [] if isinstance(item, dict)}
        names.add(sections.get("contact_sheet"))
        for key in ("people", "embeddings"):
            if isinstance(sections.get(key), dict):
                value = sections[key].get("masks") if key == "people" else sections[key]
                names.add(value.get("file") if isinstance(value, dict) else None)
    return {n for n in names if isinstance(n, str) and is_output_path(n)}


def remove_stale(folder: Path, names: set[str]) -> list[str]:
    """Delete the plain files ``names`` (relative, as from :func:`written_outputs`) from ``folder``, and the
    analyzers' subfolders left empty; return what was deleted. Links and anything else are left alone."""
    removed = []
    for rel in sorted(names):
        path = folder / rel
        if is_output_path(rel) and path.is_file() and not path.is_symlink():
            path.unlink()
            removed.append(rel)
    for sub in SUBFOLDER_PATTERNS:
        path = folder / sub
        if path.is_dir() and not path.is_symlink() and not any(path.iterdir()):
            path.rmdir()
    return removed


def default_folder(video: str | Path) -> Path:
    """Where ``vidlens analyze VIDEO`` writes without ``-o``: ``<video>.vidlens`` beside the video."""
    video = Path(video)
    return video.with_name(video.name + ".vidlens")


def default_summary(video: str | Path) -> Path:
    """Where ``vidlens summarize VIDEO`` writes the summary without ``-o``: ``<stem>.summary.mp4`` beside it."""
    video = Path(video)
    return video.with_name(video.stem + ".summary.mp4")


def default_preview(video: str | Path) -> Path:
    """Where ``vidlens summarize VIDEO`` writes the animated preview without ``--preview``: ``<stem>.preview.gif``."""
    video = Path(video)
    return video.with_name(video.stem + ".preview.gif")


def default_evaluation(model: str | Path, split: str = "auto") -> Path:
    """Where ``vidlens evaluate MODEL`` writes without ``-o``: ``MODEL/evaluation`` for the test split (or
    ``auto``), ``MODEL/evaluation-SPLIT`` for another, so scoring the val split never replaces the test report."""
    split = getattr(split, "value", split)
    return Path(model) / ("evaluation" if split in ("auto", "test") else f"evaluation-{split}")


def write(analysis: Analysis, folder: str | Path, *, report: bool = True) -> dict[str, Path]:
    """Write an analysis into ``folder`` (made owner-only if new): artifacts, shot lists, report, then the
    timeline. Every file is written atomically and owner-only (0600); returns the main files' paths."""
    from .export import shots_csv, shots_edl

    folder = Path(folder)
    folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    timeline = analysis.timeline
    has_shots = "shots" in timeline.sections
    names = {TIMELINE_FILE, *analysis.artifacts} | ({SHOTS_CSV, SHOTS_EDL} if has_shots else set()) \
        | ({REPORT_FILE} if report else set())
    odd = sorted(n for n in names if not is_output_path(n))
    if odd:
        raise RuntimeError(f"an analyzer produced files named outside the output folder's names: {odd}")
    timeline.analysis.pop("outputs", None)
    timeline.analysis["outputs"] = sorted(names)  # what this run wrote, so a rerun into the folder can clean up
    for name, artifact in analysis.artifacts.items():
        write_artifact(artifact, folder / name)
    written: dict[str, Path] = {}
    if has_shots:
        written["csv"] = write_text_atomic(folder / SHOTS_CSV, shots_csv(timeline))
        written["edl"] = write_text_atomic(folder / SHOTS_EDL, shots_edl(timeline))
    if report:
        from .report import write_report

        written["report"] = write_report(timeline, folder, REPORT_FILE, frame_clock=analysis.clock)
    written["timeline"] = timeline.save(folder / TIMELINE_FILE)  # last: its presence means the rest is there
    return written


def write_artifact(artifact: Artifact, path: Path) -> Path:
    """One artifact as the file ``path``: atomically (temp name + rename), owner-only."""
    if artifact.data is not None:
        return write_bytes_atomic(path, artifact.data)
    with replacing(path, suffix=path.suffix) as tmp:
        if artifact.arrays is not None:
            np.savez_compressed(tmp, **artifact.arrays)
        else:
            shutil.copyfile(artifact.spill, tmp)
    return path

