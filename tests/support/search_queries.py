"""Everyday search queries with the WordNet-derived ImageNet category each belongs to: the search preview that the
sentence-embedder tests run and that the conversion tool (``tools/convert/text_search.py``) measures for every
INT8 candidate against fp32.  None is an ImageNet class name as written.  Standard library only: the conversion
venv loads this file by path, without vidlens installed."""

from __future__ import annotations

PREVIEW_QUERIES: dict[str, str] = {
    "kitty": "cat", "puppy": "dog", "songbird": "bird", "a bird": "bird", "sailing ship": "watercraft",
    "boat": "watercraft", "sports car": "vehicle", "truck": "vehicle", "violin music": "musical instrument",
    "citrus": "fruit", "snake": "reptile", "lizard": "reptile", "beetle": "insect", "monkey": "primate",
    "sofa": "furniture", "dessert": "food", "airplane": "aircraft", "flower": "plant", "shirt": "clothing",
    "hammer": "tool", "frog": "amphibian", "shark": "fish",
}
