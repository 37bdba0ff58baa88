"""Labelled video datasets: loading (class folders or a CSV/JSON manifest), splits, balance, checks.

Two layouts are read, the two that public action datasets use:

* a folder per class, ``root/class_name/video.ext`` (UCF-101, Kinetics, HMDB after unpacking);
  videos are found by suffix, hidden files (``.DS_Store``, macOS ``._clip.mp4`` forks) are ignored;
* a manifest, ``.csv`` or ``.json``, one sample per row: ``path,label[,start,end]``, for clips inside
  long videos; relative paths are resolved against the manifest's folder.

A manifest mistake (a row without a label, a start after its end) is the user's to fix, so it
raises a one-line ``UsageError`` naming the row. A video that is missing or unreadable is not:
it is listed by :func:`check_videos` and left out, so one bad file in ten thousand never sinks a
run. Every subset of a dataset (splits, the usable part) keeps the full class list, so a class's
index is the same in train, val, test and in the trained model.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from ..errors import UsageError, VidlensError
from ..media import VideoInfo, probe
from ..timebase import TimeSpec

#: Suffixes taken for videos in the folder layout (lower case; matched case-insensitively).
VIDEO_SUFFIXES = frozenset({
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ogv", ".ogg",
    ".3gp", ".ts", ".mts", ".m2ts", ".vob", ".y4m",
})  # fmt: skip
#: Manifest columns; a header row (first cell ``path``) may add more, which are ignored.
MANIFEST_COLUMNS = ("path", "label", "start", "end")
SPLIT_NAMES = ("train", "val", "test")

ProgressCallback = Callable[[int, int | None, float], None]  # (done, total, elapsed seconds), as the pipeline's


class SplitMismatchError(UsageError):
    """A split list names none of the dataset's videos: the list was made for another dataset."""


@dataclass(frozen=True)
class Sample:
    """One labelled video, or the clip ``[start, end)`` (seconds) of one; ``None`` = from the start / to the end."""

    path: Path
    label: str
    start: float | None = None
    end: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if not self.label:
            raise UsageError("a sample needs a non-empty label", path=self.path)
        if self.start is not None and (not math.isfinite(self.start) or self.start < 0):
            raise UsageError(f"clip start must be a time >= 0 seconds, got {self.start}", path=self.path)
        if self.end is not None and (not math.isfinite(self.end) or self.end <= (self.start or 0.0)):
            raise UsageError(f"clip end ({self.end}s) must come after its start ({self.start or 0.0}s)",
                             path=self.path)

    def describe(self) -> str:
        """``path`` or ``path [start-end s]``, for messages."""
        if self.start is None and self.end is None:
            return str(self.path)
        end = "end" if self.end is None else f"{self.end:g}s"
        return f"{self.path} [{self.start or 0:g}s-{end}]"


@dataclass
class Dataset:
    """Samples and the sorted list of class names (which may include classes without samples here).

    ``root`` is the folder relative paths refer to (the class folders' parent, or the manifest's
    folder); ``warnings`` carries what loading or splitting noticed but did not refuse.
    """

    samples: list[Sample]
    classes: list[str]
    root: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if list(self.classes) != sorted(set(self.classes)):
            raise UsageError(f"classes must be sorted and unique, got {self.classes}")
        self.classes = list(self.classes)
        self._index = {name: i for i, name in enumerate(self.classes)}
        unknown = sorted({s.label for s in self.samples} - set(self._index))
        if unknown:
            raise UsageError(f"samples carry labels that are not among the classes: {', '.join(unknown)}")

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def label_index(self, sample: Sample) -> int:
        """The class index of ``sample`` (its position in the sorted ``classes``)."""
        return self._index[sample.label]

    def labels(self) -> np.ndarray:
        """Class index of every sample, in order (int64)."""
        return np.array([self._index[s.label] for s in self.samples], dtype=np.int64)

    def counts(self) -> dict[str, int]:
        """Samples per class, every class listed (0 for absent ones)."""
        found = Counter(s.label for s in self.samples)
        return {name: found.get(name, 0) for name in self.classes}

    def subset(self, samples: Iterable[Sample], warnings: Sequence[str] = ()) -> Dataset:
        """The same classes and root with other samples (a split, the usable part...)."""
        return Dataset(list(samples), self.classes, self.root, [*self.warnings, *warnings])

    def relative_name(self, sample: Sample) -> str:
        """The sample's path as split files write it: relative to ``root`` with ``/``, else absolute."""
        if self.root is not None:
            try:
                return sample.path.relative_to(self.root).as_posix()
            except ValueError:
                pass
        return sample.path.as_posix()


