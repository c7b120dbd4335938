"""Search without a model: query parsing, fusion, hostile queries, exact matches first, filters, sync, CLI."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paperwire.app import create_app
from paperwire.ingest import ingest_files
from paperwire.models import Paper
from paperwire.search import index as search_index
from paperwire.search.embedders import NoEmbedder
from paperwire.search.embedding import embed_missing
from paperwire.search.fusion import (
    FusionSettings,
    SemanticList,
    best_vector_fusion,
    convex_fusion,
    fuse,
    normalise_scores,
    normalise_to_depth,
    reciprocal_rank_fusion,
)
from paperwire.search.hybrid import SearchService
from paperwire.search.query import highlight, parse_query
from paperwire.settings import Settings
from paperwire.storage import open_store

FIXTURE = Path(__file__).parent / "fixtures" / "search_papers.jsonl"
TOM_ID = "2511.22275"
TOM_TITLE = "RecToM: A Benchmark for Evaluating Machine Theory of Mind in LLM-based Conversational Recommender Systems"
HOSTILE = [
    "", " ", '"', '""""', "$\\alpha$", "'; DROP TABLE papers; --", "1 OR 1=1", "title:foo AND (bar",
    "🤖🧠 mind", "a" * 250, "\\", "*", "-", "NOT", "[[[", "ab*", "\x00 nul", "<script>alert(1)</script>",
]  # fmt: skip


# ---- pure functions ------------------------------------------------------------------------------


def test_parse_query_splits_terms_phrases_and_prefixes() -> None:
    parsed = parse_query('  "Theory of Mind" in LLM* agents ')
    assert parsed.phrases == (("theory", "of", "mind"),)
    assert parsed.prefixes == ("llm",)
    assert parsed.terms == ("in", "agents")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2501.12948", "2501.12948"), ("arXiv:2501.12948v3", "2501.12948"),
     ("https://arxiv.org/abs/2501.12948", "2501.12948"), ("hep-th/9901001", "hep-th/9901001"),
     ("deep mind", None), ("2501", None)],
)  # fmt: skip
def test_parse_query_recognises_arxiv_ids(text: str, expected: str | None) -> None:
    assert parse_query(text).arxiv_id == expected


@pytest.fixture(scope="module")
def small_keyword_index(tmp_path_factory: pytest.TempPathFactory):
    from paperwire.search.keyword import KeywordIndex

    index = KeywordIndex(tmp_path_factory.mktemp("keyword"))
    index.upsert([
        Paper(id="1", title="Multi-agent systems of language models", abstract="Agents plan together.",
              authors=("Ada Lovelace",)),
        Paper(id="2", title="On the theory of the mind", abstract="Of the minds of the machines, of the people.",
              authors=("Alan Turing",)),
        Paper(id="3", title="Learning to rank graphs", abstract="Ranked retrieval over graph data.", authors=("Li An",)),
    ])  # fmt: skip
    index.commit()
    return index


@pytest.mark.parametrize("text", [*HOSTILE, "x" * 10_000, '"' * 300, "(" * 500, "é" * 3000])
def test_keyword_query_is_built_from_words_never_from_syntax(small_keyword_index, text: str) -> None:
    # The query is assembled from term and phrase queries over analysed words: no user text is parsed.
    hits = small_keyword_index.search(parse_query(text), None, 10)
    assert isinstance(hits, list) and len(parse_query(text).words) <= 32


def test_keyword_words_are_analysed_as_the_index_was(small_keyword_index) -> None:
    def ids(text: str) -> list[str]:
        return [paper_id for paper_id, _ in small_keyword_index.search(parse_query(text), None, 10)]

    assert ids("ranking graph") == ["3"]  # stems: ranking ~ rank, graph ~ graphs
    assert ids("multi agent") == ids("multi-agent") == ["1"]  # a hyphenated word counts word by word
    assert set(ids("agents of graphs")) == {"1", "3"}  # "of" is left out when the query has other words
    assert ids("of the")[0] == "2"  # ... but not when it has none
    assert ids('"theory of the mind"') == ["2"] and ids('"mind of the theory"') == []  # phrases keep order
    assert ids("lovelace") == ["1"] and ids("rank*") == ["3"]


