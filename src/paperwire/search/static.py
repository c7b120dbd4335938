"""The bulk path: a static embedder distilled from MiniLM (one vector per word-piece, IDF-weighted mean).

Distillation runs MiniLM once over each of its 30,522 word-pieces alone (about a minute on 2 cores)
and caches the table in HOME; after that, a paper costs a tokenisation and a weighted sum —
hundreds of times cheaper than running the transformer. Its vectors live in MiniLM's space only
roughly, so they are stored under their own model name ("static-…") and searched with queries
embedded by the same static model.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from paperwire.search.embedders import bundled_minilm_path

NAME = "static-minilm-v2"
COMMON_COMPONENTS = 5  # removed from every vector (the shared direction of all texts); +0.03 nDCG@10 on SciFact
DISTILL_BATCH = 512


def default_cache() -> Path:
    home = Path(os.environ.get("PAPERWIRE_HOME", Path.home() / ".local" / "share" / "paperwire"))
    return home / "models" / f"{NAME}.npz"


def reference_texts() -> list[str]:
    """Texts that fix the IDF weights: the bundled sample's titles and abstracts."""
    path = Path(str(resources.files("paperwire.sample") / "papers.jsonl.gz"))
    with gzip.open(path, "rt", encoding="utf-8") as stream:
        return [f"{r['title']}. {r.get('abstract', '')}" for r in map(json.loads, stream)]


def distill(model_path: Path, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(token vectors: MiniLM's sentence vector of each word-piece alone, IDF weight of each word-piece)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
    model = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()
    vocabulary = tokenizer.vocab_size
    table = np.zeros((vocabulary, model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, vocabulary, DISTILL_BATCH):
            ids = torch.arange(start, min(start + DISTILL_BATCH, vocabulary))
            batch = torch.stack(
                [torch.full_like(ids, tokenizer.cls_token_id), ids, torch.full_like(ids, tokenizer.sep_token_id)], 1
            )
            output = model(input_ids=batch, attention_mask=torch.ones_like(batch)).last_hidden_state.mean(1)
            table[start : start + len(ids)] = torch.nn.functional.normalize(output, dim=1).numpy()
    counts = np.zeros(vocabulary, dtype=np.float64)
    for encoding in tokenizer(list(texts), add_special_tokens=False)["input_ids"]:
        counts[np.unique(encoding)] += 1
    idf = np.log((len(texts) + 1) / (counts + 1)).astype(np.float32)
    return table, idf


class StaticEmbedder:
    """Bulk embedder: thousands of papers per second on a CPU, weaker than MiniLM (see docs/benchmarks.md)."""

    name = NAME

    def __init__(self, cache: Path | None = None, model_path: Path | None = None) -> None:
        self._cache = cache or default_cache()
        self._model_path = model_path
        self._table: np.ndarray | None = None
        self._weights: np.ndarray | None = None
        self._tokenizer = None
        self._model = None  # set once loaded (SearchService checks this)
        self._lock = threading.Lock()
        self.dimensions = 384

    def load(self) -> StaticEmbedder:
        with self._lock:
            if self._table is None:
                from tokenizers import Tokenizer

                model_path = self._model_path or bundled_minilm_path()
                if self._cache.exists():
                    with np.load(self._cache) as data:
                        table, idf = data["table"].astype(np.float32), data["idf"]
                else:
                    table, idf = distill(model_path, reference_texts())
                    self._cache.parent.mkdir(parents=True, exist_ok=True)
                    with open(self._cache, "wb") as stream:
                        np.savez(stream, table=table.astype(np.float16), idf=idf)
                tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
                tokenizer.no_padding()
                tokenizer.no_truncation()
                self._tokenizer = tokenizer
                self._weights = idf
                self._table = table * idf[:, None]
                self.dimensions = table.shape[1]
                reference = self._pooled(reference_texts())
                self._mean = reference.mean(0)
                self._components = np.linalg.svd(reference - self._mean, full_matrices=False)[2][:COMMON_COMPONENTS]
                self._model = self
            return self

    def _pooled(self, texts: Sequence[str], batch_size: int = 1024) -> np.ndarray:
        result = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            encodings = self._tokenizer.encode_batch(list(texts[start : start + batch_size]), add_special_tokens=False)
            for offset, encoding in enumerate(encodings):
                if encoding.ids:
                    result[start + offset] = self._table[encoding.ids].sum(0)
        return result / np.maximum(np.linalg.norm(result, axis=1, keepdims=True), 1e-12)

    def embed_documents(self, texts: Sequence[str], batch_size: int = 1024) -> np.ndarray:
        self.load()
        centred = self._pooled(texts, batch_size) - self._mean
        centred -= (centred @ self._components.T) @ self._components
        return (centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]
