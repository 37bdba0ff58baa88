"""The library's catalog: one SQLite file (WAL) that is the source of truth for everything indexed.

Videos, their search segments (shots cut into moments), tags for filtering, the facts in an FTS5
table and every vector (float16) live here; the FAISS indexes are caches rebuilt from the ``vectors``
table whenever they disagree with the catalog's generation. One video is written in one transaction,
so a process killed at any moment leaves either the whole video or none of it, and SQLite's journal
makes the file itself survive a kill -9.

The class is the seam a server database would replace: callers use its methods, never SQL.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError, VidlensError, disk_full, is_disk_full

SCHEMA_VERSION = 1
#: The longest --path pattern taken (a path is at most 4096 bytes on Linux).
MAX_PATH_PATTERN = 4096
FTS_COLUMNS = ("labels", "objects", "text", "other")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS videos(
    id INTEGER PRIMARY KEY,
    path TEXT UNIQUE NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT,
    duration REAL, fps REAL, frame_count INTEGER, width INTEGER, height INTEGER,
    info TEXT NOT NULL,
    timeline BLOB,
    complete INTEGER NOT NULL,
    warnings TEXT NOT NULL,
    analyzers TEXT NOT NULL,
    indexed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')));
CREATE INDEX IF NOT EXISTS videos_sha256 ON videos(sha256);
CREATE TABLE IF NOT EXISTS segments(
    id INTEGER PRIMARY KEY,
    video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL, shot INTEGER NOT NULL,
    start_frame INTEGER NOT NULL, end_frame INTEGER NOT NULL,
    start_time REAL NOT NULL, end_time REAL NOT NULL,
    facts TEXT NOT NULL,
    data TEXT NOT NULL,
    thumbnail BLOB);
CREATE INDEX IF NOT EXISTS segments_video ON segments(video_id, start_frame);
CREATE TABLE IF NOT EXISTS tags(
    segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    kind TEXT NOT NULL, name TEXT NOT NULL, value REAL NOT NULL);
CREATE INDEX IF NOT EXISTS tags_name ON tags(kind, name);
CREATE INDEX IF NOT EXISTS tags_segment ON tags(segment_id);
CREATE TABLE IF NOT EXISTS vectors(
    kind TEXT NOT NULL,
    segment_id INTEGER NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    vec BLOB NOT NULL,
    PRIMARY KEY(kind, segment_id)) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS facts_fts USING fts5(labels, objects, text, other,
    tokenize = 'porter unicode61 remove_diacritics 2');
"""


class CatalogError(VidlensError):
    """The catalog file is missing, damaged or from an incompatible vidlens."""

    exit_code = 2


class CatalogDamagedError(CatalogError):
    """SQLite found damage in the catalog (a bad page, a broken full-text index): ``library check --repair``."""

    exit_code = 3


#: What every message about a damaged catalog tells the user to run.
REPAIR_HINT = "run `vidlens library check --repair` (it keeps a copy of the damaged file)"


def _no_space(folder: Path) -> bool:
    """Whether the file system of ``folder`` has no block left (SQLite says "disk I/O error" when it cannot
    size its shared-memory file on a full disk)."""
    try:
        return os.statvfs(folder).f_bavail == 0
    except (OSError, AttributeError):
        return False


