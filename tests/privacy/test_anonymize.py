"""Anonymized videos, judged against ground truth: no face-frame leaks, kept faces stay, audio and frames kept."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.support.exposure import residual_exposure
from tests.support.faces import (
    FaceDetectorMisses,
    FaceTruth,
    passerby_scene,
    simulated_face_tracks,
    walk_scene,
    write_face_scene,
)
from vidlens.cli import main
from vidlens.errors import UsageError
from vidlens.media import FrameSpec, VideoReader, probe
from vidlens.media.writers import write_clip_segments
from vidlens.privacy.anonymize import anonymize_video
from vidlens.privacy.effects import window_of
from vidlens.privacy.regions import Propagation, plan_cover
from vidlens.timeline import Timeline

FRAMES = 60


def faces_timeline(truth: FaceTruth, seed: int = 0, misses: FaceDetectorMisses = FaceDetectorMisses()) -> Timeline:
    scene = truth.scene
    tracks = simulated_face_tracks(truth, np.random.default_rng(seed), misses)
    return Timeline(video={"width": scene.size[0], "height": scene.size[1], "fps": scene.fps,
                           "frame_count": scene.frame_count},
                    analysis={"analyzers": {"faces": {"simulated": True}}}, sections={"faces": tracks})


@pytest.fixture(scope="module", params=["walk", "passerby"])
def scene_video(request, tmp_path_factory) -> tuple[Path, FaceTruth]:
    scene = (walk_scene if request.param == "walk" else passerby_scene)(seed=3, frame_count=FRAMES)
    return write_face_scene(scene, tmp_path_factory.mktemp("faces") / f"{scene.name}.mp4")


def test_every_face_frame_is_hidden_despite_detector_misses(scene_video, tmp_path: Path) -> None:
    src, truth = scene_video
    timeline = faces_timeline(truth)
    detected = {row[0] for t in timeline["faces"] for row in t["boxes"]}
    on_screen = {f for f, _, _, vis in truth.rows if vis > 0}
    assert len(on_screen - detected) > len(on_screen) / 3  # the simulated detector misses plenty
    result = anonymize_video(src, timeline, tmp_path / "anon.mp4")
    report = residual_exposure(src, result.written.path, truth)
    assert report.face_frames >= 80 and report.exposed_frames == 0, report.examples
    assert result.frames_propagated > 0
    # frames, timing and audio survive
    info, out = probe(src), probe(result.written.path)
    assert result.written.frames == FRAMES == report.frames_output
    assert out.has_audio and abs(out.duration_s - info.duration_s) < 0.05


def test_the_metric_sees_leaks(scene_video, tmp_path: Path) -> None:
    """An untouched copy leaks every face-frame; per-frame masking without propagation leaks some."""
    src, truth = scene_video
    copy = write_clip_segments(src, [(0, FRAMES)], tmp_path / "copy.mp4")
    assert residual_exposure(src, copy.path, truth).residual_exposure > 0.95
    per_frame = Propagation(hold_s=0, bridge_s=0, growth=0, motion=0)
    result = anonymize_video(src, faces_timeline(truth), tmp_path / "noprop.mp4", propagation=per_frame)
    assert residual_exposure(src, result.written.path, truth).residual_exposure > 0.05


def test_solid_and_mask_modes(scene_video, tmp_path: Path) -> None:
    src, truth = scene_video
    timeline = faces_timeline(truth)
    solid = anonymize_video(src, timeline, tmp_path / "solid.mp4", mode="solid")
    assert residual_exposure(src, solid.written.path, truth).exposed_frames == 0
    matte = anonymize_video(src, timeline, tmp_path / "matte.mp4", mode="mask")
    with VideoReader(matte.written.path, audio=False) as reader:
        frames = {f.index: f.to_ndarray(FrameSpec(pixel_format="gray")) for f in reader}
    for f, _, box, vis in truth.rows[::7]:
        if vis > 0.5:
            cx, cy = int((box[0] + box[2]) / 2), int((box[1] + box[3]) / 2)
            if 0 <= cx < 640 and 0 <= cy < 360:
                assert frames[f][cy, cx] > 240
    plan = plan_cover(timeline["faces"], fps=25)
    for index, grey in frames.items():  # black wherever no region (soft edge included) reaches
        touched = np.zeros(grey.shape, bool)
        for region in plan.regions(index):
            win = window_of(region, 640, 360)
            if win is not None:
                touched[win[1]:win[3], win[0]:win[2]] = True
        assert (touched | (grey < 10)).mean() > 0.995, index


def test_kept_face_stays_as_in_the_source(scene_video, tmp_path: Path) -> None:
    src, truth = scene_video
    timeline = faces_timeline(truth)
    keep = max(t["id"] for t in timeline["faces"])  # drawn on top of the others: nothing masks over it
    result = anonymize_video(src, timeline, tmp_path / "keep.mp4", keep_ids=[keep])
    assert residual_exposure(src, result.written.path, truth, keep_ids=[keep]).exposed_frames == 0
    # "within codec noise": no further from the source than a plain re-encode at the same quality
    copy = write_clip_segments(src, [(0, FRAMES)], tmp_path / "copy.mp4", crf=18)
    spec = FrameSpec(pixel_format="rgb24")
    with (VideoReader(src, audio=False) as a, VideoReader(result.written.path, audio=False) as b,
          VideoReader(copy.path, audio=False) as c):
        pairs = {fa.index: (fa.to_ndarray(spec), fb.to_ndarray(spec), fc.to_ndarray(spec))
                 for fa, fb, fc in zip(a, b, c, strict=True)}
    others = plan_cover(timeline["faces"], fps=25, keep_ids=[keep])
    diffs = []
    for f, fid, box, vis in truth.rows:
        if fid != keep or vis < 0.9:
            continue
        s, o, plain = pairs[f]
        free = np.zeros(s.shape[:2], bool)  # the kept face's box, minus where another face's region reaches
        x0, y0, x1, y1 = (max(0, round(v)) for v in box)
        free[y0:y1, x0:x1] = True
        for region in others.regions(f):
            win = window_of(region, 640, 360)
            if win is not None:
                free[win[1]:win[3], win[0]:win[2]] = False
        if free.sum() > 400:
            kept = np.abs(s[free].astype(int) - o[free]).mean()
            diffs.append(kept - np.abs(s[free].astype(int) - plain[free]).mean())
    assert len(diffs) > 10 and max(diffs) < 1.0, diffs  # x264 spends bits elsewhere: a fraction of a level


def test_bad_timelines_get_clear_errors(scene_video, tmp_path: Path) -> None:
    src, truth = scene_video
    good = faces_timeline(truth)
    out = tmp_path / "x.mp4"
    no_faces = Timeline(video=good.video, analysis={"analyzers": {"shots": {}}}, sections={"faces": []})
    with pytest.raises(UsageError, match="no faces section"):
        anonymize_video(src, no_faces, out)
    wrong_size = Timeline(video={**good.video, "width": 320}, analysis=good.analysis, sections=good.sections)
    with pytest.raises(UsageError, match="320x360"):
        anonymize_video(src, wrong_size, out)
    with pytest.raises(UsageError, match="unknown mode"):
        anonymize_video(src, good, out, mode="swirl")
    with pytest.raises(UsageError, match="not face tracks"):
        anonymize_video(src, good, out, keep_ids=[99])
    with pytest.raises(UsageError, match="objects section"):
        anonymize_video(src, good, out, paranoid=True)
    assert not out.exists()


def test_cli_anonymize(scene_video, tmp_path: Path, monkeypatch, capsys) -> None:
    src, truth = scene_video
    timeline_path = faces_timeline(truth).save(tmp_path / "timeline.json")
    assert main(["anonymize", str(src), "-o", str(tmp_path / "a.mp4"), "--timeline", str(timeline_path),
                 "--mode", "pixelate", "--keep", "1", "-q"]) == 0
    assert probe(tmp_path / "a.mp4").has_audio
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"schema": "vidlens.timeline/1", "video": {"width": 640, "height": 360},
                                  "analysis": {"analyzers": {"faces": {}}}, "faces": [{"id": 1, "boxes": [[0]]}]}))
    cases = [(["--timeline", str(broken)], "faces[0]"), (["--timeline", str(tmp_path / "no.json")], "no such file"),
             (["--timeline", str(timeline_path), "--keep", "a,b"], "--keep"),
             (["--timeline", str(src)], "not a timeline")]
    # without --timeline the faces analyzer runs; a build without it says so
    from vidlens.analyzers import registry

    monkeypatch.delitem(registry.ANALYZERS, "faces", raising=False)
    cases.append(([], "faces analyzer"))
    for extra, message in cases:
        capsys.readouterr()
        assert main(["anonymize", str(src), "-o", str(tmp_path / "b.mp4"), *extra]) == 2, extra
        stderr = capsys.readouterr().err
        assert message in stderr and "Traceback" not in stderr, stderr
    assert not (tmp_path / "b.mp4").exists()
