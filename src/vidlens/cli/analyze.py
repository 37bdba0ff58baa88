"""The video commands of the CLI: ``vidlens info``, ``analyze``, ``shots``, ``text``, ``objects``, ``annotate``,
``anonymize`` and ``summarize``.

Thin: each parses, calls the Python API and writes the result to a file or stdout.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .. import api
from ..errors import UsageError
from ..files import write_text_atomic
from ..outputs import default_folder, default_preview, default_summary
from ..paths import refuse_input_as_output
from ..pipeline import ProgressCallback
from ..timebase import TimeSpec
from ..timeline import Timeline
from .console import err, show
from .params import EndOpt, FileOutputOpt, JsonFormatOpt, JsonOpt, StartOpt, bounded, name_list, print_json
from .privacy import PassphraseFileOpt, read_passphrase

VideoArg = Annotated[Path, typer.Argument(help="Video file to read (any container/codec FFmpeg decodes).")]


class ShotFormat(str, Enum):
    json = "json"
    csv = "csv"
    edl = "edl"


class TextFormat(str, Enum):
    srt = "srt"
    vtt = "vtt"
    json = "json"


def _progress(quiet: bool) -> tuple[Progress | None, ProgressCallback | None]:
    """A Rich bar (frames, fps, ETA) on stderr when it is a terminal; nothing otherwise."""
    if quiet or not err.is_terminal:
        return None, None
    bar = Progress(TextColumn("[bold]decoding"), BarColumn(), TaskProgressColumn(),
                   TextColumn("{task.completed} frames"), TextColumn("{task.fields[fps]} fps"),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=err, transient=True)
    task = bar.add_task("decode", total=None, fps="-")

    def update(done: int, total: int | None, elapsed: float) -> None:
        bar.update(task, completed=done, total=max(total or 0, done) or None,
                   fps=f"{done / elapsed:.0f}" if elapsed > 0 else "-")

    return bar, update


def _run(func, *args, quiet: bool = False, **kwargs):
    bar, callback = _progress(quiet)
    if bar is None:
        return func(*args, progress=callback, **kwargs)
    with bar:
        return func(*args, progress=callback, **kwargs)


def _emit(text: str, output: Path | None) -> None:
    """A command's text result: into ``output`` when given (checked by ``_file_output`` before the run),
    else on stdout (ending with a newline)."""
    if output:
        write_text_atomic(output, text)
    else:
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")


def _file_output(output: Path | None, video: Path) -> None:
    """Refuse, before any work, an ``-o`` file that cannot be written or is the input video itself."""
    if output is not None:
        refuse_input_as_output(output, video)


def _span(start: str | None, end: str | None) -> dict[str, TimeSpec | None]:
    """``--start`` / ``--end`` as the keyword arguments the API takes."""
    return {"start": TimeSpec.parse(start) if start else None, "end": TimeSpec.parse(end) if end else None}


def _report_warnings(timeline: Timeline) -> None:
    for warning in timeline.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if not timeline.complete:
        err.print("[yellow]result is incomplete (partial results were kept)[/]")


def info(
    video: VideoArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    count: Annotated[bool, typer.Option(help="Decode the whole file to count frames exactly.")] = False,
) -> None:
    """Show what a video file declares: codec, size, rates, duration, frame count, audio."""
    meta = api.info(video, count=count)
    facts = meta.to_dict()
    for note in meta.notes:
        err.print(f"[yellow]note:[/] {note}", highlight=False)
    if as_json:
        print_json(facts)
        return
    table = Table(show_header=False, box=None)
    for key, value in facts.items():
        if key != "notes":
            table.add_row(key, str(value))
    show(table)


def analyze(
    video: VideoArg,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Folder for the timeline, keyframes, "
                                                "shot lists and HTML report (default: <video>.vidlens/).")] = None,
    analyzers: Annotated[str | None, typer.Option(help="Analyzers, comma-separated: shots, keyframes, labels (the "
                                                       "default three), text, speech, objects, people, faces, "
                                                       "segments, classifier.")]
    = None,
    rules: Annotated[Path | None, typer.Option(help="Line/zone rules (YAML or JSON) for the objects analyzer "
                                                    "(adds it).")] = None,
    emotions: Annotated[bool, typer.Option(help="Expression labels on face tracks (adds the faces analyzer; "
                                                "see the README for what they cannot tell).")] = False,
    classifier: Annotated[Path | None, typer.Option(help="A model folder made by `vidlens train`: its labels per "
                                                         "window land in the timeline (adds the classifier "
                                                         "analyzer).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Also print the timeline JSON on stdout.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No progress bar or summary.")] = False,
    start: Annotated[str | None, typer.Option(help="Analyze from this time: 12.5s, 300f or 00:01:02.5")] = None,
    end: Annotated[str | None, typer.Option(help="Stop at this time (same units as --start).")] = None,
    encrypt: Annotated[bool, typer.Option("--encrypt", help="Then lock the output folder with a passphrase (see "
                                          "`vidlens vault`); the outputs are plain on disk while it runs.")] = False,
    passphrase_file: PassphraseFileOpt = None,
    blur_faces: Annotated[bool, typer.Option("--blur-faces", help="Blur faces in every image written (keyframes, "
                                             "contact sheet, thumbnails); adds the faces analyzer.")] = False,
) -> None:
    """Analyze a video: shots and keyframes into timeline.json, shots.csv/.edl and report.html.

    Example: vidlens analyze clip.mp4 -o clip_out --start 10s --end 00:02:00
    """
    if passphrase_file is not None and not encrypt:
        raise UsageError("--passphrase-file applies to --encrypt only")
    passphrase = read_passphrase(passphrase_file, confirm=True) if encrypt else None
    names = name_list(analyzers, "--analyzers")
    output_dir = output or default_folder(video)
    timeline = _run(api.analyze, video, analyzers=names, rules=rules, emotions=emotions, classifier=classifier,
                    output_dir=output_dir, quiet=quiet, passphrase=passphrase, blur_faces=blur_faces,
                    **_span(start, end))
    if as_json:
        sys.stdout.write(timeline.to_json() + "\n")
    elif not quiet:
        v, n = timeline.video, len(timeline.shots)
        err.print(f"[bold]{v['path']}[/]: {v['frame_count']} frames, {v['duration']:.2f}s, "
                  f"{n} shot{'' if n == 1 else 's'}, analyzed in {timeline.analysis['elapsed_s']:.2f}s "
                  f"({timeline.analysis['speed_fps']} fps)", highlight=False)
        err.print(f"wrote {output_dir}/timeline.json and report.html" + (" (locked)" if encrypt else ""),
                  highlight=False)
    _report_warnings(timeline)
    if timeline.analysis.get("interrupted"):
        raise typer.Exit(130)


def shots(
    video: VideoArg,
    fmt: Annotated[ShotFormat, typer.Option("--format", "-f", help="json, csv or edl (CMX3600).")] = ShotFormat.json,
    output: FileOutputOpt = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
    detector: Annotated[str, typer.Option(help="classical (fast default), transnetv2 (learned) or ensemble.")]
    = "classical",
    int8: Annotated[bool, typer.Option("--int8", help="TransNetV2 only: the INT8 model (about 2.5x faster).")]
    = False,
    start: StartOpt = None,
    end: EndOpt = None,
    as_json: JsonFormatOpt = False,
) -> None:
    """List shot boundaries (cut / dissolve / fade) with frame, time and timecode."""
    from ..export import shots_csv, shots_edl, shots_json

    _file_output(output, video)
    fmt = ShotFormat.json if as_json else fmt
    timeline = _run(api.detect_shots, video, detector=detector, int8=int8, quiet=quiet, **_span(start, end)).timeline
    _emit({"json": shots_json, "csv": shots_csv, "edl": shots_edl}[fmt.value](timeline), output)
    _report_warnings(timeline)


def text(
    video: VideoArg,
    fmt: Annotated[TextFormat, typer.Option("--format", "-f", help="srt, vtt (WebVTT) or json.")] = TextFormat.srt,
    output: FileOutputOpt = None,
    fps: Annotated[float, typer.Option(help="Frames looked at per second (segment bounds are exact to half a "
                                            "step).", **bounded(0, 1000, low_open=True))] = 2.0,
    start: StartOpt = None,
    end: EndOpt = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
    as_json: JsonFormatOpt = False,
) -> None:
    """Read the on-screen text (captions, titles, signs) as timed segments: subtitles or JSON."""
    from ..export import text_json, text_srt, text_vtt

    _file_output(output, video)
    fmt = TextFormat.json if as_json else fmt
    timeline = _run(api.read_text, video, fps=fps, quiet=quiet, **_span(start, end)).timeline
    _emit({"srt": text_srt, "vtt": text_vtt, "json": text_json}[fmt.value](timeline), output)
    _report_warnings(timeline)


class ObjectFormat(str, Enum):
    json = "json"
    mot = "mot"


def objects(
    video: VideoArg,
    fmt: Annotated[ObjectFormat, typer.Option("--format", "-f", help="json (tracks, counts, events) or mot "
                                              "(MOT Challenge rows, every frame).")] = ObjectFormat.json,
    output: FileOutputOpt = None,
    rules: Annotated[Path | None, typer.Option(help="Line/zone rules file (YAML or JSON, normalised points).")]
    = None,
    detector: Annotated[str, typer.Option(help="nanodet (default) or centernet.")] = "nanodet",
    classes: Annotated[str | None, typer.Option(help="Only these COCO classes, comma-separated (person,car).")]
    = None,
    poses: Annotated[bool, typer.Option(help="Also MoveNet keypoints for person tracks.")] = False,
    start: StartOpt = None,
    end: EndOpt = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
    as_json: JsonFormatOpt = False,
) -> None:
    """Track objects (COCO-80) with stable ids; with --rules, count line crossings and zone visits."""
    from ..export import objects_json, objects_mot

    _file_output(output, video)
    names = name_list(classes, "--classes")
    timeline = _run(api.track_objects, video, rules=rules, detector=detector, classes=names, poses=poses,
                    quiet=quiet, **_span(start, end))
    _emit((objects_json if as_json or fmt is ObjectFormat.json else objects_mot)(timeline), output)
    _report_warnings(timeline)


def annotate(
    video: VideoArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="The annotated MP4 to write.")],
    rules: Annotated[Path | None, typer.Option(help="Line/zone rules to draw and count.")] = None,
    timeline: Annotated[Path | None, typer.Option(help="Reuse the tracks of this timeline.json instead of "
                                                       "analysing again.")] = None,
    detector: Annotated[str, typer.Option(help="nanodet (default) or centernet.")] = "nanodet",
    classes: Annotated[str | None, typer.Option(help="Only these COCO classes, comma-separated.")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Draw tracked objects (boxes, ids, trails), lines, zones and running counts on the video (audio kept)."""
    names = name_list(classes, "--classes")
    annotation = _run(api.annotate, video, output, timeline=timeline, rules=rules, detector=detector,
                      classes=names, quiet=quiet)
    result, path = annotation
    if as_json:
        print_json(annotation.to_dict())
    elif not quiet:
        err.print(f"wrote {path} ({len(result['objects'])} tracks)", highlight=False)
    _report_warnings(result)


