"""A digest run: period → papers → trending and matcher → one outbox row per subscriber → send.

The steps, each a function: `period_for`, `load_period`, `compose_digests` (idempotent: the
outbox's unique key holds one digest per subscriber, cadence and period, and a rerun skips what is
there), then the outbox sender. `run_digest` is what both `paperwire digest run` and the scheduler
call; every run is recorded in job_runs as `digest-<cadence>` with its counts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import orjson

from paperwire.mail.digest import Candidate, DigestItem, PeriodMatcher, TopicRelevance, select_digest
from paperwire.mail.message import new_message_id
from paperwire.mail.outbox import DIGEST_DEADLINE, DeliveryPolicy, OutboxSender, SendReport, iso, mail_domain, now_utc
from paperwire.mail.subscribers import PERIOD_OF_CADENCE, Interests, check_cadence
from paperwire.models import Paper
from paperwire.periods import Period, last_complete, period_containing
from paperwire.settings import Settings
from paperwire.storage import Store
from paperwire.trending import period_end, trending_reasons

log = logging.getLogger("paperwire.mail")

MAX_PERIOD_PAPERS = 5_000
TRENDING_POOL = 60  # enough trending papers to fill a digest even after removing ones already sent
BATCH_SIZE = 500
NO_GROWTH = "new this period"  # a paper of the period without upvote or star growth


@dataclass
class PeriodPapers:
    period: Period
    papers: list[Paper]
    trending: list[Candidate]


@dataclass
class ComposeReport:
    subscribers: int = 0
    composed: int = 0
    already: int = 0  # a digest for this period existed (rerun, or another composer)
    nothing_new: int = 0  # every candidate paper had reached them before
    samples: list[tuple[str, list[DigestItem]]] = field(default_factory=list)


@dataclass
class DigestRunReport:
    cadence: str
    period: Period
    papers: int
    compose: ComposeReport
    send: SendReport | None
    status: str  # ok | empty | failed
    dry_run: bool = False

    @property
    def summary(self) -> str:
        head = f"{self.period.label}: {self.papers} papers"
        if self.status == "empty":
            return f"{head}; no papers in the period, nothing sent"
        text = (f"{head}; composed {self.compose.composed}, already queued {self.compose.already}, "
                f"skipped {self.compose.nothing_new} (nothing new)")  # fmt: skip
        if self.send is not None:
            text += f"; {self.send}"
        return text


def period_for(cadence: str, day: date | None = None, today: date | None = None) -> Period:
    """The period containing `day`, or the last complete one before `today`."""
    kind = PERIOD_OF_CADENCE[check_cadence(cadence)]
    if day is not None:
        return period_containing(kind, day)
    return last_complete(kind, today or datetime.now(timezone.utc).date())


def load_period(store: Store, period: Period) -> PeriodPapers:
    """The period's papers, trending first (stored trending rank where there is one, then upvotes)."""
    first, last = period.first.isoformat(), period.last.isoformat()
    by_trending = getattr(store, "papers_listed_between_by_trending", None)
    if by_trending is not None:
        page = by_trending(first, last, limit=MAX_PERIOD_PAPERS, offset=0)
    else:
        page = store.papers_listed_between(first, last, limit=MAX_PERIOD_PAPERS)
    papers = page.papers
    # the site's words for why a paper trends, as of the period's end ("+34 upvotes today")
    reasons = trending_reasons(store, papers[:TRENDING_POOL], period_end(period.last, now_utc()))
    trending = [Candidate(paper, reasons.get(paper.id, NO_GROWTH)) for paper in papers[:TRENDING_POOL]]
    return PeriodPapers(period, papers, trending)


