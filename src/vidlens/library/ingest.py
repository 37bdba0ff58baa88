"""Ingest: find videos, decide what needs (re)indexing, analyse in a process pool, commit one by one.

Deciding is cheap and safe: a file whose size and mtime match the catalog is skipped without being
read; one whose stat changed is hashed, and if its content is the same (a ``touch``, a copy back
from a backup) only the stat is updated; a file whose content is already indexed under a path that
no longer exists is a move, and only the path changes. Everything else is analysed.

Workers run the analysis pipeline and build the catalog rows and vectors (the sentence embedder too),
so the parent only writes: each video in its own transaction, in completion order. A kill at any
moment loses at most the videos in flight; their files were never half-written into the catalog,
and the next run finds them still to do. Errors are collected per file, never raised.
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import multiprocessing
import multiprocessing.util
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty
from typing import Any

from ..errors import AnalysisInterrupted, UsageError, VidlensError, disk_full, is_disk_full
from ..paths import why_not_a_file
from .catalog import VideoRecord

#: File suffixes taken when walking a folder (a file named explicitly is always tried).
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts",
                            ".m2ts", ".wmv", ".flv", ".3gp", ".ogv", ".ogg", ".y4m", ".dv", ".vob", ".mxf"})
#: What ``vidlens index`` analyses: everything the facts need.
INDEX_ANALYZERS: tuple[str, ...] = ("shots", "labels", "segments", "objects", "text", "faces")

#: ``progress(event, detail)``: events "plan" (totals), "frames" (path, done, total), "done" (path, status).
IngestProgress = Callable[[str, dict[str, Any]], None]


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)  # same content, new stat or new path (moved)
    partial: list[str] = field(default_factory=list)  # indexed, but the analysis was cut short (damaged file)
    failed: list[tuple[str, str]] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    interrupted: bool = False  # Ctrl-C: what was committed stays, the next run does the rest
    seconds: float = 0.0
    video_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"added": self.added, "updated": self.updated, "unchanged": len(self.unchanged),
                "touched": self.touched, "partial": self.partial,
                "failed": [{"path": p, "error": e} for p, e in self.failed], "pruned": self.pruned,
                "interrupted": self.interrupted,
                "seconds": round(self.seconds, 3), "video_seconds": round(self.video_seconds, 3)}


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Video files under the given files, folders (recursive) and globs; and what was passed over, with why
    (missing paths, empty patterns, named pipes, devices, dangling links and link loops)."""
    found: dict[str, Path] = {}
    missing: list[tuple[str, str]] = []
    for item in paths:
        text = str(item)
        candidates: list[Path]
        if any(c in text for c in "*?["):
            candidates = [Path(p) for p in sorted(glob.glob(text, recursive=True))]
            if not candidates:
                missing.append((text, "no file matches this pattern"))
        elif Path(text).is_dir():
            candidates = sorted(p for p in Path(text).rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES
                                and not any(part.startswith(".") for part in p.relative_to(text).parts))
        elif Path(text).exists() or Path(text).is_symlink():
            candidates = [Path(text)]
        else:
            missing.append((text, "no such file or folder"))
            continue
        for path in candidates:
            if path.is_file():
                resolved = path.resolve()
                found.setdefault(str(resolved), resolved)
            elif (reason := why_not_a_file(path)) is not None:
                missing.append((str(path), reason))
    return list(found.values()), missing


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def analyse_for_library(path: str, analyzers: Sequence[str], options: dict[str, dict[str, Any]] | None = None,
                        progress: Callable[[int, int | None], None] | None = None,
                        blur_faces: bool = False) -> VideoRecord:
    """Analyse one video and build everything the catalog stores for it (runs in a worker process).

    ``blur_faces``: the thumbnails stored are written with the faces blurred (``info["blur_faces"]`` says so)."""
    from .. import pipeline
    from ..analyzers import create_analyzers
    from .facts import FactsBuilder

    source = Path(path)
    stat = source.stat()
    built = create_analyzers(list(analyzers), options, blur_faces=blur_faces)
    analysis = pipeline.run(source, built,
                            progress=(lambda done, total, _elapsed: progress(done, total)) if progress else None)
    try:
        timeline = analysis.timeline
        if timeline.analysis.get("interrupted"):
            raise AnalysisInterrupted("interrupted by the user; this video was not indexed", path=source)
        timeline.analysis["blur_faces"] = bool(blur_faces)
        rows, vectors = FactsBuilder(analysis).build()
        data = timeline.to_dict()
        video = data["video"]
        info = {k: video.get(k) for k in ("duration", "fps", "frame_count", "width", "height", "codec", "has_audio")}
        info["blur_faces"] = bool(blur_faces)
        return VideoRecord(path=str(source), size=stat.st_size, mtime_ns=stat.st_mtime_ns,
                           sha256=video.get("sha256") or file_sha256(source), info=info, timeline=data,
                           complete=timeline.complete, warnings=list(timeline.warnings),
                           analyzers=list(analyzers), segments=rows, vectors=vectors)
    finally:
        analysis.discard()


