"""Search the library: words (hybrid), an example image or clip, and near-duplicates.

Text queries are answered by three rankings fused by reciprocal rank fusion (Cormack et al., 2009:
``sum 1 / (60 + rank)``), which needs no score calibration between signals that live on different
scales:

- ``bm25``: FTS5 over the facts (labels with their WordNet lemmas, objects, on-screen text, colours,
  motion), Porter-stemmed; exact words and on-screen text win here;
- ``facts``: the query's sentence embedding against each segment's facts sentence; paraphrases of
  what a tag says ("a hot drink" ~ "espresso, cup");
- ``conse``: the query's sentence embedding against each keyframe's ConSE vector; words no tag
  says ("feline", "moggy") still meet the pictures the classifier thinks are cats.

Hits in consecutive segments of one video merge into one moment (its score is its best segment's).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import UsageError
from ..paths import why_not_readable
from .library import Library

SIGNALS = ("bm25", "facts", "conse")
RRF_K = 60
#: Words that carry no content in a query ("a cat on the sofa" searches "cat sofa" in the full text).
STOPWORDS = frozenset({
    "a", "an", "the", "of", "on", "in", "at", "to", "with", "and", "or", "for", "from", "by", "is", "are", "be",
    "this", "that", "some", "any", "show", "me", "find", "moments", "moment", "where", "there", "video", "videos",
    "clip", "clips", "scene", "scenes"})
#: Segments at most this far apart (seconds) join one moment when both match.
MERGE_GAP_S = 0.5


@dataclass
class Moment:
    """One result: a time range of one video, its score, thumbnail and why it matched."""

    video_id: int
    path: str
    start: dict[str, Any]
    end: dict[str, Any]
    score: float
    segments: list[int]
    thumbnail: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return float(self.end["time"] - self.start["time"])

    def to_dict(self) -> dict[str, Any]:
        return {"video_id": self.video_id, "path": self.path, "start": self.start, "end": self.end,
                "duration": round(self.duration, 3), "score": round(self.score, 6), "segments": self.segments,
                "thumbnail": self.thumbnail, "evidence": self.evidence}


@dataclass
class Filters:
    """What a result must satisfy. ``labels``/``objects`` must all be present in a matching segment."""

    path: str | None = None
    labels: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()
    start: float | None = None
    end: float | None = None
    min_duration: float = 0.0

    def __post_init__(self) -> None:
        from ..objects.classes import class_mask

        class_mask([name for name in self.objects if name.strip()] or None)  # an unknown class names the valid ones
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise UsageError(f"the time range is empty: end {self.end:g}s is not after start {self.start:g}s")

    def allowed(self, library: Library) -> list[int] | None:
        tags = [("", name.strip().lower()) for name in self.labels if name.strip()]
        tags += [("object", name.strip().lower()) for name in self.objects if name.strip()]
        return library.catalog.filter_segments(path_glob=self.path, tags=tags, start=self.start, end=self.end)


def query_terms(query: str) -> list[str]:
    """The content words of a query, in order, without repeats."""
    words = [w for w in re.findall(r"\w+", query.lower()) if w not in STOPWORDS]
    return list(dict.fromkeys(words))


def fts_query(terms: list[str]) -> str:
    """An FTS5 query matching any of the terms (each quoted, so no word is read as an operator)."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def search(library: Library, query: str, *, limit: int = 10, signals: tuple[str, ...] = SIGNALS,
           filters: Filters | None = None, depth: int | None = None) -> list[Moment]:
    """Moments matching ``query`` best first. ``signals`` picks the rankings to fuse (one alone is allowed)."""
    if not query.strip():
        raise UsageError("the search query is empty")
    unknown = [s for s in signals if s not in SIGNALS]
    if unknown or not signals:
        raise UsageError(f"signals must be among {', '.join(SIGNALS)}, got {', '.join(signals) or 'none'}")
    filters = filters or Filters()
    allowed = filters.allowed(library)
    if allowed is not None and not allowed:
        return []
    depth = depth or max(100, limit * 20)
    rankings: dict[str, list[tuple[int, float]]] = {}
    terms = query_terms(query)
    if "bm25" in signals and terms:
        rankings["bm25"] = library.catalog.full_text(fts_query(terms), depth, allowed)
    if "facts" in signals or "conse" in signals:
        from ..runtime.sentence_embedder import embed_texts

        q = embed_texts([query.strip()])[0]
        for kind in ("facts", "conse"):
            if kind in signals:
                rankings[kind] = library.search_vectors(kind, q, depth, allowed)
    return _moments(library, rankings, limit, filters.min_duration, terms)


