"""Vector indexes: inner-product top-k over id-tagged vectors (cosine on unit vectors), saved so they never corrupt.

The catalog (SQLite) is the source of truth and keeps every vector; an index here is a disposable
accelerator that can always be rebuilt from it (:meth:`VectorStore.rebuild`). That decides the design:

* **Exact while small, approximate when large.** Below ``IndexSettings.ann_threshold`` vectors a flat
  scan is fast enough, exact and cheap to update; past it an ``"auto"`` index converts itself once to
  the ANN structure (HNSW or IVF), keeping its ids. ``kind="exact"|"hnsw"|"ivf"`` pins a structure.
* **Removal everywhere.** Flat and IVF remove natively; HNSW cannot, so removed ids become tombstones
  excluded by an ``IDSelector`` at search time, and the graph is rebuilt on save once tombstones pass
  ``compact_fraction`` of it.
* **Filters are correct first.** ``allowed_ids`` restricts a search to a subset (one video, a path
  glob...). The flat scan filters exactly; an ANN index scores a small subset exactly from its
  stored vectors and widens its search (efSearch / nprobe) in proportion to the subset for a large one.
* **Saving never leaves a half-written index**: the FAISS file is written beside its target, fsynced and
  renamed, then a JSON sidecar (dim, structure, count, checksum of the ids, generation, checksum of the
  file) is written the same way. Loading checks the file against the sidecar, so a truncated, damaged
  or mismatched file raises :class:`CorruptIndexError` and the caller rebuilds from the catalog.

The :class:`VectorIndex` protocol is all search code relies on, so a server-side vector database can
replace :class:`FaissIndex` later.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import faiss
import numpy as np

from ..errors import UsageError, VidlensError
from ..files import PRIVATE_DIR_MODE, replacing, write_bytes_atomic
from ..runtime import default_threads

#: The sidecar's format tag; bump it when a field changes meaning.
FORMAT = "vidlens.vectors/1"

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class CorruptIndexError(VidlensError, ValueError):
    """A saved vector index is truncated, damaged or does not match its sidecar: rebuild it from the catalog."""

    exit_code = 2


class IndexKind(str, Enum):
    """How an index searches. ``AUTO`` is exact until ``IndexSettings.ann_threshold``, then ``ann_kind``."""

    AUTO = "auto"
    EXACT = "exact"
    HNSW = "hnsw"
    IVF = "ivf"


@dataclass(frozen=True)
class IndexSettings:
    """Knobs of :class:`FaissIndex`. ``bench/vector_search.py`` measured the HNSW defaults at 1M × 384 clustered
    vectors: recall@10 0.994, p95 0.6 ms (efSearch 32 falls to 0.93); IVF with ``nprobe`` 32 is enough from
    ~200k vectors on such data, but a 10k-vector IVF needs 128 (its lists are too coarse).

    ``ann_threshold``: an ``AUTO`` index converts to ``ann_kind`` when it grows past this many vectors.
    ``hnsw_*``: graph degree and build/search beam widths. ``ivf_nprobe``: lists scanned per query
    (the list count is ``4·√N`` of the training set). ``filter_exact_max``: an ANN index answers a
    filtered search exactly when at most this many ids are allowed. ``compact_fraction``: an HNSW index
    is rebuilt on save once this fraction of its vectors are tombstones.
    """

    ann_threshold: int = 200_000
    ann_kind: IndexKind = IndexKind.HNSW
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 64
    ivf_nprobe: int = 32
    filter_exact_max: int = 20_000
    compact_fraction: float = 0.1

    def __post_init__(self) -> None:
        try:
            kind = IndexKind(self.ann_kind)
        except ValueError:
            raise UsageError(f"ann_kind must be 'hnsw' or 'ivf', got {self.ann_kind!r}") from None
        if kind not in (IndexKind.HNSW, IndexKind.IVF):
            raise UsageError(f"ann_kind must be 'hnsw' or 'ivf', got {kind.value!r}")
        object.__setattr__(self, "ann_kind", kind)
        for field in ("ann_threshold", "hnsw_m", "hnsw_ef_construction", "hnsw_ef_search", "ivf_nprobe",
                      "filter_exact_max"):
            if int(getattr(self, field)) < 1:
                raise UsageError(f"{field} must be at least 1, got {getattr(self, field)}")
        if not 0.0 < self.compact_fraction <= 1.0:
            raise UsageError(f"compact_fraction must be in (0, 1], got {self.compact_fraction}")


@dataclass(frozen=True)
class IndexInfo:
    """What a sidecar records about a saved index; the catalog compares ``count`` and ``ids_sha256`` with its own."""

    dim: int
    kind: IndexKind  # what was asked for (may be AUTO)
    structure: IndexKind  # what the file holds: EXACT, HNSW or IVF
    count: int  # live vectors (tombstones excluded)
    ids_sha256: str  # ids_checksum() of the live ids
    generation: int  # +1 on every save
    index_bytes: int
    index_sha256: str
    faiss_version: str


@runtime_checkable
class VectorIndex(Protocol):
    """Top-k inner-product search over vectors tagged with int64 ids (ids ≥ 0; -1 pads missing results)."""

    @property
    def dim(self) -> int: ...

    def __len__(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add ``vectors`` (float32 ``[N, dim]``) under new ``ids`` (int64 ``[N]``)."""

    def remove(self, ids: np.ndarray) -> int:
        """Remove the given ids (unknown ones are ignored); return how many were removed."""

    def search(self, queries: np.ndarray, k: int,
               allowed_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` per query: ``(scores float32 [Q, k], ids int64 [Q, k])``, padded with ``-inf`` / ``-1``."""

    def save(self, path: str | Path) -> IndexInfo: ...

    @classmethod
    def load(cls, path: str | Path) -> VectorIndex: ...


#: Query batches smaller than this search on one thread. FAISS parallelises over queries, so a few
#: queries gain nothing from more threads, and on a busy 2-core machine the waiting OpenMP workers
#: made single queries 4x (flat) to 22x (HNSW) slower at 100k x 384 (bench/RESULTS.md, "Vector search").
SMALL_BATCH = 16

_threads = 0  # set_threads(); 0 = runtime.default_threads()


def set_threads(threads: int | None = None) -> int:
    """Threads FAISS uses to build indexes and search large batches: ``threads``, else ``runtime.default_threads()``
    (``VIDLENS_THREADS``). Process-wide: every index operation applies it to the thread it runs on (OpenMP's
    setting is per thread, so calling ``faiss.omp_set_num_threads`` once would miss server worker threads)."""
    global _threads
    _threads = int(threads or default_threads())
    return _threads


@contextlib.contextmanager
def _omp_threads(rows: int | None = None) -> Iterator[None]:
    """Run FAISS on this thread with the configured thread count, or one thread for a small query batch."""
    wanted = 1 if rows is not None and rows < SMALL_BATCH else (_threads or default_threads())
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(wanted)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def ids_checksum(ids: np.ndarray) -> str:
    """SHA-256 of the sorted ids as little-endian int64: the same set of ids gives the same string anywhere."""
    return hashlib.sha256(np.sort(np.asarray(ids, dtype="<i8").ravel()).tobytes()).hexdigest()


def sidecar_path(path: str | Path) -> Path:
    """The JSON sidecar beside an index file (``visual.faiss`` → ``visual.json``)."""
    return Path(path).with_suffix(".json")


def read_info(path: str | Path) -> IndexInfo:
    """The saved index's sidecar, without loading the index (cheap: for catalog consistency checks)."""
    return IndexInfo(**{k: v for k, v in _read_sidecar(Path(path)).items() if k in IndexInfo.__dataclass_fields__})


class FaissIndex:
    """A :class:`VectorIndex` on FAISS: exact flat scan, HNSW graph or IVF lists, chosen by ``kind``."""

    def __init__(self, dim: int, kind: IndexKind | str = IndexKind.AUTO, settings: IndexSettings | None = None) -> None:
        if int(dim) < 1:
            raise UsageError(f"vector dimension must be at least 1, got {dim}")
        try:
            self._kind = IndexKind(kind)
        except ValueError:
            raise UsageError(f"index kind must be one of auto, exact, hnsw, ivf; got {kind!r}") from None
        self._dim = int(dim)
        self.settings = settings or IndexSettings()
        self.generation = 0
        self._lock = threading.RLock()
        self._ids = np.empty(0, np.int64)  # sorted live ids
        self._tombstones = np.empty(0, np.int64)  # sorted removed ids still in an HNSW graph
        self._skip_tombstones: tuple[Any, Any] | None = None  # (IDSelectorNot, its IDSelectorBatch), built once
        # An IVF index trains on its first batch, so it is an empty flat index until then.
        self._structure = IndexKind.HNSW if self._kind is IndexKind.HNSW else IndexKind.EXACT
        self._index = self._new_index(self._structure)

    # -- what it is -------------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def kind(self) -> IndexKind:
        """The kind asked for (``AUTO`` stays ``AUTO`` after the switch; see :attr:`structure`)."""
        return self._kind

    @property
    def structure(self) -> IndexKind:
        """What searches now: ``EXACT``, ``HNSW`` or ``IVF``."""
        return self._structure

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self) -> np.ndarray:
        """The live ids, sorted (a copy)."""
        with self._lock:
            return self._ids.copy()

    def checksum(self) -> str:
        """:func:`ids_checksum` of the live ids."""
        with self._lock:
            return ids_checksum(self._ids)

    def __repr__(self) -> str:
        return f"FaissIndex(dim={self._dim}, kind={self._kind.value}, structure={self._structure.value}, n={len(self)})"

    # -- updates ----------------------------------------------------------------------------------

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under new ids. An id already present is an error (remove it first: no silent duplicates)."""
        ids = _as_ids(ids)
        vectors = self._as_vectors(vectors, "vectors")
        if len(ids) != len(vectors):
            raise UsageError(f"{len(ids)} ids for {len(vectors)} vectors")
        if len(ids) == 0:
            return
        if (ids < 0).any():
            raise UsageError("vector ids must be >= 0 (-1 marks a missing result)")
        if len(np.unique(ids)) != len(ids):
            raise UsageError("the same id appears twice in one add()")
        with self._lock, _omp_threads():
            present = ids[_isin_sorted(ids, self._ids)]
            if len(present):
                raise UsageError(f"{len(present)} ids are already in the index (e.g. {int(present[0])}); "
                                 "remove them first")
            if len(self._tombstones) and _isin_sorted(ids, self._tombstones).any():
                self._compact()  # a tombstoned id would hide its new vector
            grow_to_ann = (self._kind is IndexKind.AUTO and self._structure is IndexKind.EXACT
                           and len(self) + len(ids) > self.settings.ann_threshold)
            train_ivf = self._kind is IndexKind.IVF and self._structure is IndexKind.EXACT
            if grow_to_ann or train_ivf:
                old_ids, old_vectors = self._export()
                if len(old_ids):
                    ids, vectors = np.concatenate([old_ids, ids]), np.concatenate([old_vectors, vectors])
                self._replace(self.settings.ann_kind if grow_to_ann else IndexKind.IVF, ids, vectors)
                return
            self._index.add_with_ids(vectors, ids)
            new = np.sort(ids)
            self._ids = np.insert(self._ids, np.searchsorted(self._ids, new), new)  # O(N), no re-sort

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids; unknown ids are ignored. Returns how many were removed."""
        ids = np.unique(_as_ids(ids))
        with self._lock:
            gone = ids[_isin_sorted(ids, self._ids)]
            if len(gone) == 0:
                return 0
            if self._structure is IndexKind.HNSW:
                self._tombstones = np.union1d(self._tombstones, gone)
                self._skip_tombstones = None
            elif self._structure is IndexKind.IVF:  # a hashtable direct map only removes by IDSelectorArray
                self._index.remove_ids(faiss.IDSelectorArray(len(gone), faiss.swig_ptr(gone)))
            else:
                self._index.remove_ids(faiss.IDSelectorBatch(gone))
            self._ids = np.setdiff1d(self._ids, gone, assume_unique=True)
            return len(gone)

    # -- search -----------------------------------------------------------------------------------

    def search(self, queries: np.ndarray, k: int,
               allowed_ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` ids per query by inner product, optionally only among ``allowed_ids``.

        Returns ``(scores float32 [Q, k], ids int64 [Q, k])`` sorted by decreasing score; rows with fewer
        than ``k`` candidates are padded with score ``-inf`` and id ``-1``. A 1-D query is one row.
        """
        q = self._as_vectors(np.atleast_2d(queries), "queries")
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise UsageError(f"k must be a positive integer, got {k!r}")
        k = int(k)
        with self._lock, _omp_threads(len(q)):
            allowed = None
            if allowed_ids is not None:
                allowed = np.unique(_as_ids(allowed_ids))
                allowed = allowed[_isin_sorted(allowed, self._ids)]  # live ones only
            if len(self) == 0 or len(q) == 0 or (allowed is not None and len(allowed) == 0):
                return _empty_results(len(q), k)
            if (allowed is not None and self._structure is not IndexKind.EXACT
                    and len(allowed) <= self.settings.filter_exact_max):
                return _exact_top_k(q, self._index.reconstruct_batch(allowed), allowed, k)
            candidates = len(self) if allowed is None else len(allowed)
            scores, found = self._search_faiss(q, k, allowed, candidates, widen=1)
            short = (found >= 0).sum(axis=1) < min(k, candidates)
            if short.any() and self._structure is not IndexKind.EXACT:  # a thin filter starved the beam
                scores[short], found[short] = self._search_faiss(q[short], k, allowed, candidates, widen=8)
            scores[found < 0] = -np.inf
            return scores, found

    def _search_faiss(self, q: np.ndarray, k: int, allowed: np.ndarray | None, candidates: int,
                      widen: int) -> tuple[np.ndarray, np.ndarray]:
        """One FAISS search; the selector objects stay referenced here until it returns."""
        s = self.settings
        selector = faiss.IDSelectorBatch(allowed) if allowed is not None else None  # allowed has no tombstones
        if selector is None and len(self._tombstones):
            if self._skip_tombstones is None:
                batch = faiss.IDSelectorBatch(self._tombstones)
                self._skip_tombstones = (faiss.IDSelectorNot(batch), batch)  # keep both: Not points into batch
            selector = self._skip_tombstones[0]
        share = candidates / max(1, self._index.ntotal)  # widen the search for a thin subset
        if self._structure is IndexKind.HNSW:
            ef = min(4096, math.ceil(max(s.hnsw_ef_search, k) * widen / share))
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(ef, k))
        elif self._structure is IndexKind.IVF:
            nprobe = min(self._index.nlist, math.ceil(s.ivf_nprobe * widen / share))
            params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
        return self._index.search(q, k, params=params)

    # -- persistence ------------------------------------------------------------------------------

    def save(self, path: str | Path) -> IndexInfo:
        """Write ``path`` (FAISS) and its sidecar atomically; compacts an HNSW graph full of tombstones first."""
        path = Path(path)
        with self._lock, _omp_threads():
            if len(self._tombstones) > self.settings.compact_fraction * self._index.ntotal:
                self._compact()
            with replacing(path, suffix=".tmp") as tmp:
                # through Python, not FAISS's own FILE*: that one only prints a failed close (a full disk)
                # and leaves a short file behind as if it had been written
                with open(tmp, "wb") as handle:
                    faiss.write_index(self._index, faiss.PyCallbackIOWriter(handle.write))
                size, digest = _file_sha256(tmp, fsync=True)
            self.generation += 1
            info = IndexInfo(dim=self._dim, kind=self._kind, structure=self._structure, count=len(self),
                             ids_sha256=ids_checksum(self._ids), generation=self.generation, index_bytes=size,
                             index_sha256=digest, faiss_version=faiss.__version__)
            sidecar = {"format": FORMAT, **asdict(info), "kind": self._kind.value,
                       "structure": self._structure.value, "tombstones": self._tombstones.tolist()}
            write_bytes_atomic(sidecar_path(path), json.dumps(sidecar, indent=1).encode("utf-8"), fsync=True)
            _fsync_dir(path.parent)
            return info

    @classmethod
    def load(cls, path: str | Path, settings: IndexSettings | None = None) -> FaissIndex:
        """Read an index saved by :meth:`save`; :class:`CorruptIndexError` if it does not match its sidecar."""
        path = Path(path)
        meta = _read_sidecar(path)
        if not path.is_file():
            raise CorruptIndexError("the index file is missing (its sidecar exists)", path=path)
        size, digest = _file_sha256(path)
        if size != meta["index_bytes"] or digest != meta["index_sha256"]:
            raise CorruptIndexError(f"the index file is truncated or damaged ({size} bytes, sidecar says "
                                    f"{meta['index_bytes']})", path=path)
        try:
            raw = faiss.read_index(str(path))
        except RuntimeError as error:
            raise CorruptIndexError(f"FAISS cannot read the index: {str(error).splitlines()[-1][:200]}",
                                    path=path) from None
        self = cls(meta["dim"], meta["kind"], settings)
        self._structure = IndexKind(meta["structure"])
        self._index = _typed(raw, self._structure, path)
        self._tombstones = np.asarray(meta["tombstones"], dtype=np.int64)
        self._ids = np.setdiff1d(self._stored_ids(), self._tombstones)
        self.generation = int(meta["generation"])
        if (self._index.d != self._dim or len(self._ids) != meta["count"]
                or ids_checksum(self._ids) != meta["ids_sha256"]):
            raise CorruptIndexError("the index's dimension or ids do not match its sidecar", path=path)
        return self

    # -- internals --------------------------------------------------------------------------------

    def _new_index(self, structure: IndexKind, train: np.ndarray | None = None) -> Any:
        s, d = self.settings, self._dim
        if structure is IndexKind.EXACT:
            return faiss.IndexIDMap2(faiss.IndexFlatIP(d))
        if structure is IndexKind.HNSW:
            graph = faiss.IndexHNSWFlat(d, s.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction = s.hnsw_ef_construction
            graph.hnsw.efSearch = s.hnsw_ef_search
            return faiss.IndexIDMap2(graph)
        if train is None or len(train) == 0:
            raise ValueError("an IVF index is built from training vectors")
        nlist = max(1, min(round(4 * math.sqrt(len(train))), len(train) // 39))
        ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        ivf.cp.spherical = True  # centroids on the unit sphere, like the vectors
        sample = train
        if len(train) > 64 * nlist:  # k-means needs ~40-256 points per list, not all of them
            sample = train[np.random.default_rng(0).choice(len(train), 64 * nlist, replace=False)]
        ivf.train(sample)
        ivf.nprobe = s.ivf_nprobe
        ivf.set_direct_map_type(faiss.DirectMap.Hashtable)  # reconstruct(id) and remove by id
        return ivf

    def _replace(self, structure: IndexKind, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Build ``structure`` from scratch over ``ids``/``vectors`` (conversion, IVF training, compaction)."""
        index = self._new_index(structure, vectors)
        index.add_with_ids(vectors, ids)
        self._index, self._structure = index, structure
        self._ids, self._tombstones, self._skip_tombstones = np.sort(ids), np.empty(0, np.int64), None

    def _compact(self) -> None:
        ids, vectors = self._export()
        self._replace(self._structure, ids, vectors)

    def _stored_ids(self) -> np.ndarray:
        """Every id the FAISS structure holds, tombstones included."""
        if self._structure is IndexKind.IVF:
            lists = self._index.invlists
            return np.concatenate([np.empty(0, np.int64)] + [
                faiss.rev_swig_ptr(lists.get_ids(i), lists.list_size(i)).copy()
                for i in range(self._index.nlist) if lists.list_size(i)])
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def _export(self) -> tuple[np.ndarray, np.ndarray]:
        """All live ``(ids, vectors)``, read back from the structure (flat storage keeps them exactly)."""
        ids = self._stored_ids()
        if self._structure is IndexKind.IVF:
            vectors = self._index.reconstruct_batch(ids) if len(ids) else np.empty((0, self._dim), np.float32)
        else:
            inner = faiss.downcast_index(self._index.index)
            storage = faiss.downcast_index(inner.storage) if self._structure is IndexKind.HNSW else inner
            vectors = storage.reconstruct_n(0, storage.ntotal) if storage.ntotal else np.empty((0, self._dim),
                                                                                             np.float32)
        keep = ~_isin_sorted(ids, self._tombstones)
        return ids[keep], vectors[keep]

    def _as_vectors(self, vectors: np.ndarray, what: str) -> np.ndarray:
        v = np.asarray(vectors)
        if v.ndim != 2 or v.shape[1] != self._dim:
            raise UsageError(f"{what} must be [N, {self._dim}], got shape {list(v.shape)}")
        v = np.ascontiguousarray(v, dtype=np.float32)
        if not np.isfinite(v).all():
            raise UsageError(f"{what} contain NaN or infinite values")
        return v


class VectorStore:
    """One :class:`FaissIndex` per named vector space (``"visual"`` 1280-d, ``"facts"`` 384-d...) in a folder.

    Files: ``<name>.faiss`` and its sidecar ``<name>.json``. Indexes load lazily on first use.
    ``threads`` (if given) calls :func:`set_threads`, which is process-wide.
    """

    def __init__(self, folder: str | Path, *, settings: IndexSettings | None = None,
                 threads: int | None = None) -> None:
        self.folder = Path(folder)
        with contextlib.suppress(OSError):  # a reader on a full or read-only disk still opens; saving makes it
            self.folder.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
        self.settings = settings or IndexSettings()
        if threads is not None:
            set_threads(threads)
        self._indexes: dict[str, FaissIndex] = {}
        self._lock = threading.Lock()

    def path(self, name: str) -> Path:
        """The index file of ``name`` (lower-case letters, digits, ``_`` and ``-``)."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise UsageError(f"vector space names are lower-case letters, digits, '_' and '-'; got {name!r}")
        return self.folder / f"{name}.faiss"

    def names(self) -> list[str]:
        """Spaces open in memory or saved in the folder."""
        on_disk = {p.stem for p in self.folder.glob("*.json") if _NAME.match(p.stem)}
        return sorted(on_disk | set(self._indexes))

    def info(self, name: str) -> IndexInfo | None:
        """The saved sidecar of ``name`` (None if never saved); raises :class:`CorruptIndexError` if unreadable."""
        path = self.path(name)
        return read_info(path) if sidecar_path(path).exists() else None

    def index(self, name: str, dim: int, kind: IndexKind | str = IndexKind.AUTO) -> FaissIndex:
        """The index of ``name``: open, loaded from the folder, or new (``kind`` applies only to a new one).

        Raises :class:`CorruptIndexError` if the saved files are damaged (then :meth:`rebuild`), and
        :class:`UsageError` if the saved index has another dimension.
        """
        path = self.path(name)
        with self._lock:
            index = self._indexes.get(name)
            if index is None:
                if sidecar_path(path).exists() or path.exists():
                    index = FaissIndex.load(path, self.settings)
                else:
                    index = FaissIndex(dim, kind, self.settings)
                self._indexes[name] = index
        if index.dim != dim:
            raise UsageError(f"vector space {name!r} holds {index.dim}-d vectors, not {dim}-d")
        return index

    def save(self, name: str) -> IndexInfo:
        """Save one open index (atomically, see :meth:`FaissIndex.save`)."""
        with self._lock:
            index = self._indexes.get(name)
        if index is None:
            raise UsageError(f"vector space {name!r} is not open")
        return index.save(self.path(name))

    def save_all(self) -> dict[str, IndexInfo]:
        """Save every open index."""
        with self._lock:
            names = list(self._indexes)
        return {name: self.save(name) for name in names}

    def rebuild(self, name: str, ids: np.ndarray, vectors: np.ndarray,
                kind: IndexKind | str = IndexKind.AUTO, *, save: bool = True) -> FaissIndex:
        """Recreate ``name`` from the catalog's ``ids`` and ``vectors`` (e.g. float16 blobs), save it and open it.

        Works whatever state the old files are in; the generation continues past the old one's. With
        ``save=False`` it is only opened (in memory; :meth:`save` it later).
        """
        vectors = np.asarray(vectors)
        if vectors.ndim != 2:
            raise UsageError(f"vectors must be [N, dim], got shape {list(vectors.shape)}")
        path = self.path(name)
        index = FaissIndex(vectors.shape[1], kind, self.settings)
        index.add(ids, vectors)
        with self._lock:
            previous = [self._indexes[name].generation] if name in self._indexes else []
            with contextlib.suppress(CorruptIndexError, FileNotFoundError):
                previous.append(read_info(path).generation)
            index.generation = max(previous, default=0)
            if save:
                index.save(path)
            self._indexes[name] = index
        return index

    def drop(self, name: str) -> None:
        """Forget ``name``: close it and delete its files."""
        path = self.path(name)
        with self._lock:
            self._indexes.pop(name, None)
            path.unlink(missing_ok=True)
            sidecar_path(path).unlink(missing_ok=True)


# -- helpers ----------------------------------------------------------------------------------------


def _as_ids(ids: np.ndarray) -> np.ndarray:
    a = np.asarray(ids)
    if a.ndim > 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
        raise UsageError(f"ids must be a 1-D array of integers, got {a.dtype} {list(a.shape)}")
    return np.ascontiguousarray(a.ravel(), dtype=np.int64)


def _isin_sorted(values: np.ndarray, sorted_ids: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_ids)`` in O(len(values) · log N), without re-sorting the big array."""
    if len(sorted_ids) == 0:
        return np.zeros(len(values), bool)
    at = np.minimum(np.searchsorted(sorted_ids, values), len(sorted_ids) - 1)
    return sorted_ids[at] == values


def _empty_results(rows: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((rows, k), -np.inf, np.float32), np.full((rows, k), -1, np.int64)


def _exact_top_k(q: np.ndarray, vectors: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` of ``q @ vectors.T`` by brute force, padded like a FAISS result."""
    scores, found = _empty_results(len(q), k)
    sims = q @ vectors.T
    kk = min(k, len(ids))
    top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
    top_scores = np.take_along_axis(sims, top, axis=1)
    order = np.argsort(-top_scores, axis=1, kind="stable")
    scores[:, :kk] = np.take_along_axis(top_scores, order, axis=1)
    found[:, :kk] = ids[np.take_along_axis(top, order, axis=1)]
    return scores, found


def _typed(raw: Any, structure: IndexKind, path: Path) -> Any:
    """The loaded FAISS object, checked to be the class :meth:`FaissIndex._new_index` builds for ``structure``.

    ``faiss.read_index`` already returns the concrete class; ``downcast_index`` here would make a
    second, non-owning proxy that dangles once ``raw`` is collected.
    """
    index = raw
    expected = faiss.IndexIVFFlat if structure is IndexKind.IVF else faiss.IndexIDMap2
    if not isinstance(index, expected):
        raise CorruptIndexError(f"the file holds a {type(index).__name__}, not a {structure.value} index", path=path)
    return index


def _read_sidecar(path: Path) -> dict[str, Any]:
    sidecar = sidecar_path(path)
    if not sidecar.is_file():
        if path.exists():
            raise CorruptIndexError("the index has no sidecar (an interrupted first save?)", path=path)
        raise FileNotFoundError(f"{path}: no saved vector index")
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        form = meta.get("format")
        meta["kind"], meta["structure"] = IndexKind(meta["kind"]), IndexKind(meta["structure"])
        for key in ("dim", "count", "generation", "index_bytes"):
            meta[key] = int(meta[key])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CorruptIndexError(f"unreadable sidecar: {error}", path=sidecar) from None
    if form != FORMAT:
        raise CorruptIndexError(f"unknown sidecar format {form!r} (expected {FORMAT})", path=sidecar)
    return meta


def _file_sha256(path: Path, *, fsync: bool = False) -> tuple[int, str]:
    """Size and SHA-256 of a file, read in 8 MiB blocks; ``fsync`` flushes it to disk first."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb+" if fsync else "rb") as handle:
        if fsync:
            os.fsync(handle.fileno())
        while block := handle.read(8 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _fsync_dir(folder: Path) -> None:
    """Make the renames in ``folder`` durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
