"""What search does with sentence embeddings, measured for one model variant against another.

Used by ``minilm.py`` (inside the conversion venv) to choose the INT8 file: a mean cosine says little about
search, where what matters is whether the same neighbours come back.  Only numpy and the standard library here.

The texts are real and varied, read from files already on a maintainer's machine (no download): WordNet 3.0's
example sentences and glosses (Debian ``wordnet-base``; the project's ImageNet categories come from it too),
ImageNet class names (one, two and more words), COCO's 80 labels, "a photo of a ..." captions, and the caller's
hand-picked texts (edge cases: empty text, one letter, emoji, CJK, > 256 tokens).  A seeded RNG picks them,
so a re-run measures the same texts.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np

SEED = 20261122
TOP_K = 10

def _load_preview_queries() -> dict[str, str]:
    """The search preview's queries, from the one file the runtime tests use too (loaded by path: vidlens itself is
    not installed in the conversion venv)."""
    path = Path(__file__).resolve().parents[2] / "src" / "vidlens" / "testing" / "search_queries.py"
    spec = importlib.util.spec_from_file_location("vidlens_search_queries", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PREVIEW_QUERIES


PREVIEW_QUERIES = _load_preview_queries()

#: One- and two-word queries a user types (not class names as written)
USER_QUERIES = [
    "kitty", "puppy", "sunset", "beach", "snow", "traffic", "crowd", "wedding", "birthday", "concert", "soccer",
    "kitchen", "rain", "night", "forest", "mountains", "city", "car", "boat", "airplane", "music", "food",
    "breakfast", "dog park", "red car", "fast car", "old man", "little girl", "city street", "ocean waves",
    "football match", "live music", "cooking show", "news anchor", "fireworks display", "empty road",
    "police car", "school bus", "hot air balloon", "something to eat",
]


def _wordnet_glosses(path: Path) -> list[str]:
    """The gloss of every synset in a WordNet ``data.*`` file (the text after ``|``)."""
    out = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("  ") or " | " not in line:  # the licence header starts with two spaces
                continue
            out.append(line.split(" | ", 1)[1].strip())
    return out


def wordnet_texts(wordnet_dir: Path) -> tuple[list[str], list[str]]:
    """(example sentences, definitions) from WordNet's nouns and verbs: real English of every length."""
    examples, definitions = [], []
    for part in ("noun", "verb"):
        path = wordnet_dir / f"data.{part}"
        if not path.is_file():
            raise SystemExit(f"{path} is missing: apt-get install wordnet-base")
        for gloss in _wordnet_glosses(path):
            definitions.append(gloss.split(";")[0].strip())
            examples += [e.strip() for e in re.findall(r'"([^"]{3,})"', gloss)]
    return examples, definitions


def imagenet_names(labels_tsv: Path) -> list[str]:
    """The 1000 class names, full lemma lists ("tench, Tinca tinca"), in class order."""
    return [line.split("\t")[2].strip() for line in labels_tsv.read_text().splitlines() if line]


def search_texts(cfg: dict, extra: list[str]) -> dict[str, list[str]]:
    """About 1000 distinct texts in named groups (group -> texts); ``extra`` are the caller's edge cases."""
    rng = np.random.default_rng(SEED)
    examples, definitions = wordnet_texts(Path(cfg["wordnet"]))
    first = [n.split(",")[0].strip() for n in imagenet_names(Path(cfg["labels"]))]
    coco = [ln.strip() for ln in Path(cfg["coco_labels"]).read_text().splitlines() if ln.strip()]

    def pick(pool: list[str], n: int) -> list[str]:
        pool = sorted(set(pool))
        return [pool[i] for i in sorted(rng.choice(len(pool), size=min(n, len(pool)), replace=False))]

    long_examples = [e for e in examples if len(e.split()) >= 12]
    groups = {
        "one-word": pick([n for n in first if " " not in n and "-" not in n], 130) + USER_QUERIES[:23],
        "two-word": pick([n for n in first if len(n.split()) == 2], 130) + USER_QUERIES[23:],
        "coco-label": coco,
        "caption": [f"a photo of a {n}" for n in pick(first, 120)],
        "sentence": pick([e for e in examples if 4 <= len(e.split()) < 12], 260),
        "long-sentence": pick(long_examples, 90),
        "definition": pick([d for d in definitions if len(d.split()) >= 5], 130),
        "handpicked": extra,
    }
    seen: set[str] = set()
    out = {}
    for group, texts in groups.items():  # distinct after the tokenizer's lowercasing: ties would blur top-1
        out[group] = [t for t in texts if not (t.lower() in seen or seen.add(t.lower()))]
    return out


def neighbours(vectors: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """Indices of each text's k nearest other texts by cosine (vectors are unit length), nearest first."""
    sim = vectors.astype(np.float64) @ vectors.T.astype(np.float64)
    np.fill_diagonal(sim, -np.inf)
    top = np.argpartition(-sim, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sim, top, axis=1), axis=1)
    return np.take_along_axis(top, order, axis=1)


def agreement(ref: np.ndarray, other: np.ndarray, groups: dict[str, list[str]]) -> dict:
    """Each text queried against all the others, once with both sides embedded by the reference and once with
    both sides embedded by the other variant (as a library built with one model searches with it).

    ``top1_agreement``: the nearest neighbour is the same text; ``top10_overlap``: share of the 10 nearest in
    common.  A disagreement whose two candidates the reference itself scores within 0.01 is a near tie (either
    answer is as good): counted apart as ``top1_disagreements_near_tie``."""
    nr, no = neighbours(ref), neighbours(other)
    same = nr[:, 0] == no[:, 0]
    overlap = np.array([len(set(a) & set(b)) / TOP_K for a, b in zip(nr, no)])
    ref64 = ref.astype(np.float64)
    gap = np.einsum("ij,ij->i", ref64, ref64[nr[:, 0]]) - np.einsum("ij,ij->i", ref64, ref64[no[:, 0]])
    per_group, start = {}, 0
    for group, texts in groups.items():
        sl = slice(start, start + len(texts))
        per_group[group] = {"texts": len(texts), "top1_agreement": round(float(same[sl].mean()), 4),
                            "top10_overlap": round(float(overlap[sl].mean()), 4)}
        start += len(texts)
    return {"texts": len(ref), "top1_agreement": round(float(same.mean()), 4),
            "top10_overlap": round(float(overlap.mean()), 4),
            "top1_disagreements": int((~same).sum()),
            "top1_disagreements_near_tie": int(((~same) & (gap < 0.01)).sum()),
            "by_group": per_group}


def preview_precision(embed: Callable[[list[str]], np.ndarray], labels_tsv: Path, categories_json: Path) -> dict:
    """ImageNet's 1000 class names as the library, PREVIEW_QUERIES as the searches: the share of the 5 nearest
    classes in the query's WordNet category (precision@5) and of top-1 hits.  The categories come from WordNet,
    not from any model."""
    names = imagenet_names(labels_tsv)
    categories = json.loads(categories_json.read_text())["classes"]
    top5 = np.argsort(-(embed(list(PREVIEW_QUERIES)) @ embed(names).T), axis=1)[:, :5]
    hits = np.array([[cat in categories.get(str(i), []) for i in row]
                     for row, cat in zip(top5, PREVIEW_QUERIES.values())])
    return {"queries": len(PREVIEW_QUERIES), "precision_at_5": round(float(hits.mean()), 4),
            "top1_in_category": round(float(hits[:, 0].mean()), 4)}