def fuse(rankings: dict[str, list[tuple[int, float]]]) -> dict[int, float]:
    """Reciprocal rank fusion of several rankings of segment ids."""
    fused: dict[int, float] = defaultdict(float)
    for ranking in rankings.values():
        for rank, (sid, _score) in enumerate(ranking):
            fused[sid] += 1.0 / (RRF_K + rank + 1)
    return dict(fused)


def strong_hits(rankings: dict[str, list[tuple[int, float]]]) -> dict[int, int]:
    """How many rankings each segment matches clearly in (segments matching in none are left out).

    Every full-text match counts (it contains a query word). A similarity ranking always returns
    neighbours, relevant or not, so there a segment counts when its score is in the upper half of the
    spread between the ranking's median and its best: the relative rule holds for any query and any
    library size, where a fixed cosine cut would not (scores differ by query length and vector kind).
    """
    out: dict[int, int] = defaultdict(int)
    for name, ranking in rankings.items():
        if not ranking:
            continue
        if name == "bm25":
            for sid, _ in ranking:
                out[sid] += 1
            continue
        scores = np.array([score for _, score in ranking])
        median = float(np.median(scores))
        cut = scores[0] - 0.5 * (scores[0] - median)
        for sid, score in ranking:
            if score >= cut and score > median:
                out[sid] += 1
    return dict(out)


def joinable(a: dict[str, Any], b: dict[str, Any], strong: dict[int, int], signals: int) -> bool:
    """Whether consecutive matching segments ``a`` then ``b`` form one moment: windows of one shot when both
    match clearly; across a cut only when both match clearly in two rankings (or the only one used)."""
    if b["start_time"] - a["end_time"] > MERGE_GAP_S:
        return False
    need = 1 if a["shot"] == b["shot"] else min(2, signals)
    return strong.get(a["id"], 0) >= need and strong.get(b["id"], 0) >= need


def _moments(library: Library, rankings: dict[str, list[tuple[int, float]]], limit: int, min_duration: float,
             terms: list[str]) -> list[Moment]:
    fused = fuse(rankings)
    if not fused:
        return []
    # merge among the best candidates only, so a long run of weak hits does not swallow a strong one
    best = sorted(fused, key=lambda s: -fused[s])[: max(limit * 5, 50)]
    rows = library.catalog.segments(best)
    per_rank = {name: {sid: (rank + 1, score) for rank, (sid, score) in enumerate(r)} for name, r in rankings.items()}
    by_video: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for sid in best:
        if sid in rows:
            by_video[rows[sid]["video_id"]].append(rows[sid])
    strong = strong_hits(rankings)
    moments = []
    for segs in by_video.values():
        segs.sort(key=lambda r: r["start_frame"])
        group = [segs[0]]
        for row in segs[1:]:
            if joinable(group[-1], row, strong, len(rankings)):
                group.append(row)
            else:
                moments.append(_moment(library, group, fused, per_rank, terms))
                group = [row]
        moments.append(_moment(library, group, fused, per_rank, terms))
    moments = [m for m in moments if m.duration >= min_duration]
    moments.sort(key=lambda m: (-m.score, m.path, m.start["frame"]))
    return moments[:limit]