def test_highlight_escapes_before_marking() -> None:
    marked = highlight("Minds & <b>models</b> of mind", ["mind", "model"])
    assert str(marked) == "<mark>Minds</mark> &amp; &lt;b&gt;<mark>models</mark>&lt;/b&gt; of <mark>mind</mark>"
    assert str(highlight("a &lt; b", ["lt"])) == "a &amp;<mark>lt</mark>; b"


def test_reciprocal_rank_fusion_rewards_agreement() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d", "c"]], k=60)
    assert [item for item, _ in fused] == ["b", "c", "a", "d"]
    weighted = reciprocal_rank_fusion([["a"], ["d"]], weights=[1.0, 3.0])
    assert weighted[0][0] == "d"


def test_convex_fusion_normalises_each_list() -> None:
    fused = convex_fusion({"a": 30.0, "b": 10.0}, {"b": 0.9, "c": 0.5}, semantic_weight=0.5)
    assert dict(fused) == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.0})
    assert fuse([("a", 1.0)], [], FusionSettings()) == [("a", 1.0)]
    assert fuse([], [("z", 0.3)], FusionSettings()) == [("z", 0.3)]


def test_best_vector_fusion_scores_each_paper_by_its_best_model() -> None:
    keyword = {"a": 30.0, "b": 10.0, "n": 20.0}
    quality = SemanticList({"a": 0.9, "b": 0.5, "q": 0.7}, 0.5, {"a", "b", "q", "r"})
    # bulk cosines are on another scale; "a" and "r" also have a bulk vector, but the quality one wins
    bulk = SemanticList({"a": 0.2, "r": 0.99, "s": 0.6, "t": 0.4}, 0.25, {"a", "r", "s", "t", "n"})
    fused = dict(best_vector_fusion(keyword, [quality, bulk]))
    assert fused == pytest.approx({
        "a": 0.5 * 1.0 + 0.5 * 1.0,  # quality: normalised cosine 1
        "b": 0.5 * 0.0 + 0.5 * 0.0,
        "q": 0.5 * 0.5,
        "r": 0.0,  # has a quality vector, not among the quality hits: its bulk hit does not count
        "s": 0.25 * (0.6 - 0.2) / (0.99 - 0.2),  # bulk only: normalised within the bulk list, bulk weight
        "t": 0.25 * (0.4 - 0.2) / (0.99 - 0.2),
        "n": 0.75 * 0.5,  # keyword hit with a bulk vector only, not a bulk hit: bulk weight, 0 on meaning
    })  # fmt: skip
    # a model that has reached few papers: normalised against a deeper rank, lower hits clip to 0
    assert normalise_to_depth({"a": 0.9, "b": 0.7, "c": 0.5, "d": 0.1}, 3) == pytest.approx(
        {"a": 1.0, "b": 0.5, "c": 0.0, "d": 0.0}
    )
    assert normalise_to_depth({"a": 0.9, "b": 0.7}, 10) == normalise_scores({"a": 0.9, "b": 0.7})
    # with one list it is plain convex fusion
    one = SemanticList({"b": 0.9, "c": 0.5}, 0.5, {"b", "c"})
    assert best_vector_fusion({"a": 30.0, "b": 10.0}, [one]) == convex_fusion(
        {"a": 30.0, "b": 10.0}, {"b": 0.9, "c": 0.5}, 0.5
    )


# ---- the service and the web, keywords only ------------------------------------------------------


@pytest.fixture
def loaded(store):
    ingest_files(store, [FIXTURE], "jsonl")
    return store


@pytest.fixture
def keyword_client(settings: Settings, loaded):
    settings = settings.model_copy(update={"embedder": "none"})
    with TestClient(create_app(settings, store=loaded)) as client:
        yield client


def test_hostile_queries_answer_with_results_or_a_clear_422(keyword_client: TestClient) -> None:
    for text in HOSTILE:
        api = keyword_client.get("/api/search", params={"q": text})
        assert api.status_code in (200, 422), (text, api.text)
        body = api.json()
        if api.status_code == 422:
            assert "q is" in body["detail"]
        else:
            assert isinstance(body["hits"], list)
        page = keyword_client.get("/search", params={"q": text})
        assert page.status_code == 200, text
        assert "<script>alert" not in page.text


