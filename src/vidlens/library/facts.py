"""What the library knows about each moment: facts in words, tags for filters, and three vectors.

From one analysed video, in memory (its timeline and the labels analyzer's embeddings), every segment
(a shot, or a window of a long shot) becomes:

- a **facts** sentence ("tabby cat, Egyptian cat (cat, animal). 2 persons, 1 cup. Text: "OPEN". 1 face,
  happy. Colours: orange, white. Still. 4 s.") that the sentence embedder turns into the ``facts``
  vector, and the same facts split into FTS5 columns (labels with their WordNet lemmas, objects,
  on-screen text, the rest) for BM25;
- **tags** ``(kind, name, value)`` for filters: label, category, object (count), colour, motion,
  face (count), emotion;
- a **visual** vector: the mean of the backbone's pooled features over the segment's sampled frames,
  L2-normalised (query by example, near-duplicates);
- a **conse** vector: the segment's mean class probabilities mapped into the sentence space (ConSE),
  so a query word meets pixels that no tag names.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from ..analysis import Analysis
from ..analyzers.labels import EMBEDDINGS_FILE
from ..runtime import model_entry
from ..runtime.backbone import class_categories, class_names, shot_labels
from .catalog import SegmentRow
from .conse import CLASSIFIER, conse_embed

#: Vector kinds and what each holds.
VECTOR_KINDS = {"visual": "backbone features (query by example, duplicates)",
                "facts": "sentence embedding of the facts",
                "conse": "class probabilities in the sentence space (ConSE)"}


@cache
def _label_tables() -> tuple[list[str], list[str], dict[str, np.ndarray]]:
    """Class names, each class's lemma list, and category -> member classes."""
    path = model_entry(CLASSIFIER).labels_path()
    if path is None:
        raise ValueError(f"model {CLASSIFIER} has no labels file")
    lemmas = [line.split("\t", 2)[2] for line in path.read_text(encoding="utf-8").splitlines()]
    members, _ = class_categories(path.parent / "imagenet_categories.json")
    return class_names(path), lemmas, members


