"""The "For you" service: gather a reader's signals from storage, refit only readers whose feedback
changed, rank a period's papers for many readers at once, and keep each ranking in the database.

A page view reads one stored ranking row (refreshed first when the reader's feedback or the period's
papers changed since it was made), so every web node serves the same list and nothing lives only in
one process. `refresh_recommendations` is the scheduled job and what `paperwire recommend` calls.
"""

from __future__ import annotations

import dataclasses
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from paperwire.mail.subscribers import Interests
from paperwire.models import Paper, author_key
from paperwire.periods import Period, period_containing
from paperwire.recommend.learned import TermEmbedding, train_term_embedding
from paperwire.recommend.model import (
    PaperFeatures,
    ReaderModel,
    ReaderSignals,
    Suggestion,
    fit_reader,
    prepare_period,
    rank_period,
)
from paperwire.recommend.packing import ModelFormatError
from paperwire.storage import Store
from paperwire.storage.records import UserRecord

log = logging.getLogger("paperwire.recommend")

RANKING_LIMIT = 100  # suggestions stored per reader and period (five pages; pages read slices of it)
MAX_PERIOD_PAPERS = 5_000
MAX_SIGNAL_PAPERS = 2_000  # the newest kept papers a model is fitted on
READER_BLOCK = 500  # readers ranked together (one matrix product per block)
BULK_MODEL = "static-minilm-v3"
VECTOR_MODELS = ("all-MiniLM-L6-v2", BULK_MODEL)  # the best stored embedding first
TERM_EMBEDDING = "term-embedding"  # catalogue_models row: learned from papers that share an author
# Catalogue papers with a sibling by the same author needed before the weekly job trains: the gain was measured
# with 23,000 such papers (docs/recommendations-benchmark.md); the demo's sample has 1,887, where training would
# take the web process's CPU for a minute with no measured gain (`paperwire recommend-train --min-papers N`).
MIN_AUTHOR_PAPERS = 10_000


@dataclass(frozen=True)
class RankedPaper:
    paper: Paper
    score: float
    reason: str


# ---- features and signals ------------------------------------------------------------------------


def decoded(blob: bytes | None) -> np.ndarray | None:
    if blob is None:
        return None
    vector = np.frombuffer(blob, dtype="<f2").astype(np.float32)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else None


def features_of(store: Store, papers: Sequence[Paper]) -> list[PaperFeatures]:
    """The model's view of papers: text, authors, categories, the best stored vector (MiniLM, else the
    bulk one) and the bulk vector where there is one."""
    ids = [paper.id for paper in papers]
    best = store.paper_vectors(ids, VECTOR_MODELS)
    bulk = store.paper_vectors(ids, (BULK_MODEL,))
    features = []
    for paper in papers:
        held = best.get(paper.id)
        features.append(
            PaperFeatures(id=paper.id, title=paper.title, abstract=paper.abstract, authors=tuple(paper.authors),
                          categories=tuple(paper.categories), vector=decoded(held[1] if held else None),
                          bulk_vector=decoded(bulk[paper.id][1]) if paper.id in bulk else None)
        )  # fmt: skip
    return features


def reader_topics(store: Store, email: str) -> tuple[str, ...]:
    """The digest topics and keywords of the reader's subscription (the cold-start signal)."""
    interests = store.subscriber_interests_for(email)
    if not interests:
        return ()
    parsed = Interests.from_json(interests)
    return tuple(dict.fromkeys([*parsed.topics, *parsed.keywords]))


def gather_signals(store: Store, user: UserRecord) -> ReaderSignals:
    positives = sorted(store.positive_paper_ids(user["id"]))[-MAX_SIGNAL_PAPERS:]
    negatives = sorted(store.not_interested_ids(user["id"]))[-MAX_SIGNAL_PAPERS:]
    return ReaderSignals(
        positives=tuple(features_of(store, store.get_papers(positives))),
        negatives=tuple(features_of(store, store.get_papers(negatives))),
        followed_authors=tuple(store.followed_author_names(user["id"])),
        topics=reader_topics(store, user["email"]),
    )


# ---- models ------------------------------------------------------------------------------------------


def refit_reader(store: Store, user: UserRecord) -> tuple[ReaderModel, int]:
    """Fit the reader's model on their signals now and store it; returns (model, feedback version)."""
    version = store.feedback_version(user["id"])  # read first: feedback given while fitting refits again
    model = fit_reader(gather_signals(store, user))
    store.save_reader_model(user["id"], version, model.to_bytes())
    return model, version