# ----------------------------------------------------------------------------- loading


def load_dataset(source: str | Path) -> Dataset:
    """A dataset from a class-folder tree or from a ``.csv`` / ``.json`` manifest.

    Raises ``UsageError`` for a missing source, a folder without class folders of videos, an empty
    manifest or a malformed manifest row (the message names the row). Missing or broken video files
    are not checked here (that needs opening them): see :func:`check_videos`.
    """
    path = Path(source).expanduser()
    if not path.exists():
        raise UsageError("no such dataset folder or manifest", path=path)
    if path.is_dir():
        return _load_folder(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _from_records(_csv_records(path), path)
    if suffix == ".json":
        return _from_records(_json_records(path), path)
    raise UsageError("a dataset is a folder with one sub-folder per class, or a .csv or .json manifest", path=path)


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _load_folder(root: Path) -> Dataset:
    samples: list[Sample] = []
    empty: list[str] = []
    ignored = 0
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not _hidden(d.name))
    for folder in class_dirs:
        found = 0
        for path in sorted(folder.rglob("*")):
            if any(_hidden(part) for part in path.relative_to(folder).parts) or not path.is_file():
                continue
            if path.suffix.lower() in VIDEO_SUFFIXES:
                samples.append(Sample(path, folder.name))
                found += 1
            else:
                ignored += 1
        if not found:
            empty.append(folder.name)
    if not samples:
        loose = [p for p in root.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES]
        hint = f" ({len(loose)} video(s) sit directly in it: move them into class folders)" if loose else ""
        raise UsageError(f"no class folders with videos (expected {root.name}/CLASS_NAME/VIDEO.mp4){hint}", path=root)
    warnings = []
    if empty:
        warnings.append(f"{len(empty)} class folder(s) hold no video and were left out: {', '.join(empty)}")
    if ignored:
        warnings.append(f"{ignored} file(s) in class folders are not videos (by suffix) and were ignored")
    return _finish(samples, root, warnings)


def _finish(samples: list[Sample], root: Path, warnings: list[str]) -> Dataset:
    classes = sorted({s.label for s in samples})
    if len(classes) == 1:
        warnings.append(f"only one class ({classes[0]!r}): a classifier needs at least two")
    return Dataset(samples, classes, root, warnings)


#: One manifest entry: where it is (``"line 4"``, ``"item 2"``) and its fields by column name.
_Record = tuple[str, dict[str, Any]]


def _csv_records(path: Path) -> list[_Record]:
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM from spreadsheet exports is dropped
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read the manifest ({error})", path=path) from None
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    records: list[_Record] = []
    try:
        for row in reader:
            where = f"line {reader.line_num}"
            if not row or all(not cell.strip() for cell in row) or row[0].lstrip().startswith("#"):
                continue
            cells = [cell.strip() for cell in row]
            if header is None and not records and cells[0].lower() == "path":
                header = [cell.lower() for cell in cells]
                if "label" not in header:
                    raise UsageError(f"{where}: the header needs a 'label' column, got {', '.join(header)}", path=path)
                continue
            names = header or list(MANIFEST_COLUMNS)
            if len(cells) > len(names):
                expected = ",".join(names) if header else "path,label[,start,end] (or add a header row)"
                raise UsageError(f"{where}: {len(cells)} columns, expected {expected}", path=path)
            records.append((where, dict(zip(names, cells))))
    except csv.Error as error:
        raise UsageError(f"line {reader.line_num}: not valid CSV ({error})", path=path) from None
    return records


def _json_records(path: Path) -> list[_Record]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"not a readable JSON manifest ({error})", path=path) from None
    items = data.get("samples") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise UsageError("a JSON manifest is a list of samples, or an object with a 'samples' list", path=path)
    records: list[_Record] = []
    for number, item in enumerate(items, 1):
        where = f"item {number}"
        if isinstance(item, list) and 2 <= len(item) <= 4:
            item = dict(zip(MANIFEST_COLUMNS, item))
        if not isinstance(item, dict):
            raise UsageError(f"{where}: expected an object with 'path' and 'label' (or [path, label, start, end])",
                             path=path)
        records.append((where, item))
    return records


