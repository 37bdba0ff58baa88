"""Vector indexes: exact equals brute force, ANN recall, removal, filters, safe persistence, the auto switch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.support.vectors import clustered_unit_vectors, exact_top_k, recall_at_k, uniform_unit_vectors
from vidlens.errors import UsageError, VidlensError
from vidlens.library.vectors import (
    CorruptIndexError,
    FaissIndex,
    IndexKind,
    IndexSettings,
    VectorIndex,
    VectorStore,
    ids_checksum,
    sidecar_path,
)

KINDS = ["exact", "hnsw", "ivf"]
DIM = 32


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """3000 clustered vectors with sparse, shuffled ids (not 0..n-1, so no code can confuse rows and ids),
    and 40 held-out queries from the same distribution."""
    rng = np.random.default_rng(7)
    x = clustered_unit_vectors(3040, DIM, rng, clusters=50)
    ids = rng.permutation(np.arange(3000, dtype=np.int64) * 7 + 11)
    return ids, x[:3000], x[3000:]


def build(kind: str, data, **settings) -> FaissIndex:
    ids, x, _ = data
    index = FaissIndex(DIM, kind, IndexSettings(**settings))
    index.add(ids[:1000], x[:1000])  # two batches: IVF trains on the first, the others grow
    index.add(ids[1000:], x[1000:])
    return index


def true_top(data, k: int, keep: np.ndarray | None = None) -> np.ndarray:
    """The true top-k ids by NumPy brute force, over all vectors or only those whose id is in ``keep``."""
    ids, x, q = data
    mask = np.ones(len(ids), bool) if keep is None else np.isin(ids, keep)
    return ids[mask][exact_top_k(q, x[mask], k)]


def test_faiss_index_implements_the_protocol() -> None:
    assert isinstance(FaissIndex(8), VectorIndex)


def test_exact_search_equals_numpy_brute_force(data) -> None:
    ids, x, q = data
    index = build("exact", data)
    scores, found = index.search(q, 10)
    np.testing.assert_array_equal(found, true_top(data, 10))
    position = {int(i): n for n, i in enumerate(ids)}
    expected = np.einsum("qd,qkd->qk", q, x[[[position[int(i)] for i in row] for row in found]])
    np.testing.assert_allclose(scores, expected, atol=1e-5)
    assert (np.diff(scores, axis=1) <= 1e-6).all()


def test_hnsw_recall_at_10_on_20k_random_unit_vectors() -> None:
    rng = np.random.default_rng(3)
    x = uniform_unit_vectors(20_200, DIM, rng)  # uniform: the hard case for a graph at this dimension
    base, queries = x[:20_000], x[20_000:]
    index = FaissIndex(DIM, "hnsw")
    index.add(np.arange(20_000) + 5, base)
    _, found = index.search(queries, 10)
    assert recall_at_k(found, exact_top_k(queries, base, 10) + 5) >= 0.95


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_ann_recall_on_clustered_vectors(kind: str, data) -> None:
    _, found = build(kind, data).search(data[2], 10)
    assert recall_at_k(found, true_top(data, 10)) >= 0.95


@pytest.mark.parametrize("kind", KINDS)
def test_removed_ids_are_never_returned(kind: str, data) -> None:
    ids, _, q = data
    index = build(kind, data)
    # remove exactly what the queries would find first, plus an unknown id that is ignored
    _, before = index.search(q, 5)
    gone = np.unique(before)
    assert index.remove(np.append(gone, 10**9)) == len(gone)
    assert len(index) == len(ids) - len(gone)
    assert index.remove(gone) == 0
    _, after = index.search(q, 10)
    assert not np.isin(after, gone).any()
    assert (after >= 0).all()  # still 10 results per query
    remaining = np.setdiff1d(ids, gone)
    assert recall_at_k(after, true_top(data, 10, keep=remaining)) >= (1.0 if kind == "exact" else 0.9)
    np.testing.assert_array_equal(index.ids(), np.sort(remaining))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("filter_exact_max", [20_000, 10], ids=["subset-scored-exactly", "faiss-selector"])
def test_allowed_ids_return_the_top_k_among_them(kind: str, filter_exact_max: int, data) -> None:
    ids, _, q = data
    index = build(kind, data, filter_exact_max=filter_exact_max)
    index.remove(ids[:50])
    allowed = np.concatenate([ids[::4], [10**9]])  # a quarter of the ids, some removed, one unknown
    _, found = index.search(q, 10, allowed_ids=allowed)
    assert np.isin(found, np.setdiff1d(ids[::4], ids[:50])).all()
    truth = true_top(data, 10, keep=np.setdiff1d(ids[::4], ids[:50]))
    exact_path = kind == "exact" or filter_exact_max > len(allowed)
    if exact_path:
        np.testing.assert_array_equal(found, truth)
    else:
        assert recall_at_k(found, truth) >= 0.95


@pytest.mark.parametrize("kind", KINDS)
def test_a_filter_with_fewer_than_k_ids_pads_with_minus_one(kind: str, data) -> None:
    ids, _, q = data
    scores, found = build(kind, data).search(q[:2], 5, allowed_ids=ids[:3])
    assert (np.sort(found[:, :3], axis=1) == np.sort(ids[:3])).all()
    assert (found[:, 3:] == -1).all() and np.isneginf(scores[:, 3:]).all()


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip_gives_identical_results(kind: str, data, tmp_path: Path) -> None:
    ids, _, q = data
    index = build(kind, data)
    index.remove(ids[:20])  # few enough that HNSW keeps them as tombstones through the save
    info = index.save(tmp_path / "facts.faiss")
    assert (info.count, info.dim, info.generation) == (len(ids) - 20, DIM, 1)
    assert info.ids_sha256 == ids_checksum(ids[20:])
    loaded = FaissIndex.load(tmp_path / "facts.faiss")
    assert (loaded.structure, len(loaded), loaded.checksum()) == (index.structure, len(index), index.checksum())
    for allowed in (None, ids[::3]):
        a, b = index.search(q, 10, allowed), loaded.search(q, 10, allowed)
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_array_equal(a[0], b[0])
    assert not list(tmp_path.glob("*.tmp"))


def test_hnsw_is_compacted_on_save_when_tombstones_pile_up(data, tmp_path: Path) -> None:
    ids, _, q = data
    index = build("hnsw", data, compact_fraction=0.1)
    index.remove(ids[:600])
    index.save(tmp_path / "v.faiss")
    assert json.loads(sidecar_path(tmp_path / "v.faiss").read_text())["tombstones"] == []
    _, found = FaissIndex.load(tmp_path / "v.faiss").search(q, 10)
    assert not np.isin(found, ids[:600]).any()


@pytest.mark.parametrize("kind", KINDS)
def test_a_removed_id_can_be_added_again_with_a_new_vector(kind: str, data) -> None:
    ids, x, _ = data
    index = build(kind, data)
    index.remove(ids[:5])
    index.add(ids[:5], x[-5:])  # id reused (SQLite may reuse rowids) for another vector
    _, found = index.search(x[-1], 2)
    assert set(found[0].tolist()) == {int(ids[4]), int(ids[-1])}


def test_auto_switches_to_ann_past_the_threshold_and_keeps_ids(data) -> None:
    ids, x, _ = data
    for ann in ("hnsw", "ivf"):
        index = FaissIndex(DIM, "auto", IndexSettings(ann_threshold=2000, ann_kind=ann))
        index.add(ids[:1500], x[:1500])
        assert index.structure is IndexKind.EXACT
        index.remove(ids[:10])
        index.add(ids[1500:], x[1500:])
        assert (index.kind, index.structure) == (IndexKind.AUTO, IndexKind(ann))
        np.testing.assert_array_equal(index.ids(), np.sort(ids[10:]))
        _, found = index.search(x[10:110], 1)  # every vector finds itself under its own id
        np.testing.assert_array_equal(found[:, 0], ids[10:110])


@pytest.mark.parametrize(("call", "message"), [
    (lambda i: i.add([1, 2], np.ones((2, DIM + 1), np.float32)), "must be"),
    (lambda i: i.add([1, 1], np.ones((2, DIM), np.float32)), "twice"),
    (lambda i: i.add([3], np.ones((1, DIM), np.float32)), "already in the index"),
    (lambda i: i.add([-4], np.ones((1, DIM), np.float32)), ">= 0"),
    (lambda i: i.add([1, 2], np.ones((1, DIM), np.float32)), "2 ids for 1 vectors"),
    (lambda i: i.add([9], np.full((1, DIM), np.nan, np.float32)), "NaN"),
    (lambda i: i.add([1.5], np.ones((1, DIM), np.float32)), "integers"),
    (lambda i: i.search(np.ones(DIM, np.float32), 0), "positive integer"),
    (lambda i: i.search(np.ones((1, 3), np.float32), 5), "must be"),
    (lambda i: FaissIndex(DIM, "annoy"), "auto, exact, hnsw, ivf"),
    (lambda i: IndexSettings(ann_kind="exact"), "ann_kind"),
    (lambda i: IndexSettings(compact_fraction=0), "compact_fraction"),
])
def test_bad_input_is_a_usage_error(call, message: str) -> None:
    index = FaissIndex(DIM, "exact")
    index.add([3], np.ones((1, DIM), np.float32))
    with pytest.raises(UsageError, match=message):
        call(index)


def test_empty_index_and_k_beyond_size_are_padded() -> None:
    index = FaissIndex(DIM, "hnsw")
    scores, found = index.search(np.ones((2, DIM), np.float32), 3)
    assert (found == -1).all() and np.isneginf(scores).all()
    index.add([4, 8], np.eye(DIM, dtype=np.float32)[:2])
    scores, found = index.search(np.eye(DIM, dtype=np.float32)[0], 3)
    assert found.tolist() == [[4, 8, -1]] and scores[0, 0] == pytest.approx(1.0)


def damage_truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def damage_flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def damage_random_bytes(path: Path) -> None:
    path.write_bytes(np.random.default_rng(0).bytes(4096))


def damage_sidecar(path: Path) -> None:
    sidecar_path(path).write_text("{not json")


def damage_sidecar_count(path: Path) -> None:  # a sidecar that tells another story than the file
    meta = json.loads(sidecar_path(path).read_text())
    meta["count"] -= 1
    sidecar_path(path).write_text(json.dumps(meta))


def damage_missing_sidecar(path: Path) -> None:
    sidecar_path(path).unlink()


def damage_missing_index(path: Path) -> None:
    path.unlink()


def damage_random_bytes_with_matching_sidecar(path: Path) -> None:
    """Garbage whose size and checksum the sidecar agrees with: FAISS itself must refuse it cleanly."""
    import hashlib

    garbage = np.random.default_rng(1).bytes(4096)
    path.write_bytes(garbage)
    meta = json.loads(sidecar_path(path).read_text())
    meta.update(index_bytes=len(garbage), index_sha256=hashlib.sha256(garbage).hexdigest())
    sidecar_path(path).write_text(json.dumps(meta))


@pytest.mark.parametrize("damage", [damage_truncate, damage_flip_byte, damage_random_bytes, damage_sidecar,
                                    damage_sidecar_count, damage_missing_sidecar, damage_missing_index,
                                    damage_random_bytes_with_matching_sidecar])
@pytest.mark.parametrize("kind", ["exact", "hnsw"])
def test_a_damaged_index_gives_a_clear_error_and_can_be_rebuilt(kind: str, damage, data, tmp_path: Path) -> None:
    ids, x, q = data[0][:800], data[1][:800], data[2]
    store = VectorStore(tmp_path, threads=1)
    store.rebuild("facts", ids, x, kind=kind)
    damage(store.path("facts"))
    with pytest.raises(CorruptIndexError) as caught:
        VectorStore(tmp_path).index("facts", DIM)
    assert isinstance(caught.value, VidlensError) and "facts" in str(caught.value)
    assert len(str(caught.value).splitlines()) == 1
    rebuilt = VectorStore(tmp_path).rebuild("facts", ids, x, kind=kind)
    assert rebuilt.generation >= 2 or damage in (damage_sidecar, damage_missing_sidecar)
    _, found = VectorStore(tmp_path).index("facts", DIM).search(q, 10)
    np.testing.assert_array_equal(found[:, 0], ids[exact_top_k(q, x, 1)[:, 0]])


def test_store_keeps_one_index_per_space_and_reopens_them(data, tmp_path: Path) -> None:
    ids, x, q = data
    store = VectorStore(tmp_path, threads=1)
    store.index("facts", DIM).add(ids, x)
    visual = store.index("visual", 48)
    visual.add([1, 2], np.eye(48, dtype=np.float32)[:2])
    assert store.info("facts") is None  # nothing saved yet
    infos = store.save_all()
    assert infos["facts"].ids_sha256 == ids_checksum(ids) and infos["visual"].count == 2
    assert store.save("facts").generation == 2
    again = VectorStore(tmp_path, threads=1)
    assert again.names() == ["facts", "visual"]
    assert again.info("visual").dim == 48
    np.testing.assert_array_equal(again.index("facts", DIM).search(q, 5)[1], store.index("facts", DIM).search(q, 5)[1])
    with pytest.raises(UsageError, match="48-d"):
        again.index("visual", 1280)
    with pytest.raises(UsageError, match="names"):
        again.index("../x", 8)
    again.drop("visual")
    assert again.names() == ["facts"] and not (tmp_path / "visual.faiss").exists()