def anonymize(
    video: VideoArg,
    output: Annotated[Path, typer.Option("-o", "--output", help="The anonymized MP4 to write.")],
    mode: Annotated[str, typer.Option(help="blur (default), pixelate, solid (black) or mask (the matte "
                                           "itself, white = hidden).")] = "blur",
    keep: Annotated[str | None, typer.Option(help="Face track ids to leave visible, comma-separated "
                                                  "(ids from the timeline's faces section).")] = None,
    paranoid: Annotated[bool, typer.Option(help="Also hide people (person tracks) where no confident face "
                                                "is found in them.")] = False,
    text: Annotated[bool, typer.Option(help="Also hide on-screen text boxes (plates, name tags).")] = False,
    margin: Annotated[float, typer.Option(help="Extra border around each face box, as a fraction of its "
                                               "size (grows on frames away from a detection).",
                                               **bounded(0, 5))] = 0.1,
    timeline: Annotated[Path | None, typer.Option(help="Use the faces (and objects/text) of this "
                                                       "timeline.json instead of analysing again.")] = None,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Hide every face on every frame (track-based, so frames a detector missed are covered); audio kept."""
    try:
        keep_ids = [int(k) for k in keep.split(",") if k.strip()] if keep else []
    except ValueError:
        raise UsageError(f"--keep takes comma-separated track ids, got {keep!r}") from None
    anonymization = _run(api.anonymize, video, output, timeline=timeline, mode=mode, keep=keep_ids,
                         paranoid=paranoid, text=text, margin=margin, quiet=quiet)
    result, written = anonymization
    if as_json:
        print_json(anonymization.to_dict())
    elif not quiet:
        err.print(f"wrote {written.written.path}: {written.written.frames} frames, {written.face_tracks} face "
                  f"tracks hidden on {written.frames_hidden} frames"
                  + (f", kept {', '.join(map(str, written.kept))}" if written.kept else ""), highlight=False)
    _report_warnings(result)


def summarize(
    video: VideoArg,
    ratio: Annotated[float, typer.Option(help="Summary length as a fraction of the video (0 < ratio <= 1).",
                                        **bounded(0, 1, low_open=True))]
    = 0.15,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Summary MP4 (default: <video>.summary.mp4)")]
    = None,
    preview: Annotated[Path | None, typer.Option(help="Animated preview (default: <video>.preview.gif)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the chosen segments as JSON.")] = False,
) -> None:
    """Make a short summary video of the most representative, non-redundant segments."""
    if not 0 < ratio <= 1:
        raise UsageError(f"--ratio must be in (0, 1], got {ratio}")
    target = output or default_summary(video)
    gif = preview or default_preview(video)
    result = api.summarize(video, ratio=ratio, output=target, preview=gif)
    if as_json:
        print_json(result.to_dict())
    else:
        err.print(f"wrote {target} and {gif}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the commands to the main app."""
    for command in (info, analyze, shots, text, objects, annotate, anonymize, summarize):
        app.command()(command)