def _from_records(records: list[_Record], manifest: Path) -> Dataset:
    if not records:
        raise UsageError("the manifest lists no samples", path=manifest)
    base = manifest.parent
    samples: list[Sample] = []
    first_seen: dict[tuple[Path, float | None, float | None], str] = {}
    for where, fields in records:
        sample = _record_sample(fields, base, where, manifest)
        key = (sample.path, sample.start, sample.end)
        if key in first_seen:
            raise UsageError(f"{where}: repeats {first_seen[key]} (same video and time range)", path=manifest)
        first_seen[key] = where
        samples.append(sample)
    return _finish(samples, base, [])


def _record_sample(fields: dict[str, Any], base: Path, where: str, manifest: Path) -> Sample:
    raw_path, raw_label = fields.get("path"), fields.get("label")
    if not isinstance(raw_path, str) or not raw_path.strip():
        raise UsageError(f"{where}: no video path", path=manifest)
    if raw_label is None or isinstance(raw_label, (dict, list, bool)) or not str(raw_label).strip():
        raise UsageError(f"{where}: no label for {raw_path}", path=manifest)
    start = _seconds(fields.get("start"), "start", where, manifest)
    end = _seconds(fields.get("end"), "end", where, manifest)
    if end is not None and end <= (start or 0.0):
        raise UsageError(f"{where}: end ({end:g}s) must come after start ({start or 0.0:g}s)", path=manifest)
    video = Path(raw_path.strip()).expanduser()
    return Sample(video if video.is_absolute() else base / video, str(raw_label).strip(), start, end)