def current_model(store: Store, user: UserRecord) -> tuple[ReaderModel, int]:
    """The reader's stored model when it is up to date with their feedback, else a fresh fit."""
    version = store.feedback_version(user["id"])
    for user_id, model_version, blob in store.reader_models_of([user["id"]]):
        if user_id == user["id"] and model_version == version:
            try:
                return ReaderModel.from_bytes(blob), version
            except ValueError as error:  # ModelFormatError: a model of an older format, fit again
                log.info("refitting reader %s: stored model unreadable (%s)", user_id, error)
    return refit_reader(store, user)


def refit_changed(store: Store) -> int:
    """Refit every reader whose feedback changed since their last fit (the incremental step)."""
    count = 0
    for user_id in store.readers_to_refit():
        user = store.get_user(user_id)
        if user is not None:
            refit_reader(store, user)
            count += 1
    return count


# ---- the catalogue's term embedding (learned.py) -------------------------------------------------------

# A cache of the stored embedding per Store, checked against the stored version before every ranking run,
# so a node never ranks with an embedding another node has replaced.
_embeddings: weakref.WeakKeyDictionary[Store, tuple[str, TermEmbedding]] = weakref.WeakKeyDictionary()


def current_embedding(store: Store) -> TermEmbedding | None:
    """The stored term embedding (None before one is trained, or if it is damaged: ranking goes on without)."""
    version = store.catalogue_model_version(TERM_EMBEDDING)
    if version is None:
        return None
    cached = _embeddings.get(store)
    if cached is not None and cached[0] == version:
        return cached[1]
    stored = store.catalogue_model(TERM_EMBEDDING)
    if stored is None:
        return None
    try:
        embedding = TermEmbedding.from_bytes(stored[1])
    except ModelFormatError as error:
        log.warning("the stored term embedding is unreadable (%s): ranking without it", error)
        return None
    _embeddings[store] = (stored[0], embedding)
    return embedding


def train_catalogue_embedding(
    store: Store, *, epochs: int = 5, say: Callable[[str], None] | None = None, min_papers: int = MIN_AUTHOR_PAPERS
) -> str:
    """Learn the term embedding from every catalogue paper and its authors, and store it (one row that every
    node reads). Minutes on a CPU for ~50,000 papers; needs torch (the `search` extra)."""
    ids: list[str] = []
    texts: list[str] = []
    authors: list[tuple[str, ...]] = []
    for paper in store.iter_papers():
        ids.append(paper.id)
        texts.append(f"{paper.title} {paper.abstract}")
        authors.append(tuple(author_key(name) for name in paper.authors))
    counted: dict[str, int] = {}
    for names in authors:
        for name in set(names):
            counted[name] = counted.get(name, 0) + 1
    paired = sum(1 for names in authors if any(counted[name] > 1 for name in set(names)))
    if paired < min_papers:
        return f"term embedding not trained: {paired} papers share an author with another (needs {min_papers})"
    try:
        import torch  # noqa: F401
    except ImportError:
        return "term embedding not trained: torch is not installed (pip install 'paperwire[search]')"
    bulk = store.paper_vectors(ids, (BULK_MODEL,))
    chosen = [decoded(bulk[i][1]) if i in bulk else None for i in ids]
    vectors = np.stack(chosen) if chosen and all(v is not None for v in chosen) else None  # type: ignore[arg-type]
    embedding = train_term_embedding(texts, authors, vectors=vectors, epochs=epochs, log=say)
    version = store.save_catalogue_model(TERM_EMBEDDING, embedding.to_bytes(), embedding.papers)
    return (f"trained the term embedding on {embedding.papers} papers ({paired} sharing an author), "
            f"{len(embedding.vocabulary)} terms × {embedding.dimensions}; version {version}")  # fmt: skip


# ---- rankings ----------------------------------------------------------------------------------------


def period_papers(store: Store, period: Period) -> tuple[list[Paper], list[str]]:
    """The period's papers, and their ids in trending order (the cold-start fallback)."""
    page = store.papers_listed_between_by_trending(
        period.first.isoformat(), period.last.isoformat(), limit=MAX_PERIOD_PAPERS, offset=0
    )
    return page.papers, [paper.id for paper in page.papers]


def rank_readers(store: Store, users: Sequence[UserRecord], period: Period) -> int:
    """Rank the period's papers for these readers (models refitted where stale) and store the lists."""
    return rank_fitted(store, [(user, *current_model(store, user)) for user in users], period)


def with_followed_spellings(candidates: list[PaperFeatures], models: Sequence[ReaderModel]) -> list[PaperFeatures]:
    """Authors are one identity whatever their case and accents: a paper's author whose folded name is
    followed is named as the readers follow them (the model matches names exactly)."""
    spelling = {author_key(name): name for model in models for name in model.followed_authors}
    if not spelling:
        return candidates
    renamed = []
    for paper in candidates:
        authors = tuple(spelling.get(author_key(name), name) for name in paper.authors)
        renamed.append(paper if authors == paper.authors else dataclasses.replace(paper, authors=authors))
    return renamed


