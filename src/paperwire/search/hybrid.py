"""Hybrid search, the entry point: keyword + semantic, fused; exact id / title / author first; similar papers.

`SearchService` is built once per process (in `create_app`, or by the CLI command that runs) and handed
to whoever needs it: pages, digests (`rank()`: the hybrid relevance of papers to a topic text), jobs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from paperwire.search import exact
from paperwire.search.embedders import (
    MINILM,
    MODEL_WAIT_SECONDS,
    NONE,
    Embedder,
    EmbedderUnavailable,
    ModelLoader,
    NoEmbedder,
    make_embedder,
)
from paperwire.search.fusion import SemanticList, above_floor, best_vector_fusion, convex_fusion, fuse, fusion_for
from paperwire.search.index import SearchIndex
from paperwire.search.keyword import Filters
from paperwire.search.query import SEMANTIC_CHARS, parse_query
from paperwire.search.results import SearchHit, SearchResults, TopicMatch
from paperwire.search.suggest import MAX_CORRECTED_WORDS, NEARBY_POOL, did_you_mean, fill_help
from paperwire.search.vectors import VectorIndex
from paperwire.settings import Settings
from paperwire.storage import Store

log = logging.getLogger(__name__)

MAX_WINDOW = 1000  # offset + limit never reaches past this many ranked candidates
CANDIDATES = 200  # keyword and meaning candidates of a search (each): the count is what paging reaches
# Searches in the first moments after start wait for the start-up catch-up: once some papers are indexed,
# until FIRST_SYNC_WAIT_SECONDS after start while the keyword build goes on, VECTOR_CATCH_UP_WAIT_SECONDS
# while the vectors are read (later ones answer at once from what is indexed, and say so); while none is,
# until the first commit (the first page of papers) or FIRST_SYNC_MAX_WAIT_SECONDS.
FIRST_SYNC_WAIT_SECONDS = 0.5
VECTOR_CATCH_UP_WAIT_SECONDS = 2.0
BEHIND_SYNC_WAIT_SECONDS = 2.0  # a search behind the database waits this long at most for a running sync
FIRST_SYNC_MAX_WAIT_SECONDS = 15.0
SYNC_FOLLOW_SECONDS = 2.0  # the background follower syncs this often once caught up
QUERY_THREADS = 1  # torch threads of the process that answers searches (see make_embedder)
# The query is embedded and the vectors searched on one of these threads while the request's thread
# runs the keyword search and the exact-match lookups: torch releases the GIL while it computes, so on 2
# cores the embedding overlaps the keyword side. (faiss' and tantivy's bindings hold the GIL while they
# search — measured: a Python loop beside either takes as long as both in a row — so the vector search
# itself overlaps nothing, and similar papers, which embed nothing, run on one thread.)
_QUERY_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="query-embedding")
# A search over papers of which some have only a bulk (static) vector uses both indexes: see
# fusion.best_vector_fusion (each paper scored by the best model it has a vector of, each model's
# cosines normalised on their own, with that model's weight).


class SearchService:
    """Search over the node's index, kept in step with `store`; the embedder loads on first use."""

    def __init__(
        self, store: Store, settings: Settings, embedder: Embedder | None = None, bulk_embedder: Embedder | None = None,
    ) -> None:  # fmt: skip
        """`bulk_embedder`: the cheap model whose vectors papers may have while they wait for the quality
        model's (default: the static model, unless it is the query model; see `_bulk`)."""
        self.store = store
        self.settings = settings
        self.unavailable_reason: str | None = None
        if embedder is None:
            try:
                embedder = make_embedder(settings.embedder, threads=QUERY_THREADS)
            except EmbedderUnavailable as error:
                self.unavailable_reason = str(error)
                embedder = NoEmbedder()
        self.embedder = embedder
        model = None if embedder.name == NONE else embedder.name
        if bulk_embedder is None and model is not None:
            from paperwire.search.static import NAME as STATIC_NAME
            from paperwire.search.static import StaticEmbedder

            # its queries are MiniLM's: share the search's MiniLM (and its query cache) when it is one
            shared = embedder if embedder.name == MINILM else None
            bulk_embedder = (
                StaticEmbedder(query_embedder=shared, threads=QUERY_THREADS) if model != STATIC_NAME else None
            )
        self.bulk_embedder = bulk_embedder if bulk_embedder is not None and model is not None else None
        bulk_model = self.bulk_embedder.name if self.bulk_embedder is not None else None
        self.index = SearchIndex(settings.home / "search", model, bulk_model=bulk_model)
        self._bulk_loader = (
            ModelLoader(self.bulk_embedder, "search-bulk-model-load", self._bulk_failed) if self.bulk_embedder else None
        )
        self._model_loader = ModelLoader(embedder, "search-model-load", self._model_failed)
        self._caught_up = threading.Event()
        self._caught_up.set()  # cleared while start()'s catch-up runs
        self._stopping = threading.Event()
        self._follower: threading.Thread | None = None
        self._building_of: int | None = None  # papers in the database when the catch-up started
        self._started_at = 0.0
        # "Readers who kept it also kept": paper id, limit → (paper id, strength) best first; wired by
        # whoever keeps readers' libraries (None: similar papers do without that signal).
        self.also_kept: Callable[[str, int], Sequence[tuple[str, float]]] | None = None
        if isinstance(embedder, NoEmbedder):
            self.unavailable_reason = self.unavailable_reason or "semantic search is disabled (embedder 'none')"

    def _model_failed(self, error: Exception) -> None:
        self.unavailable_reason = f"the embedding model could not be loaded: {error}"
        log.warning(self.unavailable_reason)

    @staticmethod
    def _bulk_failed(error: Exception) -> None:
        log.warning("the bulk embedding model could not be loaded: %s", error)

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self, *, warm_model: bool = True) -> threading.Thread:
        """Catch up with the database in the background, then keep following it (every node, from
        start-up; searches meanwhile answer from what is indexed and say so). Never blocks start-up."""

        def follow() -> None:
            try:
                self._building_of = self.store.count_papers()
                self.index.sync(self.store)
            except Exception:  # a background helper must not die silently, nor take the app down
                log.exception("search catch-up failed")
            finally:
                self._caught_up.set()
            try:
                if warm_model:
                    self.load_model(wait=True)
            except Exception:
                log.exception("search model load failed")
            while not self._stopping.wait(SYNC_FOLLOW_SECONDS):
                try:
                    self.index.sync(self.store, wait=False)
                except Exception:  # e.g. the database briefly unavailable: the next round retries
                    log.exception("search index sync failed")

        self._caught_up.clear()
        self._stopping.clear()
        self._started_at = time.monotonic()
        self._follower = threading.Thread(target=follow, name="search-follower", daemon=True)
        self._follower.start()
        return self._follower

    def index_state(self) -> dict:
        """{"state": "ready"} or, while the start-up catch-up runs, {"state": "building", "done": n, "of": m}."""
        if self._caught_up.is_set():
            return {"state": "ready"}
        done = self.index.keyword.count()
        return {"state": "building", "done": done, "of": max(done, self._building_of or 0)}

    def refresh(self) -> dict:
        """Make the index current enough to answer; returns `index_state()`.

        With the background follower running (`start`), a search right after start waits for the
        catch-up as FIRST_SYNC_WAIT_SECONDS says. Otherwise a search syncs first when the last sync is
        older than the interval or the database holds a newer paper, never waiting for another
        thread's sync (the follower's, or another search's)."""
        if self._follower is not None and self._follower.is_alive():
            while not self._caught_up.wait(0.05):
                since_start = time.monotonic() - self._started_at
                if self.index.keyword.count() > 0:
                    patience = FIRST_SYNC_WAIT_SECONDS if self.index.reading_papers else VECTOR_CATCH_UP_WAIT_SECONDS
                    if since_start >= patience:
                        return self.index_state()
                elif since_start >= FIRST_SYNC_MAX_WAIT_SECONDS:
                    return self.index_state()
        # Between the follower's rounds, a search reads what was written since (this node's own writes
        # included). When the database holds a paper the index has not read and a sync is running right now,
        # it waits for that sync a little (it is reading those papers; with token bags it takes longer), else
        # it never waits for one.
        if self.index.behind(self.store):
            self.index.sync(self.store, wait=BEHIND_SYNC_WAIT_SECONDS)
        elif self.index.is_due():
            self.index.sync(self.store, wait=False)
        return self.index_state()

    def stop(self) -> None:
        """Stop the background follower (searches then sync for themselves) and save the vectors."""
        self._stopping.set()
        if self._follower is not None:
            self._follower.join(timeout=30)
            self._follower = None
        self._caught_up.set()
        self.index.close()

    def close(self) -> None:
        self.stop()

    def load_model(self, wait: bool = True, timeout: float = MODEL_WAIT_SECONDS) -> bool:
        """True when the embedder is ready; otherwise loads it (in a thread when not waiting)."""
        if self.unavailable_reason is not None:
            return False
        return self._model_loader.ensure(wait, timeout)

    # ---- the semantic half ----------------------------------------------------------------------

    def _semantic_state(self, wait: bool) -> tuple[bool, str | None]:
        vectors = self.index.vectors
        if self.unavailable_reason:
            return False, f"Keyword results only: {self.unavailable_reason}."
        if vectors is None or len(vectors) == 0:
            bulk = self.index.bulk_vectors
            if bulk is not None and len(bulk):  # the bulk side answers (or says why not): see search()
                return False, "Keyword results only: the embedding model is still loading."
            return False, f"Keyword results only: {self._missing_vectors_reason()}."
        if not self.load_model(wait=wait):
            reason = self.unavailable_reason or "the embedding model is still loading"
            return False, f"Keyword results only: {reason}."
        return True, None

    def _missing_vectors_reason(self) -> str:
        """Why the index has no vectors: none stored yet, or stored but not yet read into the index."""
        models = [name for name in (self.index.model, self.index.bulk_model) if name]
        if any(self.store.count_embeddings(name) for name in models):
            return "the papers' vectors are still being loaded into the search index"
        return "no paper has an embedding yet (run `paperwire embed`)"

    def _embed_query(self, text: str) -> np.ndarray | None:
        try:
            return self.embedder.embed_query(text)
        except Exception as error:  # a failing model must not fail the search
            log.warning("query embedding failed: %s", error)
            return None

    def _bulk(self) -> VectorIndex | None:
        """The bulk model's index when it can serve this search: some papers have its vectors and its
        embedder is loaded (loading starts in the background the first time it is needed)."""
        vectors = self.index.bulk_vectors
        if vectors is None or len(vectors) == 0:
            return None
        return vectors if self._bulk_loader is not None and self._bulk_loader.ensure(wait=False) else None

    def _start_semantic(self, text: str, filters: Filters, pool: int) -> Callable[[], list[tuple[str, float]] | None]:
        """Embed the query and search the vectors on another thread; call the result to wait for the
        hits (None when the model failed on this query)."""

        def work() -> list[tuple[str, float]] | None:
            vector = self._embed_query(text)
            return None if vector is None else self._semantic(vector, filters, pool)

        try:
            future = _QUERY_POOL.submit(work)
        except RuntimeError:  # the pool is shut down (interpreter exit): work here
            hits = work()
            return lambda: hits
        return future.result

    def _semantic(
        self, vector: np.ndarray, filters: Filters, pool: int, vectors: VectorIndex | None = None
    ) -> list[tuple[str, float]]:
        vectors = vectors if vectors is not None else self.index.vectors
        if vectors is None:  # no vectors yet: no meaning hits
            return []
        if not filters:
            return vectors.search(vector, pool)
        allowed, total = self.index.keyword.matching(filters)
        if total <= len(allowed):
            return vectors.search_among(vector, allowed, pool)
        candidates = vectors.search(vector, pool * 10)
        passing = set(self.index.keyword.matching(filters, among=[i for i, _ in candidates], limit=pool * 10)[0])
        return [(paper_id, score) for paper_id, score in candidates if paper_id in passing][:pool]

    # ---- search ---------------------------------------------------------------------------------

    def search(
        self, text: str, filters: Filters | None = None, limit: int = 50, offset: int = 0,
        *, wait_for_model: bool = True,
    ) -> SearchResults:  # fmt: skip
        """One page of results; `total` is exactly what paging reaches (at most CANDIDATES keyword plus
        CANDIDATES meaning candidates, fused). An arXiv id answers that paper alone (or nothing, with
        the id to add); no filters and no text answer nothing; filters alone browse, newest first."""
        filters = filters or Filters()
        offset = max(0, min(offset, MAX_WINDOW - 1))
        limit = max(1, min(limit, MAX_WINDOW - offset))
        query = parse_query(text)
        results = SearchResults(query=query.text, hits=[], total=0, limit=limit, offset=offset,
                                words=query.words, filters=filters)  # fmt: skip
        if not query.text.strip() and not filters:
            return results
        results.index = self.refresh()
        exact_only = bool(query.arxiv_id) or not query.text.strip()  # the meaning half has nothing to do
        semantic_ok, results.notice = self._semantic_state(wait_for_model and not exact_only)
        if exact_only:
            results.keywords_only = not semantic_ok
            return self._by_arxiv_id(query.arxiv_id, results) if query.arxiv_id else self._browse(filters, results)
        query = self.index.keyword.focus(query)
        results.words = query.words
        semantic_text = query.text[:SEMANTIC_CHARS]
        semantic_hits = self._start_semantic(semantic_text, filters, CANDIDATES) if semantic_ok else None
        keyword = self.index.keyword.search(query, filters, CANDIDATES)
        exact_candidates = exact.candidates(self.store, self.index.keyword, query)  # while the other thread embeds
        semantic: list[tuple[str, float]] = []
        found = semantic_hits() if semantic_hits is not None else None
        if found is not None:
            semantic = found
        elif semantic_hits is not None:
            results.notice = "Keyword results only: the embedding model failed on this query."
        bulk_semantic = self._bulk_semantic(semantic_text, filters, CANDIDATES)
        results.keywords_only = found is None and not bulk_semantic
        nearest = [*semantic[:NEARBY_POOL], *bulk_semantic[:NEARBY_POOL]]  # for help when nothing is close
        semantic = above_floor(semantic, self.embedder.name)
        bulk_semantic = above_floor(bulk_semantic, self.bulk_embedder.name) if self.bulk_embedder else []
        if bulk_semantic:
            results.notice = None
            fused = best_vector_fusion(dict(keyword), self._semantic_lists(semantic, bulk_semantic))
        else:
            fused = fuse(keyword, semantic, fusion_for(self.embedder.name))
        reasons = {paper_id: "keyword" for paper_id, _ in keyword}
        for paper_id, _ in [*semantic, *bulk_semantic]:
            reasons[paper_id] = "keyword+semantic" if reasons.get(paper_id, "").startswith("keyword") else "semantic"
        exact_ids_first = exact.matches(self.index.keyword, exact_candidates, filters, [i for i, _ in fused])
        exact_ids = {paper_id for paper_id, _ in exact_ids_first}
        ranked = [(paper_id, 2.0 - 0.001 * i, why) for i, (paper_id, why) in enumerate(exact_ids_first)]
        ranked += [(paper_id, score, reasons[paper_id]) for paper_id, score in fused if paper_id not in exact_ids]
        ranked = ranked[:MAX_WINDOW]
        results.total = len(ranked)
        if not ranked:
            fill_help(self.index.keyword, self.store, query, nearest, results)
            return results
        if len(query.terms) <= MAX_CORRECTED_WORDS:  # found by meaning, yet a word may be misspelt
            results.did_you_mean = did_you_mean(self.index.keyword, self.store, query)
        page = ranked[offset : offset + limit]
        papers = {paper.id: paper for paper in self.store.get_papers([paper_id for paper_id, _, _ in page])}
        results.hits = [SearchHit(papers[i], score, why) for i, score, why in page if i in papers]
        if results.index["state"] == "building":
            state = results.index
            building = (f"The search index is still being built ({state['done']:,} of {state['of']:,} papers): "
                        "these results come from the papers indexed so far.")  # fmt: skip
            results.notice = f"{building} {results.notice}" if results.notice else building
        return results

    def _by_arxiv_id(self, arxiv_id: str, results: SearchResults) -> SearchResults:
        paper = self.store.get_paper(arxiv_id)
        if paper is None:
            results.unknown_id = arxiv_id
            return results
        results.opens, results.total = paper.id, 1
        results.hits = [SearchHit(paper, 2.0, "arxiv id")] if results.offset == 0 else []
        return results

    def _browse(self, filters: Filters, results: SearchResults) -> SearchResults:
        """No words, only filters: the papers passing them, newest listed first."""
        ids, total = self.index.keyword.browse(filters, results.limit, results.offset)
        results.total = min(total, MAX_WINDOW)
        papers = {paper.id: paper for paper in self.store.get_papers(ids)}
        results.hits = [SearchHit(papers[i], 0.0, "filters") for i in ids if i in papers]
        return results

    def _bulk_semantic(self, text: str, filters: Filters, pool: int) -> list[tuple[str, float]]:
        """The bulk model's hits, when papers carry its vectors (a backfill not yet re-embedded)."""
        bulk = self._bulk()
        if bulk is None or self.bulk_embedder is None:
            return []
        try:
            vector = self.bulk_embedder.embed_query(text)
        except Exception as error:  # a failing model must not fail the search
            log.warning("bulk query embedding failed: %s", error)
            return []
        return self._semantic(vector, filters, pool, bulk)

    def _semantic_lists(
        self, semantic: list[tuple[str, float]], bulk_semantic: list[tuple[str, float]]
    ) -> list[SemanticList]:
        """Quality model first, so that a paper with a quality vector is always scored by it."""
        lists = []
        bulk, quality = self.index.bulk_vectors, self.index.vectors
        if semantic and quality is not None:
            weight = fusion_for(self.embedder.name).semantic_weight
            # The quality model's hits come from the papers it has reached so far only: its k-th best
            # among 10% of the papers is about as good as the (10·k)-th among all, so its scores are
            # normalised against the rank that many papers deep (a few best hits of a small share
            # would otherwise all look perfect).
            coverage = len(quality) / max(len(quality), len(bulk) if bulk is not None else 0, 1)
            depth = max(10, round(len(semantic) * coverage)) if coverage < 1 else None
            lists.append(SemanticList(dict(semantic), weight, quality.rows, depth))
        if self.bulk_embedder is not None and bulk is not None:
            weight = fusion_for(self.bulk_embedder.name).semantic_weight
            lists.append(SemanticList(dict(bulk_semantic), weight, bulk.rows))
        return lists

    # ---- similar papers and topic relevance -------------------------------------------------------

    def similar(self, paper_id: str, limit: int = 10, offset: int = 0) -> list[SearchHit]:
        """Papers like this one (never itself), best first, each with its reason: see search/similar.py."""
        from paperwire.search.similar import find_similar

        self.refresh()
        return find_similar(self, paper_id, limit, offset)

    def rank(
        self, topic: str, *, paper_ids: Sequence[str] | None = None, limit: int = 50,
        filters: Filters | None = None, semantic_weight: float = 0.5,
    ) -> list[TopicMatch]:  # fmt: skip
        """Hybrid relevance of papers to `topic`: among `paper_ids` (or all papers passing `filters`).

        The score is a convex mix of min-max-normalised BM25 and cosine (comparable across topics
        only roughly); `keyword_score` and `semantic_score` are the raw parts, for a one-line reason.
        """
        self.refresh()
        query = parse_query(topic)
        filters = filters or Filters()
        candidates: list[str] | None = list(paper_ids) if paper_ids is not None else None
        if candidates is not None and not candidates:
            return []
        pool = max(limit, len(candidates) if candidates is not None else limit)
        if candidates is not None:
            restricted, _ = self.index.keyword.matching(filters, among=candidates, limit=len(candidates))
            keyword_hits = self.index.keyword.search(query, filters, pool * 4)
            allowed = set(restricted)
            keyword = {i: s for i, s in keyword_hits if i in allowed}
        else:
            keyword = dict(self.index.keyword.search(query, filters, pool))
        semantic: dict[str, float] = {}
        if self._semantic_state(wait=True)[0]:
            vector = self._embed_query(query.text)
            vectors = self.index.vectors
            if vector is not None and vectors is not None:
                if candidates is not None:
                    semantic = dict(vectors.search_among(vector, restricted, pool))
                else:
                    semantic = dict(self._semantic(vector, filters, pool))
        fused = convex_fusion(keyword, semantic, semantic_weight if semantic else 0.0)
        return [TopicMatch(i, score, keyword.get(i, 0.0), semantic.get(i)) for i, score in fused[:limit]]
