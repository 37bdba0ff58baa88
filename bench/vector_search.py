"""Vector search latency and recall: vidlens's FaissIndex exact / HNSW / IVF against NumPy brute force, same run.

    python bench/vector_search.py [--cases 384:clustered:10000 ...] [--threads 2] [--json bench/_out/vector_search.json]

Each case is ``dim:data:size``. ``clustered`` vectors are a Gaussian mixture in a 64-d latent space
plus noise (``tests.support.vectors.clustered_unit_vectors``: overlapping clusters, like real
embeddings); ``uniform`` vectors are uniform on the sphere, the worst case for approximate search.
The local intrinsic dimension of each set is printed beside that of ConSE vectors made from the
shipped sentence model, to show where real embeddings sit between the two.

Per case: 300 held-out queries from the same distribution; the first 50 warm up, the other 250 are
timed one at a time (k = 10, one query per call: the interactive case). Recall@10 is against the
exact top 10 (NumPy). For every structure: build time, size (the saved file: vectors, graph or lists
and ids, which is what the index holds in memory; RSS deltas are blurred by the allocator reusing freed
blocks), save and load (sha256 check + read) time; for HNSW and IVF a sweep of the search width
(efSearch, nprobe), so the table shows the recall / latency trade-off and which width first reaches
recall@10 ≥ 0.95. Latency ratios are to NumPy brute force (``vectors @ q`` + argpartition) at the
same size. For cases of ``--filters-from`` vectors or more (default 1M), filtered searches with 1 %
and 10 % of the ids allowed.

Threads: ``--threads`` for FAISS builds and large query batches; single queries run on one thread
(``vectors.SMALL_BATCH``); NumPy uses its BLAS default (all cores).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from _common import finish_run, markdown_table, print_machine_info
from tests.support.vectors import (
    clustered_unit_vectors,
    exact_top_k,
    local_intrinsic_dimension,
    recall_at_k,
    uniform_unit_vectors,
)
from vidlens.library.vectors import FaissIndex, IndexSettings, set_threads

DEFAULT_CASES = ["384:clustered:10000", "384:uniform:10000", "1280:clustered:10000", "1280:uniform:10000",
                 "384:clustered:100000", "384:uniform:100000", "1280:clustered:100000",
                 "384:clustered:1000000"]
QUERIES, WARMUP, K = 300, 50, 10
EF_SWEEP = [16, 32, 64, 128, 256, 512]
NPROBE_SWEEP = [8, 16, 32, 64, 128, 256]
GOAL_RECALL, GOAL_P95_MS = 0.95, 50.0


def peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def latency_ms(search, queries: np.ndarray) -> tuple[float, float]:
    """p50 and p95 of single-query calls, after ``WARMUP`` untimed ones."""
    for q in queries[:WARMUP]:
        search(q[None])
    times = []
    for q in queries[WARMUP:]:
        t0 = time.perf_counter()
        search(q[None])
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def numpy_search(vectors: np.ndarray):
    def search(q: np.ndarray) -> np.ndarray:
        sims = vectors @ q[0]
        top = np.argpartition(-sims, K - 1)[:K]
        return top[np.argsort(-sims[top])]
    return search


def conse_like_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    """ConSE vectors (``library.conse``) of classifier-like outputs: one class boosted over Gumbel noise, top 10."""
    from vidlens.library.conse import conse_embed

    logits = rng.gumbel(size=(n, 1000)).astype(np.float32)
    logits[np.arange(n), rng.integers(1000, size=n)] += rng.uniform(2, 8, size=n).astype(np.float32)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return conse_embed(p / p.sum(axis=1, keepdims=True))


def make_data(dim: int, kind: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    make = clustered_unit_vectors if kind == "clustered" else uniform_unit_vectors
    x = make(n + QUERIES, dim, rng)
    return x[:n], x[n:]


def build(kind: str, dim: int, ids: np.ndarray, x: np.ndarray) -> tuple[FaissIndex, float, float]:
    """The index, its build time, and its size in MiB (measured by saving it; save/load times printed)."""
    gc.collect()
    t0 = time.perf_counter()
    index = FaissIndex(dim, kind)
    index.add(ids, x)
    seconds = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as folder:
        path = Path(folder) / "v.faiss"
        t0 = time.perf_counter()
        info = index.save(path)
        save_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        FaissIndex.load(path, IndexSettings())
        load_s = time.perf_counter() - t0
    mib = info.index_bytes / 2**20
    print(f"  {kind}: built in {seconds:.1f} s, {mib:.0f} MiB, save {save_s:.2f} s, load (sha256 + read) "
          f"{load_s:.2f} s", flush=True)
    return index, seconds, mib


def run_case(spec: str, seed: int, filters: bool) -> dict:
    dim_s, data, size_s = spec.split(":")
    dim, n = int(dim_s), int(size_s)
    print(f"\n### {n:,} × {dim} {data}", flush=True)
    t0 = time.perf_counter()
    x, queries = make_data(dim, data, n, seed)
    ids = np.arange(n, dtype=np.int64)
    truth = exact_top_k(queries, x, K)
    lid = local_intrinsic_dimension(x[:20_000])
    print(f"generated in {time.perf_counter() - t0:.1f} s; local intrinsic dimension {lid:.1f}", flush=True)
    case = {"case": spec, "dim": dim, "data": data, "n": n, "lid": lid, "rows": []}

    def row(method: str, width: str, build_s: float | None, mib: float | None, p50: float, p95: float,
            recall: float) -> None:
        case["rows"].append({"method": method, "width": width, "build_s": build_s, "mib": mib, "p50_ms": p50,
                             "p95_ms": p95, "recall": recall})
        print(f"  {method:6} {width:12} p50 {p50:.3f} ms  p95 {p95:.3f} ms  recall@10 {recall:.4f}", flush=True)

    p50, p95 = latency_ms(numpy_search(x), queries)
    row("numpy", "-", None, None, p50, p95, 1.0)

    exact, seconds, mib = build("exact", dim, ids, x)
    p50, p95 = latency_ms(lambda q: exact.search(q, K), queries)
    row("exact", "-", seconds, mib, p50, p95, recall_at_k(exact.search(queries, K)[1], truth))
    exact = None  # free its copy of the vectors before the next build

    for kind, field, sweep in (("hnsw", "hnsw_ef_search", EF_SWEEP), ("ivf", "ivf_nprobe", NPROBE_SWEEP)):
        index, seconds, mib = build(kind, dim, ids, x)
        default = index.settings
        for width in sweep:
            index.settings = replace(default, **{field: width})
            recall = recall_at_k(index.search(queries, K)[1], truth)
            p50, p95 = latency_ms(lambda q, index=index: index.search(q, K), queries)
            label = f"ef={width}" if kind == "hnsw" else f"nprobe={width}"
            row(kind, label + ("*" if width == getattr(default, field) else ""), seconds, mib, p50, p95, recall)
            if recall >= 0.995:
                break
        index.settings = default
        if filters:
            case.setdefault("filters", []).extend(filtered(index, kind, x, queries))
        del index
    del x
    gc.collect()
    return case


def filtered(index: FaissIndex, kind: str, x: np.ndarray, queries: np.ndarray) -> list[dict]:
    """Latency and recall among the allowed ids for filters of 1 % and 10 % of the index."""
    out = []
    rng = np.random.default_rng(1)
    for share in (0.01, 0.10):
        allowed = np.sort(rng.choice(len(x), int(share * len(x)), replace=False))
        truth = allowed[exact_top_k(queries, x[allowed], K)]
        recall = recall_at_k(index.search(queries, K, allowed_ids=allowed)[1], truth)
        p50, p95 = latency_ms(lambda q, allowed=allowed: index.search(q, K, allowed_ids=allowed), queries)
        path = "subset scored exactly" if len(allowed) <= index.settings.filter_exact_max else "FAISS selector"
        out.append({"kind": kind, "allowed": len(allowed), "path": path, "p50_ms": p50, "p95_ms": p95,
                    "recall": recall})
        print(f"  filter {kind} {len(allowed):>8,} allowed ({path}): p50 {p50:.2f} ms p95 {p95:.2f} ms "
              f"recall@10 {recall:.4f}", flush=True)
    return out


def threads_check(threads: int, seed: int) -> list[dict]:
    """Single-query latency at 100k × 384 with the query on ``threads`` OpenMP threads vs on one (the default,
    ``vectors.SMALL_BATCH``), interleaved over 3 rounds, with the load average: the busier the machine, the
    more idle OpenMP workers cost."""
    import os

    from vidlens.library import vectors

    x, queries = make_data(384, "clustered", 100_000, seed)
    ids = np.arange(len(x), dtype=np.int64)
    indexes = {kind: build(kind, 384, ids, x)[0] for kind in ("exact", "hnsw")}
    out, default = [], vectors.SMALL_BATCH
    for round_ in range(3):
        for small_batch, label in ((default, "1 thread"), (1, f"{threads} threads")):
            vectors.SMALL_BATCH = small_batch
            for kind, index in indexes.items():
                p50, p95 = latency_ms(lambda q, index=index: index.search(q, K), queries)
                load = os.getloadavg()[0]
                out.append({"round": round_, "kind": kind, "query_threads": label, "p50_ms": p50, "p95_ms": p95,
                            "load1": load})
                print(f"  round {round_} {kind:5} single query on {label:9}: p50 {p50:7.3f} ms  p95 {p95:7.3f} ms"
                      f"  (load average {load:.1f})", flush=True)
        vectors.SMALL_BATCH = default
    return out


def summary(cases: list[dict]) -> str:
    """Per case: exact, and each ANN structure at the narrowest width reaching recall@10 ≥ 0.95."""
    rows = []
    for case in cases:
        anchor = next(r for r in case["rows"] if r["method"] == "numpy")
        picks = [r for r in case["rows"] if r["method"] in ("numpy", "exact")]
        for kind in ("hnsw", "ivf"):
            sweep = [r for r in case["rows"] if r["method"] == kind]
            good = [r for r in sweep if r["recall"] >= GOAL_RECALL]
            picks.append(good[0] if good else max(sweep, key=lambda r: r["recall"]))
        for r in picks:
            rows.append([f"{case['n']:,}", case["dim"], case["data"], f"{case['lid']:.0f}", r["method"], r["width"],
                         "-" if r["build_s"] is None else f"{r['build_s']:.1f}",
                         "-" if r["mib"] is None else f"{r['mib']:.0f}", f"{r['p50_ms']:.2f}",
                         f"{r['p95_ms']:.2f}", f"{anchor['p50_ms'] / r['p50_ms']:.1f}x", f"{r['recall']:.3f}"])
    return markdown_table(["n", "dim", "data", "LID", "method", "width", "build s", "MiB", "p50 ms", "p95 ms",
                           "speed-up vs numpy p50", "recall@10"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", nargs="+", default=DEFAULT_CASES, help="dim:clustered|uniform:size ...")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--filters-from", type=int, default=1_000_000,
                    help="measure filtered search and save/load for cases at least this large")
    ap.add_argument("--threads-check", action="store_true",
                    help="only compare single queries on --threads OpenMP threads vs one (100k × 384)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    print_machine_info()
    print(f"faiss threads: {set_threads(args.threads)}")
    if args.threads_check:
        finish_run(args.json, {"threads": args.threads, "threads_check": threads_check(args.threads, args.seed)})
        return
    conse_lid = local_intrinsic_dimension(conse_like_vectors(20_000, np.random.default_rng(args.seed)))
    print(f"local intrinsic dimension of 20k ConSE vectors (shipped sentence model): {conse_lid:.1f}")
    t0 = time.perf_counter()
    cases = []
    for spec in args.cases:
        cases.append(run_case(spec, args.seed, filters=int(spec.split(":")[2]) >= args.filters_from))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s, peak RSS {peak_rss_mib():.0f} MiB\n")
    print(summary(cases))
    for case in cases:
        for f in case.get("filters", []):
            print(f"filter {case['case']} {f['kind']}: {f['allowed']:,} allowed ({f['path']}) p50 {f['p50_ms']:.2f} "
                  f"ms p95 {f['p95_ms']:.2f} ms recall@10 {f['recall']:.4f}")
    finish_run(args.json, {"conse_lid": conse_lid, "threads": args.threads, "cases": cases})


if __name__ == "__main__":
    main()
