"""``--blur-faces``: no sharp face in any image an analysis or the library writes; every derived file owner-only."""

from __future__ import annotations

import stat
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.faces import FacePath, FaceScene, face_names, write_face_scene
from tests.support.tracks import BACKGROUNDS, ObjectPath, TrackScene, write_scene
from vidlens import api
from vidlens.cli import main
from vidlens.faces import detectors
from vidlens.library.library import Library
from vidlens.media.writers import write_animated_preview, write_clip_segments
from vidlens.privacy.derived import NO_FACES_WARNING
from vidlens.runtime.registry import ModelNotFoundError

SIZE = (320, 240)
IMAGES = ["shots", "keyframes", "segments"]


def _need_faces() -> None:
    if "astronaut" not in face_names():
        pytest.skip("scikit-image's astronaut photo is not installed")


@pytest.fixture(scope="module")
def face_video(tmp_path_factory) -> Path:
    """One still face (a real photo, so the face detector finds it) over a texture, 30 frames."""
    _need_faces()
    scene = FaceScene("still", (FacePath("astronaut", ((0, 160, 120, 110), (29, 170, 120, 110))),), 30, size=SIZE)
    return write_face_scene(scene, tmp_path_factory.mktemp("face") / "face.mp4")[0]


@pytest.fixture(scope="module")
def runs(face_video: Path, tmp_path_factory) -> dict[bool, tuple[Path, dict]]:
    """The same analysis without and with ``blur_faces``: {blur: (output folder, timeline dict)}."""
    out = {}
    for blur in (False, True):
        folder = tmp_path_factory.mktemp(f"blur{int(blur)}")
        out[blur] = (folder, api.analyze(face_video, analyzers=IMAGES, output_dir=folder, report=False,
                                         blur_faces=blur).to_dict())
    return out


def _grey(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE).astype(np.float32)


def _window(image: np.ndarray, box, size=SIZE, origin=(0, 0)) -> np.ndarray:
    sx, sy = image.shape[1] / size[0], image.shape[0] / size[1]
    x0, y0, x1, y1 = box
    return image[int((y0 - origin[1]) * sy): int((y1 - origin[1]) * sy),
                 int((x0 - origin[0]) * sx): int((x1 - origin[0]) * sx)]


def _sharpness(image: np.ndarray) -> float:
    return float(cv2.Laplacian(image, cv2.CV_32F).var())


def test_blur_faces_hides_the_face_in_keyframes_the_contact_sheet_and_segment_thumbnails(runs) -> None:
    (sharp_dir, sharp), (blur_dir, blurred) = runs[False], runs[True]
    assert "faces" not in sharp["analysis"]["analyzers"]  # not asked: the faces analyzer does not run
    assert "faces" in blurred["analysis"]["analyzers"] and blurred["analysis"]["blur_faces"] is True
    face = blurred["faces"][0]["boxes"][0][1:5]
    keyframe = blurred["shots"][0]["keyframes"][0]["image"]
    thumbnail = blurred["segments"][0]["thumbnail"]
    for rel in (keyframe, thumbnail, "contact_sheet.jpg"):
        before, after = _grey(sharp_dir / rel), _grey(blur_dir / rel)
        if rel == "contact_sheet.jpg":  # one tile of 240 x 180 at the top left
            before, after = before[:180, :240], after[:180, :240]
        assert _sharpness(_window(before, face)) > 200, rel
        assert _sharpness(_window(after, face)) < 0.05 * _sharpness(_window(before, face)), rel
        # away from the face the picture is what it was
        corner = (0, 0, 60, 60)
        assert np.abs(_window(before, corner) - _window(after, corner)).mean() < 2.0, rel


