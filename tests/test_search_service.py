"""One search service per process: two of them on one index both keep learning, every node catches up in
the background, a search during a build says so, and jobs use the process's service."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from paperwire.app import create_app
from paperwire.jobs import JOBS, run_job
from paperwire.models import Paper
from paperwire.search import index as search_index
from paperwire.search.embedding import embed_missing
from paperwire.search.hybrid import SearchService
from paperwire.settings import Settings
from paperwire.storage import Store


def papers(start: int, count: int, word: str = "lattice") -> list[Paper]:
    return [
        Paper(id=f"2512.{n:05d}", title=f"Paper {n} on {word} {n}x", abstract=f"About {word} and item{n}x.",
              listed_on="2025-12-01")
        for n in range(start, start + count)
    ]  # fmt: skip


def finds(service: SearchService, paper_id: str) -> bool:
    number = int(paper_id.split(".")[1])
    return paper_id in [hit.paper.id for hit in service.search(f"item{number}x", limit=5).hits]


def test_two_services_on_one_index_both_find_every_new_paper(store: Store, tmp_path: Path) -> None:
    home = tmp_path / "shared-home"  # a web node and a digest run of one HOME: one index folder
    nodes = [SearchService(store, Settings(home=home, embedder="none")) for _ in range(2)]
    stop = threading.Event()
    conflicts: list[bool] = []

    def keep_syncing(node: SearchService) -> None:
        while not stop.is_set():
            report = node.index.sync(store)
            conflicts.append(report.writer_busy)

    workers = [threading.Thread(target=keep_syncing, args=(node,)) for node in nodes]
    for worker in workers:
        worker.start()
    for batch in range(20):  # papers arrive while both sync
        store.upsert_papers(papers(batch * 5, 5))
    stop.set()
    for worker in workers:
        worker.join()
    assert any(conflicts)  # they did meet at the writer lock
    for node in nodes:
        node.index.sync(store)  # one more sync each: the next one after the papers arrived
    for node in nodes:
        assert all(finds(node, f"2512.{n:05d}") for n in range(100))
    for turn, node in enumerate(nodes):  # each keeps learning alone too (the other one idle or gone)
        store.upsert_papers(papers(200 + turn, 1))
        node.index.sync(store)
        assert finds(node, f"2512.{200 + turn:05d}")
    for node in nodes:
        node.close()


def test_a_writer_lock_conflict_is_retried_on_the_next_sync(store: Store, tmp_path: Path) -> None:
    home = tmp_path / "shared-home"
    first, second = (SearchService(store, Settings(home=home, embedder="none")) for _ in range(2))
    store.upsert_papers(papers(0, 3))
    assert first.index.sync(store).papers == 3
    store.upsert_papers(papers(3, 1))
    holding = first.index.keyword.writer  # the other holder writes right now
    busy = second.index.sync(store)
    assert busy.writer_busy and busy.papers == 0 and finds(second, "2512.00000")  # it read the holder's commits
    assert holding is first.index.keyword.writer
    del holding  # the lock goes with the last reference to the writer
    first.index.keyword.release()
    again = second.index.sync(store)  # never latched read-only: the next sync writes
    assert not again.writer_busy and again.papers == 4
    assert first.index.sync(store).papers == 1  # and the first one, after its next sync
    assert finds(second, "2512.00003") and finds(first, "2512.00003")
    first.close()
    second.close()


class GatedStore:
    """The real store, whose paper pages wait for `gate` after the first one: a build caught midway."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.gate = threading.Event()
        self.waiting = threading.Event()  # the build wrote its first page and waits for the gate
        self.pages = 0

    def __getattr__(self, name: str):  # everything else is the real store's
        return getattr(self._store, name)

    def papers_changed_since(self, cursor, limit: int = 2000):
        self.pages += 1
        if self.pages > 1:
            self.waiting.set()
            self.gate.wait(30)
        return self._store.papers_changed_since(cursor, limit)


