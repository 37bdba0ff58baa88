"""The faces analyzer on a generated video with a known face path, and through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidlens.api import analyze
from vidlens.boxes import box_iou_matrix
from vidlens.media.encode import encode_video
from vidlens.objects.tracks import track_box_at

skimage_data = pytest.importorskip("skimage.data")

FRAMES, SIZE = 50, (320, 240)
SPRITE_XYXY = (160, 40, 290, 200)  # astronaut: the face with hair and neck
FACE_IN_PHOTO = (178, 62, 272, 180)  # the hand-marked face (see test_face_detectors)
SCALE = 0.6  # the sprite is pasted at 78x96


def face_truth(frame: int) -> tuple[np.ndarray, np.ndarray]:
    """(pasted sprite rectangle, face box inside it) at ``frame``: the sprite moves right and down linearly."""
    x = round(20 + 200 * frame / (FRAMES - 1))
    y = round(40 + 80 * frame / (FRAMES - 1))
    sx0, sy0 = SPRITE_XYXY[:2]
    face = np.array([(FACE_IN_PHOTO[0] - sx0) * SCALE + x, (FACE_IN_PHOTO[1] - sy0) * SCALE + y,
                     (FACE_IN_PHOTO[2] - sx0) * SCALE + x, (FACE_IN_PHOTO[3] - sy0) * SCALE + y])
    return np.array([x, y]), face


@pytest.fixture(scope="module")
def face_video(tmp_path_factory) -> Path:
    w, h = SIZE
    bg = cv2.resize(skimage_data.brick(), (w, h))[:, :, None].repeat(3, axis=2)
    x0, y0, x1, y1 = SPRITE_XYXY
    sprite = cv2.resize(skimage_data.astronaut()[y0:y1, x0:x1], None, fx=SCALE, fy=SCALE,
                        interpolation=cv2.INTER_AREA)
    frames = []
    for f in range(FRAMES):
        (x, y), _ = face_truth(f)
        frame = bg.copy()
        frame[y:y + sprite.shape[0], x:x + sprite.shape[1]] = sprite
        frames.append(frame)
    return encode_video(tmp_path_factory.mktemp("faces") / "moving_face.mp4", frames, fps=25)


def test_one_face_track_follows_the_face_on_every_frame(face_video, tmp_path):
    timeline = analyze(face_video, analyzers=["faces"], output_dir=tmp_path)
    tracks = timeline["faces"]
    assert len(tracks) == 1
    track = tracks[0]
    assert track["class"] == "face" and set(track) >= {"id", "start", "end", "confidence", "max_gap", "boxes"}
    assert len(track["landmarks"]) == len(track["boxes"])
    assert all(lm is None or len(lm) == 5 for lm in track["landmarks"])
    covered = ious = 0
    worst = 1.0
    for f in range(FRAMES):
        box = track_box_at(track, f)
        if box is None:
            continue
        covered += 1
        iou = float(box_iou_matrix(box[None], face_truth(f)[1][None])[0, 0])
        worst = min(worst, iou)
        ious += iou
    assert covered >= FRAMES - 5  # confirmation needs a few detections at the start
    assert worst >= 0.5 and ious / covered >= 0.7, (worst, ious / covered)
    # the thumbnail is written blurred by default
    thumb = tmp_path / track["thumbnail"]
    assert thumb.is_file() and track["thumbnail_blurred"] is True
    assert timeline["shots"][0]["faces"] == 1
    assert timeline.sections["face_summary"]["tracks"] == 1
    # emotions are off by default and then add nothing
    assert "emotion" not in track and "mood" not in timeline["shots"][0]
    assert timeline.analysis["analyzers"]["faces"]["emotions"] is False


def test_emotions_on_face_tracks_and_shot_mood(face_video, tmp_path):
    timeline = analyze(face_video, analyzers=["faces"], options={"faces": {"emotions": True}}, output_dir=tmp_path)
    (track,) = timeline["faces"]
    emotion = track["emotion"]
    assert sum(emotion["distribution"].values()) == pytest.approx(1.0, abs=1e-3)
    assert emotion["emotion"] == max(emotion["distribution"], key=emotion["distribution"].get)
    # the astronaut smiles; every sample is one detected frame of the track
    assert emotion["emotion"] == "happy"
    detected = {row[0] for row in track["boxes"]}
    assert 0 < emotion["samples"] <= len(detected)
    # one timeline row per second of video that has samples, in order, each row's samples adding up
    starts = [row["start"]["time"] for row in emotion["timeline"]]
    assert starts == sorted(starts) and len({int(t // emotion["step_s"]) for t in starts}) == len(starts)
    assert sum(row["samples"] for row in emotion["timeline"]) == emotion["samples"]
    assert len(emotion["timeline"]) == 2  # 50 frames at 25 fps: two one-second windows
    mood = timeline["shots"][0]["mood"]
    assert mood["emotion"] == "happy" and mood["face_frames"] == emotion["samples"]
    assert sum(mood["distribution"].values()) == pytest.approx(1.0, abs=1e-3)
    # the report's face track card names the dominant expression
    assert f"happy {emotion['probability']:.2f}" in (tmp_path / "report.html").read_text()


def test_cli_analyze_with_faces(face_video, tmp_path):
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "vidlens.cli", "analyze", str(face_video), "-q", "-o", str(out),
                           "--analyzers", "faces"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    doc = json.loads((out / "timeline.json").read_text())
    assert len(doc["faces"]) == 1 and doc["analysis"]["analyzers"]["faces"]["detector"] == "centerface"
    assert "faces" in (out / "report.html").read_text()
