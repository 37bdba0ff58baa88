"""The public Python API. The CLI and (later) the REST API call exactly these functions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import outputs, pipeline
from .analyzers import create_analyzers
from .analyzers.registry import Preset, requested
from .diskfull import cleans_up_on_disk_full, remove_written
from .errors import UsageError, VidlensError
from .files import PRIVATE_DIR_MODE
from .media import VideoInfo, VideoReader, probe
from .paths import refuse_input_as_output
from .pipeline import ProgressCallback
from .results import Annotation, Anonymization, FrameCount, PredictionRun, ShotList, TextSegments
from .timebase import TimeSpec
from .timeline import Timeline
from .train.progress import ProgressArg
from .train.settings import Arch, FuseMode, Schedule, SplitChoice, TrainConfig, TrainSettings

if TYPE_CHECKING:
    from .predict.predictor import OnnxPredictor
    from .privacy.retention import Removed
    from .summary import SummaryResult

__all__ = ["analyze", "annotate", "anonymize", "check_library", "count_frames", "detect_shots", "export_clips",
           "find_duplicates", "index", "info", "library_stats", "probe", "prune_library", "read_text", "search",
           "search_like", "track_objects", "versions"]


@cleans_up_on_disk_full  # a full disk: exit 4, and what this run wrote into the folder is removed
def analyze(
    path: str | Path,
    *,
    analyzers: Sequence[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    output_dir: str | Path | None = None,
    progress: ProgressCallback | None = None,
    report: bool = True,
    start: TimeSpec | None = None,
    end: TimeSpec | None = None,
    passphrase: str | None = None,
    blur_faces: bool = False,
    rules: str | Path | None = None,
    emotions: bool = False,
    classifier: str | Path | None = None,
    preset: Preset | str | None = None,
) -> Timeline:
    """Analyze a video and return its timeline; with ``output_dir``, also write every output.

    The output folder receives ``timeline.json``, ``shots.csv``, ``shots.edl``, ``keyframes/``,
    ``contact_sheet.jpg`` and ``report.html`` (``vidlens analyze`` writes into
    :func:`vidlens.outputs.default_folder` without ``-o``). A timeline is written even when the run was
    interrupted or the file was damaged; ``analysis.complete`` then says it is partial.
    ``analyzers`` names the analyzers (default: shots, keyframes, labels), or ``preset`` a named set
    (:class:`~vidlens.analyzers.registry.Preset`: ``"fast"``).
    ``options`` passes keyword arguments to analyzers by name: ``{"objects": {"rules": "rules.yaml"}}``.
    ``rules`` (line/zone rules for the objects analyzer), ``emotions`` (expression labels on face tracks) and
    ``classifier`` (a model folder of ``vidlens train``) each add their analyzer with that option, as the
    CLI's ``--rules``, ``--emotions`` and ``--classifier`` do.
    With ``passphrase`` the folder is then locked (``vidlens.privacy.vault``); the outputs are plain
    on disk while the analysis runs. ``blur_faces`` blurs the faces (found by the ``faces`` analyzer,
    added when missing) in every image written: keyframes, contact sheet, segment and track thumbnails.
    Every file written is owner-only (0600).
    """
    out = Path(output_dir) if output_dir is not None else None
    _check_output_folder(out, path, passphrase)
    created = out is not None and not out.exists()
    previous = _previous_outputs(out, passphrase) if out is not None else set()
    names, chosen = requested(analyzers, options, preset=preset, extras={
        "objects": {"rules": rules} if rules is not None else None,
        "faces": {"emotions": True} if emotions else None,
        "classifier": {"model": classifier} if classifier is not None else None})
    built = create_analyzers(names, chosen, blur_faces=blur_faces)
    if out is not None:
        out.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)  # a folder that cannot be made fails now
    try:
        analysis = pipeline.run(path, built, progress=progress, start=start, end=end)
    except VidlensError:  # a bad input or range: leave no output folder behind that this run made
        if created:
            remove_written(out, created=True, before={})
        raise
    timeline = analysis.timeline
    timeline.analysis["blur_faces"] = bool(blur_faces)
    if out is not None:
        _write_outputs(analysis, out, previous, passphrase, report=report)
    analysis.discard()
    return timeline


def _check_output_folder(out: Path | None, video: str | Path, passphrase: str | None) -> None:
    """Refuse, before the run, an output folder that is the input, or one a passphrase cannot lock."""
    if out is not None:
        refuse_input_as_output(out, video, folder=True)
    if passphrase is None:
        return
    from .privacy.vault import check_passphrase

    if out is None:
        raise UsageError("a passphrase (encryption) needs an output folder")
    check_passphrase(out, passphrase)  # a wrong one for an existing vault fails now, not after the run
    if out.is_dir():
        from .privacy.vault import refuse_foreign

        refuse_foreign(out)  # a user's own file would be encrypted with the outputs: refuse before the run


def _write_outputs(analysis: Any, out: Path, previous: set[str], passphrase: str | None, *, report: bool) -> None:
    """Write the analysis into ``out``, remove what an earlier run wrote there and this one did not, then lock
    the folder when there is a passphrase."""
    outputs.write(analysis, out, report=report)
    stale = previous - set(analysis.timeline.analysis["outputs"])
    outputs.remove_stale(out, stale)  # the previous video's keyframes, thumbnails... must not pass for this one's
    if passphrase is not None:
        from .privacy.vault import discard, lock

        lock(out, passphrase)
        discard(out, stale)
        outputs.remove_stale(out, set())  # subfolders the discarded files leave empty


def _previous_outputs(folder: Path, passphrase: str | None) -> set[str]:
    """What an earlier analysis wrote into ``folder`` (from its timeline), so a new one can remove what it
    does not write again; empty when there is no vidlens timeline there. A locked folder needs the passphrase."""
    from .outputs import written_outputs
    from .privacy.vault import folder_state, read_timeline

    state = folder_state(folder)
    if state == "plain":
        try:
            return written_outputs(Timeline.load(folder / "timeline.json"))
        except (OSError, ValueError, KeyError, TypeError):
            return set()
    if state == "locked":
        if passphrase is None:  # plaintext would land beside the encrypted outputs of another run
            raise UsageError("is locked (vidlens vault): analyse into it with its passphrase ({passphrase}), or "
                             "unlock it first; nothing was written", path=folder, params=("passphrase",))
        return written_outputs(read_timeline(folder, passphrase))
    return set()


def detect_shots(path: str | Path, *, detector: str = "classical", int8: bool = False,
                 progress: ProgressCallback | None = None, start: TimeSpec | None = None,
                 end: TimeSpec | None = None) -> ShotList:
    """Only the shots of a video, in timeline form (no keyframes, no files written).

    ``detector``: ``classical`` (default, fast), ``transnetv2`` (learned, shipped ONNX) or
    ``ensemble`` (both; a boundary needs agreement unless one of them is sure); ``int8`` runs TransNetV2's
    INT8 model (about 2.5x faster). The result reads like the list of shots and keeps the timeline
    (:class:`~vidlens.results.ShotList`: warnings, ``complete``, ``to_dict()``).
    """
    from .analyzers.shots import ShotsAnalyzer

    if int8 and detector != "transnetv2":
        raise UsageError("{int8} applies to {detector} transnetv2 only", params=("int8", "detector"))
    analyzer = ShotsAnalyzer(detector, model_variant="int8" if int8 else None)
    return ShotList(pipeline.run(path, [analyzer], progress=progress, hash_file=False, start=start,
                                 end=end).timeline)


def read_text(path: str | Path, *, fps: float = 2.0, progress: ProgressCallback | None = None,
              start: TimeSpec | None = None, end: TimeSpec | None = None) -> TextSegments:
    """Only the on-screen text of a video: timed segments with text, confidence and box (no files written).

    The result reads like the list of segments and keeps the timeline (:class:`~vidlens.results.TextSegments`:
    warnings, ``complete``, the text gate's statistics, ``to_dict()``)."""
    from .analyzers.text import TextAnalyzer

    return TextSegments(pipeline.run(path, [TextAnalyzer(fps=fps)], progress=progress, hash_file=False,
                                     start=start, end=end).timeline)


def info(path: str | Path, *, count: bool = False) -> VideoInfo:
    """What a video file declares (:func:`probe`); with ``count``, the frame count is counted by decoding
    the whole file (``frame_count_source`` is then ``"counted"``): container counts are often wrong."""
    meta = probe(path)
    if not count:
        return meta
    _, n = count_frames(path)
    return replace(meta, frame_count=n, frame_count_source="counted")


def versions(*, all: bool = False) -> dict[str, str]:  # the name of `vidlens version --all`
    """The vidlens version; with ``all``, also Python, FFmpeg/PyAV, NumPy, OpenCV and ONNX Runtime versions and
    whether ONNX Runtime's telemetry is off: what a bug report needs."""
    from . import __version__

    facts = {"vidlens": __version__}
    if all:
        import sys
        from importlib.metadata import version as installed

        import cv2
        import numpy

        from .media import library_versions
        from .offline import telemetry_status

        facts |= {"python": sys.version.split()[0], "media": library_versions(), "numpy": numpy.__version__,
                  "opencv": cv2.__version__, "onnxruntime": installed("onnxruntime"), "telemetry": telemetry_status()}
    return facts


@cleans_up_on_disk_full
def track_objects(path: str | Path, *, rules: str | Path | None = None, detector: str = "nanodet",
                  classes: Sequence[str] | None = None, poses: bool = False, output_dir: str | Path | None = None,
                  progress: ProgressCallback | None = None, start: TimeSpec | None = None,
                  end: TimeSpec | None = None) -> Timeline:
    """Objects as tracks (and, with ``rules``, line/zone events and counts) — shots come along for free.

    With ``output_dir`` the timeline, shot lists and the tracks' thumbnails are written there."""
    from .analyzers.objects import ObjectsAnalyzer
    from .analyzers.shots import ShotsAnalyzer

    out = Path(output_dir) if output_dir is not None else None
    analyzer = ObjectsAnalyzer(detector=detector, classes=list(classes) if classes else None, rules=rules,
                               poses=poses, thumbnails=out is not None)
    analysis = pipeline.run(path, [ShotsAnalyzer(), analyzer], progress=progress, hash_file=False, start=start,
                            end=end)
    if out is not None:
        refuse_input_as_output(out, path, folder=True)
        outputs.write(analysis, out, report=False)
    return analysis.timeline


def annotate(path: str | Path, output: str | Path, *, timeline: Timeline | str | Path | None = None,
             rules: str | Path | None = None, detector: str = "nanodet", classes: Sequence[str] | None = None,
             progress: ProgressCallback | None = None) -> Annotation:
    """Write ``output`` (MP4) with the video's tracks drawn on; tracks come from ``timeline`` or a fresh run.
    Returns the pair ``(timeline, path)`` (an :class:`~vidlens.results.Annotation`, with ``to_dict()``)."""
    from .objects.annotate import annotate_video
    from .objects.rules import load_rules

    refuse_input_as_output(output, path)
    if timeline is None:
        timeline = track_objects(path, rules=rules, detector=detector, classes=classes, progress=progress)
    elif not isinstance(timeline, Timeline):
        timeline = Timeline.load(timeline)
        _check_timeline_video(timeline, path)
    if "objects" not in timeline.sections:
        raise UsageError("the timeline has no objects section: run vidlens objects (or analyze with objects) first")
    written = annotate_video(path, timeline, output, rules=load_rules(rules) if rules else None)
    return Annotation(timeline, written.path)


def anonymize(path: str | Path, output: str | Path, *, timeline: Timeline | str | Path | None = None,
              mode: str = "blur", keep: Sequence[int] = (), paranoid: bool = False, text: bool = False,
              margin: float = 0.1, progress: ProgressCallback | None = None) -> Anonymization:
    """Write ``output`` (MP4) with every face hidden on every frame; returns the timeline used and an
    ``AnonymizeResult`` (an :class:`~vidlens.results.Anonymization`: a pair, with ``to_dict()``). Faces come
    from ``timeline`` or from a fresh run of the ``faces`` analyzer (plus ``objects`` for ``paranoid``, ``text``
    for ``text``)."""
    from .analyzers.registry import ANALYZERS
    from .privacy.anonymize import anonymize_video

    refuse_input_as_output(output, path)
    if timeline is None:
        needed = ["faces", *(["objects"] if paranoid else []), *(["text"] if text else [])]
        missing = [name for name in needed if name not in ANALYZERS]
        if missing:
            raise UsageError(f"anonymize needs the {', '.join(missing)} analyzer, which this vidlens does not "
                             "have; pass {timeline} with a timeline.json that has a faces section",
                             params=("timeline",))
        timeline = pipeline.run(path, create_analyzers(needed), progress=progress, hash_file=False).timeline
    elif not isinstance(timeline, Timeline):
        timeline = Timeline.load(timeline)
        _check_timeline_video(timeline, path)
    result = anonymize_video(path, timeline, output, mode=mode, keep_ids=keep, margin=margin, paranoid=paranoid,
                             text=text)
    return Anonymization(timeline, result)


def _check_timeline_video(timeline: Timeline, path: str | Path) -> None:
    """Refuse a timeline made from another video (a stale one would leave faces or tracks unmatched)."""
    from .pipeline import file_sha256

    recorded = timeline.video.get("sha256")
    if recorded and recorded != file_sha256(Path(path)):
        raise UsageError(f"the timeline was made from {timeline.video.get('path')} (sha256 {recorded[:12]}...), "
                         "not from this video; analyze it again", path=path)


def count_frames(path: str | Path) -> FrameCount:
    """Decode the whole video to count its frames exactly (container counts are often wrong): the pair
    ``(info, frames)`` (a :class:`~vidlens.results.FrameCount`)."""
    reader = VideoReader(path, audio=False)
    n = sum(1 for _ in reader)
    return FrameCount(reader.info, n)


def summarize(path: str | Path, *, ratio: float = 0.15, output: str | Path | None = None,
              preview: str | Path | None = None, timeline: Timeline | None = None) -> SummaryResult:
    """A summary of the most representative, non-redundant segments, at most ``ratio`` of the video
    (:func:`vidlens.summary.summarize`); with ``output`` the summary MP4 and with ``preview`` an animated GIF
    are written (``vidlens summarize`` writes both, by default to :func:`vidlens.outputs.default_summary` and
    :func:`~vidlens.outputs.default_preview`)."""
    from .summary import summarize as run

    return run(path, ratio=ratio, output=Path(output) if output is not None else None,
               preview=Path(preview) if preview is not None else None, timeline=timeline)


# -- privacy: an output folder encrypted at rest, or deleted --------------------------------------------------------

def lock_folder(folder: str | Path, passphrase: str) -> list[Path]:
    """Encrypt every file of an output folder in place (X -> X.enc); returns the encrypted files."""
    from .privacy.vault import lock

    return lock(folder, passphrase)


def unlock_folder(folder: str | Path, passphrase: str) -> list[Path]:
    """Decrypt a locked output folder back in place (a wrong passphrase changes nothing); returns the files."""
    from .privacy.vault import unlock

    return unlock(folder, passphrase)


def forget(target: str | Path) -> list[Removed]:
    """Delete the derived data of a video (``target``: the video, whose ``VIDEO.vidlens/`` folder goes, or an
    output folder), never the video; refuses any other folder. Returns what was removed, the folder last."""
    from .privacy.retention import forget as run

    return run(target)


__all__ += ["forget", "list_models", "lock_folder", "summarize", "unlock_folder"]


def list_models(check: bool = False) -> list[dict[str, Any]]:
    """The models vidlens runs, one row each: the shipped ones (runtime registry) and the OCR models bundled in
    the rapidocr wheel. With ``check``, each file's sha256 is verified and it runs once (``check`` is
    ``"ok"`` or why not; ``ms`` the run time)."""
    from .ocr.selftest import ocr_rows
    from .runtime.selftest import describe

    return describe(check=check) + ocr_rows(check=check)


# -- the library (vidlens.library): index once, search many times -----------------------------------------


def index(paths: Sequence[str | Path], *, library: str | Path | None = None, workers: int = 1,
          analyzers: Sequence[str] | None = None, options: Mapping[str, Mapping[str, Any]] | None = None,
          prune: bool = False, progress: Any = None, blur_faces: bool | None = None,
          wait: bool = True, preset: Preset | str | None = None) -> dict[str, Any]:
    """Index videos (files, folders, globs) into a library folder; unchanged files are skipped.

    ``analyzers`` (default: everything the library's facts need), or ``preset`` a named set instead
    (``"fast"``: pictures only, several times quicker; ``analyzers`` wins when both are given).

    ``blur_faces`` True blurs faces in the thumbnails the library keeps, for this and every later run into
    this library (a setting stored in it; videos indexed without it are analysed again); False turns the
    setting off; None (default) follows it.

    Returns the ingest report as a dict (added, updated, unchanged, touched, partial, failed, pruned).
    ``progress(event, detail)`` gets "plan", "start", "frames" and "done" events, and "wait" (with a
    ``message``) when another process is writing the library: this then waits for it, or, with
    ``wait=False``, raises ``UsageError``.
    """
    from .library.ingest import ingest
    from .library.ingest import prune as prune_missing
    from .library.library import Library

    with Library(library) as lib:
        report = ingest(lib, paths, workers=workers, analyzers=requested(analyzers, preset=preset)[0],
                        options={k: dict(v) for k, v in (options or {}).items()}, progress=progress,
                        blur_faces=blur_faces, wait=wait)
        if prune:
            report.pruned = prune_missing(lib, [p for p in paths if Path(p).is_dir()] or None)
        return report.to_dict()


def search(query: str, *, library: str | Path | None = None, limit: int = 10,
           signals: Sequence[str] | None = None, path: str | None = None, labels: Sequence[str] = (),
           objects: Sequence[str] = (), start: float | None = None, end: float | None = None,
           min_duration: float = 0.0) -> list[dict[str, Any]]:
    """Moments matching a text query, best first (hybrid: full text + facts + ConSE, fused by rank)."""
    from .library.library import Library
    from .library.search import SIGNALS, Filters
    from .library.search import search as run

    filters = Filters(path=path, labels=tuple(labels), objects=tuple(objects), start=start, end=end,
                      min_duration=min_duration)
    with Library(library, create=False) as lib:
        return [m.to_dict() for m in run(lib, query, limit=limit, signals=tuple(signals or SIGNALS),
                                         filters=filters)]


def search_like(example: str | Path, *, library: str | Path | None = None, limit: int = 10, path: str | None = None,
                min_duration: float = 0.0) -> list[dict[str, Any]]:
    """Moments that look like an example image or clip."""
    from .library.library import Library
    from .library.search import Filters
    from .library.search import search_like as run

    with Library(library, create=False) as lib:
        return [m.to_dict() for m in run(lib, example, limit=limit,
                                         filters=Filters(path=path, min_duration=min_duration))]


def find_duplicates(*, library: str | Path | None = None, threshold: float = 0.9,
                    min_length: float = 1.0) -> list[dict[str, Any]]:
    """Near-duplicate videos and repeated segments across the library's videos."""
    from .library.library import Library
    from .library.search import find_duplicates as run

    with Library(library, create=False) as lib:
        return [d.to_dict() for d in run(lib, threshold=threshold, min_length=min_length)]


def library_stats(*, library: str | Path | None = None) -> dict[str, Any]:
    from .library.library import Library

    with Library(library, create=False) as lib:
        return lib.stats()


def prune_library(*, library: str | Path | None = None, under: Sequence[str | Path] | None = None,
                  on_wait: Any = None) -> list[str]:
    """Forget indexed videos whose files are gone; returns their paths. Another process writing the library,
    this waits for it (``on_wait(message)`` is told)."""
    from .library.ingest import prune as prune_missing
    from .library.library import Library

    with Library(library, create=False) as lib:
        return prune_missing(lib, under, on_wait=on_wait)


def check_library(*, library: str | Path | None = None, repair: bool = False, on_wait: Any = None) -> dict[str, Any]:
    """SQLite integrity check, full-text index check, catalog consistency, and indexes rebuilt where they
    disagree with the catalog. ``repair``: a damaged catalog is rebuilt from the rows that still read
    (whole videos only; the others are analysed again by the next ``index``), then every index from it;
    it waits for another process writing the library (``on_wait(message)`` is told)."""
    from .library.library import Library, repair_library

    if repair:
        return repair_library(library, on_wait=on_wait)
    with Library(library, create=False) as lib:
        return lib.check()


def export_clips(moments: Sequence[Mapping[str, Any]], folder: str | Path) -> list[dict[str, Any]]:
    """Write each search result as a clip (stream copy when it starts on a keyframe, else re-encoded)."""
    from .diskfull import outputs_or_nothing
    from .library.clips import export_moments

    with outputs_or_nothing(folder, "writing the clips"):  # a full disk: no folder of half clips left behind
        return export_moments(moments, Path(folder))


# -- your own video classifiers (vidlens.train): training needs the `train` extra (PyTorch), the rest does not ---

__all__ += ["Arch", "FuseMode", "Schedule", "SplitChoice", "TrainConfig", "TrainSettings", "evaluate_classifier",
            "fuse_classifiers", "predict", "predict_video", "train_classifier"]


def _need_torch(what: str) -> None:
    from .train import need_torch  # the one place outside train/ that asks for torch goes through train/

    need_torch(what)


def train_classifier(dataset: str | Path, output_dir: str | Path, settings: TrainSettings | None = None, *,
                     resume: bool = False, cache: str | Path | None = None, progress: ProgressArg = True,
                     **options: Any) -> dict[str, Any]:
    """Train a video classifier on a labelled dataset (class folders or a CSV/JSON manifest) into a model folder.

    ``settings`` is a :class:`TrainSettings` (default: its defaults); ``options`` are its settings by name, flat
    (``arch="gru"``, ``epochs=20``, ``warmup=0.5``, ``split=(0.7, 0.15, 0.15)``...), applied over ``settings``;
    a misspelt one is a UsageError. The folder gets the model (``vidlens_model.json``, ``weights.pt``,
    ``model.onnx``), its split lists, the training history and the test-set evaluation. ``progress``: a Rich
    console to write progress to, ``True`` (stderr) or ``False``. Returns a summary dict.
    """
    _need_torch("training")
    from .train.fit import train_classifier as run

    return run(dataset, output_dir, TrainSettings.from_options(settings, **options), resume=resume, cache_dir=cache,
               progress=progress)


def fuse_classifiers(models: Sequence[str | Path], output_dir: str | Path, *, mode: FuseMode | str = FuseMode.mean,
                     dataset: str | Path | None = None, cache: str | Path | None = None, threads: int | None = None,
                     progress: ProgressArg = True) -> dict[str, Any]:
    """An ensemble of trained models (mean of their probabilities, or weights learned on the validation clips)."""
    _need_torch("fusing models")
    from .train.fuse import fuse_models

    return fuse_models(models, output_dir, mode=mode, dataset=dataset, cache_dir=cache, threads=threads,
                       progress=progress)


def evaluate_classifier(model: str | Path, dataset: str | Path, *, split: SplitChoice | str = SplitChoice.auto,
                        output_dir: str | Path | None = None, onnx_file: str | Path | None = None,
                        threads: int | None = None, progress: ProgressArg = False) -> dict[str, Any]:
    """Score a trained model (through ONNX Runtime, no torch) on a dataset's recorded split or on all of it.

    ``split="auto"`` scores the recorded test split of the training dataset, and all of any other dataset;
    the result's ``split`` says which.

    With ``output_dir``: metrics.json, predictions.json, confusion.png, reliability.png, curves.png and
    report.html. Returns ``{"metrics", "predictions", "skipped", "files"}``.
    """
    from .train.report import evaluate_bundle

    return evaluate_bundle(model, dataset, split=split, output_dir=output_dir, onnx_file=onnx_file, threads=threads,
                           progress=progress)


def predict_video(model: str | Path | OnnxPredictor, video: str | Path, *, window_s: float | None = None,
                  top_k: int = 3, threads: int | None = None) -> dict[str, Any]:
    """A trained model's whole-video label and per-window labels (start/end moments) for one video (no torch).

    ``model`` is a bundle folder or a loaded :class:`vidlens.predict.predictor.OnnxPredictor` (``threads`` is
    then ignored). ``window_s`` defaults to the length of the clips the model was trained on. One decode pass
    through the pipeline with the ``classifier`` analyzer; the result is its timeline section plus the
    video's path, duration, frame count and rate.
    """
    from .analyzers.classifier import ClassifierAnalyzer
    from .predict.predictor import OnnxPredictor

    predictor = model if isinstance(model, OnnxPredictor) else OnnxPredictor(model, threads=threads)
    analyzer = ClassifierAnalyzer(predictor.bundle_dir, window_s=window_s, top_k=top_k, predictor=predictor)
    timeline = pipeline.run(video, [analyzer], hash_file=False).timeline
    found = timeline.sections.get("classifier")
    if not found:
        problems = "; ".join(timeline.warnings) or "no frame could be classified"
        raise UsageError(f"could not classify the video: {problems}", path=video)
    info, section = timeline.video, found[0]
    return {"path": str(video), "duration": info.get("duration"), "frame_count": info.get("frame_count"),
            "fps": info.get("fps"), **section, "warnings": list(timeline.warnings)}


def predict(model: str | Path | OnnxPredictor, videos: str | Path | Sequence[str | Path], *,
            window_s: float | None = None, top_k: int = 3, threads: int | None = None) -> PredictionRun:
    """:func:`predict_video` over several videos, the model loaded once: ``results`` in the videos' order.

    A video that cannot be classified among several is skipped (in ``skipped``, with why) and the others go
    on; a single video's failure, and any usage error (a bad window, a bad model), is raised."""
    from .predict.predictor import OnnxPredictor

    many = [videos] if isinstance(videos, (str, Path)) else list(videos)
    predictor = model if isinstance(model, OnnxPredictor) else OnnxPredictor(model, threads=threads)
    run = PredictionRun()
    for video in many:
        try:
            run.results.append(predict_video(predictor, video, window_s=window_s, top_k=top_k))
        except UsageError:
            raise
        except Exception as error:  # one unreadable video among many: reported, the others go on
            if len(many) == 1:
                raise
            run.skip(video, error)
    return run


# -- explaining and compressing trained classifiers (vidlens.train.explain, vidlens.train.compress) ---------------

def _seconds(video: str | Path, spec: TimeSpec | float | None) -> float | None:
    if spec is None or isinstance(spec, (int, float)):
        return spec
    return float(spec.to_seconds(probe(video).fps))


def explain_prediction(model: str | Path, video: str | Path, *, output_dir: str | Path | None = None,
                       class_name: str | None = None, start: TimeSpec | float | None = None,
                       end: TimeSpec | float | None = None, mp4: bool = False, top_frames: int = 3):
    """Why the trained ``model`` (a bundle folder) predicts what it does on ``video``: per-step importance
    (integrated gradients, checked by occlusion) and heat maps (Grad-CAM for the 3D-CNN, occlusion through
    the backbone for feature heads). Returns a :class:`vidlens.train.explain.Explanation`; with
    ``output_dir`` also writes explain.json, importance.png, steps/*.png (and explain.mp4 with ``mp4``)."""
    _need_torch("explaining a prediction")
    from .train.explain import explain_video, write_explanation

    explanation = explain_video(model, video, class_name=class_name, start=_seconds(video, start),
                                end=_seconds(video, end), top_frames=top_frames)
    if output_dir is not None:
        write_explanation(explanation, output_dir, mp4=mp4)
    return explanation


__all__ += ["explain_prediction"]


def compress_model(model: str | Path, *, int8: str | Sequence[str] | None = None,
                   prune: Sequence[float] | None = None, finetune_epochs: int | None = None,
                   dataset: str | Path | None = None, cache: str | Path | None = None, runs: int = 50,
                   progress: ProgressArg = False) -> dict[str, Any]:
    """ONNX export of a trained model plus INT8 (``"dynamic"``, ``"static"``) and pruned (fractions of the weights,
    e.g. ``[0.3, 0.5]``) variants, each measured for size, latency and, with ``dataset``, accuracy on the model's
    test split. Writes the variants and compress.json into the model folder and returns the report."""
    if prune:
        _need_torch("pruning a model")
    from .train.compress import compress_bundle

    return compress_bundle(model, int8=int8, prune=prune, finetune_epochs=finetune_epochs, dataset=dataset,
                           cache_dir=cache, runs=runs, progress=progress)


__all__ += ["compress_model"]
