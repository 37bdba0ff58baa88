"""Repair a damaged catalog: copy every row that can still be read into a new file, keep only whole videos.

SQLite stores each table as a b-tree of pages; a damaged page makes the rows on it (or, for an inner
page, below it) unreadable while the rest still reads. :func:`recover_catalog` scans each table in key
order, steps over what fails (probing forward for the next key that reads), and remembers the key
ranges it could not read. A video is kept only when nothing of it was lost: its row and timeline read,
it has every segment its timeline says it has, and no unreadable range of the tags, vectors or
full-text rows falls among its segments. The others are left out, so the next ``vidlens index`` sees
them as new and analyses them again; the full-text index and the vector indexes are then built afresh
from the rows kept. The damaged file is kept beside the new one, never deleted.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import re
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import FTS_COLUMNS, Catalog

_LOW, _HIGH = -(2**63), 2**63 - 1
#: Vector kinds the ingest writes (others are found in the catalog or the vectors folder).
KNOWN_KINDS = ("visual", "facts", "conse")

_UNREADABLE: Any = object()  # a video row whose info or timeline does not parse
Gap = tuple[int | None, int | None]  # keys read just before and just after an unreadable range (None: open)


@dataclass
class Recovery:
    """What :func:`recover_catalog` kept and left out."""

    videos: int = 0
    segments: int = 0
    removed: list[str] = field(default_factory=list)  # paths of videos left out (analysed again by the next index)
    unreadable_videos: int = 0  # video rows lost with their path (found again by the next index of their folder)
    backup: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"videos": self.videos, "segments": self.segments, "removed": self.removed,
                "unreadable_videos": self.unreadable_videos, "backup": self.backup}


def salvage(db: sqlite3.Connection, table: str, columns: str, key: str, where: str = "",
            params: Sequence[Any] = (), valid: Callable[[tuple], bool] | None = None) -> tuple[list[tuple], list[Gap]]:
    """Every row of ``table`` that reads, in ``key`` order (key first), and the ranges that did not; a row that
    reads but is not ``valid`` (garbage from a damaged page: NULLs, wrong types) counts as unreadable."""
    rows, gaps = _salvage(db, table, columns, key, where, params)
    if valid is None:
        return rows, gaps
    kept: list[tuple] = []
    for i, row in enumerate(rows):
        if _valid(valid, row):
            kept.append(row)
        else:
            after = next((r[0] for r in rows[i + 1:] if _valid(valid, r)), None)
            gaps.append((kept[-1][0] if kept else None, after))
    return kept, gaps


def _valid(check: Callable[[tuple], bool], row: tuple) -> bool:
    try:
        return bool(check(row))
    except (TypeError, ValueError, IndexError):
        return False


def _salvage(db: sqlite3.Connection, table: str, columns: str, key: str, where: str,
             params: Sequence[Any]) -> tuple[list[tuple], list[Gap]]:
    condition = f"{where} AND " if where else ""
    sql = f"SELECT {key}, {columns} FROM {table} WHERE {condition}{key} > ? ORDER BY {key}"
    rows: list[tuple] = []
    gaps: list[Gap] = []
    one = sql + " LIMIT 1"
    last = _LOW
    while True:
        try:
            for row in db.execute(sql, (*params, last)):
                if row[0] <= last:  # a damaged page can hand back keys out of order
                    raise sqlite3.DatabaseError("keys out of order")
                rows.append(tuple(row))
                last = row[0]
            return rows, gaps
        except sqlite3.DatabaseError:
            pass
        # a cursor fails on the row *before* an unreadable one (it reads ahead): go one row at a time here
        try:
            row = db.execute(one, (*params, last)).fetchone()
        except sqlite3.DatabaseError:
            row = None
            resume = _next_readable(db, one, params, last)
            gaps.append((None if last == _LOW else last, resume))
            if resume is None or resume <= last:
                return rows, gaps
            last = resume - 1
            continue
        if row is None or row[0] <= last:
            return rows, gaps
        rows.append(tuple(row))
        last = row[0]


def _next_readable(db: sqlite3.Connection, sql: str, params: Sequence[Any], last: int) -> int | None:
    """The first key after ``last`` from which ``sql`` reads again (None if nothing after it does)."""
    def reads(start: int) -> tuple[bool, Any]:
        try:
            return True, db.execute(sql, (*params, start)).fetchone()
        except sqlite3.DatabaseError:
            return False, None

    step = 1
    while True:
        probe = min(_HIGH, last + step)
        ok, _ = reads(probe)
        if ok:
            break
        if probe == _HIGH:
            return None
        step *= 2
    low, high = last + step // 2 if step > 1 else last, probe  # reads(low) failed (or low == last), reads(high) works
    while high - low > 1:
        middle = (low + high) // 2
        if reads(middle)[0]:
            high = middle
        else:
            low = middle
    _, row = reads(high)
    return None if row is None else int(row[0])


def _in_gaps(key: int, gaps: Iterable[Gap]) -> bool:
    return any((a is None or key >= a) and (b is None or key <= b) for a, b in gaps)


def _expected_segments(timeline: dict[str, Any]) -> int:
    """How many segments the ingest made of this timeline (see ``FactsBuilder.segments``)."""
    return len(timeline.get("segments") or timeline.get("shots") or [])


def recover_catalog(path: Path, extra_kinds: Iterable[str] = ()) -> Recovery:
    """Rebuild the catalog at ``path`` from its readable rows (the file must not be open elsewhere).

    The damaged file (with its ``-wal``/``-shm``) is renamed ``<name>.damaged-<time>``; the new one takes
    its place only once it is complete.
    """
    old = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    try:
        found = _read_all(old, extra_kinds)
    finally:
        old.close()
    videos, segments, tags, vectors, fts, gaps, meta = found
    result = Recovery(unreadable_videos=len(gaps["videos"]))
    lost = _lost_videos(videos, segments, tags, vectors, fts, gaps)
    kept = {v: row for v, row in videos.items() if v not in lost}
    named = [videos[v][1] for v in lost if v in videos]
    result.removed = sorted(p for p in named if isinstance(p, str))
    result.unreadable_videos += len(named) - len(result.removed)  # a row whose path itself is garbage
    kept_segments = [s for s in segments if s[1] in kept]
    kept_ids = {s[0] for s in kept_segments}
    result.videos, result.segments = len(kept), len(kept_segments)
    result.backup = str(_swap_in(path, lambda new: _fill(new, kept, kept_segments, kept_ids, tags, vectors, fts,
                                                          meta)))
    return result


def _lost_videos(videos: dict[int, tuple], segments: list[tuple], tags: list[tuple], vectors: list[tuple],
                 fts: list[tuple], gaps: dict[str, Any]) -> set[int]:
    """The videos whose rows cannot all be trusted: they leave the catalog (and are indexed again)."""
    seg_video = {s[0]: s[1] for s in segments if s[1] in videos}
    by_video: dict[int, list[tuple]] = {}
    for s in segments:
        by_video.setdefault(s[1], []).append(s)

    # lost segments and full-text rows show exactly (a video then lacks some: below); lost tags do not, so
    # every video with a segment in the range of an unreadable run of tags is left out
    tag_keys = [t[0] for t in tags]  # in key order

    def segment_at(key: int | None, before: bool) -> int | None:
        """The segment of the nearest tag read at or before (after) ``key``: where an unreadable run begins (ends)."""
        if key is None:
            return None
        i = bisect.bisect_right(tag_keys, key) - 1 if before else bisect.bisect_left(tag_keys, key)
        return tags[i][1] if 0 <= i < len(tags) else None

    tag_gaps = [(segment_at(a, True), segment_at(b, False)) for a, b in gaps["tags"]]
    lost = {v for s, v in seg_video.items() if _in_gaps(s, tag_gaps)}
    have_vector = {(v[0], v[1]) for v in vectors}
    for kind, kind_gaps in gaps["vectors"].items():  # a segment in an unreadable run that has no vector of it
        lost |= {v for s, v in seg_video.items() if (kind, s) not in have_vector
                 and any((a is None or s > a) and (b is None or s < b) for a, b in kind_gaps)}
    fts_ids = {r[0] for r in fts}
    for video_id, row in videos.items():
        timeline = row[-1]
        mine = by_video.get(video_id, [])
        if (timeline is _UNREADABLE or (timeline is not None and len(mine) != _expected_segments(timeline))
                or any(s[0] not in fts_ids for s in mine)):
            lost.add(video_id)
    return lost


def _swap_in(path: Path, fill: Callable[[Catalog], None]) -> Path:
    """Build a new catalog beside ``path`` with ``fill``, then put it in place; return where the old one went."""
    fresh = path.with_name(f"{path.name}.repairing")
    leftovers = (fresh, Path(f"{fresh}-wal"), Path(f"{fresh}-shm"))
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    new = Catalog(fresh)
    try:
        fill(new)
    except BaseException:
        new.close()
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
        raise
    new.close()
    backup = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
    os.replace(path, backup)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.replace(side, Path(f"{backup}{suffix}"))
    os.replace(fresh, path)
    return backup


def _fill(new: Catalog, kept: dict[int, tuple], kept_segments: list[tuple], kept_ids: set[int], tags: list[tuple],
          vectors: list[tuple], fts: list[tuple], meta: dict[str, str]) -> None:
    """Write the rows kept into the new catalog, in one transaction."""
    with new.transaction() as db:
        db.executemany("INSERT INTO videos(id, path, size, mtime_ns, sha256, duration, fps, frame_count, width,"
                       " height, info, timeline, complete, warnings, analyzers, indexed_at)"
                       " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", [row[:-1] for row in kept.values()])
        db.executemany("INSERT INTO segments(id, video_id, idx, shot, start_frame, end_frame, start_time,"
                       " end_time, facts, data, thumbnail) VALUES (?,?,?,?,?,?,?,?,?,?,?)", kept_segments)
        db.executemany("INSERT INTO tags(segment_id, kind, name, value) VALUES (?,?,?,?)",
                       [t[1:] for t in tags if t[1] in kept_ids])
        db.executemany("INSERT OR IGNORE INTO vectors(kind, segment_id, vec) VALUES (?,?,?)",
                       [v for v in vectors if v[1] in kept_ids])
        db.executemany(f"INSERT INTO facts_fts(rowid, {', '.join(FTS_COLUMNS)}) VALUES (?,?,?,?,?)",
                       [r for r in fts if r[0] in kept_ids])
        generation = int(meta.get("generation", "0") or 0) + 1
        db.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (str(generation),))


def _read_all(db: sqlite3.Connection, extra_kinds: Iterable[str]) -> tuple[Any, ...]:
    gaps: dict[str, Any] = {}
    rows, gaps["videos"] = salvage(db, "videos", "path, size, mtime_ns, sha256, duration, fps, frame_count, width,"
                                   " height, info, timeline, complete, warnings, analyzers, indexed_at", "id")
    videos: dict[int, tuple] = {}
    for row in rows:
        try:
            if not (isinstance(row[1], str) and _ints(*row[2:4], row[12]) and isinstance(row[15], str)):
                raise ValueError("a damaged row")
            json.loads(row[10]), json.loads(row[13]), json.loads(row[14])
            timeline = json.loads(zlib.decompress(row[11])) if row[11] is not None else None
        except (ValueError, TypeError, zlib.error):
            timeline = _UNREADABLE
        videos[row[0]] = (*row, timeline)
    segments, gaps["segments"] = salvage(db, "segments", "video_id, idx, shot, start_frame, end_frame, start_time,"
                                         " end_time, facts, data, thumbnail", "id", valid=_segment_ok)
    tags, gaps["tags"] = salvage(db, "tags", "segment_id, kind, name, value", "rowid", valid=lambda r: (
        _ints(r[1]) and isinstance(r[2], str) and isinstance(r[3], str) and _numbers(r[4])))
    fts, gaps["fts"] = salvage(db, "facts_fts_content", "c0, c1, c2, c3", "id",
                               valid=lambda r: all(isinstance(c, str) for c in r[1:]))
    kinds = set(KNOWN_KINDS) | set(extra_kinds)
    with contextlib.suppress(sqlite3.DatabaseError):  # if unreadable, the kinds above are all the ingest writes
        kinds |= {r[0] for r in db.execute("SELECT DISTINCT kind FROM vectors")
                  if isinstance(r[0], str) and re.fullmatch(r"[a-z0-9_-]{1,64}", r[0])}  # not garbage
    vectors: list[tuple] = []
    gaps["vectors"] = {}
    for kind in sorted(kinds):
        found, gaps["vectors"][kind] = salvage(db, "vectors", "kind, vec", "segment_id", "kind = ?", (kind,),
                                               valid=lambda r: isinstance(r[2], bytes) and len(r[2]) > 0
                                               and len(r[2]) % 2 == 0)
        sizes = [len(v) for _, _, v in found]
        common = max(set(sizes), key=sizes.count) if sizes else 0
        for s, _, v in found:  # a vector of another length than its kind's is garbage too
            if len(v) != common:
                gaps["vectors"][kind].append((s - 1, s + 1))
        found = [r for r in found if len(r[2]) == common]
        vectors += [(k, s, v) for s, k, v in found]
    try:
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError:
        meta = {}
    return videos, segments, tags, vectors, fts, gaps, meta


def _ints(*values: Any) -> bool:
    return all(isinstance(v, int) for v in values)


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) for v in values)


def _segment_ok(r: tuple) -> bool:
    return (_ints(*r[1:6]) and _numbers(r[6], r[7]) and isinstance(r[8], str) and isinstance(r[9], str)
            and isinstance(json.loads(r[9]), dict) and (r[10] is None or isinstance(r[10], bytes)))
