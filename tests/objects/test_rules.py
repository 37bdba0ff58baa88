"""Line crossings and zones over tracked boxes with known paths; rule files with clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidlens.objects import Detections
from vidlens.objects.rules import RuleCounter, RuleError, load_rules, parse_rules

W, H, FPS = 640, 360, 25.0
PERSON, CAR = 0, 2


def box_at(cx: float, bottom: float, w: float = 40, h: float = 100) -> list[float]:
    return [cx - w / 2, bottom - h, cx + w / 2, bottom]


def run(rules: dict, paths: dict[int, list[tuple[float, float] | None]], classes: dict[int, int] | None = None,
        ids: dict[int, int] | None = None) -> RuleCounter:
    """``paths``: track -> per-frame (cx, bottom) or None when absent; ``ids`` maps to reported ids (-1 ok)."""
    counter = RuleCounter(parse_rules(rules), (W, H))
    frames = max(len(p) for p in paths.values())
    for f in range(frames):
        boxes, cls, tids = [], [], []
        for tid, path in paths.items():
            if f < len(path) and path[f] is not None:
                boxes.append(box_at(*path[f]))
                cls.append((classes or {}).get(tid, PERSON))
                tids.append((ids or {}).get(tid, tid))
        counter.update(f, f / FPS, Detections(np.array(boxes).reshape(-1, 4), np.ones(len(boxes)), cls, tids))
    counter.finish()
    return counter


def line(xs: np.ndarray, ys: np.ndarray) -> list[tuple[float, float]]:
    return list(zip(xs.tolist(), ys.tolist(), strict=True))


DOOR = {"lines": [{"name": "door", "points": [[0.0, 0.5], [1.0, 0.5]]}]}  # horizontal, a (left) -> b (right)


def test_each_crossing_counts_once_in_its_direction() -> None:
    down = line(np.full(50, 200.0), np.linspace(100, 300, 50))  # top to bottom
    up = line(np.full(50, 400.0), np.linspace(300, 100, 50))
    counter = run(DOOR, {1: down, 2: up})
    # looking from a (left) to b (right) on screen, "your right" is the bottom: bottom -> top is "in"
    assert counter.counts["door"] == {"person": {"in": 1, "out": 1}}
    cross = [e for e in counter.events if e["type"] == "line_cross"]
    assert {(e["track_id"], e["direction"]) for e in cross} == {(1, "out"), (2, "in")}
    crossing_frame = next(e["frame"] for e in cross if e["track_id"] == 1)
    assert abs(crossing_frame - 20) <= 3  # y = 180 is reached at frame 19.6; plus the jitter margin


def test_jitter_on_the_line_counts_once_and_going_round_the_end_not_at_all() -> None:
    rng = np.random.default_rng(3)
    jitter = line(np.full(80, 300.0), np.r_[np.linspace(120, 178, 30), 180 + rng.normal(0, 2, 20),
                                           np.linspace(182, 260, 30)])
    short = {"lines": [{"name": "gate", "points": [[0.25, 0.5], [0.5, 0.5]]}]}  # x 160..320
    around = line(np.r_[np.full(20, 500.0), np.linspace(500, 500, 20)], np.linspace(100, 300, 40))
    counter = run({"lines": DOOR["lines"] + short["lines"]}, {1: jitter, 2: around})
    assert counter.counts["door"]["person"] == {"in": 0, "out": 2}
    assert counter.counts["gate"]["person"] == {"in": 0, "out": 1}  # only track 1 passes between x 160..320


def test_unconfirmed_boxes_never_count_and_classes_filter() -> None:
    down = line(np.full(50, 200.0), np.linspace(100, 300, 50))
    rules = {"lines": [{"name": "road", "points": [[0, 0.5], [1, 0.5]], "classes": ["car"]}]}
    counter = run(rules, {1: down, 2: down, 3: down}, classes={1: CAR, 2: PERSON, 3: CAR}, ids={3: -1})
    assert counter.counts["road"] == {"car": {"in": 0, "out": 1}}


def test_zone_dwell_and_loitering_to_the_frame() -> None:
    zone = {"zones": [{"name": "counter", "polygon": [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]],
                       "loiter_seconds": 1.0}]}
    # bottom-centre anchor at x=320 moves down: inside y in [90, 270] from frame 30 to frame 90
    ys = np.arange(120) * 3.0
    counter = run(zone, {7: line(np.full(120, 320.0), ys)})
    enter = next(e for e in counter.events if e["type"] == "zone_enter")
    leave = next(e for e in counter.events if e["type"] == "zone_exit")
    assert (enter["frame"], leave["frame"]) == (30, 91)
    assert leave["dwell_s"] == pytest.approx((90 - 30) / FPS)
    loiter = next(e for e in counter.events if e["type"] == "loitering")
    assert loiter["frame"] == 55  # first frame with dwell >= 1 s
    summary = counter.summary()["zones"]["counter"]
    assert summary["max_occupancy"] == 1 and summary["visits"] == 1
    assert summary["occupancy"] == [[0, 0], [30, 1], [91, 0]]


def test_a_visit_open_at_the_end_is_closed_and_marked() -> None:
    zone = {"zones": [{"name": "all", "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]]}]}
    counter = run(zone, {1: [(100.0, 200.0)] * 10})
    (leave,) = [e for e in counter.events if e["type"] == "zone_exit"]
    assert leave["open_at_end"] and leave["frame"] == 9


@pytest.mark.parametrize(("text", "message"), [
    ("lines: [{points: [[0, 0]]}]", "two points"),
    ("lines: [{points: [[0, 0], [1.5, 0]]}]", "fractions of the frame"),
    ("zones: [{polygon: [[0, 0], [1, 1]]}]", "at least 3 points"),
    ("zones: [{polygon: [[0, 0], [1, 1], [0.5, 0.5]]}]", "no area"),
    ("zones: [{polygon: [[0, 0], [1, 0], [1, 1]], classes: [unicorn]}]", "unknown class"),
    ("lines: [{points: [[0, 0], [1, 1]], colour: red}]", "unknown key"),
    ("zones: [{name: a, polygon: [[0, 0], [1, 0], [1, 1]]}, {name: a, polygon: [[0, 0], [1, 0], [1, 1]]}]",
     "unique"),
    ("lines: [oops", "not valid YAML"),
    ("- 1\n- 2", "mapping"),
])
def test_bad_rule_files_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(RuleError, match=message) as caught:
        load_rules(path)
    assert "rules.yaml" in str(caught.value)


def test_json_rules_and_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text('{"lines": [{"name": "door", "points": [[0, 0.5], [1, 0.5]], "classes": "person"}]}')
    rules = load_rules(path)
    assert rules.lines[0].name == "door" and rules.to_dict()["lines"][0]["classes"] == ["person"]
    with pytest.raises(RuleError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")
