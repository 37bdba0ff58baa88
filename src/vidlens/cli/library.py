"""The library commands of the CLI: ``vidlens index``, ``search``, ``dupes`` and ``library stats|prune|check``.

Thin: each parses, calls one function of ``vidlens.api`` and prints a table or JSON.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .. import api
from ..errors import UsageError
from .console import err, out, show
from .params import JsonFormatOpt, JsonOpt, bounded, name_list, print_json

LibraryOpt = Annotated[Path | None, typer.Option(
    "--library", "-L", help="Library folder (default: $VIDLENS_LIBRARY, else ~/.local/share/vidlens/library).")]
library_app = typer.Typer(name="library", no_args_is_help=True, help="Look after a library: stats, prune, check.")


class ResultFormat(str, Enum):
    table = "table"
    json = "json"


def _progress_bar(quiet: bool) -> tuple[Progress | None, Any]:
    """Files and frames bars on a terminal; the callback the ingest reports to."""
    if quiet or not err.is_terminal:
        return None, None
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
                   TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), TimeRemainingColumn(),
                   console=err, transient=True)
    files = bar.add_task("videos", total=None)
    frames = bar.add_task("frames", total=None)
    per_file: dict[str, tuple[int, int]] = {}

    def update(event: str, detail: dict[str, Any]) -> None:
        if event == "plan":
            bar.update(files, total=detail["todo"])
        elif event == "frames":
            per_file[detail["path"]] = (detail["done"], detail["total"] or detail["done"])
            done = sum(d for d, _ in per_file.values())
            bar.update(frames, completed=done, total=max(done, sum(t for _, t in per_file.values())))
        elif event == "wait":
            _waiting(event, detail)
        elif event == "done":
            bar.advance(files)
            if not detail["ok"]:
                err.print(f"[yellow]failed:[/] {detail['path']}: {detail['error']}", highlight=False)

    return bar, update


def _waiting(event: str, detail: dict[str, Any]) -> None:
    """Another index holds the library: say so once, on stderr (the run then waits for it)."""
    if event == "wait":
        _say(detail["message"])


def _say(message: str) -> None:
    err.print(message, highlight=False)


def index(
    paths: Annotated[list[str], typer.Argument(help="Video files, folders (searched recursively) or globs.")],
    library: LibraryOpt = None,
    workers: Annotated[int, typer.Option("--workers", "-j", help="Videos analysed at once (processes).",
                                         **bounded(1, 64))] = 1,
    fast: Annotated[bool, typer.Option(help="Pictures only (labels, colours, motion; no objects, text, faces): "
                                       "several times quicker.")] = False,
    analyzers: Annotated[str | None, typer.Option(help="Analyzers to run, comma-separated (overrides --fast).")]
    = None,
    prune: Annotated[bool, typer.Option(help="Also forget indexed videos under these folders that are gone.")]
    = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet")] = False,
    blur_faces: Annotated[bool | None, typer.Option(
        "--blur-faces/--no-blur-faces", help="Blur faces in the thumbnails the library keeps, from now on for "
        "every index into this library (a setting stored in it; videos indexed without it are analysed again). "
        "Default: the library's setting (off for a new one).")] = None,
) -> None:
    """Index videos into the library: new and changed files are analysed, unchanged ones skipped."""
    names = name_list(analyzers, "--analyzers")
    preset = "fast" if fast else None
    bar, callback = _progress_bar(quiet)
    if bar is None:
        report = api.index(paths, library=library, workers=workers, analyzers=names, preset=preset, prune=prune,
                           blur_faces=blur_faces, progress=None if quiet else _waiting)
    else:
        with bar:
            report = api.index(paths, library=library, workers=workers, analyzers=names, preset=preset, prune=prune,
                               progress=callback, blur_faces=blur_faces)
    if as_json:
        print_json(report)
    else:
        rate = report["video_seconds"] / report["seconds"] if report["seconds"] else 0.0
        out.print(f"added {len(report['added'])}, updated {len(report['updated'])}, unchanged {report['unchanged']}, "
                  f"touched/moved {len(report['touched'])}, pruned {len(report['pruned'])}, failed "
                  f"{len(report['failed'])} in {report['seconds']:.1f} s ({rate:.2f} video-s per s)", highlight=False)
        for path in report["partial"]:
            err.print(f"[yellow]partial:[/] {path} (damaged or cut short; what was read is indexed)", highlight=False)
        for failure in report["failed"]:
            err.print(f"[red]failed:[/] {failure['path']}: {failure['error']}", highlight=False)
    if report["interrupted"]:
        err.print("interrupted: the videos finished so far are indexed; run the same command again to go on")
        raise typer.Exit(130)
    if report["failed"]:
        raise typer.Exit(2 if not (report["added"] or report["updated"] or report["unchanged"]) else 0)


def search(
    query: Annotated[str | None, typer.Argument(help="What to find, in words (\"a cat on the sofa\").")] = None,
    like: Annotated[Path | None, typer.Option(help="Find moments that look like this image or clip.")] = None,
    library: LibraryOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Number of moments.", **bounded(1, 10_000))] = 10,
    signals: Annotated[str | None, typer.Option(help="Rankings to fuse: bm25,facts,conse (default all).")] = None,
    path: Annotated[str | None, typer.Option(help="Only videos whose path matches this glob (or contains it).")]
    = None,
    label: Annotated[list[str] | None, typer.Option(help="Only moments with this label or category (repeatable).")]
    = None,
    object_: Annotated[list[str] | None, typer.Option("--object", help="Only moments with this object class.")]
    = None,
    start: Annotated[float | None, typer.Option(help="Only moments after this second of their video.",
                                                     **bounded(0, 1e9))] = None,
    end: Annotated[float | None, typer.Option(help="Only moments before this second of their video.",
                                                   **bounded(0, 1e9))] = None,
    min_duration: Annotated[float, typer.Option(help="Shortest moment, seconds.", **bounded(0, 1e9))] = 0.0,
    fmt: Annotated[ResultFormat, typer.Option("--format", "-f")] = ResultFormat.table,
    export_clips: Annotated[Path | None, typer.Option(help="Also write each moment as a clip into this folder.")]
    = None,
    as_json: JsonFormatOpt = False,
) -> None:
    """Find moments by words (hybrid full-text + semantic search) or by an example image/clip (--like)."""
    if (query is None) == (like is None):
        raise UsageError("give either a QUERY or --like IMAGE_OR_CLIP")
    if like is not None:
        moments = api.search_like(like, library=library, limit=limit, path=path, min_duration=min_duration)
    else:
        assert query is not None
        chosen = name_list(signals, "--signals")
        moments = api.search(query, library=library, limit=limit, signals=chosen, path=path, labels=label or (),
                             objects=object_ or (), start=start, end=end, min_duration=min_duration)
    clips = api.export_clips(moments, export_clips) if export_clips is not None else []
    if as_json or fmt is ResultFormat.json:
        print_json({"query": query, "like": like, "moments": moments, "clips": clips})
        return
    if not moments:
        err.print("no moment found")
        return
    table = Table(show_lines=False)
    for column in ("#", "video", "start", "end", "score", "why"):
        table.add_column(column, overflow="fold")
    for number, m in enumerate(moments, 1):
        table.add_row(str(number), Path(m["path"]).name, m["start"]["timecode"], m["end"]["timecode"],
                      f"{m['score']:.4f}", _why(m["evidence"]))
    show(table)
    for clip in clips:
        out.print(f"clip {clip['moment']}: {clip['path']} ({clip['method']})", highlight=False)


def _why(evidence: dict[str, Any]) -> str:
    parts = []
    if "bm25" in evidence and evidence["bm25"].get("matched"):
        parts.append("words: " + ", ".join(evidence["bm25"]["matched"]))
    for name in ("facts", "conse", "visual"):
        if name in evidence:
            parts.append(f"{name} #{evidence[name]['rank']} ({evidence[name]['score']:.2f})")
    if evidence.get("labels"):
        parts.append("labels: " + ", ".join(evidence["labels"][:3]))
    if evidence.get("text"):
        parts.append("text: " + " / ".join(evidence["text"][:2]))
    return "; ".join(parts)


def dupes(
    library: LibraryOpt = None,
    threshold: Annotated[float, typer.Option(help="Visual cosine similarity for a match (0-1).",
                                                   **bounded(0, 1))] = 0.9,
    min_length: Annotated[float, typer.Option(help="Shortest repeated range reported, seconds.",
                                                    **bounded(0, 1e9))] = 1.0,
    fmt: Annotated[ResultFormat, typer.Option("--format", "-f")] = ResultFormat.table,
    as_json: JsonFormatOpt = False,
) -> None:
    """Near-duplicate videos (re-uploads, re-encodes) and repeated segments (intros, reused shots)."""
    found = api.find_duplicates(library=library, threshold=threshold, min_length=min_length)
    if as_json or fmt is ResultFormat.json:
        print_json(found)
        return
    if not found:
        err.print("no duplicates found")
        return
    table = Table()
    for column in ("kind", "video A", "range A", "video B", "range B", "similarity"):
        table.add_column(column, overflow="fold")
    for d in found:
        table.add_row(d["kind"], Path(d["a"]["path"]).name, _range(d["a"]), Path(d["b"]["path"]).name, _range(d["b"]),
                      f"{d['similarity']:.3f}")
    show(table)


def _range(side: dict[str, Any]) -> str:
    if "start" in side:
        return f"{side['start']['timecode']} - {side['end']['timecode']}"
    return f"whole ({side['coverage']:.0%})"


@library_app.command("stats")
def stats(library: LibraryOpt = None,
          as_json: JsonOpt = False) -> None:
    """Videos, hours, segments, vectors and the most common tags in the library."""
    data = api.library_stats(library=library)
    if as_json:
        print_json(data)
        return
    out.print(f"{data['folder']}: {data['videos']} videos ({data['partial_videos']} partial), {data['hours']:.2f} h, "
              f"{data['segments']} segments", highlight=False)
    out.print(f"  faces in thumbnails: {'blurred' if data.get('blur_faces') else 'sharp'} (index --blur-faces)",
              highlight=False)
    for kind, index in data["indexes"].items():
        out.print(f"  {kind}: {index['count']} x {index['dim']}-d ({index['structure']})", highlight=False)
    if data["top_tags"]:
        out.print("  top tags: " + ", ".join(f"{t['name']} ({t['segments']})" for t in data["top_tags"]),
                  highlight=False)


@library_app.command("prune")
def prune(library: LibraryOpt = None,
          under: Annotated[list[Path] | None, typer.Argument(help="Only videos under these folders.")] = None,
          as_json: JsonOpt = False) -> None:
    """Forget indexed videos whose files no longer exist."""
    gone = api.prune_library(library=library, under=under, on_wait=_say)
    if as_json:
        print_json({"pruned": gone})
        return
    out.print(f"pruned {len(gone)} video(s)", highlight=False)
    for path in gone:
        out.print(f"  {path}", highlight=False)


@library_app.command("check")
def check(library: LibraryOpt = None,
          repair: Annotated[bool, typer.Option("--repair", help="Rebuild a damaged catalog from the rows that "
                                               "still read, then the full-text and vector indexes.")] = False,
          as_json: JsonOpt = False) -> None:
    """SQLite and full-text integrity checks; vector indexes that disagree with the catalog are rebuilt.

    Exit 0 healthy (or repaired), 3 damaged (run it again with --repair).
    """
    result = api.check_library(library=library, repair=repair, on_wait=_say)
    if as_json:
        print_json(result)
    else:
        for problem in result["problems"]:
            err.print(f"[red]problem:[/] {problem}", highlight=False)
        recovered = result.get("recovered")
        if recovered:
            out.print(f"repaired: kept {recovered['videos']} videos ({recovered['segments']} segments); the damaged "
                      f"file is kept as {recovered['backup']}", highlight=False)
            for path in recovered["removed"]:
                out.print(f"  removed (index it again): {path}", highlight=False)
            if recovered["unreadable_videos"]:
                out.print(f"  {recovered['unreadable_videos']} unreadable range(s) of video rows: index their "
                          "folders again", highlight=False)
        if result["rebuilt"]:
            out.print("rebuilt from the catalog: " + ", ".join(result["rebuilt"]), highlight=False)
        if result["ok"]:
            out.print("ok", highlight=False)
        else:
            for problem in result.get("remaining", []):
                err.print(f"[red]still damaged:[/] {problem}", highlight=False)
            out.print("damaged" + ("" if repair else ": run `vidlens library check --repair`"), highlight=False)
    if not result["ok"]:
        raise typer.Exit(3)
