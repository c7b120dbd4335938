"""Similar papers: never the paper itself, same-author and same-topic papers found, a reason for each, and
bulk vectors that never rank worse than the keywords alone."""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from paperwire.app import create_app
from paperwire.ingest import ingest_files
from paperwire.models import Paper
from paperwire.search.embedding import embed_missing
from paperwire.search.hybrid import SearchService
from paperwire.search.keyword import ANALYZERS
from paperwire.search.reasons import explain
from paperwire.search.similar import Signals, _find, distinctive_tokens, every_word_bm25
from paperwire.settings import Settings as Settings
from paperwire.storage import Store

FIXTURE = Path(__file__).parent / "fixtures" / "similar_papers.jsonl"
CONTRASTIVE = "2510.10001"  # contrastive decoding; Mira Okafor also wrote the traffic paper 2510.10004
SAME_TOPIC = {"2510.10002", "2510.10003"}  # contrastive decoding by other authors
SAME_AUTHOR = "2510.10004"


@pytest.fixture
def catalogue(store: Store) -> Store:
    ingest_files(store, [FIXTURE], "jsonl")
    return store


def keyword_service(store: Store, home: Path) -> SearchService:
    return SearchService(store, Settings(home=home, embedder="none"))


def test_similar_papers_never_include_the_paper_itself(catalogue: Store, tmp_path: Path) -> None:
    service = keyword_service(catalogue, tmp_path / "home")
    for paper in catalogue.iter_papers():
        ids = [hit.paper.id for hit in service.similar(paper.id, limit=100)]
        assert paper.id not in ids and len(ids) == len(set(ids))
    service.close()


def test_same_author_and_same_topic_papers_come_with_their_reasons(catalogue: Store, tmp_path: Path) -> None:
    service = keyword_service(catalogue, tmp_path / "home")
    hits = service.similar(CONTRASTIVE, limit=6)
    reasons = {hit.paper.id: hit.explanation for hit in hits}
    assert SAME_TOPIC | {SAME_AUTHOR} <= set(reasons)
    assert SAME_TOPIC <= {hit.paper.id for hit in hits[:3]}  # near the top: they share the most
    assert reasons[SAME_AUTHOR] == "same authors: Mira Okafor"
    assert all(reasons[i] == "shares *contrastive decoding*" for i in SAME_TOPIC)
    assert all(hit.explanation for hit in hits)
    service.close()


def test_what_readers_also_kept_is_a_signal_when_wired(catalogue: Store, tmp_path: Path) -> None:
    service = keyword_service(catalogue, tmp_path / "home")
    unrelated = "2510.10006"  # robotic grasping: no word, author or category in common with CONTRASTIVE
    assert unrelated not in [hit.paper.id for hit in service.similar(CONTRASTIVE, limit=100)]
    service.also_kept = lambda paper_id, limit: [(unrelated, 3.0), (paper_id, 9.0)]  # (libraries: another helper)
    hits = {hit.paper.id: hit for hit in service.similar(CONTRASTIVE, limit=100)}
    assert hits[unrelated].explanation == "readers who kept this paper also kept it"
    assert CONTRASTIVE not in hits
    service.close()


def test_api_pages_similar_papers_up_to_100_with_reasons(catalogue: Store, settings: Settings) -> None:
    settings = settings.model_copy(update={"embedder": "none"})
    with TestClient(create_app(settings, store=catalogue)) as client:
        answer = client.get(f"/api/papers/{CONTRASTIVE}/similar", params={"limit": 100}).json()
        assert answer["index"] == {"state": "ready"}
        ids = [item["id"] for item in answer["similar"]]
        assert CONTRASTIVE not in ids and SAME_AUTHOR in ids and all(item["reason"] for item in answer["similar"])
        second = client.get(f"/api/papers/{CONTRASTIVE}/similar", params={"limit": 2, "offset": 2}).json()
        assert [item["id"] for item in second["similar"]] == ids[2:4]
        assert client.get(f"/api/papers/{CONTRASTIVE}/similar", params={"limit": 101}).status_code == 422
        assert client.get(f"/api/papers/{CONTRASTIVE}/similar", params={"limit": 50, "offset": 51}).status_code == 422
        page = client.get(f"/papers/{CONTRASTIVE}")
        assert page.text.count('class="card"') == 6 and "More like this" in page.text
        assert "same authors: Mira Okafor" in page.text and "\u201ccontrastive decoding\u201d" in page.text
        assert 6 < len(ids) <= 12  # papers that share nothing (no word, author or category) are not "similar"
        more = client.get(f"/papers/{CONTRASTIVE}", params={"similar_page": 1})
        assert more.text.count('class="card"') == len(ids) and 'rel="next"' not in more.text and "Fewer" in more.text
        past = client.get(f"/papers/{CONTRASTIVE}", params={"similar_page": 2})
        assert past.text.count('class="card"') == 0 and "No more similar papers" in past.text
        assert client.get(f"/papers/{CONTRASTIVE}", params={"similar_page": "x"}).status_code == 422


