"""Datasets: class folders and manifests, bad rows, stratified and file-given splits, balance, bad videos."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from tests.support.actions import TRUTH_FILE, make_action_dataset
from vidlens.errors import UsageError
from vidlens.train.dataset import (
    Dataset,
    Sample,
    balance_report,
    balance_table,
    check_videos,
    load_dataset,
    load_splits,
    split_dataset,
)


def touch(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def synthetic(counts: dict[str, int], root: Path = Path("/data")) -> Dataset:
    """A dataset of made-up paths (nothing is opened), ``counts[label]`` samples per class."""
    samples = [Sample(root / label / f"{label}_{i:03d}.mp4", label) for label, n in counts.items() for i in range(n)]
    return Dataset(samples, sorted(counts), root)


@pytest.fixture(scope="module")
def actions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real, decodable videos: 3 classes x 2 clips of the motion generator."""
    return make_action_dataset(tmp_path_factory.mktemp("actions"), 2, classes=("pan_left", "static", "zoom_in"),
                               frames=8, size=(64, 64))


# ----------------------------------------------------------------------------- class folders


def test_folder_layout_finds_videos_by_suffix_and_ignores_hidden_files(tmp_path: Path) -> None:
    for rel in ("walk/a.mp4", "walk/B.AVI", "walk/sub/c.mkv", "run/d.webm", "run/.e.mp4", "run/._d.webm",
                ".trash/x.mp4", "walk/.cache/y.mp4", "walk/notes.txt", "run/.DS_Store", "loose.mp4"):
        touch(tmp_path / rel)
    (tmp_path / "empty_class").mkdir()
    ds = load_dataset(tmp_path)
    assert ds.classes == ["run", "walk"]
    assert sorted(ds.relative_name(s) for s in ds.samples) == ["run/d.webm", "walk/B.AVI", "walk/a.mp4",
                                                              "walk/sub/c.mkv"]
    assert {s.label for s in ds.samples if s.path.parent.name == "sub"} == {"walk"}
    assert ds.label_index(ds.samples[0]) == ds.classes.index(ds.samples[0].label)
    assert any("empty_class" in w for w in ds.warnings)
    assert any("not videos" in w for w in ds.warnings)


@pytest.mark.parametrize(("layout", "message"), [
    ((), "no class folders with videos"),
    (("a.mp4", "b.mp4"), "move them into class folders"),
    (("cls/readme.txt",), "no class folders with videos"),
])
def test_folder_without_class_videos_is_refused(tmp_path: Path, layout: tuple[str, ...], message: str) -> None:
    for rel in layout:
        touch(tmp_path / rel)
    with pytest.raises(UsageError, match=message):
        load_dataset(tmp_path)


def test_missing_source_and_unknown_file_type_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such dataset"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(UsageError, match=r"\.csv or \.json"):
        load_dataset(touch(tmp_path / "list.txt", "a.mp4,x\n"))


# ----------------------------------------------------------------------------- manifests


def test_csv_manifest_resolves_relative_paths_and_reads_times(tmp_path: Path) -> None:
    manifest = touch(tmp_path / "meta" / "clips.csv", "\n".join([
        "path,label,start,end,annotator",
        "# a comment line",
        "../videos/long.mp4,jump,1.5,3,ann",
        "../videos/long.mp4,fall,00:00:04.250,5s,ann",
        "",
        "/abs/other.mp4,jump,,,ann",
    ]) + "\n")
    ds = load_dataset(manifest)
    assert ds.classes == ["fall", "jump"]
    assert ds.root == manifest.parent
    assert ds.samples == [
        Sample(manifest.parent / "../videos/long.mp4", "jump", 1.5, 3.0),
        Sample(manifest.parent / "../videos/long.mp4", "fall", 4.25, 5.0),
        Sample(Path("/abs/other.mp4"), "jump"),
    ]


def test_csv_manifest_without_header_is_positional(tmp_path: Path) -> None:
    ds = load_dataset(touch(tmp_path / "m.csv", "a.mp4,x\nb.mp4,y,2,4\n"))
    assert [(s.path.name, s.label, s.start, s.end) for s in ds.samples] == [("a.mp4", "x", None, None),
                                                                            ("b.mp4", "y", 2.0, 4.0)]


@pytest.mark.parametrize(("text", "message"), [
    ("", "lists no samples"),
    ("path,label\n", "lists no samples"),
    ("path,name\na.mp4,x\n", "line 1: the header needs a 'label' column"),
    ("a.mp4,x\nb.mp4\n", "line 2: no label for b.mp4"),
    ("a.mp4,x\n,y\n", "line 2: no video path"),
    ("a.mp4,x\nb.mp4,y,4,2\n", r"line 2: end \(2s\) must come after start \(4s\)"),
    ("a.mp4,x\nb.mp4,y,soon,\n", "line 2: start 'soon' is not a time"),
    ("a.mp4,x\nb.mp4,y,300f,\n", "line 2: start '300f' is not a time"),
    ("a.mp4,x\nb.mp4,y,-1,\n", "line 2: start must be a time >= 0"),
    ("a.mp4,x,1,2,extra\n", "line 1: 5 columns"),
    ("a.mp4,x,1,2\nb.mp4,y\na.mp4,z,1,2\n", "line 3: repeats line 1"),
])
def test_malformed_csv_rows_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        load_dataset(touch(tmp_path / "m.csv", text))


