"""Derive coarse categories for the 1000 ImageNet classes from WordNet 3.0 hypernyms.

ImageNet class ids are WordNet 3.0 noun synsets (``n`` + 8-digit offset), so a class belongs to a
category when the category's synset is among its hypernyms. WordNet comes from Debian's
``wordnet-base`` package (``/usr/share/wordnet/data.noun``); the result is committed as
``src/vidlens/models/labels/imagenet_categories.json`` so users need neither WordNet nor this
script. Run by hand:

    apt-get install wordnet-base && python tools/derive_imagenet_categories.py
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

WORDNET = Path("/usr/share/wordnet/data.noun")
LABELS = Path(__file__).resolve().parents[1] / "src/vidlens/models/labels/imagenet1k.tsv"
OUT = Path(__file__).resolve().parents[1] / "src/vidlens/models/labels/imagenet_categories.json"

#: category -> (WordNet 3.0 noun offset, what it covers). Order matters only for display.
#: Very broad synsets (device, container: a car is a "wheeled vehicle", itself a container) are left
#: out: they would tag most objects and tell a user nothing.
CATEGORIES: dict[str, tuple[str, str]] = {
    "animal": ("00015388", "any animal"),
    "mammal": ("01861778", "mammals"),
    "dog": ("02084071", "dogs"),
    "cat": ("02120997", "felines: cats and big cats"),
    "primate": ("02469914", "monkeys and apes"),
    "bird": ("01503061", "birds"),
    "fish": ("02512053", "fish"),
    "reptile": ("01661091", "reptiles"),
    "amphibian": ("01627424", "amphibians"),
    "insect": ("02159955", "insects"),
    "arthropod": ("01767661", "insects, spiders, crustaceans"),
    "vehicle": ("04524313", "vehicles"),
    "aircraft": ("02686568", "aircraft"),
    "watercraft": ("04530566", "boats and ships"),
    "food": ("00021265", "food and drink"),
    "fruit": ("13134947", "fruit"),
    "vegetable": ("07707451", "vegetables"),
    "plant": ("00017222", "plants and flowers"),
    "person": ("00007846", "people"),
    "clothing": ("03051540", "clothing and accessories"),
    "furniture": ("03405725", "furniture"),
    "home appliance": ("03528263", "household appliances"),
    "kitchenware": ("03621049", "kitchen utensils"),
    "tableware": ("04381994", "tableware"),
    "musical instrument": ("03800933", "musical instruments"),
    "sports equipment": ("04285146", "sports equipment"),
    "weapon": ("04565375", "weapons"),
    "tool": ("04451818", "tools"),
    "building": ("02913152", "buildings"),
    "structure": ("04341686", "constructions: bridges, towers, fences"),
    "landscape": ("09287968", "geological formations: cliffs, valleys, shores"),
}
#: A coarse scene hint from categories that are typically indoors or outdoors.
INDOOR = {"furniture", "home appliance", "kitchenware", "tableware"}
OUTDOOR = {"landscape", "building", "aircraft", "watercraft"}


def read_hypernyms(path: Path) -> dict[str, list[str]]:
    """offset -> hypernym offsets (``@`` and instance ``@i`` pointers) from WordNet's data.noun."""
    parents: dict[str, list[str]] = {}
    with open(path, encoding="latin-1") as handle:
        for line in handle:
            if line.startswith("  "):
                continue  # licence header
            fields = line.split(" | ")[0].split()
            offset, words = fields[0], int(fields[3], 16)
            at = 4 + 2 * words
            count = int(fields[at])
            ptrs = fields[at + 1: at + 1 + 4 * count]
            parents[offset] = [ptrs[i + 1] for i in range(0, len(ptrs), 4) if ptrs[i] in ("@", "@i")]
    return parents


def ancestors(offset: str, parents: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = [offset]
    while stack:
        node = stack.pop()
        for parent in parents.get(node, []):
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen | {offset}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet", type=Path, default=WORDNET)
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    parents = read_hypernyms(args.wordnet)
    roots = {offset: name for name, (offset, _) in CATEGORIES.items()}
    classes: dict[str, list[str]] = {}
    for line in args.labels.read_text(encoding="utf-8").splitlines():
        index, synset, _ = line.split("\t", 2)
        found = ancestors(synset[1:], parents)
        cats = [name for offset, name in roots.items() if offset in found]
        scene = "indoor" if INDOOR & set(cats) else "outdoor" if OUTDOOR & set(cats) else None
        classes[index] = cats + ([scene] if scene else [])
    out = {
        "source": "WordNet 3.0 hypernyms (Debian wordnet-base) of the ImageNet-1k synsets; "
                  "tools/derive_imagenet_categories.py",
        "categories": {
            name: {"synset": f"n{offset}", "covers": covers} for name, (offset, covers) in CATEGORIES.items()
        },
        "scenes": {"indoor": sorted(INDOOR), "outdoor": sorted(OUTDOOR)},
        "classes": classes,
    }
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    counts = Counter(c for cats in classes.values() for c in cats)
    print(f"wrote {args.out}: {sum(1 for c in classes.values() if c)} of {len(classes)} classes categorised")
    for name, n in counts.most_common():
        print(f"  {name:20s} {n}")


if __name__ == "__main__":
    main()