def test_papers_three_readers_kept_together_show_on_each_others_similar_list_and_no_fewer(
    catalogue: Store, settings: Settings
) -> None:
    """Kept = saved, in a collection or upvoted. Two readers keeping the same two papers is not enough: a
    paper page must not show through one reader's private library."""
    unrelated = "2510.10006"  # robotic grasping: nothing in common with CONTRASTIVE but its readers
    readers = [catalogue.ensure_user(f"reader{k}@example.org")["id"] for k in range(3)]
    for paper_id in (CONTRASTIVE, unrelated):
        catalogue.set_saved(readers[0], paper_id, True)
        catalogue.set_vote(paper_id, readers[2], True)
    collection = catalogue.create_collection(readers[1], "decoding")
    catalogue.set_in_collection(collection["id"], CONTRASTIVE, True)
    settings = settings.model_copy(update={"embedder": "none"})

    def similar(client: TestClient) -> dict[str, str]:
        answer = client.get(f"/api/papers/{CONTRASTIVE}/similar", params={"limit": 100}).json()
        return {item["id"]: item["reason"] for item in answer["similar"]}

    with TestClient(create_app(settings, store=catalogue)) as client:
        assert unrelated not in similar(client)  # two readers kept both
        catalogue.set_in_collection(collection["id"], unrelated, True)  # the third
        assert similar(client)[unrelated] == "readers who kept this paper also kept it"
        assert catalogue.also_kept(CONTRASTIVE, 10) == [(unrelated, 3.0)]
        catalogue.set_vote(unrelated, readers[2], False)  # withdrawn: two again
        assert unrelated not in similar(client)


def test_words_score_candidates_by_plain_bm25_of_every_word(store: Store, tmp_path: Path) -> None:
    """The words signal is BM25 with every title and abstract word of the paper as the query (each once), as
    a keyword query of every word scores it, though computed from the stored token bags of what the paper's
    distinctive words propose: same scores within 5%, same order."""
    papers = topic_papers()
    store.upsert_papers(papers)
    service = keyword_service(store, tmp_path / "home")
    service.index.sync(store)
    keyword = service.index.keyword
    analyzer = ANALYZERS["en_stem"]
    for paper in papers[::7]:
        every_word = list(dict.fromkeys(analyzer.analyze(f"{paper.title} {paper.abstract}")))
        exact = dict(keyword.search_tokens(every_word, len(papers)))
        hits = keyword.search_bags(list(distinctive_tokens(service, paper)), 30)
        scored = every_word_bm25(service, paper, {paper_id: bag for paper_id, _, bag in hits})
        assert set(scored) == {paper_id for paper_id, _, _ in hits} and len(scored) >= 8
        for paper_id, score in scored.items():
            assert score == pytest.approx(exact[paper_id], rel=0.05)
        ours = sorted(scored, key=lambda i: -scored[i])
        assert ours[:5] == sorted(scored, key=lambda i: -exact[i])[:5]
    service.close()