def rank_fitted(store: Store, fitted: Sequence[tuple[UserRecord, ReaderModel, int]], period: Period) -> int:
    """Rank the period's papers for readers with their (model, feedback version), a block at a time,
    and store each list."""
    papers, trending = period_papers(store, period)
    stamp = store.period_stamp(period.first.isoformat(), period.last.isoformat())
    candidates = with_followed_spellings(features_of(store, papers), [model for _, model, _ in fitted])
    # tokenised and stacked once for every block
    prepared = prepare_period(candidates, trending, embedding=current_embedding(store))
    for start in range(0, len(fitted), READER_BLOCK):
        block = fitted[start : start + READER_BLOCK]
        lists = rank_period([model for _, model, _ in block], prepared, limit=RANKING_LIMIT)
        store.save_rankings([
            {"user_id": user["id"], "period_label": period.label, "feedback_version": version,
             "catalogue_stamp": stamp, "items": [[s.paper_id, round(float(s.score), 6), s.reason] for s in suggestions]}
            for (user, _, version), suggestions in zip(block, lists, strict=True)
        ])  # fmt: skip
    return len(fitted)


def stored_ranking(store: Store, user: UserRecord, period: Period) -> list[list]:
    """The reader's ranking of the period: the stored row, remade first when it is out of date."""
    row = store.get_ranking(user["id"], period.label)
    if row is not None:
        fresh = row["feedback_version"] == store.feedback_version(user["id"]) and row[
            "catalogue_stamp"
        ] == store.period_stamp(period.first.isoformat(), period.last.isoformat())
        if fresh:
            return row["items"]
    rank_readers(store, [user], period)
    row = store.get_ranking(user["id"], period.label)
    return row["items"] if row is not None else []


def recommendations(
    store: Store, user: UserRecord, period: Period, *, limit: int = 50, offset: int = 0
) -> tuple[list[RankedPaper], int]:
    """One page of the reader's "For you" list for the period, best first, and how many there are."""
    items = stored_ranking(store, user, period)
    # A mark given since the list was made never shows (the list is remade on the next read anyway).
    hidden = store.not_interested_ids(user["id"], [item[0] for item in items])
    items = [item for item in items if item[0] not in hidden]
    page = items[offset : offset + limit]
    papers = {paper.id: paper for paper in store.get_papers([item[0] for item in page])}
    ranked = [RankedPaper(papers[paper_id], score, reason) for paper_id, score, reason in page if paper_id in papers]
    return ranked, len(items)


def suggestions_for(store: Store, user: UserRecord, period: Period, limit: int) -> list[Suggestion]:
    ranked, _ = recommendations(store, user, period, limit=limit)
    return [Suggestion(item.paper.id, item.score, item.reason) for item in ranked]


# ---- the job -------------------------------------------------------------------------------------------


def refresh_recommendations(store: Store, day: date) -> str:
    """Refit readers whose feedback changed, then rank the day, week and month of `day` for every reader
    with a model (each model read once, then one block of readers at a time)."""
    refitted = refit_changed(store)
    fitted = []
    for user_id, version, blob in store.reader_models_of():
        user = store.get_user(user_id)
        if user is None:
            continue
        try:
            fitted.append((user, ReaderModel.from_bytes(blob), version))
        except ValueError:  # ModelFormatError: fit it again
            fitted.append((user, *refit_reader(store, user)))
    ranked = sum(rank_fitted(store, fitted, period_containing(kind, day)) for kind in ("day", "week", "month"))
    return f"refitted {refitted} readers; stored {ranked} rankings for {day.isoformat()}"


def refresh_recommendations_job(settings, store: Store) -> str:  # Settings
    """The scheduled job: the newest listed day's periods."""
    latest = store.latest_listed_day()
    if latest is None:
        return "no papers yet"
    return refresh_recommendations(store, date.fromisoformat(latest))


def digest_suggestions(
    store: Store, addresses: dict[int, str], period: Period, *, limit: int
) -> dict[int, list[Suggestion]]:
    """Subscriber id → the best suggestions of the period for subscribers whose address is an account
    that has kept papers or follows authors (nothing for the others: no account, no section)."""
    accounts = store.users_by_emails(list(addresses.values()))
    found: dict[int, list[Suggestion]] = {}
    for subscriber_id, email in addresses.items():
        user_id = accounts.get(email.strip().lower())
        if user_id is None:
            continue
        user = store.get_user(user_id)
        if user is None or not (store.positive_paper_ids(user_id) or store.followed_author_names(user_id)):
            continue
        found[subscriber_id] = suggestions_for(store, user, period, limit)
    return found