# -- worker processes -------------------------------------------------------------------------------

_queue: Any = None
#: How often a worker checks that the process that started it is still there (the portable fallback).
PARENT_POLL_S = 0.2


def _worker_init(threads: int, queue: Any, parent: int) -> None:
    global _queue
    os.environ["VIDLENS_THREADS"] = str(threads)  # workers share the cores instead of each taking all
    _queue = queue
    _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    """End this worker as soon as ``parent`` is gone (SIGTERM, kill -9, a crash): a worker holds about 1 GB.

    The worker's temporary files live in a folder of its own, removed when it exits, however it exits.
    Linux is told to send SIGTERM at the parent's death (``PR_SET_PDEATHSIG``); everywhere, a thread also
    polls the parent's pid, because a signal handler waits for the main thread to leave a long C call and
    a thread does not.
    """
    root = tempfile.mkdtemp(prefix="vidlens-worker-")
    tempfile.tempdir = root  # everything the analysis writes to temp goes here

    def leave(*_args: Any) -> None:
        shutil.rmtree(root, ignore_errors=True)
        os._exit(1)  # at once: no queue feeder, pool or atexit handler may wait for a parent that is gone

    multiprocessing.util.Finalize(None, shutil.rmtree, args=(root,), kwargs={"ignore_errors": True},
                                  exitpriority=10)
    signal.signal(signal.SIGTERM, leave)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass  # the thread below still does it

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        leave()

    if os.getppid() != parent:  # the parent died before we could ask to be told
        leave()
    threading.Thread(target=watch, name="vidlens-parent-watch", daemon=True).start()


def _worker_run(path: str, analyzers: Sequence[str], options: dict[str, dict[str, Any]] | None,
                blur_faces: bool = False) -> VideoRecord:
    last = [0.0]

    def report(done: int, total: int | None) -> None:
        now = time.monotonic()
        if _queue is not None and now - last[0] > 0.25:
            last[0] = now
            _queue.put((path, done, total))

    return analyse_for_library(path, analyzers, options, report, blur_faces)


@dataclass
class _Job:
    path: Path
    size: int
    mtime_ns: int
    sha256: str | None
    replaces: bool