def topic_relevance_for(search, papers: Sequence[Paper]) -> TopicRelevance | None:  # a SearchService
    """Hybrid search's relevance over the period's papers, from the process's search service (None:
    the matcher uses its keyword scorer)."""
    if search is None:
        return None
    paper_ids = [paper.id for paper in papers]
    cache: dict[str, dict[str, float]] = {}

    def relevance(topic: str) -> dict[str, float]:
        if topic not in cache:
            if len(cache) >= 20_000:
                cache.clear()
            matches = search.rank(topic, paper_ids=paper_ids, limit=50)
            # The fused score is normalised per topic (the best is always 1): keep only papers whose
            # words match or whose meaning is close, so a poor best match is not sold as relevant.
            cache[topic] = {
                m.paper_id: m.score for m in matches
                if m.keyword_score > 0 or (m.semantic_score is not None and m.semantic_score >= 0.35)
            }  # fmt: skip
        return cache[topic]

    try:
        relevance("digest relevance probe")
    except Exception as error:  # search is optional: fall back, say why
        log.warning("hybrid search unavailable for digests (%s); using keyword matching", error)
        return None
    return relevance


def compose_digests(
    store: Store, settings: Settings, cadence: str, loaded: PeriodPapers, *,
    matcher: PeriodMatcher | None = None, dry_run: bool = False, run_id: int | None = None,
    shard: tuple[int, int] | None = None, batch_size: int = BATCH_SIZE, samples: int = 0,
) -> ComposeReport:  # fmt: skip
    """Put one digest per confirmed subscriber of `cadence` into the outbox (none that exist twice)."""
    report = ComposeReport()
    if not loaded.papers:
        return report
    matcher = matcher or PeriodMatcher(loaded.papers)
    period = loaded.period
    period_ids = [paper.id for paper in loaded.papers]
    subject = f"{settings.site_name} {cadence}: {period.title}"
    domain = mail_domain(settings)
    after_id = 0
    while True:
        batch = store.digest_subscribers_after(cadence, after_id, batch_size, shard=shard)
        if not batch:
            break
        after_id = batch[-1]["id"]
        report.subscribers += len(batch)
        ids = [row["id"] for row in batch]
        existing = store.subscribers_with_digest(ids, cadence, period.label)
        history = store.papers_sent_to(ids, period_ids if len(period_ids) <= 900 else None)
        for_you = for_you_of(store, batch, period)
        now = now_utc()
        rows, sent_papers = [], []
        for row in batch:
            if row["id"] in existing:
                report.already += 1
                continue
            sent_before = history.get(row["id"], set())
            personal = [
                DigestItem(s.paper_id, "for_you", s.reason)
                for s in for_you.get(row["id"], ())
                if s.paper_id not in sent_before
            ][: row["max_papers"] // 2]  # up to half of the places: the rest stays trending and interests
            items = personal + select_digest(
                loaded.trending, matcher.matches(Interests.from_json(row["interests"])),
                set(sent_before) | {item.paper_id for item in personal}, row["max_papers"] - len(personal),
            )  # fmt: skip
            if not items:
                report.nothing_new += 1
                continue
            if len(report.samples) < samples:
                report.samples.append((row["email"], items))
            rows.append(
                {"kind": "digest", "subscriber_id": row["id"], "cadence": cadence, "period_label": period.label,
                 "recipient": row["email"], "subject": subject,
                 "payload": orjson.dumps({
                     "cadence": cadence, "period_title": period.title,
                     # No links: their tokens are made when the mail is rendered, never stored.
                     "items": [[item.paper_id, item.section, item.reason] for item in items],
                 }).decode(),
                 "message_id": new_message_id(domain), "status": "queued", "attempts": 0,
                 "next_attempt_at": iso(now), "deadline_at": iso(now + DIGEST_DEADLINE), "run_id": run_id,
                 "created_at": iso(now)}
            )  # fmt: skip
            sent_papers += [
                {"subscriber_id": row["id"], "paper_id": item.paper_id, "period_label": period.label} for item in items
            ]
        if dry_run:
            report.composed += len(rows)
        elif rows:
            inserted = store.queue_digests(rows, sent_papers)
            report.composed += inserted
            report.already += len(rows) - inserted
    return report


def own_search(store: Store, settings: Settings):  # SearchService | None
    """A search service for one run whose caller has none (a test, a script): it syncs when used and
    holds nothing between syncs. None when search is not installed (keyword matching then)."""
    try:
        from paperwire.search.hybrid import SearchService
    except ImportError:
        return None
    return SearchService(store, settings)


def for_you_of(store: Store, batch: Sequence[dict], period: Period) -> dict[int, list]:
    """Subscriber id → "For you" suggestions, for subscribers whose address belongs to an account with a
    library or followed authors (a subscriber without an account gets no such section)."""
    from paperwire.recommend.service import digest_suggestions

    return digest_suggestions(store, {row["id"]: row["email"] for row in batch}, period, limit=10)


def run_digest(
    store: Store, settings: Settings, cadence: str = "daily", day: date | None = None, *,
    dry_run: bool = False, send: bool = True, policy: DeliveryPolicy | None = None,
    topic_relevance: TopicRelevance | None = None, samples: int = 0, search=None,  # SearchService
) -> DigestRunReport:  # fmt: skip
    """Compose the digests of one period into the outbox, then send what is due.

    `search`: the process's search service (interests are matched by hybrid relevance); without one
    the run builds its own (a test, a script).

    Raises TransportUnavailable (after recording the run as failed) when the mail server cannot be
    reached: the composed digests stay in the outbox for the next run or the worker.
    """
    cadence = check_cadence(cadence)
    period = period_for(cadence, day)
    loaded = load_period(store, period)
    job = f"digest-{cadence}"
    if not loaded.papers:
        log.info("digest %s %s: no papers listed in the period, nothing sent", cadence, period.label)
        report = DigestRunReport(cadence, period, 0, ComposeReport(), None, "empty", dry_run)
        if not dry_run:
            run_id = store.start_job_run(job)
            store.finish_job_run(run_id, "empty", report.summary)
        return report
    relevance = topic_relevance or topic_relevance_for(search or own_search(store, settings), loaded.papers)
    matcher = PeriodMatcher(loaded.papers, relevance)
    if dry_run:
        composed = compose_digests(store, settings, cadence, loaded, matcher=matcher, dry_run=True, samples=samples)
        return DigestRunReport(cadence, period, len(loaded.papers), composed, None, "ok", True)
    run_id = store.start_job_run(job)
    report = DigestRunReport(cadence, period, len(loaded.papers), ComposeReport(), None, "ok")
    try:
        report.compose = compose_digests(
            store, settings, cadence, loaded, matcher=matcher, run_id=run_id, samples=samples
        )
        if send:
            sender = OutboxSender(store, settings, policy=policy)
            try:
                report.send = sender.send_due()
            finally:
                sender.close()
    except Exception as error:
        report.status = "failed"
        store.finish_job_run(run_id, "failed", f"{report.summary}; failed: {error}")
        raise
    store.finish_job_run(run_id, "ok", report.summary)
    log.info("digest %s %s", cadence, report.summary)
    return report


def next_digest_day(cadence: str, today: date) -> date | None:
    """The day whose period a scheduled run covers today: daily every day, weekly on Mondays, monthly
    on the 1st (None: no digest of this cadence today)."""
    if cadence == "daily":
        return today - timedelta(days=1)
    if cadence == "weekly" and today.weekday() == 0:
        return today - timedelta(days=1)
    if cadence == "monthly" and today.day == 1:
        return today - timedelta(days=1)
    return None


@dataclass
class ScheduledDigests:
    status: str
    summary: str


def run_scheduled_digests(
    settings: Settings, store: Store, today: date | None = None, search=None,  # SearchService
) -> ScheduledDigests:  # fmt: skip
    """The scheduler's digest job: yesterday's daily digest every day, last week's on Mondays and last
    month's on the 1st (days in the schedule's time zone)."""
    from zoneinfo import ZoneInfo

    today = today or datetime.now(ZoneInfo(settings.schedule_time_zone)).date()
    parts, statuses = [], []
    for cadence in ("daily", "weekly", "monthly"):
        day = next_digest_day(cadence, today)
        if day is None:
            continue
        report = run_digest(store, settings, cadence, day, search=search)
        parts.append(f"{cadence} {report.summary}")
        statuses.append(report.status)
    status = "ok" if "ok" in statuses else "empty"
    return ScheduledDigests(status, "; ".join(parts))
