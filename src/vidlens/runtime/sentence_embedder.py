"""Sentence embeddings for text search: texts in, unit vectors ``float32 [N, 384]`` out.

The model is all-MiniLM-L6-v2 (``all_minilm_l6_v2`` in the manifest), shipped as one file with INT8 weights
(float arithmetic): 24 MB instead of the 90 MB fp32 export, which is not shipped.  It returns the same nearest
texts as fp32 for 96 % of ~1000 varied texts (the rest are near ties); figures in the manifest.  Its ONNX graph
already ends in mean pooling and L2 normalisation, so the only work here is tokenization, which must match the
model exactly: the shipped ``tokenizer.json`` (sha256-checked like the model) read with the ``tokenizers``
package, truncated at the model's 256 tokens and padded per batch.  The file itself says 128 and fixed padding to
128 (its upstream default); sentence-transformers overrides both, and so do we, from the manifest's
``preprocessing``.

Cosine similarity of two embeddings is their dot product.  Text past 256 tokens (roughly 180–200 English words)
does not count: embed long transcripts in chunks.  Which model made a vector is in :attr:`model_id`; a search index
should store it, since vectors of different models (or of fp32 and INT8) must not be compared with each other.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache

import numpy as np
from tokenizers import Tokenizer

from ..errors import UsageError
from .registry import ModelIntegrityError, companion_file, model_entry
from .session import load_model

MODEL = "all_minilm_l6_v2"
BATCH_SIZE = 32  # 32 short captions per run: the batch the conversion measured
CACHE_SIZE = 1024  # texts whose vectors are kept: repeated queries and repeated captions cost nothing


def load_tokenizer(name: str = MODEL, variant: str | None = None) -> Tokenizer:
    """The model's tokenizer, verified against the manifest and set to its max length, without padding
    (batches are padded here, to their own longest text)."""
    entry = model_entry(name, variant)
    path = companion_file(entry, "tokenizer")
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as error:  # the tokenizers package raises a bare Exception for unreadable JSON
        raise ModelIntegrityError(f"cannot read the tokenizer of {name} ({path}): {error}") from error
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=int(entry.meta["preprocessing"]["max_length"]))
    return tokenizer


class SentenceEmbedder:
    """Embeds texts with the shipped sentence model; one instance can be shared by threads."""

    def __init__(self, variant: str | None = None, batch_size: int = BATCH_SIZE, cache_size: int = CACHE_SIZE):
        if batch_size < 1:
            raise UsageError(f"batch_size must be >= 1, got {batch_size}")
        if cache_size < 0:
            raise UsageError(f"cache_size must be >= 0, got {cache_size}")
        self._tokenizer = load_tokenizer(MODEL, variant)  # before the session: a bad tokenizer fails fast
        self._model = load_model(MODEL, variant)
        self.batch_size = batch_size
        self.max_length = int(self._model.entry.meta["preprocessing"]["max_length"])
        self.dim = int(self._model.entry.meta["outputs"][0]["shape"][1])
        self._cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        """``name:variant:sha256-prefix`` of the ONNX file that makes the vectors (store it with them)."""
        entry = self._model.entry
        return f"{entry.name}:{entry.variant}:{entry.sha256[:12]}"

    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for ``text``, [CLS] and [SEP] included, after truncation."""
        return len(self._tokenizer.encode(text).ids)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """``float32 [len(texts), dim]``, one L2-normalised row per text, in order.  An empty list gives
        ``[0, dim]``; an empty string gives the model's vector for no words (a valid unit vector)."""
        texts = _checked(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for i, text in enumerate(texts):
                hit = self._cache.get(text)
                if hit is None:
                    missing.setdefault(text, []).append(i)
                else:
                    self._cache.move_to_end(text)
                    out[i] = hit
        if missing:
            unique = list(missing)
            for text, vector in zip(unique, self._run(unique)):
                out[missing[text]] = vector
                self._remember(text, vector)
        return out

    def embed_one(self, text: str) -> np.ndarray:
        """``float32 [dim]`` for one text (a search query)."""
        return self.embed([text])[0]

    def _run(self, texts: list[str]) -> np.ndarray:
        """Texts in batches of similar length (less padding), results back in input order."""
        encodings = self._tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            ids = [encodings[i].ids for i in chunk]
            width = max(len(x) for x in ids)
            input_ids = np.zeros((len(chunk), width), dtype=np.int64)
            mask = np.zeros((len(chunk), width), dtype=np.int64)
            for row, x in enumerate(ids):
                input_ids[row, :len(x)] = x
                mask[row, :len(x)] = 1
            feeds = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
            vectors[chunk] = self._model.run(feeds)["sentence_embedding"]
        return vectors

    def _remember(self, text: str, vector: np.ndarray) -> None:
        if self._cache_size == 0:
            return
        stored = vector.copy()
        stored.flags.writeable = False
        with self._lock:
            self._cache[text] = stored
            self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)


def _checked(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):  # a str is a Sequence[str] of characters: almost surely a mistake
        raise UsageError("embed() takes a list of texts; use embed_one() for a single text")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise UsageError(f"texts must be strings, got {type(text).__name__} at index {i}: {text!r:.60}")
    return texts


@cache
def default_embedder() -> SentenceEmbedder:
    """The process-wide embedder (the shipped INT8 file), created on first use."""
    return SentenceEmbedder()


def embed_texts(texts: Sequence[str]) -> np.ndarray:
    """``float32 [N, 384]`` L2-normalised sentence embeddings of ``texts`` (see :class:`SentenceEmbedder`)."""
    return default_embedder().embed(texts)
