"""The bulk path: a static embedder distilled from MiniLM (one vector per word-piece, IDF-weighted mean,
mapped linearly into MiniLM's space); queries are embedded by MiniLM itself.

Distillation runs MiniLM once over each of its 30,522 word-pieces alone (15–45 s on 2 cores) and
caches the table in HOME; after that, a paper costs a tokenisation, a weighted sum and a 384×384
product — over a hundred times cheaper than running the transformer. The sum lives in MiniLM's space
only roughly; a linear map (`static_map.npz`, fitted by `scripts/fit_static_map.py` on CC0 arXiv
papers and their MiniLM vectors) brings it close enough that the *query* can be MiniLM's own vector:
a query is one short text, so its cost does not matter, and it is the better half of the match.
Vectors are stored under their own model name (they are not MiniLM's) in their own index.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from paperwire.search.embedders import EmbedderUnavailable, bundled_minilm_path

NAME = "static-minilm-v3"
TABLE_NAME = "static-minilm-v2"  # the distilled word-piece table (unchanged since v2: its cache is reused)
DISTILL_BATCH = 512


def default_cache() -> Path:
    home = Path(os.environ.get("PAPERWIRE_HOME", Path.home() / ".local" / "share" / "paperwire"))
    return home / "models" / f"{TABLE_NAME}.npz"


def map_path() -> Path:
    return Path(str(resources.files("paperwire.search") / "static_map.npz"))


def fit_map(pooled: np.ndarray, targets: np.ndarray, ridge: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """(mean, W): the least-squares map (pooled − mean) @ W ≈ targets, with a small ridge term."""
    mean = pooled.mean(0)
    centred = (pooled - mean).astype(np.float64)
    gram = centred.T @ centred + ridge * np.eye(centred.shape[1])
    return mean.astype(np.float32), np.linalg.solve(gram, centred.T @ targets.astype(np.float64)).astype(np.float32)


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


def prepare_table(cache: Path | None = None, model_path: Path | None = None) -> bool:
    """Distil the word-piece table into `cache` (default: HOME/models) unless it is there already; True
    when it was made now. Deterministic (MiniLM's weights and the bundled sample's texts), so `make
    setup` builds it once and the first bulk embed starts embedding at once; never committed."""
    cache = cache or default_cache()
    if cache.exists():
        return False
    table, idf = distill(model_path or bundled_minilm_path(), reference_texts())
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    with open(partial, "wb") as stream:
        np.savez(stream, table=table.astype(np.float16), idf=idf)
    os.replace(partial, cache)  # never a half-written table, even with two preparers at once
    return True


class StaticEmbedder:
    """Bulk embedder: thousands of papers per second on a CPU, weaker than MiniLM (see docs/benchmarks.md).

    `query_embedder`: the MiniLM embedder whose query vectors this one answers with (pass the search's
    own, to share its query cache); by default one of its own, loaded with the table."""

    name = NAME

    def __init__(
        self, cache: Path | None = None, model_path: Path | None = None, query_embedder=None,
        threads: int | None = None,
    ) -> None:  # fmt: skip
        self._cache = cache or default_cache()
        self._model_path = model_path
        self._table: np.ndarray | None = None
        self._fitted: tuple[np.ndarray, np.ndarray] | None = None  # (mean, map) into MiniLM's space
        self._tokenizer: Any = None  # a tokenizers.Tokenizer once loaded
        self._model: StaticEmbedder | None = None  # set once loaded (SearchService checks this)
        self._lock = threading.Lock()
        self._query: Any = query_embedder
        self._threads = threads
        self.dimensions = 384

    def load(self) -> StaticEmbedder:
        with self._lock:
            if self._table is None:
                from tokenizers import Tokenizer

                model_path = self._model_path or bundled_minilm_path()
                table = self._load_table(model_path)
                if map_path().exists():  # absent only while scripts/fit_static_map.py makes it
                    with np.load(map_path()) as fitted:
                        self._fitted = fitted["mean"].astype(np.float32), fitted["map"].astype(np.float32)
                tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
                tokenizer.no_padding()
                tokenizer.no_truncation()
                self._tokenizer = tokenizer
                self._table = table
                self.dimensions = table.shape[1]
                if self._query is None:
                    from paperwire.search.embedders import SentenceTransformerEmbedder

                    self._query = SentenceTransformerEmbedder(path=self._model_path, threads=self._threads)
                self._model = self
        self._query.load()
        return self

    def _load_table(self, model_path: Path) -> np.ndarray:
        """The IDF-weighted word-piece table: prepared at setup (`paperwire embed --prepare`), else
        distilled on first use and cached."""
        prepare_table(self._cache, model_path)
        with np.load(self._cache) as data:
            table, idf = data["table"].astype(np.float32), data["idf"]
        return table * idf[:, None]

    def pooled(self, texts: Sequence[str], batch_size: int = 1024) -> np.ndarray:
        """Unit-length IDF-weighted sums of the texts' word-piece vectors (before the map)."""
        if self._table is None:
            self.load()
        table = self._table
        if table is None:
            raise EmbedderUnavailable("the static embedding table did not load")
        result = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            encodings = self._tokenizer.encode_batch(list(texts[start : start + batch_size]), add_special_tokens=False)
            for offset, encoding in enumerate(encodings):
                if encoding.ids:
                    result[start + offset] = table[encoding.ids].sum(0)
        return result / np.maximum(np.linalg.norm(result, axis=1, keepdims=True), 1e-12)

    def embed_documents(self, texts: Sequence[str], batch_size: int = 1024) -> np.ndarray:
        pooled = self.pooled(texts, batch_size)
        if self._fitted is None:
            raise EmbedderUnavailable(f"{map_path()} is missing: run scripts/fit_static_map.py")
        mean, linear = self._fitted
        mapped = (pooled - mean) @ linear
        return (mapped / np.maximum(np.linalg.norm(mapped, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """MiniLM's own query vector (the documents' vectors were mapped into its space)."""
        if self._query is None:
            self.load()
        return self._query.embed_query(text)