def plan(library: Any, files: Sequence[Path], report: IngestReport, *, blur_faces: bool = False) -> list[_Job]:
    """Which files need analysing; unchanged ones are recorded, touched and moved ones updated in place.

    With ``blur_faces``, a video indexed without it is analysed again: its stored thumbnails show faces."""
    catalog = library.catalog
    by_path = {v.path: v for v in catalog.videos()}
    by_hash: dict[str, list[Any]] = {}
    by_size: dict[int, list[Any]] = {}
    for v in by_path.values():
        by_size.setdefault(v.size, []).append(v)
        if v.sha256:
            by_hash.setdefault(v.sha256, []).append(v)
    jobs = []
    for path in files:
        try:
            stat = path.stat()
        except OSError as error:
            report.failed.append((str(path), f"cannot read: {error.strerror or error}"))
            continue
        known = by_path.get(str(path))
        if blur_faces and known and not catalog.video_info(known.id).get("blur_faces"):
            jobs.append(_Job(path, stat.st_size, stat.st_mtime_ns, None, replaces=True))
            continue
        if known and known.size == stat.st_size and known.mtime_ns == stat.st_mtime_ns:
            report.unchanged.append(str(path))
            continue
        # hash now only when it can spare an analysis (a touched file, a move); else the pipeline hashes it
        vanished = [v for v in by_size.get(stat.st_size, []) if v.path != str(path) and not Path(v.path).exists()]
        if known is None and not vanished:
            jobs.append(_Job(path, stat.st_size, stat.st_mtime_ns, None, replaces=False))
            continue
        try:
            digest = file_sha256(path)
        except OSError as error:
            report.failed.append((str(path), f"cannot read: {error.strerror or error}"))
            continue
        if known and known.sha256 == digest:
            catalog.touch(known.id, stat.st_size, stat.st_mtime_ns)
            report.touched.append(str(path))
            continue
        moved = next((v for v in by_hash.get(digest, []) if v.path != str(path) and not Path(v.path).exists()), None)
        if moved is not None and known is None:
            catalog.touch(moved.id, stat.st_size, stat.st_mtime_ns, path=str(path))
            by_hash[digest].remove(moved)
            report.touched.append(str(path))
            continue
        jobs.append(_Job(path, stat.st_size, stat.st_mtime_ns, digest, replaces=known is not None))
    return jobs


def ingest(library: Any, paths: Iterable[str | Path], *, workers: int = 1,
           analyzers: Sequence[str] | None = None, options: dict[str, dict[str, Any]] | None = None,
           progress: IngestProgress | None = None, blur_faces: bool | None = None,
           wait: bool = True) -> IngestReport:
    """Index the videos under ``paths`` into ``library``; see the module docstring for what is skipped.

    ``blur_faces`` None follows the library's setting (:attr:`Library.blur_faces`); True or False also
    changes that setting for every later run.

    One ingest at a time per library (its writer lock): while another one runs, this waits for it (a
    "wait" progress event says so) and then finds what it did unchanged; with ``wait=False`` it raises
    :class:`UsageError` instead.
    """
    if workers < 1:
        raise UsageError(f"workers must be at least 1, got {workers}")
    names = tuple(analyzers) if analyzers else INDEX_ANALYZERS
    from ..analyzers import create_analyzers

    create_analyzers(names, options, blur_faces=bool(blur_faces))  # a bad name or option fails now, not in a worker
    notify = progress or (lambda event, detail: None)
    with library.writing(wait=wait, on_wait=lambda message: notify("wait", {"message": message})):
        if blur_faces is not None:
            library.blur_faces = blur_faces
        return _ingest(library, paths, workers, names, options, notify, bool(library.blur_faces))


def _ingest(library: Any, paths: Iterable[str | Path], workers: int, names: tuple[str, ...],
            options: dict[str, dict[str, Any]] | None, notify: IngestProgress, blur: bool) -> IngestReport:
    started = time.monotonic()
    report = IngestReport()
    library.catalog.quick_check()  # a damaged catalog would call damaged videos "unchanged"
    files, missing = discover(paths)
    report.failed += missing
    jobs = plan(library, files, report, blur_faces=blur)
    notify("plan", {"files": len(files), "todo": len(jobs), "unchanged": len(report.unchanged),
                    "touched": len(report.touched)})

    def commit(job: _Job, record: VideoRecord | None, error: str | None) -> None:
        if record is not None:
            try:
                library.put(record)
            except Exception as exc:
                if is_disk_full(exc):
                    raise disk_full(exc, f"adding {job.path} to the library (the videos indexed so far are kept)",
                                    path=library.folder) from exc
                raise
            (report.updated if job.replaces else report.added).append(str(job.path))
            if not record.complete:
                report.partial.append(str(job.path))
            report.video_seconds += float(record.info.get("duration") or 0.0)
        else:
            reason = error or "unknown error"
            prefix = f"{job.path}: "
            report.failed.append((str(job.path), reason[len(prefix):] if reason.startswith(prefix) else reason))
        notify("done", {"path": str(job.path), "ok": record is not None, "error": error})

    try:
        if workers == 1 or len(jobs) <= 1:
            for job in jobs:
                def frames(done: int, total: int | None, p: str = str(job.path)) -> None:
                    notify("frames", {"path": p, "done": done, "total": total})

                notify("start", {"path": str(job.path)})
                record, error = _guarded(lambda j=job, f=frames: analyse_for_library(str(j.path), names, options, f,
                                                                                     blur))
                commit(job, record, error)
        else:
            _run_pool(jobs, names, options, workers, commit, notify, blur)
    except KeyboardInterrupt:
        report.interrupted = True
    finally:
        report.seconds = time.monotonic() - started
        library.flush()
    return report