def test_json_manifest_in_its_three_shapes(tmp_path: Path) -> None:
    rows = [{"path": "a.mp4", "label": "x"}, {"path": "b.mp4", "label": "y", "start": 1, "end": 2.5}]
    expected = [Sample(tmp_path / "a.mp4", "x"), Sample(tmp_path / "b.mp4", "y", 1.0, 2.5)]
    for data in (rows, {"samples": rows}, [["a.mp4", "x"], ["b.mp4", "y", 1, 2.5]]):
        assert load_dataset(touch(tmp_path / "m.json", json.dumps(data))).samples == expected


@pytest.mark.parametrize(("data", "message"), [
    ({"videos": []}, "a list of samples"),
    ([], "lists no samples"),
    ([{"path": "a.mp4", "label": "x"}, "b.mp4"], "item 2: expected an object"),
    ([{"path": "a.mp4", "label": "x"}, {"path": "b.mp4"}], "item 2: no label"),
    ([{"path": "a.mp4", "label": "x", "end": 0}], r"item 1: end \(0s\) must come after"),
])
def test_malformed_json_items_name_the_item(tmp_path: Path, data: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        load_dataset(touch(tmp_path / "m.json", json.dumps(data)))
    with pytest.raises(UsageError, match="not a readable JSON"):
        load_dataset(touch(tmp_path / "bad.json", "[{"))


def test_generator_ground_truth_is_a_manifest_of_the_same_dataset(actions: Path) -> None:
    by_folder, by_manifest = load_dataset(actions), load_dataset(actions / TRUTH_FILE)
    assert by_folder.classes == by_manifest.classes
    assert sorted(by_folder.samples, key=str) == sorted(by_manifest.samples, key=str)


# ----------------------------------------------------------------------------- splits


def names(ds: Dataset) -> set[str]:
    return {ds.relative_name(s) for s in ds.samples}


def test_stratified_split_is_deterministic_complete_and_disjoint() -> None:
    ds = synthetic({"a": 40, "b": 20, "c": 7, "d": 3, "e": 1})
    splits = split_dataset(ds, (0.7, 0.15, 0.15), seed=3)
    again = split_dataset(Dataset(random.Random(1).sample(ds.samples, len(ds)), ds.classes, ds.root), seed=3)
    assert {k: names(v) for k, v in splits.items()} == {k: names(v) for k, v in again.items()}  # order-free
    other = split_dataset(ds, seed=4)
    assert names(other["train"]) != names(splits["train"])
    parts = [names(s) for s in splits.values()]
    assert set.union(*parts) == names(ds) and sum(map(len, parts)) == len(ds)
    for part in splits.values():
        assert part.classes == ds.classes  # indices stay the same in every split
    train = splits["train"].counts()
    assert all(train[c] >= 1 for c in ds.classes)
    for label, n in ds.counts().items():  # each class is divided by the ratios, up to rounding
        for name, ratio in zip(("train", "val", "test"), (0.7, 0.15, 0.15)):
            assert abs(splits[name].counts()[label] - ratio * n) < 1 + 1e-9
    assert any("e" in w for w in splits["val"].warnings + splits["test"].warnings)


def test_split_keeps_clips_of_one_video_together() -> None:
    samples = [Sample(Path(f"/v/{label}{v}.mp4"), label, float(c), float(c + 1))
               for label in "xy" for v in range(10) for c in range(3)]
    splits = split_dataset(Dataset(samples, ["x", "y"], Path("/v")), (0.6, 0.4), seed=0)
    owners: dict[Path, set[str]] = {}
    for name, part in splits.items():
        for s in part.samples:
            owners.setdefault(s.path, set()).add(name)
    assert all(len(o) == 1 for o in owners.values())
    assert len(splits["train"]) == 36 and len(splits["val"]) == 24


@pytest.mark.parametrize("ratios", [(0.5, 0.4), (0.0, 0.5, 0.5), (0.8, 0.3, -0.1), (1.0,), (0.5, 0.2, 0.2, 0.1)])
def test_bad_split_ratios_are_refused(ratios: tuple[float, ...]) -> None:
    with pytest.raises(UsageError, match="ratios"):
        split_dataset(synthetic({"a": 4, "b": 4}), ratios)


def test_split_files_in_the_ucf101_style(tmp_path: Path) -> None:
    ds = synthetic({"Jump": 3, "Run": 3}, tmp_path)
    train = touch(tmp_path / "trainlist01.txt", "Jump/Jump_000.mp4 1\nJump/Jump_001.mp4 1\nRun/Run_000.mp4 2\n"
                                                "Run\\Run_001.mp4 Run\n\n")
    test = touch(tmp_path / "testlist01.txt", "Jump/Jump_002.mp4\nRun_002.mp4\nGone/Gone_000.mp4\n")
    splits = load_splits(ds, {"train": train, "test": test})
    assert names(splits["train"]) == {"Jump/Jump_000.mp4", "Jump/Jump_001.mp4", "Run/Run_000.mp4", "Run/Run_001.mp4"}
    assert names(splits["test"]) == {"Jump/Jump_002.mp4", "Run/Run_002.mp4"}
    assert splits["train"].warnings == [] and "Gone/Gone_000.mp4" in splits["test"].warnings[0]


@pytest.mark.parametrize(("lists", "message"), [
    ({"train": "Jump/Jump_000.mp4\n", "test": "Jump/Jump_000.mp4\n"}, "line 1: Jump/Jump_000.mp4 is already in split"),
    ({"train": "Jump/Jump_000.mp4 Run\n"}, "labelled 'Run' here but 'Jump'"),
    ({"train": "other/x.avi\nother/y.avi\n"}, "none of its 2 entries is in the dataset"),
])
def test_bad_split_files_are_refused(tmp_path: Path, lists: dict[str, str], message: str) -> None:
    ds = synthetic({"Jump": 2, "Run": 2}, tmp_path)
    files = {name: touch(tmp_path / f"{name}.txt", text) for name, text in lists.items()}
    with pytest.raises(UsageError, match=message):
        load_splits(ds, files)
    with pytest.raises(UsageError, match="not found"):
        load_splits(ds, {"train": tmp_path / "missing.txt"})


# ----------------------------------------------------------------------------- balance


def test_balance_report_and_table() -> None:
    ds = synthetic({"a": 6, "b": 2, "c": 3})
    report = balance_report(ds)
    assert report["counts"] == {"a": 6, "b": 2, "c": 3} and report["samples"] == 11
    assert report["imbalance_ratio"] == pytest.approx(3.0) and report["empty_classes"] == []
    assert sum(report["share"].values()) == pytest.approx(1.0, abs=1e-3)
    empty = balance_report(ds.subset([s for s in ds.samples if s.label != "b"]))
    assert empty["imbalance_ratio"] is None and empty["empty_classes"] == ["b"]
    console = Console(record=True, width=120)
    console.print(balance_table(split_dataset(ds, (0.5, 0.5))))
    text = console.export_text()
    for word in ("train", "val", "total", "largest / smallest", "3.00"):
        assert word in text


# ----------------------------------------------------------------------------- bad videos


def test_bad_videos_are_listed_and_skipped_never_raised(actions: Path, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    shutil.copytree(actions, root)
    good = load_dataset(root)
    video = next(iter(good)).path
    (root / "static" / "text.mp4").write_text("this is not a video\n")
    (root / "static" / "noise.mp4").write_bytes(bytes(random.Random(0).randbytes(4000)))
    (root / "zoom_in" / "truncated.mp4").write_bytes(video.read_bytes()[:600])
    (root / "zoom_in" / "empty.mp4").write_bytes(b"")
    ds = load_dataset(root)
    gone = Sample(root / "pan_left" / "deleted.mp4", "pan_left")
    late = Sample(video, "pan_left", start=30.0)
    ds = ds.subset([*ds.samples, gone, late])
    calls: list[tuple[int, int | None]] = []
    usable, bad = check_videos(ds, progress=lambda done, total, elapsed: calls.append((done, total)))
    assert sorted(s.path.name for s in usable.samples) == sorted(s.path.name for s in good.samples)
    assert {s.path.name for s, _ in bad} == {"text.mp4", "noise.mp4", "truncated.mp4", "empty.mp4", "deleted.mp4",
                                             video.name}
    for sample, reason in bad:
        assert reason and "\n" not in reason and str(sample.path) not in reason
    assert "after the end" in dict((s, r) for s, r in bad)[late]
    assert calls[-1] == (len(ds), len(ds)) and len(calls) == len(ds)
    assert usable.classes == ds.classes and any("unreadable" in w for w in usable.warnings)


def test_the_data_side_never_imports_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, vidlens.train, vidlens.train.dataset, vidlens.train.sampling, vidlens.train.features, "
            "tests.support.actions; sys.exit('torch' in sys.modules)")
    repo_root = Path(__file__).resolve().parents[2]  # `python -c` puts the cwd on sys.path: tests.support
    assert subprocess.run([sys.executable, "-c", code], check=False, cwd=repo_root).returncode == 0