def test_a_search_during_the_build_answers_from_what_is_indexed_and_says_so(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_index, "PAGE", 50)
    monkeypatch.setattr(search_index, "BUILD_COMMIT_SECONDS", 0.0)
    store.upsert_papers(papers(0, 120))
    gated = GatedStore(store)
    settings = settings.model_copy(update={"embedder": "none"})
    with TestClient(create_app(settings, store=gated)) as client:  # a --no-jobs node: no scheduler
        assert gated.waiting.wait(30)
        answer = client.get("/api/search", params={"q": "lattice", "limit": 200}).json()
        assert answer["index"] == {"state": "building", "done": 50, "of": 120}
        assert answer["total"] == 50 and "still being built (50 of 120 papers)" in answer["notice"]
        page = client.get("/search", params={"q": "lattice"})
        assert "still being built (50 of 120 papers)" in page.text
        gated.gate.set()
        service, ready = client.app.state.search, threading.Event()
        for _ in range(600):  # wait for the condition (the build finished), not for a clock
            if service.index_state() == {"state": "ready"}:
                ready.set()
                break
            ready.wait(0.05)
        assert ready.is_set()
        done = client.get("/api/search", params={"q": "lattice", "limit": 200}).json()
        assert done["index"] == {"state": "ready"} and done["total"] == 120 and "being built" not in done["notice"]


def test_every_node_follows_the_database_in_the_background(
    store: Store, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from paperwire.search import hybrid

    monkeypatch.setattr(hybrid, "SYNC_FOLLOW_SECONDS", 0.05)
    settings = settings.model_copy(update={"embedder": "none"})
    with TestClient(create_app(settings, store=store)) as client:  # run_jobs=False: `serve --no-jobs`
        service = client.app.state.search
        store.upsert_papers(papers(0, 1, word="zeolite"))
        synced = threading.Event()
        for _ in range(600):  # wait for the condition (the follower's sync), not for a clock
            if service.index.keyword.count() == 1:
                synced.set()
                break
            synced.wait(0.05)
        assert synced.is_set()  # indexed without any search asking for it


class SlowModel:
    """A model that is still loading until `loaded` is set."""

    def __init__(self, name: str) -> None:
        self.name, self.dimensions, self._model = name, 4, None
        self.loaded = threading.Event()

    def load(self) -> None:
        self.loaded.wait(30)
        self._model = self

    def embed_documents(self, texts, batch_size: int = 32) -> np.ndarray:
        return np.tile(np.array([1.0, 0.0, 0.0, 0.0], dtype=np.float32), (len(texts), 1))

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def test_while_the_model_loads_the_notice_names_the_real_cause(store: Store, tmp_path: Path) -> None:
    store.upsert_papers(papers(0, 3))
    bulk, quality = SlowModel("bulk-slow"), SlowModel("quality-slow")
    bulk._model = bulk  # ready to embed documents
    embed_missing(store, bulk)
    bulk._model = None  # ... and, in the search process, still loading
    service = SearchService(store, Settings(home=tmp_path / "home"), embedder=quality, bulk_embedder=bulk)
    results = service.search("lattice", wait_for_model=False)
    assert results.hits and "no paper has an embedding" not in results.notice
    assert "still loading" in results.notice
    bulk.loaded.set()
    quality.loaded.set()
    service.close()
    empty = SearchService(store, Settings(home=tmp_path / "other"), embedder=SlowModel("never-embedded"))
    assert "no paper has an embedding yet" in empty.search("lattice", wait_for_model=False).notice
    empty.close()


class CountingModel(SlowModel):
    def __init__(self) -> None:
        super().__init__("counting")
        self._model = self
        self.documents = 0

    def embed_documents(self, texts, batch_size: int = 32) -> np.ndarray:
        self.documents += len(texts)
        return super().embed_documents(texts, batch_size)


def test_the_embedding_job_uses_the_process_search_service_model(store: Store, tmp_path: Path) -> None:
    store.upsert_papers(papers(0, 4))
    model = CountingModel()
    settings = Settings(home=tmp_path / "home", embedder="all-MiniLM-L6-v2")
    service = SearchService(store, settings, embedder=model)
    result = run_job(JOBS["embed"], settings, store, service)
    assert result.status == "ok" and model.documents == 4  # the service's model: nothing else was loaded
    assert store.count_embeddings("counting") == 4
    service.close()
