"""Search with the real MiniLM model (loaded once per session; only the 12 fixture papers are embedded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from paperwire.app import create_app
from paperwire.ingest import ingest_files
from paperwire.search.embedders import QueryCache, SentenceTransformerEmbedder
from paperwire.search.embedding import embed_missing
from paperwire.search.hybrid import SearchService
from paperwire.settings import Settings
from paperwire.storage import open_store

pytestmark = pytest.mark.slow  # loads MiniLM and embeds

FIXTURE = Path(__file__).parent / "fixtures" / "search_papers.jsonl"
TOM_ID = "2511.22275"


@pytest.fixture(scope="session")
def static_model(minilm: SentenceTransformerEmbedder, tmp_path_factory: pytest.TempPathFactory):
    """The bulk model, distilled here from MiniLM (15–45 s), answering queries with the session's MiniLM."""
    from paperwire.search.static import StaticEmbedder

    return StaticEmbedder(cache=tmp_path_factory.mktemp("models") / "table.npz", query_embedder=minilm).load()


@pytest.fixture
def store(settings: Settings):  # SQLite only: the model, not the backend, is under test here
    store = open_store(settings.effective_database_url)
    yield store
    store.close()


@pytest.fixture
def semantic_app(settings: Settings, store, minilm):
    ingest_files(store, [FIXTURE], "jsonl")
    assert embed_missing(store, minilm).embedded == 12
    application = create_app(settings, store=store)
    application.state.search = SearchService(store, settings, embedder=minilm)
    return application


def test_meaning_finds_a_paper_without_its_words(semantic_app) -> None:
    with TestClient(semantic_app) as client:
        body = client.get("/api/search", params={"q": "can chatbots infer what people believe?"}).json()
    assert body["keywords_only"] is False and body["notice"] is None
    assert body["hits"][0]["id"] == TOM_ID
    assert body["hits"][0]["match"] in ("semantic", "keyword+semantic")


def test_hybrid_keeps_exact_matches_first_and_similar_excludes_itself(semantic_app) -> None:
    with TestClient(semantic_app) as client:
        body = client.get("/api/search", params={"q": "2511.22103"}).json()
        assert [hit["id"] for hit in body["hits"]] == ["2511.22103"]  # the id opens that paper alone
        similar = client.get(f"/api/papers/{TOM_ID}/similar", params={"limit": 3}).json()["similar"]
    assert len(similar) == 3 and TOM_ID not in [hit["id"] for hit in similar]
    assert {hit["match"] for hit in similar} <= {"meaning", "words", "authors", "categories"}
    assert all(hit["reason"] for hit in similar)


@pytest.mark.browser
def test_browser_search_highlight_open_and_similar(semantic_app, browser_page) -> None:
    from browser_support import serve_app

    with serve_app(semantic_app) as base_url:
        page = browser_page
        page.goto(base_url + "/search")
        box = page.get_by_role("searchbox", name="Search query")
        box.fill("theory of mind")
        box.press("Enter")
        page.wait_for_url("**/search?q=theory*")
        first = page.locator(".search-results article").first
        assert first.get_attribute("data-paper-id") == TOM_ID
        assert first.locator("mark").first.inner_text().lower() in ("theory", "mind")
        first.locator(".card-title a").click()
        page.wait_for_url(f"**/papers/{TOM_ID}")
        similar = page.locator(".similar article")
        assert similar.count() >= 3
        assert TOM_ID not in [similar.nth(i).get_attribute("data-paper-id") for i in range(similar.count())]


def test_the_demo_sample_ships_its_vectors(settings: Settings, store, minilm) -> None:
    from paperwire.sample import load_sample

    load_sample(store)
    assert store.count_embeddings(minilm.name) == store.count_papers() > 3000
    assert store.count_texts_to_embed(minilm.name) == 0
    service = SearchService(store, settings, embedder=minilm)
    results = service.search("machines that guess what people believe", limit=5)
    assert not results.keywords_only and len(results.hits) == 5


QUERY_TEXTS = [
    "theory of mind",
    "  Can chatbots infer what people believe?  ",
    "$\\alpha$-divergence für Übersetzung 🤖 — “quoted” text",
    "",
    "graph neural networks " * 120,  # longer than MiniLM's 256 word-pieces: truncated like encode()
]


