"""ConSE: words that are no ImageNet label still find the photo whose classifier output means them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests.support.photos import list_photos, load_photo
from vidlens.library.conse import conse_embed
from vidlens.runtime import load_model
from vidlens.runtime.sentence_embedder import embed_texts

PHOTOS = ["chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png", "fruits.jpg"]


def class_probs(name: str) -> np.ndarray:
    path = next((p for p in list_photos() if p.name == name), None)
    if path is None:
        pytest.skip(f"{name} is not installed")
    img = load_photo(path)
    h, w = img.shape[:2]
    s = min(h, w)
    crop = cv2.resize(img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s], (224, 224),
                      interpolation=cv2.INTER_AREA).astype(np.float32)
    logits = load_model("efficientnet_lite0").run(np.ascontiguousarray(((crop - 127) / 128).transpose(2, 0, 1)[None]))
    z = logits["logits"][0].astype(np.float64)
    e = np.exp(z - z.max())
    return e / e.sum()


@pytest.mark.parametrize(("query", "expected"), [("feline", "chelsea.png"), ("kitten", "chelsea.png"),
                                                 ("spacecraft", "rocket.jpg"), ("motorbike", "motorcycle_left.png"),
                                                 ("citrus", "fruits.jpg")])
def test_synonyms_find_the_photo_by_meaning(query: str, expected: str) -> None:
    vectors = conse_embed(np.stack([class_probs(n) for n in PHOTOS]))
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    sims = vectors @ embed_texts([query])[0]
    order = np.argsort(-sims)
    assert PHOTOS[order[0]] == expected and sims[order[0]] - sims[order[1]] > 0.1, dict(zip(PHOTOS, sims))


def test_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError, match="1000"):
        conse_embed(np.ones(10))