def _count_phrase(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _most_at_once(items: list[dict[str, Any]], a: int, b: int) -> int:
    """Most items present together inside frames [a, b) (by their spans)."""
    points = sorted({a, *(max(a, i["start"]["frame"]) for i in items)})
    return max((sum(1 for i in items if i["start"]["frame"] <= p < i["end"]["frame"]) for p in points if p < b),
               default=0)


def _meets(items: list[dict[str, Any]], a: int, b: int) -> list[dict[str, Any]]:
    return [i for i in items if i["start"]["frame"] < b and i["end"]["frame"] > a]


class FactsBuilder:
    """Turns one analysed video into catalog rows and vectors (the sentence embedder runs here)."""

    def __init__(self, analysis: Analysis) -> None:
        self.analysis = analysis
        self.timeline = analysis.timeline.to_dict()
        self.names, self.lemmas, self.members = _label_tables()
        self.class_of = {name: i for i, name in enumerate(self.names)}
        self.sidecar = self._sidecar()

    def _sidecar(self) -> dict[str, np.ndarray] | None:
        arrays = self.analysis.arrays(EMBEDDINGS_FILE)
        if arrays is None or "frame_top_classes" not in arrays:
            return None
        return {k: arrays[k] for k in ("frame_indices", "frame_features", "frame_top_classes", "frame_top_probs")}

    def segments(self) -> list[dict[str, Any]]:
        """The timeline's segments, or windows made from its shots when the segments analyzer did not run."""
        if self.timeline.get("segments"):
            return self.timeline["segments"]
        out = []
        for shot in self.timeline.get("shots") or []:
            out.append({"index": len(out), "shot": shot["index"], "start": shot["start"], "end": shot["end"],
                        "keyframe": shot.get("keyframe", shot["start"]), "colours": [], "motion": None})
        return out

    def build(self) -> tuple[list[SegmentRow], dict[str, np.ndarray]]:
        from ..runtime.sentence_embedder import embed_texts

        rows: list[SegmentRow] = []
        probs_rows: list[np.ndarray] = []
        visual_rows: list[np.ndarray] = []
        for seg in self.segments():
            a, b = seg["start"]["frame"], seg["end"]["frame"]
            probs, visual = self._frames(a, b)
            rows.append(self._row(seg, probs))
            if probs is not None and visual is not None:
                probs_rows.append(probs.mean(axis=0))
                visual_rows.append(visual)
        vectors: dict[str, np.ndarray] = {}
        if rows:
            vectors["facts"] = embed_texts([r.facts for r in rows])
        if rows and len(visual_rows) == len(rows):
            v = np.stack(visual_rows)
            vectors["visual"] = (v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)).astype(np.float32)
            vectors["conse"] = conse_embed(np.stack(probs_rows))
        return rows, vectors

    def _frames(self, a: int, b: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Dense class probabilities ``[n, 1000]`` and the mean feature of the sampled frames in [a, b)."""
        if self.sidecar is None:
            return None, None
        from ..analyzers.base import sampled_in_range

        at = sampled_in_range(self.sidecar["frame_indices"], a, b)
        dense = np.zeros((len(at), len(self.names)), np.float32)
        np.put_along_axis(dense, self.sidecar["frame_top_classes"][at].astype(np.int64),
                          self.sidecar["frame_top_probs"][at].astype(np.float32), axis=1)
        return dense, self.sidecar["frame_features"][at].astype(np.float32).mean(axis=0)

    def _row(self, seg: dict[str, Any], probs: np.ndarray | None) -> SegmentRow:
        a, b = seg["start"]["frame"], seg["end"]["frame"]
        tags: list[tuple[str, str, float]] = []
        sentence: list[str] = []
        fts: dict[str, list[str]] = {"labels": [], "objects": [], "text": [], "other": []}
        data: dict[str, Any] = {"start": seg["start"], "end": seg["end"], "keyframe": seg.get("keyframe"),
                                "labels": [], "categories": [], "objects": {}, "text": [], "faces": 0,
                                "emotions": [], "colours": [], "motion": None}
        if probs is not None:
            self._add_labels(probs, data, tags, sentence, fts)
        objects: dict[str, int] = {}
        tracks = _meets(self.timeline.get("objects") or [], a, b)
        for name in sorted({t["class"] for t in tracks}):
            objects[name] = max(1, _most_at_once([t for t in tracks if t["class"] == name], a, b))
        if objects:
            data["objects"] = objects
            tags += [("object", n, float(c)) for n, c in objects.items()]
            phrase = ", ".join(_count_phrase(c, n) for n, c in sorted(objects.items(), key=lambda kv: -kv[1]))
            sentence.append(phrase)
            fts["objects"].append(phrase)
        texts = list(dict.fromkeys(t["text"] for t in _meets(self.timeline.get("text") or [], a, b)))
        if texts:
            data["text"] = texts
            sentence.append("Text: " + " / ".join(f'"{t}"' for t in texts))
            fts["text"] += texts
        self._add_faces(a, b, data, tags, sentence, fts)
        colours = [c["name"] for c in seg.get("colours") or []]
        if colours:
            data["colours"] = seg["colours"]
            tags += [("colour", c["name"], c["share"]) for c in seg["colours"]]
            sentence.append("Colours: " + ", ".join(colours))
            fts["other"].append(" ".join(colours))
        motion = seg.get("motion")
        if motion:
            data["motion"] = motion
            tags.append(("motion", motion["level"], motion["value"]))
            sentence.append(motion["level"].capitalize())
            fts["other"].append(motion["level"])
        seconds = seg["end"]["time"] - seg["start"]["time"]
        sentence.append(f"{seconds:.0f} s" if seconds >= 1 else f"{seconds:.1f} s")
        thumbnail = self.analysis.data(seg["thumbnail"]) if seg.get("thumbnail") else None
        return SegmentRow(idx=seg["index"], shot=seg["shot"], start_frame=a, end_frame=b,
                          start_time=seg["start"]["time"], end_time=seg["end"]["time"],
                          facts=". ".join(sentence) + ".", fts={k: " ".join(v) for k, v in fts.items()},
                          tags=tags, data=data, thumbnail=thumbnail)

    def _add_labels(self, probs: np.ndarray, data: dict[str, Any], tags: list[tuple[str, str, float]],
                    sentence: list[str], fts: dict[str, list[str]]) -> None:
        """The segment's labels and categories (from its frames' class probabilities) into its facts."""
        found = shot_labels(probs.mean(axis=0), probs, self.names, self.members)
        labels = [(n, c) for n, c, s in found if s != "category"]
        cats = [(n, c) for n, c, s in found if s == "category"]
        data["labels"] = [{"name": n, "confidence": c} for n, c in labels]
        data["categories"] = [{"name": n, "confidence": c} for n, c in cats]
        tags += [("label", n, c) for n, c in labels] + [("category", n, c) for n, c in cats]
        if labels or cats:
            words = ", ".join(n for n, _ in labels)
            sentence.append(f"{words} ({', '.join(n for n, _ in cats)})" if labels and cats else
                            words or ", ".join(n for n, _ in cats))
        fts["labels"] += [self.lemmas[self.class_of[n]] for n, _ in labels] + [n for n, _ in cats]

    def _add_faces(self, a: int, b: int, data: dict[str, Any], tags: list[tuple[str, str, float]],
                   sentence: list[str], fts: dict[str, list[str]]) -> None:
        """How many faces are in frames ``a``..``b`` at once, and their expressions, into the segment's facts."""
        faces = _meets(self.timeline.get("faces") or [], a, b)
        if not faces:
            return
        count = max(1, _most_at_once(faces, a, b))
        emotions = sorted({f["emotion"]["emotion"] for f in faces if f.get("emotion")})
        data["faces"], data["emotions"] = count, emotions
        tags.append(("face", "face", float(count)))
        tags += [("emotion", e, 1.0) for e in emotions]
        words = _count_phrase(count, "face") + (", " + ", ".join(emotions) if emotions else "")
        sentence.append(words)
        fts["other"].append(words + (" person people" if count else ""))