def test_overlong_query_and_bad_parameters_are_422_with_a_reason(keyword_client: TestClient) -> None:
    for params, words in [({"q": "x" * 10_000}, "limit is 5,000"), ({"q": "mind", "limit": "201"}, "limit must"),
                          ({"q": "mind", "from": "2025-13-01"}, "from must"), ({"q": ""}, "q is empty"),
                          ({"q": "mind", "from": "2025-12-09", "to": "2025-12-01"}, "after")]:  # fmt: skip
        response = keyword_client.get("/api/search", params=params)
        assert response.status_code == 422
        assert words in response.json()["detail"]
    assert keyword_client.get("/search", params={"q": "x" * 10_000}).status_code == 422


def test_exact_arxiv_id_title_and_author_come_first(keyword_client: TestClient) -> None:
    for query, reason in [(TOM_ID, "arxiv id"), (f"arXiv:{TOM_ID}v2", "arxiv id"),
                          (TOM_TITLE.lower(), "title"), ("Mengfan Li", "author")]:  # fmt: skip
        body = keyword_client.get("/api/search", params={"q": query}).json()
        assert body["hits"][0]["id"] == TOM_ID, query
        assert body["hits"][0]["match"] == reason
        assert body["keywords_only"] is True and "disabled" in body["notice"]


def test_filters_limit_and_offset(keyword_client: TestClient) -> None:
    everything = keyword_client.get("/api/search", params={"q": "learning model", "limit": 200}).json()
    assert everything["total"] >= 4
    ids = [hit["id"] for hit in everything["hits"]]
    second = keyword_client.get("/api/search", params={"q": "learning model", "limit": 2, "offset": 2}).json()
    assert [hit["id"] for hit in second["hits"]] == ids[2:4]
    vision = keyword_client.get("/api/search", params={"q": "learning model", "category": "cs.CV"}).json()
    assert vision["hits"] and all(
        hit["categories"][0] == "cs.CV" or "cs.CV" in hit["categories"] for hit in vision["hits"]
    )
    later = keyword_client.get("/api/search", params={"q": "learning model", "from": "2025-12-05"}).json()
    assert later["hits"] and all(hit["listed_on"] >= "2025-12-05" for hit in later["hits"])
    by = keyword_client.get("/api/search", params={"q": "experts", "author": "Yu Li"}).json()
    assert [hit["id"] for hit in by["hits"]] == ["2511.22103"]


def test_search_page_highlights_and_escapes(keyword_client: TestClient) -> None:
    page = keyword_client.get("/search", params={"q": '"theory of mind"'})
    assert page.status_code == 200
    assert "<mark>Theory</mark> of <mark>Mind</mark>" in page.text
    assert 'href="/papers/2511.22275"' in page.text
    empty = keyword_client.get("/search")
    assert empty.status_code == 200 and "arXiv id" in empty.text


def test_similar_without_vectors_falls_back_to_keywords_and_never_returns_itself(keyword_client: TestClient) -> None:
    response = keyword_client.get(f"/api/papers/{TOM_ID}/similar", params={"limit": 5})
    assert response.status_code == 200
    assert TOM_ID not in [hit["id"] for hit in response.json()["similar"]]
    assert keyword_client.get("/api/papers/9999.99999/similar").status_code == 404


# ---- index sync, several nodes, incremental embeddings -------------------------------------------


def test_two_nodes_on_one_database_find_a_new_paper(tmp_path: Path, loaded, monkeypatch) -> None:
    monkeypatch.setattr(search_index, "SYNC_INTERVAL_SECONDS", 0.0)
    nodes = [SearchService(loaded, Settings(home=tmp_path / f"node{i}", embedder="none")) for i in (1, 2)]
    assert all(node.search("zebrafish").hits == [] for node in nodes)
    loaded.upsert_papers([Paper(id="2512.99999", title="Zebrafish fin regeneration atlas", abstract="Zebrafish.")])
    assert all(node.search("zebrafish").hits[0].paper.id == "2512.99999" for node in nodes)
    # A restart reads the saved index and cursor; re-reading the last seconds never duplicates a paper.
    again = SearchService(loaded, Settings(home=tmp_path / "node1", embedder="none"))
    again.index.sync(loaded)
    assert again.index.keyword.count() == 13
    assert again.search("zebrafish").hits[0].paper.id == "2512.99999"


