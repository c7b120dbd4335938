"""Hugging Face daily papers, live: `GET /api/daily_papers?date=…` page by page.

Items become Papers through the file source's `to_paper`; each is stamped with the time it was
fetched (`observed_at`), so refreshing a day updates upvotes, comments and stars and keeps their
history in paper_signals. A day's pages are stored together, in one transaction, once all arrived.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import orjson

from paperwire.models import InvalidRecord, Paper, Skip, check_sizes, parse_day
from paperwire.settings import Settings
from paperwire.sources.hf_daily import to_paper
from paperwire.sources.http import LiveReport, ParseError, PoliteClient

if TYPE_CHECKING:
    from paperwire.storage import Store

NAME = "hf"
PAGE_SIZE = 100  # the most the daily papers API returns per page
MAX_PAGES = 50  # a day never has this many pages; stops a server that ignores `p`


def parse_daily_papers(content: bytes, source: str, day: str | None, observed_at: str) -> list[Paper | Skip]:
    """One page (a JSON array of items) → Papers listed on `day` unless HF says otherwise, and Skips."""
    try:
        items = orjson.loads(content)
    except orjson.JSONDecodeError as error:
        raise ParseError(f"{source}: invalid JSON ({error})") from error
    if not isinstance(items, list):
        raise ParseError(f"{source}: expected a JSON array of papers, got {type(items).__name__}")
    records: list[Paper | Skip] = []
    for index, item in enumerate(items, 1):
        try:
            if not isinstance(item, dict):
                raise InvalidRecord(f"expected an object, got {type(item).__name__}")
            paper = check_sizes(to_paper(item, observed_on=day))
            records.append(dataclasses.replace(paper, observed_at=observed_at))
        except InvalidRecord as error:
            records.append(Skip(source, index, f"item {index}: {error}"))
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            records.append(Skip(source, index, f"item {index}: unexpected shape ({type(error).__name__}: {error})"))
    return records


def observation_time() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fetch_day(client: PoliteClient, settings: Settings, day: str, *, page_size: int = PAGE_SIZE) -> list[Paper | Skip]:
    """Every item of one day, following pages until one comes back short."""
    url = f"{settings.hf_api_url}/api/daily_papers"
    records: list[Paper | Skip] = []
    previous_ids: list[str] | None = None
    for page in range(MAX_PAGES):
        response = client.get(url, params={"date": day, "limit": str(page_size), "p": str(page)})
        page_records = parse_daily_papers(response.content, str(response.request.url), day, observation_time())
        ids = [record.id for record in page_records if isinstance(record, Paper)]
        if ids and ids == previous_ids:
            break  # the server ignores paging: this page is the previous one again
        records += page_records
        if len(page_records) < page_size:
            break
        previous_ids = ids
    return records


def days_between(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=offset)).isoformat() for offset in range((last - first).days + 1)]


def ingest_hf_days(settings: Settings, store: Store, days: Iterable[str]) -> LiveReport:
    """`paperwire ingest hf --date D`: fetch each day and store its papers with fresh signals."""
    live = LiveReport(NAME)
    fetched_days = 0
    with PoliteClient(settings) as client:
        try:
            for day in days:
                records = fetch_day(client, settings, parse_day(day))
                papers = [record for record in records if isinstance(record, Paper)]
                live.report.skipped += [record for record in records if isinstance(record, Skip)]
                store.upsert_papers(papers, live.report)
                fetched_days += 1
        finally:
            live.requests = client.requests
    if live.report.seen == 0:
        live.status = "empty"
        live.notes.append("no papers on Hugging Face for these days")
    live.notes.append(f"{fetched_days} day{'s' if fetched_days != 1 else ''}")
    return live


def ingest_hf_since(settings: Settings, store: Store, since: date | str, until: date | str | None = None) -> LiveReport:
    """`paperwire ingest hf --since D`: every day from `since` to `until` (default: today, UTC)."""
    first = date.fromisoformat(parse_day(since)) if isinstance(since, str) else since
    today = datetime.now(timezone.utc).date()
    last = (date.fromisoformat(parse_day(until)) if isinstance(until, str) else until) or today
    if first > last:
        raise ValueError(f"--since {first} is after {last}")
    return ingest_hf_days(settings, store, days_between(first, last))


def refresh_hf_week(settings: Settings, store: Store) -> LiveReport:
    """The scheduled refresh: this ISO week's papers so far (UTC), with their current signals."""
    today = datetime.now(timezone.utc).date()
    return ingest_hf_since(settings, store, today - timedelta(days=today.weekday()), today)