def _analysing() -> str:
    """Where a full disk stopped an analysis: its temporary files (keyframes, thumbnails) go to the temp folder."""
    return (f"analysing, in the temporary folder {tempfile.gettempdir()} ($TMPDIR moves it); the videos indexed so"
            " far are kept")


def _guarded(run: Callable[[], VideoRecord]) -> tuple[VideoRecord | None, str | None]:
    try:
        return run(), None
    except AnalysisInterrupted:
        raise
    except Exception as error:
        if is_disk_full(error):  # every other video would fail the same way: stop, keep what is committed
            raise disk_full(error, _analysing()) from error
        if isinstance(error, VidlensError):
            return None, str(error)
        # one bad file must not stop the run; the list at the end names it
        return None, f"{type(error).__name__}: {error}"


def _run_pool(jobs: list[_Job], names: Sequence[str], options: dict[str, dict[str, Any]] | None, workers: int,
              commit: Callable[[_Job, VideoRecord | None, str | None], None], notify: IngestProgress,
              blur_faces: bool = False) -> None:
    context = multiprocessing.get_context("spawn")  # ONNX Runtime sessions and threads do not survive fork
    queue = context.Queue()  # not a Manager's: that is one more process, and it outlives a killed parent
    threads = max(1, (os.cpu_count() or 1) // workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init,
                             initargs=(threads, queue, os.getpid())) as pool:
        pending: dict[Future[VideoRecord], _Job] = {}
        todo = list(jobs)
        while todo or pending:
            while todo and len(pending) < workers * 2:
                job = todo.pop(0)
                notify("start", {"path": str(job.path)})
                pending[pool.submit(_worker_run, str(job.path), names, options, blur_faces)] = job
            done, _ = wait(pending, timeout=0.3, return_when=FIRST_COMPLETED)
            while True:
                try:
                    path, frames_done, total = queue.get_nowait()
                except Empty:
                    break
                notify("frames", {"path": path, "done": frames_done, "total": total})
            for future in done:
                job = pending.pop(future)
                try:
                    record, error = future.result(), None
                except AnalysisInterrupted:
                    raise
                except Exception as exc:
                    if is_disk_full(exc):
                        for other in pending:
                            other.cancel()
                        raise disk_full(exc, _analysing()) from exc
                    record, error = None, str(exc) if isinstance(exc, VidlensError) else f"{type(exc).__name__}: {exc}"
                commit(job, record, error)


def prune(library: Any, under: Iterable[str | Path] | None = None, *,
          on_wait: Callable[[str], None] | None = None) -> list[str]:
    """Forget videos whose files no longer exist (only those under the given folders, if any)."""
    roots = [str(Path(p).resolve()) for p in under] if under else None
    with library.writing(on_wait=on_wait):
        return _prune(library, roots)


def _prune(library: Any, roots: list[str] | None) -> list[str]:
    gone = []
    for video in library.catalog.videos():
        if roots is not None and not any(video.path == r or video.path.startswith(r.rstrip(os.sep) + os.sep)
                                         for r in roots):
            continue
        if not Path(video.path).exists():
            library.remove(video.id)
            gone.append(video.path)
    library.flush()
    return gone