class HashingEmbedder:
    """A deterministic stand-in for a sentence model (same protocol), to test bookkeeping cheaply."""

    def __init__(self, name: str = "hashing-test") -> None:
        self.name = name
        self.dimensions = 16
        self.calls = 0

    def load(self) -> None:
        return None

    def embed_documents(self, texts, batch_size: int = 32) -> np.ndarray:
        self.calls += len(texts)
        rows = [np.frombuffer(hashlib.sha256(text.encode()).digest()[:16], dtype=np.uint8) for text in texts]
        matrix = np.asarray(rows, dtype=np.float32) - 127.5
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def test_embeddings_are_incremental_and_per_model(loaded) -> None:
    embedder = HashingEmbedder()
    assert embed_missing(loaded, embedder).embedded == 12
    assert embed_missing(loaded, embedder).embedded == 0
    paper = loaded.get_paper(TOM_ID)
    votes = Paper(**{**paper.to_record(), "upvotes": 99, "observed_at": "2030-01-01T00:00:00Z"})
    loaded.upsert_papers([votes])
    report = embed_missing(loaded, embedder)
    assert (report.embedded, report.unchanged) == (0, 1)
    loaded.upsert_papers([Paper(**{**paper.to_record(), "abstract": "A new abstract.", "version": 9})])
    assert embed_missing(loaded, embedder).embedded == 1
    assert embed_missing(loaded, HashingEmbedder("another-model")).embedded == 12
    assert embedder.calls == 13


def test_similar_uses_stored_vectors_and_never_returns_itself(tmp_path: Path, loaded) -> None:
    embedder = HashingEmbedder()
    embed_missing(loaded, embedder)
    service = SearchService(loaded, Settings(home=tmp_path / "home"), embedder=embedder)
    hits = service.similar(TOM_ID, limit=20)
    assert len(hits) == 11 and TOM_ID not in [hit.paper.id for hit in hits]
    assert {hit.reason for hit in hits} <= {"meaning", "words", "authors", "categories"}
    assert all(hit.explanation for hit in hits)
    assert embedder.calls == 12  # the 12 documents; no model call for similar papers
    results = service.search("mind", limit=5)
    assert not results.keywords_only and results.notice is None
    ranked = service.rank("theory of mind", paper_ids=[TOM_ID, "2511.22103"], limit=5)
    assert ranked[0].paper_id == TOM_ID and ranked[0].keyword_score > 0


def test_search_uses_the_best_vector_each_paper_has(tmp_path: Path, loaded) -> None:
    """A fast bulk backfill for every paper, quality vectors for half: both serve, never mixed in one index."""
    bulk, quality = HashingEmbedder("bulk-test"), HashingEmbedder("quality-test")
    assert embed_missing(loaded, bulk).embedded == 12
    assert embed_missing(loaded, quality, limit=6).embedded == 6
    service = SearchService(loaded, Settings(home=tmp_path / "home"), embedder=quality, bulk_embedder=bulk)
    service.index.sync(loaded)
    assert len(service.index.vectors) == 6 and len(service.index.bulk_vectors) == 12
    with_quality = set(service.index.vectors.ids)
    bulk_only = set(service.index.bulk_vectors.ids) - with_quality
    assert len(bulk_only) == 6
    # a query no word matches: every paper is found by meaning, half through each model
    results = service.search("zqxj wvkp", limit=50)
    assert not results.keywords_only and results.notice is None
    assert {hit.paper.id for hit in results.hits} == with_quality | bulk_only
    assert {hit.reason for hit in results.hits} == {"semantic"}
    # each paper's score: its own model's cosine, min-max-normalised within that model's hits, times its weight
    quality_query, bulk_query = quality.embed_query("zqxj wvkp"), bulk.embed_query("zqxj wvkp")
    quality_cosines = {i: float(service.index.vectors.vector(i) @ quality_query) for i in with_quality}
    bulk_cosines = {i: float(service.index.bulk_vectors.vector(i) @ bulk_query) for i in service.index.bulk_vectors.ids}
    expected = {}
    for cosines, ids in ((quality_cosines, with_quality), (bulk_cosines, bulk_only)):
        low, high = min(cosines.values()), max(cosines.values())
        expected |= {i: 0.45 * (cosines[i] - low) / (high - low) for i in ids}
    assert {hit.paper.id: hit.score for hit in results.hits} == pytest.approx(expected, abs=2e-3)
    # similar papers of a paper with only a bulk vector: its bulk neighbours
    lonely = sorted(bulk_only)[0]
    similar = service.similar(lonely, limit=20)
    assert len(similar) == 11 and lonely not in [hit.paper.id for hit in similar]
    # once the quality model has every paper, the bulk vectors no longer decide any score
    embed_missing(loaded, quality)
    service.index.sync(loaded)
    everything = service.search("zqxj wvkp", limit=50)
    plain = SearchService(loaded, Settings(home=tmp_path / "plain"), embedder=quality)  # its bulk model has no vectors
    plain.index.sync(loaded)
    assert plain.index.bulk_vectors is None
    alone = plain.search("zqxj wvkp", limit=50)
    assert [hit.paper.id for hit in everything.hits] == [hit.paper.id for hit in alone.hits]
    service.close()
    plain.close()


