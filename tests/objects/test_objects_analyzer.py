"""The objects analyzer end to end: real detector + tracker on generated scenes with known paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.support.tracks import crossing_scene, write_scene
from vidlens import pipeline
from vidlens.analyzers.objects import ObjectsAnalyzer
from vidlens.analyzers.shots import ShotsAnalyzer
from vidlens.boxes import box_iou_matrix
from vidlens.media import probe
from vidlens.media.encode import encode_video
from vidlens.objects.tracks import track_box_at

CLI = [sys.executable, "-m", "vidlens.cli"]


@pytest.fixture(scope="module")
def crossing(tmp_path_factory) -> tuple[Path, object]:
    return write_scene(crossing_scene(0), tmp_path_factory.mktemp("objects") / "crossing.mp4")


@pytest.fixture(scope="module")
def crossing_timeline(crossing):
    rules = {"lines": [{"name": "middle", "points": [[0.5, 0.0], [0.5, 1.0]], "classes": ["person"]}]}
    from vidlens.objects.rules import parse_rules

    return pipeline.run(crossing[0], [ShotsAnalyzer(), ObjectsAnalyzer(rules=parse_rules(rules))],
                        hash_file=False).timeline


def truth_box(truth, tid: int, frame: int) -> np.ndarray | None:
    rows = np.flatnonzero((truth.ids == tid) & (truth.frames == frame))
    return truth.boxes[rows[0]] if rows.size else None


def test_two_people_crossing_keep_their_ids(crossing, crossing_timeline) -> None:
    _, truth = crossing
    people = [t for t in crossing_timeline["objects"] if t["class"] == "person"]
    assert len(people) == 2, [(t["id"], t["start"]["frame"], t["end"]["frame"]) for t in people]
    person_ids = [i for i in np.unique(truth.ids) if truth.classes[truth.ids == i][0] == 0]
    # before and after the crossing (frame ~50), each true person is followed by the same track
    for tid in person_ids:
        owners = []
        for frame in (15, 85):
            gt = truth_box(truth, tid, frame)
            boxes = [track_box_at(t, frame) for t in people]
            ious = [float(box_iou_matrix(gt, b)[0, 0]) if b is not None else 0.0 for b in boxes]
            assert max(ious) > 0.5, (tid, frame, ious)
            owners.append(people[int(np.argmax(ious))]["id"])
        assert owners[0] == owners[1], f"true person {tid} changed track id across the crossing: {owners}"


def test_a_line_counts_each_walker_once_in_opposite_directions(crossing_timeline) -> None:
    counts = crossing_timeline["object_counts"]["lines"]["middle"]
    assert counts == {"person": {"in": 1, "out": 1}}
    crossings = [e for e in crossing_timeline["events"] if e["type"] == "line_cross"]
    assert len(crossings) == 2 and all(40 <= e["frame"] <= 60 for e in crossings)  # they meet mid-frame at ~50


def test_detector_runs_on_a_fraction_of_frames_and_summary_counts(crossing_timeline) -> None:
    frames = crossing_timeline["object_summary"]["frames"]
    assert frames["frames_seen"] == 100 and frames["frames_detected"] <= 100 * 0.3 / 0.25
    person = crossing_timeline["object_summary"]["classes"]["person"]
    assert person["tracks"] == 2 and person["max_simultaneous"] == 2


def test_a_still_scene_without_objects_gives_no_tracks_and_few_detector_runs(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    base = rng.integers(60, 90, (360, 640, 3), dtype=np.uint8)  # grey texture, nothing to find
    path = encode_video(tmp_path / "still.mp4", [base] * 100)
    timeline = pipeline.run(path, [ShotsAnalyzer(), ObjectsAnalyzer()], hash_file=False).timeline
    assert timeline["objects"] == []
    assert timeline["object_summary"]["frames"]["frames_detected"] <= 3  # every 1.5 s on a still scene (4 s)


def test_cli_objects_mot_and_annotate(crossing, tmp_path: Path) -> None:
    path, _ = crossing
    done = subprocess.run([*CLI, "objects", str(path), "-q", "-f", "mot", "--classes", "person"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line.split(",") for line in done.stdout.splitlines()]
    assert {r[1] for r in rows} == {"1", "2"} and len(rows) >= 150
    done = subprocess.run([*CLI, "analyze", str(path), "-q", "-o", str(tmp_path / "out"), "--analyzers",
                           "shots,objects"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    timeline = tmp_path / "out" / "timeline.json"
    data = json.loads(timeline.read_text())
    assert all((tmp_path / "out" / t["thumbnail"]).is_file() for t in data["objects"])
    out = tmp_path / "annotated.mp4"
    done = subprocess.run([*CLI, "annotate", str(path), "-o", str(out), "--timeline", str(timeline), "-q"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    source, written = probe(path), probe(out)
    assert abs(written.duration_s - source.duration_s) < 0.05


def test_bad_rules_file_is_a_clear_cli_error(crossing, tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("zones: [{polygon: [[0, 0], [2, 0], [1, 1]]}]\n")
    done = subprocess.run([*CLI, "objects", str(crossing[0]), "-q", "--rules", str(bad)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "fractions of the frame" in done.stderr and "Traceback" not in done.stderr
