"""Cover planning: every frame near a face track gets a region, growing away from detections."""

from __future__ import annotations

import math

import pytest

from vidlens.errors import UsageError
from vidlens.privacy.regions import Propagation, check_tracks, plan_cover

FPS = 25.0


def face(tid: int, rows: list[list], max_gap: int = 5, confidence: float = 0.8) -> dict:
    return {"id": tid, "class": "face", "confidence": confidence, "max_gap": max_gap, "boxes": rows}


def still(tid: int, frames: list[int], box=(100, 100, 140, 150), score: float | None = 0.9, **kw) -> dict:
    return face(tid, [[f, *box, score] for f in frames], **kw)


def test_track_ends_are_held_for_the_hold_window_with_a_growing_margin() -> None:
    rules = Propagation(hold_s=0.4)  # 10 frames at 25 fps
    plan = plan_cover([still(1, [20, 22, 24])], fps=FPS, rules=rules)
    assert plan.regions(9) == [] and plan.regions(35) == []
    before, at = plan.regions(10)[0], plan.regions(20)[0]
    assert not before.detected and at.detected
    assert before.ax > at.ax and before.ay > at.ay  # 10 frames from a detection: wider
    # at a detection the ellipse passes through the corners of the box grown by the margin
    assert at.ax == pytest.approx(20 * (1 + 2 * rules.margin) * math.sqrt(2))


def test_gaps_beyond_max_gap_are_bridged_by_the_union_of_both_ends() -> None:
    rows = [[10, 100, 100, 140, 150, 0.9], [40, 200, 110, 240, 160, 0.9]]  # 30-frame gap, max_gap 5
    plan = plan_cover([face(1, rows, max_gap=5)], fps=FPS)
    mid = plan.regions(25)[0]
    assert mid.cx == pytest.approx(170) and mid.ax > (240 - 100) / 2 * math.sqrt(2)
    # longer than bridge_s: each end is held, the middle is left alone
    far = [[10, 100, 100, 140, 150, 0.9], [200, 100, 100, 140, 150, 0.9]]
    plan = plan_cover([face(1, far, max_gap=5)], fps=FPS)
    assert plan.regions(12) and plan.regions(198) and not plan.regions(100)


def test_carried_boxes_count_as_uncertain_and_motion_widens_the_margin() -> None:
    carried = plan_cover([face(1, [[0, 100, 100, 140, 150, 0.9], [5, 100, 100, 140, 150, None],
                                   [10, 100, 100, 140, 150, 0.9]])], fps=FPS).regions(5)[0]
    measured = plan_cover([still(1, [0, 5, 10])], fps=FPS).regions(5)[0]
    assert carried.ax > measured.ax
    moving = plan_cover([face(1, [[20, 100, 100, 140, 150, 0.9], [30, 200, 100, 240, 150, 0.9]])], fps=FPS)
    held = plan_cover([still(1, [20, 30])], fps=FPS)
    assert moving.regions(15)[0].ax > held.regions(15)[0].ax + 4 * 10  # speed 10 px/frame, 5 frames out


def test_keep_ids_leave_a_track_out_and_unknown_ids_are_refused() -> None:
    plan = plan_cover([still(1, [0, 10]), still(2, [0, 10], box=(300, 100, 340, 150))], fps=FPS, keep_ids=[2])
    assert [r.track_id for r in plan.regions(5)] == [1]
    with pytest.raises(UsageError, match="not face tracks"):
        plan_cover([still(1, [0, 10])], fps=FPS, keep_ids=[7])


def test_paranoid_hides_people_without_a_confident_face() -> None:
    person = {"id": 9, "class": "person", "confidence": 0.9, "max_gap": 5,
              "boxes": [[f, 80, 80, 170, 300, 0.9] for f in (0, 10, 20)]}
    faces = [still(1, [0, 4])]  # a face in the person's box on frames 0..4 only
    plan = plan_cover(faces, fps=FPS, persons=[person])
    assert [r.kind for r in plan.regions(2)] == ["face"]
    assert "person" in [r.kind for r in plan.regions(15)]
    # a kept face still counts as found: paranoid mode does not hide its person
    kept = plan_cover(faces, fps=FPS, persons=[person], keep_ids=[1])
    assert kept.regions(2) == []


def test_text_boxes_are_hidden_during_their_segment() -> None:
    text = [{"start": {"frame": 5}, "end": {"frame": 9}, "box": [10, 20, 110, 40], "text": "AB 123"}]
    plan = plan_cover([], fps=FPS, text=text, scale=(0.5, 0.5))
    assert plan.regions(4) == [] and plan.regions(9) == []
    region = plan.regions(5)[0]
    assert region.kind == "text" and not region.ellipse and region.cx == pytest.approx(30)


@pytest.mark.parametrize(("tracks", "message"), [
    ({"id": 1}, "must be a list"),
    ([{"boxes": []}], "not a track"),
    ([{"id": 1, "boxes": [[0, 1, 2, 3]]}], "rows"),
    ([{"id": 1, "boxes": [[0, 1, 2, "x", 4, 0.5]]}], "non-number"),
    ([{"id": 1, "boxes": [[5, 1, 2, 3, 4, 0.5], [5, 1, 2, 3, 4, 0.5]]}], "strictly increasing"),
    ([{"id": 1, "boxes": [[0, 10, 2, 3, 4, 0.5]]}], "x1 < x0"),
])
def test_bad_tracks_get_a_clear_error(tracks, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_tracks(tracks, "faces")
