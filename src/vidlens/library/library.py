"""A library folder: the catalog (truth) and the vector indexes (caches of the catalog's vectors).

``catalog.sqlite`` holds everything; ``vectors/<kind>.faiss`` are FAISS indexes over the catalog's
float16 vectors. When an index disagrees with the catalog (a run killed after a commit but before the
index was saved, a deleted or damaged index file), it is rebuilt from the catalog the first time it is
used, so the folder always opens and answers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from ..errors import UsageError, VidlensError, disk_full, is_disk_full
from ..files import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, write_bytes_atomic
from ..paths import check_output_path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
from .catalog import REPAIR_HINT, Catalog, CatalogDamagedError, VideoRecord, is_damage
from .vectors import CorruptIndexError, FaissIndex, VectorStore, ids_checksum

log = logging.getLogger(__name__)

CATALOG_FILE = "catalog.sqlite"
VECTORS_FOLDER = "vectors"
THUMBS_FOLDER = "thumbs"
#: Held (``flock``) by the one process writing the library: ``index``, ``library prune``, ``check --repair``.
LOCK_FILE = "lock"
LIBRARY_ENV = "VIDLENS_LIBRARY"
BLUR_FACES_SETTING = "blur_faces"
#: Seconds between index saves during a long ingest (a kill then costs at most a rebuild, never data).
SAVE_EVERY_S = 60.0


def default_library_dir() -> Path:
    """``$VIDLENS_LIBRARY``, else ``$XDG_DATA_HOME/vidlens/library`` (``~/.local/share/vidlens/library``)."""
    if os.environ.get(LIBRARY_ENV):
        return Path(os.environ[LIBRARY_ENV]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "vidlens" / "library"


class Library:
    """Open (or create) the library in ``folder``. Use as a context manager, or call :meth:`close`."""

    def __init__(self, folder: str | Path | None = None, *, create: bool = True) -> None:
        self.folder = Path(folder).expanduser() if folder is not None else default_library_dir()
        if not (self.folder / CATALOG_FILE).exists():
            if not create:
                raise UsageError(f"no library in {self.folder} (index some videos first: vidlens index PATH)")
            check_output_path(self.folder, folder=True)
            self.folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            # created owner-only before SQLite opens it (its -wal and -shm files then get the same mode)
            os.close(os.open(self.folder / CATALOG_FILE, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
        self.catalog = Catalog(self.folder / CATALOG_FILE)
        self.store = VectorStore(self.folder / VECTORS_FOLDER)
        self._verified: set[str] = set()
        self._dirty: set[str] = set()
        self._dims: dict[str, int] = {}
        self._saved_at = time.monotonic()
        self.rebuilt: list[str] = []  # vector kinds rebuilt from the catalog since opening
        self._lock_fd: int | None = None
        self._lock_depth = 0

    def __enter__(self) -> Library:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        try:
            self.close()
        except Exception as closing:
            if error is None:
                raise _explained(closing) from closing
        if error is not None and (better := _explained(error)) is not error:
            raise better from error  # a damaged catalog or a full disk: one line that says what to do

    def close(self) -> None:
        try:
            self.flush(force=True)
        finally:
            self.catalog.close()
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the lock
                self._lock_fd = None

    @contextmanager
    def writing(self, *, wait: bool = True, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold the library's writer lock: one ``index`` (or prune, repair) at a time; reentrant.

        Another process holding it: with ``wait``, ``on_wait(message)`` is called once and this blocks
        until it is released (Ctrl-C still works); else :class:`UsageError` says who holds it. Readers
        (search, stats, check) never wait for it: SQLite lets them read while one process writes.
        """
        if self._lock_depth == 0:
            self._acquire(wait, on_wait)
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0 and self._lock_fd is not None:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _acquire(self, wait: bool, on_wait: Callable[[str], None] | None) -> None:
        if self._lock_fd is None:
            self._lock_fd = lock_folder(self.folder, wait=wait, on_wait=on_wait)
        elif fcntl is not None:
            _flock(self._lock_fd, self.folder, wait, on_wait)

    # -- vectors ----------------------------------------------------------------------------------

    def index(self, kind: str, dim: int | None = None) -> FaissIndex | None:
        """The index of ``kind``, checked against the catalog once per opening (rebuilt if they differ)."""
        if kind not in self._verified:
            self._verify(kind)
        if dim is None:
            dim = self._dims.get(kind)
        if dim is None:
            info = self.store.info(kind)
            if info is None:
                return None
            dim = info.dim
        self._dims[kind] = dim
        return self.store.index(kind, dim)

    def _verify(self, kind: str) -> None:
        ids = self.catalog.vector_ids(kind)  # the check needs ids only; vectors are read for a rebuild
        try:
            info = self.store.info(kind)
            ok = info is not None and info.count == len(ids) and info.ids_sha256 == ids_checksum(ids)
            if ok and info is not None:
                self.store.index(kind, info.dim)  # loads: a damaged file raises here
                self._dims[kind] = info.dim
        except CorruptIndexError:
            ok = False
        if not ok:
            if len(ids):
                ids, vectors = self.catalog.vectors(kind)
                self.store.rebuild(kind, ids, vectors, save=False)
                self._dims[kind] = int(vectors.shape[1])
                self.rebuilt.append(kind)
                self._save_rebuilt(kind)
            else:
                self.store.drop(kind)
        self._verified.add(kind)

    def _save_rebuilt(self, kind: str) -> None:
        """Save an index just rebuilt from the catalog, if this process may write: a writer does; a reader
        (search, stats, check) only when no writer holds the library and the disk has room, else it
        keeps the index in memory for this run (the catalog is the truth; the file is a cache)."""
        if self._lock_depth:
            self._dirty.add(kind)
            self.flush(force=True)
            return
        try:
            with self.writing(wait=False):
                self.store.save(kind)
        except UsageError:
            log.info("%s: another process is writing the library; the rebuilt %s index stays in memory",
                     self.folder, kind)
        except (OSError, RuntimeError) as error:  # full, read-only, not ours: the file is only a cache
            if isinstance(error, RuntimeError) and not is_disk_full(error):
                raise
            log.info("%s: cannot save the rebuilt %s index (%s); it stays in memory", self.folder, kind, error)

    def put(self, record: VideoRecord) -> int:
        """Add or replace one video (catalog first, atomically; then the indexes)."""
        kinds = set(self.catalog.vector_kinds()) | set(record.vectors)
        for kind in kinds:
            if kind not in self._verified:
                self._verify(kind)
        video_id, ids, removed = self.catalog.put_video(record)
        self._drop_thumbnails(removed)
        for kind in kinds:
            vectors = record.vectors.get(kind)
            dim = int(vectors.shape[1]) if vectors is not None and len(vectors) else None
            index = self.index(kind, dim)
            if index is None:
                continue
            if removed:
                index.remove(np.asarray(removed, np.int64))
            if vectors is not None and len(vectors):
                index.add(np.asarray(ids, np.int64), np.asarray(vectors, np.float32))
            self._dirty.add(kind)
        self.flush()
        return video_id

    def remove(self, video_id: int) -> None:
        kinds = self.catalog.vector_kinds()
        for kind in kinds:
            if kind not in self._verified:
                self._verify(kind)
        removed = self.catalog.remove_video(video_id)
        self._drop_thumbnails(removed)
        for kind in kinds:
            index = self.index(kind)
            if index is not None and removed:
                index.remove(np.asarray(removed, np.int64))
                self._dirty.add(kind)
        self.flush()

    def flush(self, force: bool = False) -> None:
        """Save changed indexes (every ``SAVE_EVERY_S`` seconds, or now with ``force``)."""
        if not self._dirty or (not force and time.monotonic() - self._saved_at < SAVE_EVERY_S):
            return
        for kind in sorted(self._dirty):
            try:
                self.store.save(kind)
            except (OSError, RuntimeError) as error:
                if is_disk_full(error):  # the old file stays whole (atomic save); the next run rebuilds it
                    self._dirty.clear()
                    raise disk_full(error, f"saving the {kind} vector index", path=self.store.path(kind)) from None
                raise
        self._dirty.clear()
        self._saved_at = time.monotonic()

    def search_vectors(self, kind: str, query: np.ndarray, k: int,
                       allowed: list[int] | None = None) -> list[tuple[int, float]]:
        """``(segment id, cosine)`` best first for one query vector."""
        index = self.index(kind)
        if index is None or len(index) == 0:
            return []
        scores, ids = index.search(np.asarray(query, np.float32)[None], k,
                                   allowed_ids=None if allowed is None else np.asarray(allowed, np.int64))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    # -- files for results ------------------------------------------------------------------------

    def _drop_thumbnails(self, segment_ids: list[int]) -> None:
        """Forget the cached JPEGs of removed segments: a new segment can get the same id, and must not be
        shown the old picture (a sharp face after a re-index with ``blur_faces``, a video that was removed)."""
        for segment_id in segment_ids:
            (self.folder / THUMBS_FOLDER / f"{segment_id}.jpg").unlink(missing_ok=True)

    def thumbnail_path(self, segment_id: int) -> Path | None:
        """The segment's keyframe as a JPEG file (written from the catalog on first use)."""
        path = self.folder / THUMBS_FOLDER / f"{segment_id}.jpg"
        if path.exists():
            return path
        data = self.catalog.thumbnail(segment_id)
        if not data:
            return None
        made = not path.parent.exists()
        try:
            return write_bytes_atomic(path, data)
        except OSError:  # full, read-only, not ours
            with contextlib.suppress(OSError):
                if made:
                    path.parent.rmdir()
            return None  # a result without its picture rather than no result (the thumbnail is a cache)

    # -- settings ---------------------------------------------------------------------------------

    @property
    def blur_faces(self) -> bool:
        """Whether every ``index`` into this library blurs faces in the thumbnails it stores (``index
        --blur-faces`` turns it on for good, ``--no-blur-faces`` off)."""
        return self.catalog.setting(BLUR_FACES_SETTING) == "1"

    @blur_faces.setter
    def blur_faces(self, on: bool) -> None:
        self.catalog.set_setting(BLUR_FACES_SETTING, "1" if on else "0")

    def check(self) -> dict[str, Any]:
        """Integrity of the catalog (SQLite's page check, the full-text index's own check, our consistency
        checks) and agreement of every vector index with it. Reads only, except that an index found stale
        is rebuilt from the catalog and saved when no other process is writing and the disk has room
        (else it is rebuilt in memory only). A damaged catalog: see :meth:`repair`."""
        problems = self.catalog.check()
        if not problems:
            for kind in self.catalog.vector_kinds():
                self._verified.discard(kind)
                self._verify(kind)
        return {"ok": not problems, "problems": problems, "rebuilt": sorted(set(self.rebuilt)),
                "hint": REPAIR_HINT if problems else None}

    def repair(self, on_wait: Callable[[str], None] | None = None) -> dict[str, Any]:
        """Check, and rebuild what can be rebuilt: a damaged catalog is copied row by row into a new one
        (:func:`vidlens.library.repair.recover_catalog`: only whole videos are kept; the others are
        analysed again by the next ``index``), then the full-text and vector indexes are rebuilt from it."""
        from .repair import recover_catalog

        with self.writing(on_wait=on_wait):
            problems = self.catalog.check()
            recovery = None
            if problems:
                self._dirty.clear()
                self.catalog.close()
                try:
                    recovery = recover_catalog(self.folder / CATALOG_FILE, self.store.names())
                finally:
                    self.catalog = Catalog(self.folder / CATALOG_FILE)
                for name in self.store.names():
                    self.store.drop(name)
                shutil.rmtree(self.folder / THUMBS_FOLDER, ignore_errors=True)
                self._verified.clear()
                self._dims.clear()
            for kind in self.catalog.vector_kinds():
                self._verified.discard(kind)
                self._verify(kind)
            remaining = self.catalog.check()
        return {"ok": not remaining, "problems": problems, "remaining": remaining,
                "recovered": recovery.to_dict() if recovery else None, "rebuilt": sorted(set(self.rebuilt))}

    def stats(self) -> dict[str, Any]:
        out = self.catalog.stats()
        out["folder"] = str(self.folder)
        out["blur_faces"] = self.blur_faces
        out["indexes"] = {}
        for kind in self.catalog.vector_kinds():
            index = self.index(kind)
            if index is not None:
                out["indexes"][kind] = {"dim": index.dim, "count": len(index), "structure": index.structure.value}
        return out