def test_blur_faces_hides_the_face_in_a_person_track_thumbnail(tmp_path: Path) -> None:
    _need_faces()
    scene = TrackScene("person", (ObjectPath("astronaut", ((0, 320, 180, 300), (24, 330, 180, 300))),), 25,
                       background=BACKGROUNDS[0])
    video, _ = write_scene(scene, tmp_path / "person.mp4")
    thumbs = {}
    for blur in (False, True):
        timeline = api.analyze(video, analyzers=["shots", "objects"], output_dir=tmp_path / str(blur), report=False,
                               blur_faces=blur)
        person = next(t for t in timeline["objects"] if t["class"] == "person")
        thumbs[blur] = _grey(tmp_path / str(blur) / person["thumbnail"])
    assert thumbs[False].shape == thumbs[True].shape
    height, width = thumbs[False].shape
    # the astronaut's face: right of centre in the upper third of the crop; the suit below it
    face = (slice(round(0.12 * height), round(0.32 * height)), slice(round(0.45 * width), round(0.7 * width)))
    suit = slice(height // 2, height)
    assert _sharpness(thumbs[False][face]) > 100
    assert _sharpness(thumbs[True][face]) < 0.1 * _sharpness(thumbs[False][face])
    assert np.abs(thumbs[True][suit] - thumbs[False][suit]).mean() < 2.0


def test_blur_faces_writes_no_image_when_there_are_no_face_tracks(face_video: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(*args, **kwargs):  # the face model is missing or damaged: the faces analyzer cannot start
        raise ModelNotFoundError("centerface.onnx is not installed")

    monkeypatch.setattr(detectors, "load_face_detector", missing)
    out = tmp_path / "out"
    timeline = api.analyze(face_video, analyzers=IMAGES, output_dir=out, report=False, blur_faces=True)
    assert "faces" in timeline.analysis["failed_analyzers"]
    assert any(NO_FACES_WARNING in w for w in timeline.warnings)
    assert not list(out.rglob("*.jpg"))
    assert timeline.shots[0]["keyframes"] and timeline.shots[0]["keyframes"][0]["image"] is None


def _modes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in folder.rglob("*")}


def test_every_derived_file_is_owner_only(face_video: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    timeline = api.analyze(face_video, options={"people": {"masks": True}}, output_dir=out,
                           analyzers=["shots", "keyframes", "labels", "segments", "objects", "faces", "people"])
    modes = _modes(out)
    kinds = {Path(name).suffix for name in modes}
    assert {".json", ".csv", ".edl", ".html", ".jpg", ".npz", ".mp4"} <= kinds, kinds
    assert {"keyframes", "segments", "faces"} <= modes.keys()
    files = {name: mode for name, mode in modes.items() if (out / name).is_file()}
    assert set(files.values()) == {0o600}, files
    assert set(timeline.analysis["outputs"]) == set(files)  # the record a rerun into the folder cleans up by
    assert {mode for name, mode in modes.items() if (out / name).is_dir()} == {0o700}
    # the videos and previews other commands write (summarize, anonymize, annotate, export-clips)
    clip = write_clip_segments(face_video, [(0, 10)], tmp_path / "clip.mp4").path
    gif = write_animated_preview([np.zeros((32, 32, 3), np.uint8)] * 3, tmp_path / "preview.gif", 5.0)
    assert stat.S_IMODE(clip.stat().st_mode) == stat.S_IMODE(gif.stat().st_mode) == 0o600


def test_cli_analyze_blur_faces(face_video: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["analyze", str(face_video), "-o", str(out), "--analyzers", "shots,keyframes", "--blur-faces",
                 "-q"]) == 0
    assert (out / "faces").is_dir() and (out / "keyframes").is_dir()


def test_library_blur_faces_is_a_setting_of_the_library(face_video: Path, tmp_path: Path) -> None:
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "face.mp4").write_bytes(face_video.read_bytes())
    library = tmp_path / "library"
    fast = ["shots", "segments"]

    def thumbnail() -> tuple[np.ndarray, dict]:
        with Library(library) as lib:
            video = lib.catalog.videos()[0]
            timeline = lib.catalog.timeline(video.id)
            path = lib.thumbnail_path(lib.catalog.video_segments(video.id)[0])
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            return _grey(path), timeline

    assert api.index([videos], library=library, analyzers=fast)["added"]
    sharp, timeline = thumbnail()
    assert not timeline["faces"]
    # turning it on re-indexes what was indexed with faces showing
    assert api.index([videos], library=library, analyzers=fast, blur_faces=True)["updated"]
    blurred, timeline = thumbnail()
    face = timeline["faces"][0]["boxes"][0][1:5]
    assert _sharpness(_window(blurred, face)) < 0.05 * _sharpness(_window(sharp, face))
    with Library(library) as lib:
        assert lib.blur_faces
    # a later index without the option still blurs: a new video gets blurred thumbnails
    (videos / "again.mp4").write_bytes(face_video.read_bytes())
    report = api.index([videos], library=library, analyzers=fast)
    assert report["unchanged"] == 1 and len(report["added"]) == 1
    with Library(library) as lib:
        infos = [lib.catalog.video_info(v.id) for v in lib.catalog.videos()]
    assert all(info["blur_faces"] for info in infos)


def test_cli_index_blur_faces_turns_the_library_setting_on_and_off(face_video: Path, tmp_path: Path) -> None:
    library = tmp_path / "library"
    base = ["index", str(face_video), "--library", str(library), "--analyzers", "shots,segments", "-q"]
    for flag, expected in (("--blur-faces", True), (None, True), ("--no-blur-faces", False)):
        assert main(base + ([flag] if flag else [])) == 0
        with Library(library) as lib:
            assert lib.blur_faces is expected, flag
        assert api.library_stats(library=library)["blur_faces"] is expected


@pytest.mark.parametrize("command", [["shots", "-f", "csv"], ["text", "-f", "srt"]])
def test_cli_text_outputs_written_to_a_file_are_owner_only(make_video, tmp_path: Path, command: list[str]) -> None:
    video = make_video()
    out = tmp_path / "result.txt"
    assert main([command[0], str(video), *command[1:], "-o", str(out), "-q"]) == 0
    assert out.is_file() and stat.S_IMODE(out.stat().st_mode) == 0o600