def test_a_words_reason_names_what_the_two_papers_are_about_never_filler_or_catalogue_wide_words() -> None:
    """The reason names a shared phrase of specific words; never one of filler ("two key") or of words most
    papers use ("large language"); a single word only when it is the paper's topic (in its title or used
    twice), else it says no more than "similar words"."""
    # idf of each stem in the catalogue: "larg", "languag" and "model" are in most papers
    idf = {"larg": 0.7, "languag": 0.7, "model": 0.5, "two": 3.0, "key": 3.0, "contrast": 4.0, "decod": 3.5,
           "hallucin": 4.5, "zebrafish": 6.0, "rag": 5.0, "system": 1.5, "benchmark": 2.0, "studi": 1.5}  # fmt: skip

    def paper(paper_id: str, title: str, abstract: str) -> Paper:
        return Paper(id=paper_id, title=title, abstract=abstract, authors=(), categories=(), listed_on="2025-10-01")

    def why(one: Paper, other: Paper) -> str:
        return explain(one, other, Signals(words=1.0), "words", idf)

    own = paper("1", "Contrastive decoding for large language models",
                "Two key ideas. Contrastive decoding reduces hallucination in large language models; hallucination "
                "is measured.")  # fmt: skip
    same_method = paper("2", "A study", "We use contrastive decoding. Two key results for large language models.")
    assert why(own, same_method) == "shares *contrastive decoding*"
    only_common = paper("3", "A study", "Two key findings on large language models and their hallucination.")
    assert why(own, only_common) == "shares the words *hallucination*"  # used twice by the paper: its topic
    once = paper("4", "Benchmark", "Zebrafish and a benchmark of large language models.")
    mentions = paper("5", "Other", "A benchmark of zebrafish and large language models, two key parts.")
    assert why(once, mentions) == "shares the words *benchmark*"  # in its title; "zebrafish" is used once
    assert why(paper("6", "Study", "Large language models, two key parts."), only_common) == "similar words"
    rag = paper("7", "Mixture of RAG systems", "Mixture routing for RAG systems.")
    assert why(rag, paper("8", "Audits", "We audit RAG systems.")) == "shares *RAG systems*"  # an acronym as written


# token hashes drawn from few low-16-bit slots, so that query tokens often share a slot in `_find`'s table
HASHES = st.builds(lambda high, low: (high << 16) | low, st.integers(0, 0xFFFF), st.integers(0, 3))


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.lists(HASHES, unique=True, max_size=40), st.lists(HASHES, max_size=200), st.data())
def test_every_word_finds_each_bag_token_of_the_query_exactly(query: list[int], others: list[int], data) -> None:
    """`_find` (which bag tokens are query tokens, and which ones) agrees with a plain lookup, also when
    several query tokens share a table slot."""
    bag = others + data.draw(st.lists(st.sampled_from(query), max_size=50)) if query else others
    position = {value: k for k, value in enumerate(query)}
    found, at = _find(np.array(query, dtype=np.uint32), np.array(bag, dtype=np.uint32))
    assert found.tolist() == [value in position for value in bag]
    assert [int(k) for k in at[found]] == [position[value] for value in bag if value in position]


def test_a_new_version_of_a_paper_replaces_its_token_bags(store: Store, tmp_path: Path) -> None:
    """The every-word scores of a paper whose abstract changed are those of the new abstract (its bags are
    replaced, in the same sync that re-indexes it), and a rolled-back write leaves no bags behind."""
    from dataclasses import replace

    from paperwire.search.keyword import bag_of

    papers = topic_papers()
    store.upsert_papers(papers)
    service = keyword_service(store, tmp_path / "home")
    service.index.sync(store)
    keyword = service.index.keyword
    changed = replace(papers[3], abstract="spectrogram transcription phoneme " * 3, listed_on="2025-10-02")
    assert keyword.bags.read([changed.id])[changed.id][1] == bag_of(papers[3].abstract)
    store.upsert_papers([changed])
    service.index.sync(store)
    assert keyword.bags.read([changed.id])[changed.id] == (bag_of(changed.title), bag_of(changed.abstract))
    query = papers[10]  # a speech paper: the changed one now speaks its words
    every_word = list(dict.fromkeys(ANALYZERS["en_stem"].analyze(f"{query.title} {query.abstract}")))
    exact = dict(keyword.search_tokens(every_word, len(papers)))
    scored = every_word_bm25(service, query, keyword.bags.read([paper.id for paper in papers]))
    assert scored[changed.id] == pytest.approx(exact[changed.id], rel=0.05)
    keyword.upsert([replace(changed, id="2510.99999")])
    keyword.release()  # a sync that failed midway
    keyword.commit()
    assert keyword.bags.read(["2510.99999"]) == {}
    service.close()