def _seconds(value: Any, name: str, where: str, manifest: Path) -> float | None:
    """Seconds from a number, ``12.5``, ``12.5s`` or ``00:01:02.500``; empty means not given."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                spec = TimeSpec.parse(text)
            except UsageError:
                spec = None
            if spec is None or spec.seconds is None:
                raise UsageError(f"{where}: {name} {text!r} is not a time in seconds (e.g. 12.5 or 00:01:02.5)",
                                 path=manifest) from None
            seconds = float(spec.seconds)
    if not math.isfinite(seconds) or seconds < 0:
        raise UsageError(f"{where}: {name} must be a time >= 0 seconds, got {value!r}", path=manifest)
    return seconds


# ----------------------------------------------------------------------------- splits


def split_dataset(ds: Dataset, ratios: Sequence[float] = (0.7, 0.15, 0.15), seed: int = 0) -> dict[str, Dataset]:
    """Stratified ``train``/``val``[/``test``] split: each class is divided by the ratios on its own.

    Deterministic for a seed, independent of the order samples were listed in, and stable per
    class (each class is shuffled with its own seed, so adding a class does not reshuffle the
    others). Clips of one video with one label stay in one split, so a video never leaks from
    train into test. Rounding is largest-remainder with random tie-breaks; every class with a
    sample keeps at least one in train, and a class too small to reach val or test is noted in
    the splits' ``warnings`` rather than refused.
    """
    values = [float(r) for r in ratios]
    if len(values) not in (2, 3):
        raise UsageError(f"give 2 or 3 split ratios (train, val[, test]), got {len(values)}")
    if values[0] <= 0 or any(not math.isfinite(r) or r < 0 for r in values) or abs(sum(values) - 1) > 1e-6:
        raise UsageError(f"split ratios must be >= 0, with train > 0, and sum to 1; got {values}")
    names = SPLIT_NAMES[: len(values)]
    parts: dict[str, list[Sample]] = {name: [] for name in names}
    short: dict[str, list[str]] = {name: [] for name in names[1:]}
    for label in ds.classes:
        groups: dict[Path, list[Sample]] = {}
        for sample in sorted((s for s in ds.samples if s.label == label), key=_order):
            groups.setdefault(sample.path, []).append(sample)
        if not groups:
            continue
        units = list(groups.values())
        rng = np.random.default_rng([seed, zlib.crc32(label.encode("utf-8"))])
        order = rng.permutation(len(units))
        at = 0
        for name, ratio, count in zip(names, values, _allocate(len(units), values, rng)):
            for i in order[at: at + count]:
                parts[name].extend(units[i])
            at += count
            if name != "train" and ratio > 0 and count == 0:
                short[name].append(label)
    out = {}
    for name in names:
        notes = []
        if short.get(name):
            notes.append(f"{len(short[name])} class(es) too small to have a sample in {name}: "
                         f"{', '.join(short[name])}")
        out[name] = ds.subset(sorted(parts[name], key=_order), notes)
    return out


def _order(sample: Sample) -> tuple:
    return (sample.label, sample.path.as_posix(), sample.start or 0.0, sample.end or math.inf)


def _allocate(n: int, ratios: list[float], rng: np.random.Generator) -> list[int]:
    """Split ``n`` units by ``ratios`` (largest remainder, random ties), keeping >= 1 in the first."""
    exact = np.array(ratios) * n
    counts = np.floor(exact + 1e-9).astype(int)
    remainder = exact - counts
    keys = remainder + rng.random(len(ratios)) * 1e-6  # random tie-break among equal remainders
    for i in np.argsort(-keys)[: n - int(counts.sum())]:
        counts[i] += 1
    if counts[0] == 0 and n > 0:
        counts[int(np.argmax(counts))] -= 1
        counts[0] += 1
    return counts.tolist()


def load_splits(ds: Dataset, split_files: Mapping[str, str | Path]) -> dict[str, Dataset]:
    """Splits given by files (UCF-101's ``trainlist01.txt`` style): one relative path per line.

    Paths are relative to the dataset's root (``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi``); a
    bare file name works when it is unique. An optional last column is a label: a class name must
    agree with the sample's, a number (UCF-101's 1-based class index) is ignored since the folder
    already names the class. A path listed in two splits is refused (it would leak). Entries not in
    the dataset (e.g. removed as unreadable) are noted in that split's ``warnings``; a file none of
    whose entries match is refused, as it is surely for another dataset.
    """
    by_name: dict[str, list[Sample]] = {}
    for sample in ds.samples:
        by_name.setdefault(ds.relative_name(sample), []).append(sample)
    by_file: dict[str, list[str]] = {}
    for key in by_name:
        by_file.setdefault(key.rsplit("/", 1)[-1], []).append(key)
    owner: dict[str, str] = {}
    out: dict[str, Dataset] = {}
    for split, file in split_files.items():
        file = Path(file).expanduser()
        if not file.is_file():
            raise UsageError(f"split file for {split!r} not found", path=file)
        chosen: list[Sample] = []
        unknown: list[str] = []
        entries = 0
        for number, line in enumerate(file.read_text(encoding="utf-8-sig").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            entries += 1
            key, label = _split_entry(line, by_name, by_file)
            if key is None:
                unknown.append(line)
                continue
            samples = by_name[key]
            if label is not None and not label.isdigit() and label != samples[0].label:
                raise UsageError(f"line {number}: {key} is labelled {label!r} here but {samples[0].label!r} in the "
                                 "dataset", path=file)
            if key in owner:
                raise UsageError(f"line {number}: {key} is already in split {owner[key]!r}", path=file)
            owner[key] = split
            chosen.extend(samples)
        if entries and len(unknown) == entries:
            raise SplitMismatchError(f"none of its {entries} entries is in the dataset (first: {unknown[0]})",
                                     path=file)
        notes = []
        if unknown:
            notes.append(f"{len(unknown)} entr(ies) of {file.name} are not in the dataset (first: {unknown[0]})")
        out[split] = ds.subset(chosen, notes)
    return out


def _split_entry(line: str, by_name: Mapping[str, list[Sample]],
                 by_file: Mapping[str, list[str]]) -> tuple[str | None, str | None]:
    """(dataset key, label column or None) of one split-file line; the key is None if not found."""
    candidates = [(line, None)]
    parts = re.split(r"[\s,]+", line)
    if len(parts) >= 2:
        candidates.append((line[: len(line) - len(parts[-1])].rstrip(" \t,"), parts[-1]))
    for path, label in candidates:
        key = path.replace("\\", "/").removeprefix("./")
        if key in by_name:
            return key, label
        names = by_file.get(key, [])
        if "/" not in key and len(names) == 1:
            return names[0], label
    return None, None


# ----------------------------------------------------------------------------- balance


def balance_report(ds: Dataset) -> dict[str, Any]:
    """Samples per class and how uneven they are (JSON-ready).

    ``imbalance_ratio`` is the largest class count over the smallest; it is ``None`` when a class
    has no sample at all (infinitely imbalanced: see ``empty_classes``).
    """
    counts = ds.counts()
    total = sum(counts.values())
    low, high = (min(counts.values()), max(counts.values())) if counts else (0, 0)
    return {
        "samples": total,
        "classes": len(counts),
        "counts": counts,
        "share": {name: round(n / total, 4) if total else 0.0 for name, n in counts.items()},
        "min": low,
        "max": high,
        "imbalance_ratio": round(high / low, 3) if low else None,
        "empty_classes": [name for name, n in counts.items() if n == 0],
    }


def balance_table(datasets: Dataset | Mapping[str, Dataset], title: str = "Class balance") -> Table:
    """A Rich table of samples per class: one column for a dataset, one per split for a mapping."""
    named = {"samples": datasets} if isinstance(datasets, Dataset) else dict(datasets)
    reports = {name: balance_report(ds) for name, ds in named.items()}
    classes = next(iter(named.values())).classes if named else []
    table = Table(title=title)
    table.add_column("class")
    for name in reports:
        table.add_column(name, justify="right")
    if len(reports) > 1:
        table.add_column("total", justify="right")
    totals = {c: sum(r["counts"].get(c, 0) for r in reports.values()) for c in classes}
    for c in classes:
        row = [str(r["counts"].get(c, 0)) for r in reports.values()]
        table.add_row(c, *row, *([str(totals[c])] if len(reports) > 1 else []))
    table.add_section()
    sums = [str(r["samples"]) for r in reports.values()]
    table.add_row("all", *sums, *([str(sum(totals.values()))] if len(reports) > 1 else []))
    overall = balance_report(Dataset([s for ds in named.values() for s in ds.samples], classes))
    table.add_row("largest / smallest", *[_ratio_text(r) for r in reports.values()],
                  *([_ratio_text(overall)] if len(reports) > 1 else []))
    return table


def _ratio_text(report: dict[str, Any]) -> str:
    if report["imbalance_ratio"] is None:
        return f"inf ({len(report['empty_classes'])} empty)"
    return f"{report['imbalance_ratio']:.2f}"


# ----------------------------------------------------------------------------- checking videos


def check_videos(ds: Dataset, progress: ProgressCallback | None = None) -> tuple[Dataset, list[tuple[Sample, str]]]:
    """Open every video (probe: container facts and one decoded frame, no full decode).

    Returns the usable dataset (same classes) and the bad samples with a one-line reason each.
    Never raises for a bad video: missing files, text named ``.mp4``, truncated headers, audio-only
    files and clips that start after their video's end are all listed, not thrown. Each file is
    probed once even if many clips come from it.
    """
    started = time.perf_counter()
    probed: dict[Path, VideoInfo | str] = {}
    good: list[Sample] = []
    bad: list[tuple[Sample, str]] = []
    for done, sample in enumerate(ds.samples, 1):
        if sample.path not in probed:
            probed[sample.path] = _probe_or_reason(sample.path)
        found = probed[sample.path]
        reason = found if isinstance(found, str) else _clip_problem(sample, found)
        if reason is None:
            good.append(sample)
        else:
            bad.append((sample, reason))
        if progress is not None:
            progress(done, len(ds.samples), time.perf_counter() - started)
    notes = []
    if bad:
        notes.append(f"{len(bad)} of {len(ds.samples)} video(s) are unreadable and were left out")
    left = Counter(s.label for s in good)
    lost = [c for c in ds.classes if not left[c] and any(s.label == c for s in ds.samples)]
    if lost:
        notes.append(f"class(es) with no usable video left: {', '.join(lost)}")
    return ds.subset(good, notes), bad


def _probe_or_reason(path: Path) -> VideoInfo | str:
    try:
        return probe(path)
    except Exception as error:  # any failure to open is a reason to skip this file, never to stop
        message = error.args[0] if error.args else ""
        text = " ".join(str(message).split())  # one line, without the path (the sample carries it)
        return text if isinstance(error, VidlensError) else f"{type(error).__name__}: {text}"


def _clip_problem(sample: Sample, info: VideoInfo) -> str | None:
    if sample.start is not None and info.duration_s is not None and sample.start >= info.duration_s:
        return f"clip starts at {sample.start:g}s, at or after the end of the video ({info.duration_s:.3f}s)"
    return None
