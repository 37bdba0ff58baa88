"""A library folder: the catalog (truth) and the vector indexes (caches of the catalog's vectors).

``catalog.sqlite`` holds everything; ``vectors/<kind>.faiss`` are FAISS indexes over the catalog's
float16 vectors. When an index disagrees with the catalog (a run killed after a commit but before the
index was saved, a deleted or damaged index file), it is rebuilt from the catalog the first time it is
used, so the folder always opens and answers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from ..errors import UsageError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
from .catalog import Catalog, VideoRecord
from .vectors import CorruptIndexError, FaissIndex, VectorStore, ids_checksum

CATALOG_FILE = "catalog.sqlite"
VECTORS_FOLDER = "vectors"
THUMBS_FOLDER = "thumbs"
#: Held (``flock``) by the one process writing the library: ``index``, ``library prune``, ``check --repair``.
LOCK_FILE = "lock"
LIBRARY_ENV = "VIDLENS_LIBRARY"
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
            if self.folder.exists() and not self.folder.is_dir():
                raise UsageError(f"{self.folder} is not a folder")
            self.folder.mkdir(parents=True, exist_ok=True)
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
        self.close()

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
        (search, stats, check) never take it: SQLite lets them read while one process writes.
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
        if fcntl is None:  # no flock (Windows): one writer at a time is then up to the user
            return
        path = self.folder / LOCK_FILE
        if self._lock_fd is None:
            self._lock_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._lock_fd, 64, 0).decode("ascii", "replace").strip() or "?"
            message = f"another vidlens (pid {holder}) is writing to the library {self.folder}"
            if not wait:
                raise UsageError(f"{message}; try again when it has finished") from None
            if on_wait is not None:
                on_wait(f"{message}; waiting for it to finish (Ctrl-C to stop)")
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, f"{os.getpid()}\n".encode("ascii"), 0)

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
                self.store.rebuild(kind, ids, vectors)
                self._dims[kind] = int(vectors.shape[1])
                self.rebuilt.append(kind)
            else:
                self.store.drop(kind)
        self._verified.add(kind)

    def put(self, record: VideoRecord) -> int:
        """Add or replace one video (catalog first, atomically; then the indexes)."""
        kinds = set(self.catalog.vector_kinds()) | set(record.vectors)
        for kind in kinds:
            if kind not in self._verified:
                self._verify(kind)
        video_id, ids, removed = self.catalog.put_video(record)
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
            self.store.save(kind)
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

    def thumbnail_path(self, segment_id: int) -> Path | None:
        """The segment's keyframe as a JPEG file (written from the catalog on first use)."""
        path = self.folder / THUMBS_FOLDER / f"{segment_id}.jpg"
        if path.exists():
            return path
        data = self.catalog.thumbnail(segment_id)
        if not data:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return path

    def check(self) -> dict[str, Any]:
        """Integrity of the catalog and agreement of every index with it (indexes found stale are rebuilt)."""
        problems = self.catalog.check()
        for kind in self.catalog.vector_kinds():
            self._verified.discard(kind)
            self._verify(kind)
        return {"ok": not problems, "problems": problems, "rebuilt": sorted(set(self.rebuilt))}

    def stats(self) -> dict[str, Any]:
        out = self.catalog.stats()
        out["folder"] = str(self.folder)
        out["indexes"] = {}
        for kind in self.catalog.vector_kinds():
            index = self.index(kind)
            if index is not None:
                out["indexes"][kind] = {"dim": index.dim, "count": len(index), "structure": index.structure.value}
        return out