def test_an_index_folder_of_an_older_schema_is_rebuilt_with_its_bags(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "home" / "search" / "keyword"
    folder.mkdir(parents=True)
    (folder / "schema-version").write_text("3")
    (folder / "bags").mkdir()  # the old side index of bags
    store.upsert_papers(topic_papers())
    service = keyword_service(store, tmp_path / "home")
    service.index.sync(store)
    assert not (folder / "bags").exists() and (folder / "bags.sqlite3").exists()
    assert len(service.index.keyword.bags.read([paper.id for paper in topic_papers()])) == 96
    assert service.similar(topic_papers()[0].id, limit=3)
    service.close()


# ---- a bulk-only catalogue ranks at least as the keywords do ---------------------------------------------

TOPICS = {
    "graphs": "graph node edge message passing neighbourhood aggregation spectral",
    "speech": "speech audio acoustic phoneme spectrogram transcription speaker",
    "vision": "image pixel convolution segmentation detection bounding camera",
    "robots": "robot grasp manipulator locomotion actuator gripper trajectory",
    "proteins": "protein residue folding enzyme sequence binding molecular",
    "privacy": "privacy federated client differential noise aggregation leakage",
    "tables": "table column row spreadsheet schema tabular join",
    "music": "music melody chord rhythm tempo instrument harmony",
    "weather": "weather rainfall forecast climate storm humidity precipitation",
    "markets": "market price trading portfolio volatility asset stock",
    "compilers": "compiler register bytecode parser optimisation loop instruction",
    "medicine": "clinical patient diagnosis hospital treatment symptom therapy",
}
FILLER = "we study a method and report results on benchmarks with experiments and analysis".split()


def topic_papers() -> list[Paper]:
    """12 topics × 8 papers, each with three of its topic's words among common filler (deterministic)."""
    papers = []
    for t, vocabulary in enumerate(TOPICS.values()):
        words = vocabulary.split()
        for k in range(8):
            own = [words[(k + j) % len(words)] for j in range(3)]
            title = f"{own[0].title()} {own[1]} study {k}"
            abstract = " ".join(FILLER[(k + j) % len(FILLER)] for j in range(8)) + " " + " ".join(own * 2)
            papers.append(Paper(id=f"2510.{t:02d}{k:03d}", title=title, abstract=abstract, authors=[f"Author {t}{k}"],
                                categories=["cs.LG"], listed_on="2025-10-01"))  # fmt: skip
    return papers


class TableEmbedder:
    """A model whose vectors are given per paper (by the title's first word): noise or the topic."""

    def __init__(self, name: str, vector_of) -> None:  # title → vector
        self.name, self.dimensions, self._model, self.vector_of = name, 16, self, vector_of

    def load(self) -> None:
        return None

    def embed_documents(self, texts, batch_size: int = 32) -> np.ndarray:
        rows = np.asarray([self.vector_of(text) for text in texts], dtype=np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def noise(text: str) -> np.ndarray:
    return np.random.default_rng(zlib.crc32(text.encode())).normal(size=16)


def topic_vector(text: str) -> np.ndarray:
    first = text.split()[0].lower()
    index = next(t for t, words in enumerate(TOPICS.values()) if first in words.split())
    return np.eye(16)[index] + 0.05 * noise(text)  # 12 topics, 16 dimensions


def mean_ndcg(service: SearchService, papers: list[Paper]) -> float:
    topic_of = {paper.id: paper.id[:7] for paper in papers}  # 2510.TTkkk
    total = 0.0
    for paper in papers:
        ranked = [hit.paper.id for hit in service.similar(paper.id, limit=7)]
        gains = sum(1 / math.log2(i + 2) for i, other in enumerate(ranked) if topic_of[other] == topic_of[paper.id])
        total += gains / sum(1 / math.log2(i + 2) for i in range(7))
    return total / len(papers)


@pytest.mark.parametrize(("vectors", "stronger"), [(noise, False), (topic_vector, True)], ids=["noise", "topic"])
def test_bulk_only_catalogue_ranks_at_least_as_the_keywords(store: Store, tmp_path: Path, vectors, stronger) -> None:
    papers = topic_papers()
    store.upsert_papers(papers)
    keywords = keyword_service(store, tmp_path / "keywords")
    by_keywords = mean_ndcg(keywords, papers)
    bulk = TableEmbedder("bulk-test", vectors)
    assert embed_missing(store, bulk).embedded == len(papers)
    service = SearchService(store, Settings(home=tmp_path / "bulk"), embedder=TableEmbedder("quality-test", noise),
                            bulk_embedder=bulk)  # fmt: skip
    service.index.sync(store)
    assert service.index.vectors is None and len(service.index.bulk_vectors) == len(papers)  # bulk vectors only
    with_bulk = mean_ndcg(service, papers)
    # noise falls silent (without the agreement gate these noise vectors lower it, 0.750 → 0.745, and this
    # fails); meaning that agrees with the words helps (0.750 → 0.775)
    assert with_bulk >= by_keywords
    if stronger:
        assert with_bulk >= by_keywords + 0.02
    keywords.close()
    service.close()