def test_search_with_embedder_none_still_answers(tmp_path: Path, loaded) -> None:
    service = SearchService(loaded, Settings(home=tmp_path / "home", embedder="none"))
    assert isinstance(service.embedder, NoEmbedder)
    results = service.search("gaussian splatting")
    assert results.keywords_only and results.hits[0].paper.id == "2511.21697"


def test_a_search_right_after_start_waits_for_the_catch_up(tmp_path: Path, loaded) -> None:
    service = SearchService(loaded, Settings(home=tmp_path / "fresh", embedder="none"))
    service.start(warm_model=False)  # the background catch-up of a node that starts with an empty index
    results = service.search("gaussian splatting")
    assert results.total > 0 and results.hits[0].paper.id == "2511.21697"
    service.close()


def test_cli_search_prints_a_json_array_best_first(tmp_path: Path) -> None:
    from paperwire.cli import app, register_commands

    register_commands()
    home = tmp_path / "home"
    store = open_store(Settings(home=home).effective_database_url)
    ingest_files(store, [FIXTURE], "jsonl")
    store.close()
    runner = CliRunner()
    result = runner.invoke(app, ["--home", str(home), "search", "gaussian splatting", "--json", "--limit", "3"],
                           env={"PAPERWIRE_EMBEDDER": "none"})  # fmt: skip
    assert result.exit_code == 0, result.output
    hits = orjson.loads(result.stdout.strip().splitlines()[-1])
    assert hits[0]["id"] == "2511.21697" and {"id", "title", "score"} <= hits[0].keys()
    assert len(hits) <= 3 and hits == sorted(hits, key=lambda hit: -hit["score"])