def _read_only_storage(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


def is_damage(error: BaseException) -> bool:
    """Whether a ``sqlite3`` error means the file is damaged (not busy, not full, not a bad query)."""
    if not isinstance(error, sqlite3.DatabaseError):
        return False
    if (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF in (11, 26):  # SQLITE_CORRUPT, SQLITE_NOTADB
        return True
    text = str(error)
    return any(m in text for m in ("malformed", "Could not decode", "not a database", "corrupt"))


@dataclass
class SegmentRow:
    """One searchable moment as the ingest hands it over (``data`` holds moments, labels, objects...)."""

    idx: int
    shot: int
    start_frame: int
    end_frame: int
    start_time: float
    end_time: float
    facts: str
    fts: dict[str, str]
    tags: list[tuple[str, str, float]]
    data: dict[str, Any]
    thumbnail: bytes | None = None


@dataclass
class VideoRecord:
    """Everything indexed for one video, committed in one transaction."""

    path: str
    size: int
    mtime_ns: int
    sha256: str | None
    info: dict[str, Any]
    timeline: dict[str, Any] | None
    complete: bool
    warnings: list[str]
    analyzers: list[str]
    segments: list[SegmentRow] = field(default_factory=list)
    vectors: dict[str, np.ndarray] = field(default_factory=dict)  # kind -> float32 [len(segments), dim]


@dataclass(frozen=True)
class VideoEntry:
    id: int
    path: str
    size: int
    mtime_ns: int
    sha256: str | None
    complete: bool


class Catalog:
    """The SQLite catalog of a library folder. Not thread-safe; one writer process at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.read_only_fallback = False  # opened without SQLite's shared-memory file: the disk is full
        shm = Path(f"{self.path}-shm")
        had_shm = shm.exists()
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            io_error = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF == 10  # SQLITE_IOERR
            if is_disk_full(exc) or (io_error and _no_space(self.path.parent)):
                with contextlib.suppress(sqlite3.DatabaseError):
                    self.db.close()
                if self.path.exists() and self._open_without_shared_memory():
                    with contextlib.suppress(OSError):
                        if not had_shm and shm.stat().st_size < 32768:  # ours, from the attempt that failed
                            shm.unlink()
                    return
                raise disk_full(exc, "opening the library catalog", path=self.path) from None
            if self.path.exists() and _read_only_storage(self.path.parent) and self._open_immutable():
                return
            if is_damage(exc):
                raise CatalogDamagedError(f"{self.path}: the library catalog is damaged ({exc}); {REPAIR_HINT}") \
                    from None
            raise CatalogError(f"{self.path}: not a usable library catalog ({exc})") from None

    def _open(self) -> None:
        self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)
        self._check_version(create=True)

    def _open_without_shared_memory(self) -> bool:
        """On a full disk SQLite cannot create the ``-shm`` file WAL readers share; in exclusive locking mode it
        keeps that index in memory instead, so searches, stats and checks still read (a writer waits)."""
        def connect() -> sqlite3.Connection:
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA locking_mode=EXCLUSIVE")
            db.execute("PRAGMA foreign_keys=ON")
            return db

        return self._open_for_reading(connect)

    def _open_immutable(self) -> bool:
        """On read-only storage (a snapshot, a backup disk) SQLite cannot make the files WAL readers share;
        nothing can change the file there, so it is read as immutable."""
        return self._open_for_reading(lambda: sqlite3.connect(f"{self.path.resolve().as_uri()}?immutable=1", uri=True,
                                                              isolation_level=None))

    def _open_for_reading(self, connect: Callable[[], sqlite3.Connection]) -> bool:
        """Open with ``connect`` for reading only; False (nothing left open) when even that fails."""
        try:
            self.db = connect()
            self._check_version(create=False)
        except sqlite3.DatabaseError:
            with contextlib.suppress(sqlite3.DatabaseError, AttributeError):
                self.db.close()
            return False
        self.read_only_fallback = True
        return True

    def _check_version(self, create: bool) -> None:
        version = self._meta("schema_version")
        if version is None and create:
            self._set_meta("schema_version", str(SCHEMA_VERSION))
            self._set_meta("generation", "0")
        elif version is None or int(version) != SCHEMA_VERSION:
            raise CatalogError(f"{self.path}: library schema {version}, this vidlens reads {SCHEMA_VERSION}")

    def close(self) -> None:
        self.db.close()

    # -- transactions and bookkeeping -------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing; every write bumps the generation the vector indexes are checked against."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
            self.db.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:  # SQLite may have rolled back already (a full disk, an I/O error)
                self.db.execute("ROLLBACK")
            raise

    @property
    def generation(self) -> int:
        return int(self._meta("generation") or 0)

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def setting(self, key: str) -> str | None:
        """A library-wide setting (``meta`` row ``setting:KEY``), None when never set."""
        return self._meta(f"setting:{key}")

    def set_setting(self, key: str, value: str) -> None:
        self._set_meta(f"setting:{key}", value)  # autocommit: the setting holds from now on

    def check(self) -> list[str]:
        """Problems found by SQLite's integrity check, the full-text index's own check and our consistency
        checks (empty = healthy). Reads only; a damaged file gives problems, never an exception."""
        steps: list[tuple[str, Any]] = [
            ("SQLite integrity check", lambda: [r[0] for r in self.db.execute("PRAGMA integrity_check")
                                                if r[0] != "ok"]),
            ("foreign keys", lambda: [f"foreign key: {r}" for r in self.db.execute("PRAGMA foreign_key_check")]),
            ("full-text index", self._fts_check),
            ("full-text rows", lambda: [f"{n} full-text rows without a segment" for (n,) in self.db.execute(
                "SELECT count(*) FROM facts_fts WHERE rowid NOT IN (SELECT id FROM segments)") if n]),
            ("segments", lambda: [f"{n} segments without a full-text row" for (n,) in self.db.execute(
                "SELECT count(*) FROM segments WHERE id NOT IN (SELECT rowid FROM facts_fts)") if n]),
        ]
        problems: list[str] = []
        for what, run in steps:
            try:
                problems += run()
            except sqlite3.DatabaseError as error:
                problems.append(f"{what}: {error}")
        return problems

    def _fts_check(self) -> list[str]:
        """FTS5's own check (its index against its content); it reports damage by raising. It is written as an
        INSERT but changes nothing; where the catalog cannot be written (read-only storage) it is skipped."""
        try:
            self.db.execute("INSERT INTO facts_fts(facts_fts, rank) VALUES ('integrity-check', 0)")
        except sqlite3.DatabaseError as error:
            if (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF != 8:  # SQLITE_READONLY
                raise
        return []

    def quick_check(self) -> None:
        """Raise :class:`CatalogDamagedError` if SQLite's quick check (every page, not the indexes' content)
        finds damage: cheap enough to run before every ingest."""
        try:
            bad = [r[0] for r in self.db.execute("PRAGMA quick_check") if r[0] != "ok"]
        except sqlite3.DatabaseError as error:
            bad = [str(error)]
        if bad:
            raise CatalogDamagedError(f"the library catalog is damaged ({bad[0]}); {REPAIR_HINT}", path=self.path)

    # -- videos -----------------------------------------------------------------------------------

    def videos(self) -> list[VideoEntry]:
        rows = self.db.execute("SELECT id, path, size, mtime_ns, sha256, complete FROM videos ORDER BY path")
        return [VideoEntry(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows]

    def video_by_path(self, path: str) -> VideoEntry | None:
        r = self.db.execute("SELECT id, path, size, mtime_ns, sha256, complete FROM videos WHERE path = ?",
                            (path,)).fetchone()
        return VideoEntry(r[0], r[1], r[2], r[3], r[4], bool(r[5])) if r else None

    def video_info(self, video_id: int) -> dict[str, Any]:
        r = self.db.execute("SELECT path, info, complete, warnings FROM videos WHERE id = ?", (video_id,)).fetchone()
        if r is None:
            raise CatalogError(f"no video {video_id} in the library")
        return {"id": video_id, "path": r[0], **json.loads(r[1]), "complete": bool(r[2]),
                "warnings": json.loads(r[3])}

    def timeline(self, video_id: int) -> dict[str, Any] | None:
        r = self.db.execute("SELECT timeline FROM videos WHERE id = ?", (video_id,)).fetchone()
        return json.loads(zlib.decompress(r[0])) if r and r[0] is not None else None

    def touch(self, video_id: int, size: int, mtime_ns: int, path: str | None = None) -> None:
        """Record a new stat (and path, for a moved file) for content that did not change."""
        with self.transaction() as db:
            if path is None:
                db.execute("UPDATE videos SET size = ?, mtime_ns = ? WHERE id = ?", (size, mtime_ns, video_id))
            else:
                db.execute("UPDATE videos SET size = ?, mtime_ns = ?, path = ? WHERE id = ?",
                           (size, mtime_ns, path, video_id))

    def put_video(self, record: VideoRecord) -> tuple[int, list[int], list[int]]:
        """Add (or replace) one video atomically. Returns its id, its new segment ids and the removed ones."""
        with self.transaction() as db:
            old = db.execute("SELECT id FROM videos WHERE path = ?", (record.path,)).fetchone()
            removed = self._delete_video(db, old[0]) if old else []
            info = record.info
            cur = db.execute(
                "INSERT INTO videos(path, size, mtime_ns, sha256, duration, fps, frame_count, width, height, info,"
                " timeline, complete, warnings, analyzers) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (record.path, record.size, record.mtime_ns, record.sha256, info.get("duration"), info.get("fps"),
                 info.get("frame_count"), info.get("width"), info.get("height"), json.dumps(info),
                 zlib.compress(json.dumps(record.timeline).encode()) if record.timeline is not None else None,
                 int(record.complete), json.dumps(record.warnings), json.dumps(record.analyzers)))
            video_id = int(cur.lastrowid or 0)
            ids = []
            for seg in record.segments:
                cur = db.execute(
                    "INSERT INTO segments(video_id, idx, shot, start_frame, end_frame, start_time, end_time, facts,"
                    " data, thumbnail) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (video_id, seg.idx, seg.shot, seg.start_frame, seg.end_frame, seg.start_time, seg.end_time,
                     seg.facts, json.dumps(seg.data), seg.thumbnail))
                sid = int(cur.lastrowid or 0)
                ids.append(sid)
                db.execute("INSERT INTO facts_fts(rowid, labels, objects, text, other) VALUES (?,?,?,?,?)",
                           (sid, *(seg.fts.get(c, "") for c in FTS_COLUMNS)))
                db.executemany("INSERT INTO tags(segment_id, kind, name, value) VALUES (?,?,?,?)",
                               [(sid, k, n, v) for k, n, v in seg.tags])
            for kind, vectors in record.vectors.items():
                if len(vectors) != len(ids):
                    raise ValueError(f"{kind}: {len(vectors)} vectors for {len(ids)} segments")
                db.executemany("INSERT INTO vectors(kind, segment_id, vec) VALUES (?,?,?)",
                               [(kind, sid, np.asarray(v, np.float16).tobytes()) for sid, v in zip(ids, vectors)])
        return video_id, ids, removed

    def remove_video(self, video_id: int) -> list[int]:
        """Forget one video and everything derived from it; returns the removed segment ids."""
        with self.transaction() as db:
            return self._delete_video(db, video_id)

    @staticmethod
    def _delete_video(db: sqlite3.Connection, video_id: int) -> list[int]:
        ids = [r[0] for r in db.execute("SELECT id FROM segments WHERE video_id = ?", (video_id,))]
        db.execute("DELETE FROM facts_fts WHERE rowid IN (SELECT id FROM segments WHERE video_id = ?)", (video_id,))
        db.execute("DELETE FROM videos WHERE id = ?", (video_id,))  # segments, tags, vectors cascade
        return ids

    # -- segments, vectors, text search -----------------------------------------------------------

    def segments(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Segment rows by id, with their video's path (for results)."""
        out: dict[int, dict[str, Any]] = {}
        for chunk in _chunks(list(ids), 500):
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT s.id, s.video_id, v.path, s.idx, s.shot, s.start_frame, s.end_frame, s.start_time,"
                f" s.end_time, s.facts, s.data, v.fps FROM segments s JOIN videos v ON v.id = s.video_id"
                f" WHERE s.id IN ({marks})", chunk)
            for r in rows:
                out[r[0]] = {"id": r[0], "video_id": r[1], "path": r[2], "idx": r[3], "shot": r[4],
                             "start_frame": r[5], "end_frame": r[6], "start_time": r[7], "end_time": r[8],
                             "facts": r[9], **json.loads(r[10]), "fps": r[11]}
        return out

    def video_segments(self, video_id: int) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT id FROM segments WHERE video_id = ? ORDER BY start_frame",
                                              (video_id,))]

    def thumbnail(self, segment_id: int) -> bytes | None:
        r = self.db.execute("SELECT thumbnail FROM segments WHERE id = ?", (segment_id,)).fetchone()
        return r[0] if r else None

    def vectors(self, kind: str, ids: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(ids int64 [N], float32 [N, D])`` of one kind, all of them or the given segments."""
        if ids is None:
            rows = list(self.db.execute("SELECT segment_id, vec FROM vectors WHERE kind = ? ORDER BY segment_id",
                                        (kind,)))
        else:
            rows = []
            for chunk in _chunks(list(ids), 500):
                marks = ",".join("?" * len(chunk))
                rows += self.db.execute(f"SELECT segment_id, vec FROM vectors WHERE kind = ? AND segment_id IN"
                                        f" ({marks}) ORDER BY segment_id", (kind, *chunk)).fetchall()
        if not rows:
            return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
        ids_out = np.fromiter((r[0] for r in rows), np.int64, len(rows))
        vecs = np.stack([np.frombuffer(r[1], np.float16) for r in rows]).astype(np.float32)
        return ids_out, vecs

    def vector_ids(self, kind: str) -> np.ndarray:
        """The segment ids holding a vector of ``kind``, int64, without reading the vectors."""
        rows = self.db.execute("SELECT segment_id FROM vectors WHERE kind = ? ORDER BY segment_id", (kind,))
        return np.fromiter((r[0] for r in rows), np.int64)

    def vector_kinds(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT kind FROM vectors")]

    def full_text(self, match: str, limit: int, allowed: Iterable[int] | None = None) -> list[tuple[int, float]]:
        """``(segment id, BM25 score)`` best first; ``match`` is an FTS5 query (callers build it safely)."""
        sql = "SELECT rowid, -bm25(facts_fts) FROM facts_fts WHERE facts_fts MATCH ?"
        params: list[Any] = [match]
        if allowed is not None:
            allowed = list(allowed)
            if not allowed:
                return []
            sql += " AND rowid IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(allowed))
        sql += " ORDER BY bm25(facts_fts) LIMIT ?"
        params.append(limit)
        try:
            return [(int(r[0]), float(r[1])) for r in self.db.execute(sql, params)]
        except sqlite3.OperationalError:
            return []  # a query FTS5 cannot parse matches nothing rather than failing the search

    def filter_segments(self, *, path_glob: str | None = None, tags: Sequence[tuple[str, str]] = (),
                        start: float | None = None, end: float | None = None) -> list[int] | None:
        """Segment ids passing the filters, or None when there is no filter (everything passes)."""
        where, params = [], []
        if path_glob:
            if len(path_glob) > MAX_PATH_PATTERN:  # SQLite refuses long patterns ("too complex")
                raise UsageError(f"the path pattern is {len(path_glob)} characters long; at most {MAX_PATH_PATTERN}")
            where.append("v.path GLOB ?")
            params.append(path_glob if any(c in path_glob for c in "*?[") else f"*{path_glob}*")
        for kind, name in tags:
            if kind:
                where.append("EXISTS (SELECT 1 FROM tags t WHERE t.segment_id = s.id AND t.kind = ? AND t.name = ?)")
                params += [kind, name]
            else:
                where.append("EXISTS (SELECT 1 FROM tags t WHERE t.segment_id = s.id AND t.name = ?)")
                params.append(name)
        if start is not None:
            where.append("s.end_time > ?")
            params.append(start)
        if end is not None:
            where.append("s.start_time < ?")
            params.append(end)
        if not where:
            return None
        sql = "SELECT s.id FROM segments s JOIN videos v ON v.id = s.video_id WHERE " + " AND ".join(where)
        return [r[0] for r in self.db.execute(sql, params)]

    def stats(self) -> dict[str, Any]:
        one = self.db.execute("SELECT count(*), coalesce(sum(duration), 0), coalesce(sum(size), 0),"
                              " coalesce(sum(1 - complete), 0) FROM videos").fetchone()
        segments = self.db.execute("SELECT count(*) FROM segments").fetchone()[0]
        kinds = dict(self.db.execute("SELECT kind, count(*) FROM vectors GROUP BY kind").fetchall())
        top = self.db.execute("SELECT kind, name, count(*) AS n FROM tags WHERE kind IN ('label', 'category', 'object')"
                              " GROUP BY kind, name ORDER BY n DESC LIMIT 15").fetchall()
        return {"videos": one[0], "partial_videos": one[3], "hours": round(one[1] / 3600, 3), "bytes": one[2],
                "segments": segments, "vectors": kinds, "generation": self.generation,
                "catalog_bytes": self.path.stat().st_size if self.path.exists() else 0,
                "top_tags": [{"kind": k, "name": n, "segments": c} for k, n, c in top]}


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i: i + size]