@pytest.mark.parametrize("bf16", [False, True], ids=["float32", "bfloat16"])
def test_fast_query_embedding_gives_the_vectors_of_encode(minilm: SentenceTransformerEmbedder, bf16: bool) -> None:
    from paperwire.search.embedders import FastBertQuery

    model = minilm.load()
    assert minilm._fast_query is not None  # MiniLM takes the fast path
    fast = FastBertQuery.build(model, bf16=bf16)  # bf16 runs (slowly) even where the CPU emulates it
    expected = model.encode(QUERY_TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    for text, reference in zip(QUERY_TEXTS, expected, strict=True):
        vector = fast(text)
        assert vector.dtype == np.float32 and vector.shape == (384,)
        assert float(vector @ reference) >= (0.999 if bf16 else 0.9999), text[:40]
        assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-5


@pytest.mark.parametrize("bf16", [False, True], ids=["float32", "bfloat16"])
def test_document_vectors_match_encode_in_either_precision_and_keep_input_order(
    minilm: SentenceTransformerEmbedder, bf16: bool
) -> None:
    texts = [
        "A short title.",
        "Graph neural networks for molecules. We propose a message-passing network " * 6,
        "",
        "Theory of mind in large language models: do chatbots infer what people believe?",
    ]
    expected = minilm.load().encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    saved, minilm.bf16 = minilm.bf16, bf16  # bf16 runs (slowly) even where the CPU emulates it
    try:
        vectors = minilm.embed_documents(texts)
    finally:
        minilm.bf16 = saved
    assert vectors.dtype == np.float32 and vectors.shape == (len(texts), 384)
    agreement = np.sum(vectors * expected, axis=1)
    assert agreement.min() >= (0.999 if bf16 else 0.99999), agreement
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ expected[3]) < 0.9  # each vector is its own text's, not a neighbour's


def test_query_vectors_are_cached_and_callers_cannot_corrupt_the_cache(minilm: SentenceTransformerEmbedder) -> None:
    text = "a query typed twice on the site"
    first = minilm.embed_query(text)
    assert minilm.query_cache.get(text) is not None
    first[:] = 0.0  # a caller scribbling on its copy
    second = minilm.embed_query(text)
    assert float(second @ minilm.embed_query_uncached(text)) >= 0.9999


def test_query_cache_keeps_the_most_recent() -> None:
    cache = QueryCache(size=2)
    for text in ("a", "b"):
        cache.put(text, np.ones(3))
    cache.get("a")  # "a" is now the most recent: "b" goes first
    cache.put("c", np.ones(3))
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    assert len(cache) == 2


def test_bulk_vectors_land_near_minilms_and_meaning_finds_a_paper_through_them(
    settings: Settings, store, minilm: SentenceTransformerEmbedder, static_model
) -> None:
    import json

    from paperwire.search.embedders import paper_text

    records = [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = [paper_text(r["title"], r.get("abstract", "")) for r in records]
    bulk, quality = static_model.embed_documents(texts), minilm.embed_documents(texts)
    assert bulk.shape == quality.shape and np.allclose(np.linalg.norm(bulk, axis=1), 1.0, atol=1e-5)
    cosines = bulk @ quality.T
    assert (
        float(np.mean(np.diag(cosines))) >= 0.6
    )  # mapped into MiniLM's space (the sums before the map: ≈ 0.25 on arXiv papers)
    assert sum(int(np.argmax(row) == i) for i, row in enumerate(cosines)) >= len(texts) - 2
    # queries are MiniLM's own vectors (shared embedder, shared cache)
    query = "can chatbots infer what people believe?"
    assert np.array_equal(static_model.embed_query(query), minilm.embed_query(query))

    ingest_files(store, [FIXTURE], "jsonl")
    assert embed_missing(store, static_model).embedded == 12
    service = SearchService(store, settings, embedder=static_model)
    results = service.search(query)
    service.close()
    assert not results.keywords_only
    assert results.hits[0].paper.id == TOM_ID and results.hits[0].reason in ("semantic", "keyword+semantic")