def unit_vectors(count: int, dimensions: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Ids p0, p1, … and random unit vectors for them."""
    vectors = np.random.default_rng(seed).standard_normal((count, dimensions)).astype(np.float32)
    return [f"p{i}" for i in range(count)], vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_vector_index_turns_approximate_when_large_and_survives_a_restart(tmp_path: Path) -> None:
    from paperwire.search.vectors import VectorIndex

    ids, vectors = unit_vectors(300, 16, seed=3)
    small = VectorIndex(16, ann_min_vectors=1000)
    small.upsert(ids, vectors)
    assert not small.approximate and small.search(vectors[7], 1)[0][0] == "p7"
    large = VectorIndex(16, ann_min_vectors=200)
    large.upsert(ids[:150], vectors[:150])
    large.upsert(ids[150:], vectors[150:])
    large.wait_for_build()  # the approximate index is built on a thread of its own
    assert large.approximate
    large.upsert(["p7"], vectors[8:9])  # a changed vector replaces the old one
    assert large.search(vectors[8], 2)[0][0] in ("p7", "p8")
    large.save(tmp_path / "vectors", {"cursor": ["x", "y"]})
    again, state = VectorIndex.load(tmp_path / "vectors", 16, ann_min_vectors=200)
    assert again.approximate and state == {"cursor": ["x", "y"]} and len(again) == 300
    assert again.search(vectors[42], 1)[0][0] == "p42"
    assert [paper_id for paper_id, _ in again.search_among(vectors[42], ["p1", "p42", "nope"], 5)] == ["p42", "p1"]


def test_an_index_saved_exact_above_the_threshold_builds_its_approximate_index_when_loaded(tmp_path: Path) -> None:
    """A node that saved its vectors before the approximate index was built (or restarts with a lower
    threshold) must not scan every vector on each search until the next paper arrives."""
    from paperwire.search.vectors import VectorIndex

    ids, vectors = unit_vectors(300, 16, seed=4)
    exact = VectorIndex(16, ann_min_vectors=1000)
    exact.upsert(ids, vectors)
    exact.save(tmp_path / "vectors", {"cursor": ["x", "y"]})
    again, _ = VectorIndex.load(tmp_path / "vectors", 16, ann_min_vectors=200)
    assert again.search(vectors[9], 1)[0][0] == "p9"  # searches go on (exactly) while it builds
    again.wait_for_build()
    assert again.approximate and len(again) == 300
    assert again.search(vectors[42], 1)[0][0] == "p42"


def test_approximate_index_finds_what_exact_search_finds_and_retrains_as_it_grows(tmp_path: Path) -> None:
    from paperwire.search.vectors import VectorIndex

    rng = np.random.default_rng(5)
    centres = rng.standard_normal((40, 32))
    vectors = (centres[rng.integers(0, 40, 9000)] + 0.6 * rng.standard_normal((9000, 32))).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"p{i}" for i in range(len(vectors))]
    index = VectorIndex(32, ann_min_vectors=1000)
    index.upsert(ids[:1000], vectors[:1000])
    index.wait_for_build()
    first_lists = index.lists
    for start in range(1000, len(ids), 1000):  # as the sync adds pages
        index.upsert(ids[start : start + 1000], vectors[start : start + 1000])
        index.wait_for_build()
    assert index.approximate and first_lists > 0 and index.lists > first_lists  # re-trained at 4× the size
    queries = vectors[rng.integers(0, len(vectors), 40)] + 0.3 * rng.standard_normal((40, 32)).astype(np.float32)
    found = 0
    for query in queries:
        exact = {ids[i] for i in np.argsort(-(vectors @ query))[:10]}
        found += len(exact & {paper_id for paper_id, _ in index.search(query, 10)})
    assert found / 400 >= 0.95
    index.upsert(["p3"], -vectors[3:4])  # a changed vector replaces the old one
    assert np.allclose(index.vector("p3"), -vectors[3], atol=0.01) and len(index) == len(vectors)
    assert "p3" not in {paper_id for paper_id, _ in index.search(vectors[3], 20)}


def test_writes_during_an_index_build_reach_the_new_index_and_searches_go_on() -> None:
    from paperwire.search.vectors import VectorIndex

    rng = np.random.default_rng(11)
    vectors = rng.standard_normal((1500, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"p{i}" for i in range(len(vectors))]
    index = VectorIndex(16, ann_min_vectors=1000)
    with index._lock:  # the build the 1,000th vector starts cannot read a vector until this block ends
        index.upsert(ids[:1000], vectors[:1000])
        index.upsert(ids[1000:], vectors[1000:])  # written while the new index is being built
        index.upsert(["p3"], -vectors[3:4])
        assert not index.approximate and index.search(vectors[1200], 1)[0][0] == "p1200"
    index.wait_for_build()
    assert index.approximate and len(index) == 1500
    assert index.search(vectors[1200], 1)[0][0] == "p1200" and index.search(vectors[7], 1)[0][0] == "p7"
    assert np.allclose(index.vector("p3"), -vectors[3], atol=0.01)


def test_a_bulk_load_faster_than_the_build_gets_lists_trained_for_its_full_size() -> None:
    from paperwire.search.vectors import VectorIndex, ivf_lists

    rng = np.random.default_rng(13)
    vectors = rng.standard_normal((3000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"p{i}" for i in range(len(vectors))]
    index = VectorIndex(16, ann_min_vectors=300)
    with index._lock:  # all of it arrives before the first build (for 300 vectors) can read one
        for start in range(0, len(ids), 300):
            index.upsert(ids[start : start + 300], vectors[start : start + 300])
    index.wait_for_build()  # that build, then the one it starts for the size reached meanwhile
    assert index.lists == ivf_lists(3000) and len(index) == 3000
    assert index.search(vectors[2999], 1)[0][0] == "p2999"


def test_embed_job_says_when_there_is_nothing_to_do(settings: Settings, loaded) -> None:
    from paperwire.search.embedding import embed_missing_job

    result = embed_missing_job(settings.model_copy(update={"embedder": "none"}), loaded)
    assert result.status == "empty"
