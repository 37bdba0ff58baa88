"""The Python API does what the CLI's options do (rules that once lived only in the CLI), and returns typed
values: each case runs the real API and, where a flag spells the same rule, the real CLI in-process."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from tests.support.synth import moving_gradient_clip
from vidlens import __version__, api
from vidlens.analyzers.registry import DEFAULT_ANALYZERS, FAST_ANALYZERS, Preset, requested
from vidlens.cli import main
from vidlens.cli.params import error_text
from vidlens.errors import UsageError
from vidlens.outputs import default_folder, default_preview, default_summary
from vidlens.results import PredictionRun, ShotList, TextSegments
from vidlens.timebase import TimeSpec


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    return moving_gradient_clip(tmp_path_factory.mktemp("api") / "clip.mp4")


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "rules.json"
    path.write_text(json.dumps({"lines": [{"name": "door", "points": [[0.5, 0.0], [0.5, 1.0]]}]}))
    return path


def _cli(capsys, *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- which analyzers a call asks for (the rule behind --rules, --emotions, --classifier, --fast) -----------------

@pytest.mark.parametrize(("names", "options", "preset", "extras", "expected_names", "expected_options"), [
    (None, None, None, {}, None, {}),  # nothing asked: the caller's default
    (["shots"], None, None, {}, ["shots"], {}),
    (None, None, None, {"objects": {"rules": "r.yaml"}}, [*DEFAULT_ANALYZERS, "objects"],
     {"objects": {"rules": "r.yaml"}}),
    (["shots", "objects"], {"objects": {"poses": True}}, None, {"objects": {"rules": "r.yaml"}},
     ["shots", "objects"], {"objects": {"poses": True, "rules": "r.yaml"}}),  # merged, not added twice
    (None, None, None, {"faces": None, "classifier": None}, None, {}),  # None: not asked
    (None, None, "fast", {}, list(FAST_ANALYZERS), {}),
    (None, None, Preset.FAST, {"faces": {"emotions": True}}, [*FAST_ANALYZERS, "faces"], {"faces": {"emotions": True}}),
    (["text"], None, "fast", {}, ["text"], {}),  # analyzers win over the preset, as --analyzers over --fast
])
def test_requested_adds_each_asked_analyzer_with_its_options(names, options, preset, extras, expected_names,
                                                            expected_options):
    assert requested(names, options, preset=preset, extras=extras) == (expected_names, expected_options)


def test_an_unknown_preset_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown preset 'slow'; available: fast"):
        requested(None, preset="slow")


def test_rules_and_emotions_add_their_analyzers_as_the_cli_flags_do(clip, rules_file, tmp_path, capsys):
    timeline = api.analyze(clip, rules=rules_file, emotions=True)
    ran = timeline.analysis["analyzers"]
    assert list(ran) == [*DEFAULT_ANALYZERS, "objects", "faces"]
    assert ran["objects"]["rules"]["lines"][0]["name"] == "door" and ran["faces"]["emotions"] is True
    code, _, _ = _cli(capsys, "analyze", clip, "-o", tmp_path / "out", "--rules", rules_file, "--emotions", "-q")
    assert code == 0
    assert json.loads((tmp_path / "out" / "timeline.json").read_text())["analysis"]["analyzers"] == \
        json.loads(json.dumps(ran, default=str))


def test_the_fast_preset_names_its_analyzers_and_analyzers_override_it(clip):
    assert list(api.analyze(clip, preset="fast").analysis["analyzers"]) == list(FAST_ANALYZERS)
    assert list(api.analyze(clip, preset="fast", analyzers=["shots"]).analysis["analyzers"]) == ["shots"]


def test_the_classifier_option_adds_the_classifier_analyzer(clip, tmp_path, capsys):
    pytest.importorskip("torch")
    from tests.train.test_predictor import clip_bundle

    clip_bundle(tmp_path / "model")
    timeline = api.analyze(clip, classifier=tmp_path / "model")
    assert list(timeline.analysis["analyzers"]) == [*DEFAULT_ANALYZERS, "classifier"]
    assert timeline.sections["classifier"][0]["video"]["label"]
    code, _, _ = _cli(capsys, "analyze", clip, "-o", tmp_path / "out", "--classifier", tmp_path / "model", "-q")
    assert code == 0
    written = json.loads((tmp_path / "out" / "timeline.json").read_text())
    assert written["classifier"][0]["video"] == json.loads(json.dumps(timeline.sections["classifier"][0]["video"]))


def test_predict_over_several_videos_skips_an_unreadable_one_and_keeps_one_video_strict(clip, tmp_path, capsys):
    pytest.importorskip("torch")
    from tests.train.test_predictor import clip_bundle

    clip_bundle(tmp_path / "model")
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 100)
    run = api.predict(tmp_path / "model", [clip, broken, clip])
    assert isinstance(run, PredictionRun)
    assert [r["path"] for r in run.results] == [str(clip), str(clip)]
    assert run.results[0] == api.predict_video(tmp_path / "model", clip)
    assert [s["path"] for s in run.skipped] == [str(broken)] and run.skipped[0]["error"]
    assert json.loads(json.dumps(run.to_dict(), default=str))["skipped"] == run.skipped
    assert api.predict(tmp_path / "model", clip).results == run.results[:1]  # one video, not a list
    with pytest.raises(Exception, match=r"broken\.mp4"):
        api.predict(tmp_path / "model", [broken])  # a single video's failure is the caller's to see
    code, out, err = _cli(capsys, "predict", tmp_path / "model", clip, broken, "--json")
    assert code == 0 and f"skipped {broken}" in err
    assert json.loads(out) == json.loads(json.dumps(run.results[:1], default=str))


# -- info --count, version --all ----------------------------------------------------------------------------------

def test_info_with_count_counts_the_frames_as_info_count_does(clip, capsys):
    declared, counted = api.info(clip), api.info(clip, count=True)
    assert declared == api.probe(clip)
    assert (counted.frame_count, counted.frame_count_source) == (20, "counted")
    assert counted.to_dict() == {**declared.to_dict(), "frame_count": 20, "frame_count_source": "counted"}
    code, out, _ = _cli(capsys, "info", clip, "--json", "--count")
    assert code == 0 and json.loads(out) == counted.to_dict()


def test_versions_all_is_what_version_all_prints(capsys):
    assert api.versions() == {"vidlens": __version__}
    facts = api.versions(all=True)
    assert list(facts) == ["vidlens", "python", "media", "numpy", "opencv", "onnxruntime", "telemetry"]
    assert all(isinstance(v, str) and v for v in facts.values())
    code, out, _ = _cli(capsys, "version", "--all", "--json")
    assert code == 0 and json.loads(out) == facts


# -- shots and text: typed values, and the commands go through them ------------------------------------------------

def test_detect_shots_returns_a_shot_list_that_the_shots_command_prints(clip, capsys):
    shots = api.detect_shots(clip)
    assert isinstance(shots, ShotList) and len(shots) == len(shots.shots) >= 1
    assert shots[0] is shots.shots[0] and list(shots) == shots.shots and shots[0]["start"]["frame"] == 0
    assert shots.complete and shots.warnings == [] and shots.video["frame_count"] == 20
    code, out, _ = _cli(capsys, "shots", clip, "--json")
    assert code == 0 and json.loads(out) == shots.to_dict() == json.loads(json.dumps(shots.to_dict()))
    assert list(shots.to_dict()) == ["schema", "video", "shots"]


def test_detect_shots_takes_the_range_and_refuses_int8_without_transnetv2(clip, capsys):
    ranged = api.detect_shots(clip, start=TimeSpec.parse("5f"))
    assert ranged[0]["start"]["frame"] == 5
    with pytest.raises(UsageError) as caught:
        api.detect_shots(clip, int8=True)
    assert str(caught.value) == "int8 applies to detector transnetv2 only"  # the API's names
    code, _, err = _cli(capsys, "shots", clip, "--int8")
    assert code == 2 and "--int8 applies to --detector transnetv2 only" in err  # the CLI's


def test_read_text_returns_text_segments_that_the_text_command_prints(clip, capsys):
    text = api.read_text(clip)
    assert isinstance(text, TextSegments) and len(text) == 0 and text.segments == [] and list(text) == []
    assert text.gate == text.timeline.sections["text_gate"] and text.complete
    code, out, _ = _cli(capsys, "text", clip, "--json")
    assert code == 0 and json.loads(out) == text.to_dict()
    assert list(text.to_dict()) == ["schema", "video", "text", "text_gate"]


# -- default paths, errors that name parameters --------------------------------------------------------------------

def test_default_output_paths_are_beside_the_video():
    assert default_folder("/v/a.b.mp4") == Path("/v/a.b.mp4.vidlens")
    assert default_summary("/v/a.b.mp4") == Path("/v/a.b.summary.mp4")
    assert default_preview("/v/a.b.mp4") == Path("/v/a.b.preview.gif")


@pytest.mark.parametrize(("error", "python", "cli"), [
    (UsageError("{end} 0s is not after {start} 0s", params=("start", "end")), "end 0s is not after start 0s",
     "--end 0s is not after --start 0s"),
    (UsageError("locked: use its passphrase ({passphrase})", path="out", params=("passphrase",)),
     "out: locked: use its passphrase (passphrase)", "out: locked: use its passphrase (--encrypt)"),
    (UsageError("{min_duration} must be >= 0", params=("min_duration",)), "min_duration must be >= 0",
     "--min-duration must be >= 0"),
    (UsageError('no model (or options={"classifier": {"model": DIR}})'), 'no model (or options={"classifier": '
     '{"model": DIR}})', 'no model (or options={"classifier": {"model": DIR}})'),  # braces of a plain message stay
])
def test_a_usage_error_names_parameters_as_each_front_end_spells_them(error, python, cli):
    assert str(error) == python
    assert error_text(error) == cli
    copy = pickle.loads(pickle.dumps(error))  # errors cross process pools (library ingest)
    assert str(copy) == python and error_text(copy) == cli


def test_library_errors_reach_the_cli_with_flags(clip, capsys):
    with pytest.raises(UsageError) as caught:
        api.detect_shots(clip, end=TimeSpec.parse("0s"))
    assert "end 0s is not after start 0s" in str(caught.value) and "--" not in str(caught.value)
    code, _, err = _cli(capsys, "shots", clip, "--end", "0s", "-q")
    assert code == 2 and "--end 0s is not after --start 0s" in err


def test_summarize_writes_what_it_is_given_and_the_cli_its_default_paths(clip, tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    video.write_bytes(clip.read_bytes())
    result = api.summarize(video, ratio=0.5)
    assert result.output is None and result.preview is None and result.segments
    code, _, _ = _cli(capsys, "summarize", video, "--ratio", "0.5")
    assert code == 0 and default_summary(video).is_file() and default_preview(video).is_file()


def test_lock_unlock_and_forget_an_output_folder(clip, tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(clip.read_bytes())
    folder = default_folder(video)
    api.analyze(video, analyzers=["shots"], output_dir=folder, report=False)
    locked = api.lock_folder(folder, "s3cret")
    assert locked and all(p.name.endswith(".enc") for p in locked) and not (folder / "timeline.json").exists()
    assert (folder / "timeline.json") in api.unlock_folder(folder, "s3cret")
    removed = api.forget(video)
    assert removed[-1].path == folder and not folder.exists() and video.is_file()


def test_annotate_anonymize_and_count_frames_return_named_pairs(clip, tmp_path):
    from vidlens.results import Annotation, Anonymization, FrameCount

    counted = api.count_frames(clip)
    info, frames = counted
    assert isinstance(counted, FrameCount) and counted.frames == frames == 20 and counted.info is info
    assert counted.to_dict() == api.info(clip, count=True).to_dict()
    annotation = api.annotate(clip, tmp_path / "boxes.mp4")
    timeline, path = annotation
    assert isinstance(annotation, Annotation) and path == tmp_path / "boxes.mp4" and path.is_file()
    assert annotation.to_dict() == {"output": str(path), "tracks": len(timeline["objects"]),
                                    "warnings": timeline.warnings}
    anonymization = api.anonymize(clip, tmp_path / "hidden.mp4")
    timeline, result = anonymization
    assert isinstance(anonymization, Anonymization) and result.written.path == tmp_path / "hidden.mp4"
    assert anonymization.to_dict() == result.to_dict() | {"warnings": timeline.warnings}


def _indexed_analyzers(library: Path) -> list[list[str]]:
    import sqlite3

    with sqlite3.connect(library / "catalog.sqlite") as db:
        return [json.loads(row[0]) for row in db.execute("SELECT analyzers FROM videos")]


def test_index_with_the_fast_preset_runs_its_analyzers_as_index_fast_does(clip, tmp_path, capsys):
    video = tmp_path / "videos" / "clip.mp4"
    video.parent.mkdir()
    video.write_bytes(clip.read_bytes())
    report = api.index([video], library=tmp_path / "api_lib", preset="fast")
    assert report["added"] == [str(video)]
    assert _indexed_analyzers(tmp_path / "api_lib") == [list(FAST_ANALYZERS)]
    code, _, _ = _cli(capsys, "index", video, "-L", tmp_path / "cli_lib", "--fast", "-q")
    assert code == 0 and _indexed_analyzers(tmp_path / "cli_lib") == [list(FAST_ANALYZERS)]
    with pytest.raises(UsageError, match="unknown preset"):
        api.index([video], library=tmp_path / "api_lib", preset="slow")