def _moment(library: Library, group: list[dict[str, Any]], fused: dict[int, float],
            per_rank: dict[str, dict[int, tuple[int, float]]], terms: list[str]) -> Moment:
    top = max(group, key=lambda r: fused[r["id"]])
    # the segment's facts sentence; the "facts" key is the facts ranking (rank, score), like every signal
    evidence: dict[str, Any] = {"sentence": top["facts"]}
    for name, ranks in per_rank.items():
        hits = [(ranks[r["id"]], r["id"]) for r in group if r["id"] in ranks]
        if hits:
            (rank, score), _ = min(hits)
            evidence[name] = {"rank": rank, "score": round(score, 4)}
    if terms and "bm25" in evidence:
        words = set(re.findall(r"\w+", " ".join(r["facts"] for r in group).lower()))
        evidence["bm25"]["matched"] = [t for t in terms if t in words or t.rstrip("s") in words]
    labels = list(dict.fromkeys(lab["name"] for r in group for lab in r.get("labels") or []))
    if labels:
        evidence["labels"] = labels[:5]
    text = list(dict.fromkeys(t for r in group for t in r.get("text") or []))
    if text:
        evidence["text"] = text[:5]
    thumb = library.thumbnail_path(top["id"])
    return Moment(video_id=top["video_id"], path=top["path"], start=group[0]["start"], end=group[-1]["end"],
                  score=fused[top["id"]], segments=[r["id"] for r in group],
                  thumbnail=str(thumb) if thumb else None, evidence=evidence)


# -- query by example ---------------------------------------------------------------------------------

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