def lock_folder(folder: Path, *, wait: bool = True, on_wait: Callable[[str], None] | None = None) -> int | None:
    """Take the writer lock of the library in ``folder``; returns the file descriptor that holds it (close it,
    or ``flock(fd, LOCK_UN)``, to release), None where there is no ``flock`` (Windows)."""
    if fcntl is None:  # one writer at a time is then up to the user
        return None
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _flock(fd, folder, wait, on_wait)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _flock(fd: int, folder: Path, wait: bool, on_wait: Callable[[str], None] | None) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "?"
        message = f"another vidlens (pid {holder}) is writing to the library {folder}"
        if not wait:
            raise UsageError(f"{message}; try again when it has finished") from None
        if on_wait is not None:
            on_wait(f"{message}; waiting for it to finish (Ctrl-C to stop)")
        fcntl.flock(fd, fcntl.LOCK_EX)
    with contextlib.suppress(OSError):  # who holds it, for the message above: best effort (a full disk)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)


def repair_library(folder: str | Path | None = None, *,
                   on_wait: Callable[[str], None] | None = None) -> dict[str, Any]:
    """:meth:`Library.repair` for the library in ``folder``, also when its catalog is too damaged to open."""
    from .repair import recover_catalog

    path = Path(folder).expanduser() if folder is not None else default_library_dir()
    recovered = None
    try:
        lib = Library(path, create=False)
    except CatalogDamagedError as error:
        fd = lock_folder(path, on_wait=on_wait)
        try:
            recovered = recover_catalog(path / CATALOG_FILE, VectorStore(path / VECTORS_FOLDER).names())
        finally:
            if fd is not None:
                os.close(fd)
        lib = Library(path, create=False)
        problem = str(error)
    with lib:
        result = lib.repair(on_wait=on_wait)
    if recovered is not None:
        result["problems"] = [problem, *result["problems"]]
        result["recovered"] = recovered.to_dict()
    return result


def _explained(error: BaseException) -> BaseException:
    """A damaged catalog or a full disk met while using the library, as the one-line error that says what to
    do; any other error unchanged."""
    if isinstance(error, VidlensError):
        return error
    if is_disk_full(error):
        return disk_full(error, "writing to the library")
    if is_damage(error):
        return CatalogDamagedError(f"the library catalog is damaged ({error}); {REPAIR_HINT}")
    return error
