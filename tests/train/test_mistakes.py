"""Worst-mistakes thumbnails: a second evaluation into the same folder leaves none of the first one's."""

from __future__ import annotations

from pathlib import Path

from vidlens.train.report import worst_mistakes


def _wrong(path: Path, confidence: float) -> dict:
    return {"path": str(path), "start": None, "end": None, "correct": False, "confidence": confidence,
            "label": "a", "predicted": "b", "top": [{"label": "b", "confidence": confidence}]}


def test_a_second_evaluation_leaves_no_thumbnail_of_the_first(make_video, tmp_path: Path) -> None:
    video = make_video()
    out = tmp_path / "eval"
    first = worst_mistakes([_wrong(video, 0.9 - i / 10) for i in range(3)], out)
    assert [r["thumb"] for r in first] == ["mistakes/01.jpg", "mistakes/02.jpg", "mistakes/03.jpg"]
    (out / "mistakes" / "notes.txt").write_text("mine")
    second = worst_mistakes([_wrong(video, 0.8)], out)
    assert [r["thumb"] for r in second] == ["mistakes/01.jpg"]
    assert sorted(p.name for p in (out / "mistakes").iterdir()) == ["01.jpg", "notes.txt"]