def example_vector(path: str | Path) -> np.ndarray:
    """The visual vector of an image (its centre square) or of a clip (mean over its sampled frames)."""
    source = Path(path)
    if (reason := why_not_readable(source)) is not None:
        raise UsageError(reason, path=source)
    if source.suffix.lower() in IMAGE_SUFFIXES:
        import cv2

        from ..runtime import load_model
        from ..runtime.backbone import INPUT, MODEL, classify_frames

        bgr = cv2.imread(str(source), cv2.IMREAD_COLOR)
        if bgr is None:
            raise UsageError(f"{source}: not an image OpenCV can read")
        h, w = bgr.shape[:2]
        scale = INPUT / min(h, w)
        rgb = cv2.cvtColor(cv2.resize(bgr, (max(INPUT, round(w * scale)), max(INPUT, round(h * scale))),
                                      interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        _, features = classify_frames(load_model(MODEL), [rgb])
        vector = features[0]
    else:
        from .. import pipeline
        from ..analyzers.labels import EMBEDDINGS_FILE

        analysis = pipeline.run(source, ["labels"], hash_file=False)
        arrays = analysis.arrays(EMBEDDINGS_FILE)
        if arrays is None:  # not one frame could be sampled
            raise UsageError("no frame of the example clip could be analysed", path=source)
        vector = arrays["frame_features"].astype(np.float32).mean(axis=0)
    return (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)


def search_like(library: Library, example: str | Path, *, limit: int = 10,
                filters: Filters | None = None) -> list[Moment]:
    """Moments that look like an example image or clip (visual embedding, cosine)."""
    filters = filters or Filters()
    allowed = filters.allowed(library)
    if allowed is not None and not allowed:
        return []
    ranking = library.search_vectors("visual", example_vector(example), max(100, limit * 20), allowed)
    if not ranking:
        return []
    moments = _moments(library, {"visual": ranking}, limit, filters.min_duration, [])
    return moments


# -- near-duplicates ----------------------------------------------------------------------------------


@dataclass
class Duplicate:
    """A time range of one video that repeats in another (``kind``: "video" when both are mostly the same)."""

    kind: str
    a: dict[str, Any]
    b: dict[str, Any]
    similarity: float
    segments: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "a": self.a, "b": self.b, "similarity": round(self.similarity, 4),
                "segments": self.segments}


def find_duplicates(library: Library, *, threshold: float = 0.9, min_length: float = 1.0,
                    video_share: float = 0.8) -> list[Duplicate]:
    """Repeated segments across videos by visual similarity, merged into time ranges.

    A pair of videos whose repeated ranges cover ``video_share`` of both is reported as one ``video``
    duplicate (a re-upload, a re-encode); other ranges of at least ``min_length`` seconds as
    ``segment`` (a shared intro, a reused shot).
    """
    if not 0 < threshold <= 1:
        raise UsageError(f"threshold must be in (0, 1], got {threshold}")
    ids, vectors = library.catalog.vectors("visual")
    if not len(ids):
        return []
    rows = library.catalog.segments(ids.tolist())
    index = library.index("visual")
    assert index is not None
    k = min(len(ids), 16)
    scores, found = index.search(vectors, k)
    pairs = _video_pairs(ids.tolist(), scores, found, rows, threshold)
    out = []
    for (va, vb), matches in pairs.items():
        matches = sorted(set(matches), key=lambda m: rows[m[0]]["start_frame"])
        runs = _runs(matches, rows)
        ranges = [_range(run, rows) for run in runs]
        dur_a = _video_duration(library, va)
        dur_b = _video_duration(library, vb)
        cover_a = sum(r[0]["end"]["time"] - r[0]["start"]["time"] for r in ranges)
        cover_b = sum(r[1]["end"]["time"] - r[1]["start"]["time"] for r in ranges)
        if dur_a and dur_b and cover_a >= video_share * dur_a and cover_b >= video_share * dur_b:
            sims = [m[2] for m in matches]
            out.append(Duplicate("video", {"path": rows[matches[0][0]]["path"], "coverage": round(cover_a / dur_a, 3)},
                                 {"path": rows[matches[0][1]]["path"], "coverage": round(cover_b / dur_b, 3)},
                                 float(np.mean(sims)), len(matches)))
            continue
        for (ra, rb, sim, n) in ranges:
            if ra["end"]["time"] - ra["start"]["time"] >= min_length:
                out.append(Duplicate("segment", ra, rb, sim, n))
    out.sort(key=lambda d: (d.kind != "video", -d.similarity))
    return out


def _video_pairs(ids: list[int], scores: np.ndarray, found: np.ndarray, rows: dict[int, dict[str, Any]],
                 threshold: float) -> dict[tuple[int, int], list[tuple[int, int, float]]]:
    """Per pair of videos (lower id first), each segment's best match in the other video at ``threshold``."""
    pairs: dict[tuple[int, int], list[tuple[int, int, float]]] = defaultdict(list)
    for sid, row_scores, row_ids in zip(ids, scores, found):
        va = rows[sid]["video_id"]
        best_per_video: dict[int, tuple[int, float]] = {}
        for other, score in zip(row_ids.tolist(), row_scores.tolist()):
            if other < 0 or score < threshold or other not in rows:
                continue
            vb = rows[other]["video_id"]
            if vb != va and (vb not in best_per_video or score > best_per_video[vb][1]):
                best_per_video[vb] = (other, score)
        for vb, (other, score) in best_per_video.items():
            if va < vb:
                pairs[(va, vb)].append((sid, other, score))
            else:
                pairs[(vb, va)].append((other, sid, score))
    return pairs


def _runs(matches: list[tuple[int, int, float]],
          rows: dict[int, dict[str, Any]]) -> list[list[tuple[int, int, float]]]:
    """Matches (in order of the first video) merged into runs that advance together in both videos."""
    runs: list[list[tuple[int, int, float]]] = [[matches[0]]]
    for m in matches[1:]:
        prev = runs[-1][-1]
        gap_a = rows[m[0]]["start_time"] - rows[prev[0]]["end_time"]
        step_b = rows[m[1]]["start_time"] - rows[prev[1]]["end_time"]
        if m[0] == prev[0] or (gap_a <= MERGE_GAP_S and -MERGE_GAP_S <= step_b <= MERGE_GAP_S + gap_a):
            runs[-1].append(m)
        else:
            runs.append([m])
    return runs


def _range(run: list[tuple[int, int, float]], rows: dict[int, dict[str, Any]]) -> tuple[dict, dict, float, int]:
    a = [rows[m[0]] for m in run]
    b = [rows[m[1]] for m in run]
    first_b = min(b, key=lambda r: r["start_frame"])
    last_b = max(b, key=lambda r: r["end_frame"])
    return ({"path": a[0]["path"], "start": a[0]["start"], "end": a[-1]["end"]},
            {"path": b[0]["path"], "start": first_b["start"], "end": last_b["end"]},
            float(np.mean([m[2] for m in run])), len(run))


def _video_duration(library: Library, video_id: int) -> float:
    return float(library.catalog.video_info(video_id).get("duration") or 0.0)

