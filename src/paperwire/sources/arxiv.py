"""arXiv daily: the announcement feed (rss.arxiv.org/atom/<cats>), then full metadata from the API.

Steps: fetch the feed → keep new / cross (and replace of papers already stored) → fetch their
metadata from `export.arxiv.org/api/query?id_list=` in batches → upsert each whole batch, with
`listed_on` = the announcement day. An empty feed (weekends, holidays) is "no announcement".
"""

from __future__ import annotations

import dataclasses
import re
import xml.sax
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING
from xml.etree import ElementTree

import feedparser

from paperwire.models import (
    InvalidRecord,
    Paper,
    Skip,
    check_sizes,
    clean_text,
    parse_arxiv_id,
    parse_day,
    parse_timestamp,
)
from paperwire.settings import Settings
from paperwire.sources.http import LiveReport, ParseError, PoliteClient

if TYPE_CHECKING:
    from paperwire.storage import Store

NAME = "arxiv"
ATOM = "{http://www.w3.org/2005/Atom}"
ARXIV = "{http://arxiv.org/schemas/atom}"
API_BATCH = 100  # ids per API request (arXiv asks for modest result pages)
ANNOUNCED_TYPES = ("new", "cross")
REPLACED_TYPES = ("replace", "replace-cross")
CATEGORY = re.compile(r"^[a-z][a-z\-]*(?:\.[A-Za-z][A-Za-z\-]*)?$")
ANNOUNCE_TYPE_IN_SUMMARY = re.compile(r"Announce Type:\s*([a-z\-]+)")
ANNOUNCEMENT_ZONE = "America/New_York"  # arXiv announces at 20:00 US Eastern; feeds carry that day


@dataclass(slots=True, frozen=True)
class AnnouncedEntry:
    id: str
    version: int | None
    announce_type: str


@dataclass(slots=True)
class Announcement:
    day: str | None  # the announcement day of the feed; None when the feed says nothing
    entries: list[AnnouncedEntry] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)


# ---- parsers (pure: bytes in, data or ParseError out) ---------------------------------------


def parse_categories(text: str) -> list[str]:
    """`cs.AI,cs.CL` (or `+`/space separated) → validated category names."""
    names = [part for part in re.split(r"[,+\s]+", text.strip()) if part]
    bad = [name for name in names if not CATEGORY.match(name)]
    if not names or bad:
        raise ValueError(f"not arXiv categories: {', '.join(bad) or '(none given)'} (expected e.g. cs.AI,cs.CL)")
    return names


def parse_announcements(content: bytes, source: str) -> Announcement:
    """The entries of an announcement feed; an empty feed has no entries (and often no day)."""
    try:
        parsed = feedparser.parse(content)  # bytes, so feedparser never fetches anything itself
    except Exception as error:  # feedparser raises assorted errors on broken encodings
        raise ParseError(f"{source}: not a readable feed ({type(error).__name__}: {error})") from error
    if parsed.get("bozo") and isinstance(parsed.get("bozo_exception"), xml.sax.SAXException):
        raise ParseError(f"{source}: not a readable feed ({parsed['bozo_exception']})")
    if not parsed.get("version") and not parsed.get("entries"):
        raise ParseError(f"{source}: not an Atom or RSS feed")
    announcement = Announcement(day=_feed_day(parsed.get("feed", {})))
    for index, entry in enumerate(parsed.get("entries") or (), 1):
        try:
            announcement.entries.append(_announced_entry(entry))
            if announcement.day is None:
                announcement.day = _entry_day(entry)
        except InvalidRecord as error:
            announcement.skipped.append(Skip(source, index, f"feed entry {index}: {error}"))
    return announcement


def _announced_entry(entry: dict) -> AnnouncedEntry:
    raw_id = str(entry.get("id") or entry.get("link") or "")
    if raw_id.startswith("oai:arXiv.org:"):
        raw_id = raw_id[len("oai:arXiv.org:") :]
    paper_id, version = parse_arxiv_id(raw_id)
    announce_type = str(entry.get("arxiv_announce_type") or "").strip().lower()
    if not announce_type:
        found = ANNOUNCE_TYPE_IN_SUMMARY.search(str(entry.get("summary") or ""))
        announce_type = found.group(1).lower() if found else ""
    if not announce_type:
        raise InvalidRecord(f"{paper_id}: no announce type")
    return AnnouncedEntry(paper_id, version, announce_type)


def _entry_day(entry: dict) -> str | None:
    for key in ("published", "updated"):
        value = entry.get(key)
        if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}", value):
            return parse_day(value)  # the local (US Eastern) day the feed states
    return None


def _feed_day(feed: dict) -> str | None:
    value = feed.get("updated") or feed.get("published")
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}", value):
        try:
            return parse_day(value)
        except InvalidRecord:
            return None
    return None


# A document type declaration is where entities are declared (entity bombs, external entities); the
# arXiv API and OAI-PMH never send one, so any is refused before parsing (in UTF-8 and UTF-16 spellings).
DOCTYPE_MARKERS = tuple("<!DOCTYPE".encode(encoding) for encoding in ("ascii", "utf-16-le", "utf-16-be"))


def parse_xml(content: bytes, source: str) -> ElementTree.Element:
    """The root element, or ParseError (truncated, not XML, unknown encoding, a DTD: entity bombs)."""
    if any(marker in content for marker in DOCTYPE_MARKERS):
        raise ParseError(f"{source}: refused: the document declares a DTD (entities), which arXiv never sends")
    try:
        return ElementTree.fromstring(content)
    except (ElementTree.ParseError, ValueError, LookupError) as error:
        raise ParseError(f"{source}: invalid XML ({error})") from error


def parse_api_page(content: bytes, source: str) -> list[Paper | Skip]:
    """Papers of one API response (an Atom feed); error entries and odd entries become Skips."""
    root = parse_xml(content, source)
    if root.tag != f"{ATOM}feed":
        raise ParseError(f"{source}: expected an Atom feed, got <{root.tag}>")
    records: list[Paper | Skip] = []
    for index, entry in enumerate(root.iter(f"{ATOM}entry"), 1):
        try:
            records.append(check_sizes(api_entry_to_paper(entry)))
        except InvalidRecord as error:
            records.append(Skip(source, index, f"entry {index}: {error}"))
        except (TypeError, ValueError, AttributeError) as error:
            records.append(Skip(source, index, f"entry {index}: unexpected shape ({error})"))
    return records


def _text(element: ElementTree.Element, path: str) -> str:
    return clean_text(element.findtext(path) or "")


def api_entry_to_paper(entry: ElementTree.Element) -> Paper:
    raw_id = _text(entry, f"{ATOM}id")
    if "/api/errors" in raw_id:
        raise InvalidRecord(f"arXiv API error: {_text(entry, f'{ATOM}summary') or raw_id}")
    paper_id, version = parse_arxiv_id(raw_id)
    primary = entry.find(f"{ARXIV}primary_category")
    categories = [primary.get("term", "")] if primary is not None else []
    categories += [c.get("term", "") for c in entry.findall(f"{ATOM}category")]
    published = _text(entry, f"{ATOM}published")
    updated = _text(entry, f"{ATOM}updated")
    return Paper(
        id=paper_id,
        version=version,
        title=_text(entry, f"{ATOM}title"),
        abstract=_text(entry, f"{ATOM}summary"),
        authors=tuple(name for author in entry.findall(f"{ATOM}author") if (name := _text(author, f"{ATOM}name"))),
        categories=tuple(dict.fromkeys(c.strip() for c in categories if c and c.strip())),
        published_at=parse_timestamp(published) if published else None,
        updated_at=parse_timestamp(updated) if updated else None,
        comment=_text(entry, f"{ARXIV}comment") or None,
    )


# ---- fetching -------------------------------------------------------------------------------


def chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def fetch_metadata(client: PoliteClient, settings: Settings, ids: Sequence[str]) -> list[Paper | Skip]:
    """Full metadata of up to one batch of ids (one API request); ids the API lacks become Skips."""
    params = {"id_list": ",".join(ids), "start": "0", "max_results": str(len(ids))}
    response = client.get(settings.arxiv_api_url, params=params)
    source = str(response.request.url)
    records = parse_api_page(response.content, source)
    wanted = {parse_arxiv_id(i)[0] for i in ids}
    found = {record.id for record in records if isinstance(record, Paper)}
    kept: list[Paper | Skip] = [r for r in records if not isinstance(r, Paper) or r.id in wanted]
    kept += [Skip(source, 0, f"{paper_id}: not returned by the arXiv API") for paper_id in ids if
             parse_arxiv_id(paper_id)[0] not in found]  # fmt: skip
    return kept


def fetch_arxiv_papers(ids: Sequence[str], settings: Settings, *, client: PoliteClient | None = None) -> list[Paper]:
    """Metadata of these arXiv ids (any form parse_arxiv_id reads) from the API, politely.

    Unknown ids are left out of the result; invalid ids raise InvalidRecord; an unreachable API
    raises FetchError, an unreadable answer ParseError (both SourceError)."""
    bare = [parse_arxiv_id(paper_id) for paper_id in ids]
    wanted = [f"{paper_id}v{version}" if version else paper_id for paper_id, version in bare]
    own = client is None
    client = client or PoliteClient(settings)
    try:
        papers: list[Paper] = []
        for batch in chunks(wanted, API_BATCH):
            papers += [r for r in fetch_metadata(client, settings, batch) if isinstance(r, Paper)]
        return papers
    finally:
        if own:
            client.close()


def today_in_announcement_zone() -> str:
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(ANNOUNCEMENT_ZONE)).date().isoformat()


def fetch_library_references(
    client: PoliteClient, settings: Settings, store: Store, live: LiveReport, batch_size: int
) -> None:
    """Papers readers imported into their libraries that the catalogue lacks: fetched in the same
    polite session, then saved into those libraries (storage resolves the references)."""
    wanted = store.wanted_reference_arxiv_ids()
    for batch in chunks(wanted, batch_size):
        store.upsert_papers(
            [r for r in fetch_metadata(client, settings, batch) if not isinstance(r, Skip)], live.report
        )
    resolved = store.resolve_references()
    if wanted:
        live.notes.append(f"library references: {len(wanted)} asked of arXiv, {resolved} now in readers' libraries")


def ingest_arxiv_daily(
    settings: Settings, store: Store, *, categories: Sequence[str] | None = None, day: str | None = None,
    batch_size: int = API_BATCH,
) -> LiveReport:  # fmt: skip
    """`paperwire ingest arxiv`: today's announcement of `categories` (default: the setting).

    With `day`, a feed announcing another day counts as no announcement for `day`. Each API batch
    is stored whole or not at all; a rerun merges the same papers again and adds nothing."""
    names = list(categories) if categories else parse_categories(settings.arxiv_categories)
    live = LiveReport(NAME)
    with PoliteClient(settings) as client:
        try:
            url = f"{settings.arxiv_rss_url}/atom/{'+'.join(names)}"
            announcement = parse_announcements(client.get(url).content, url)
            live.report.skipped += announcement.skipped
            feed_day = announcement.day
            if not announcement.entries:
                live.status = "empty"
                live.notes.append(f"no announcement for {day or feed_day or 'today'} (weekend or holiday)")
                return live
            if day and feed_day and feed_day != day:
                live.status = "empty"
                live.notes.append(f"no announcement for {day}: the feed announces {feed_day}")
                return live
            listed_on = feed_day or day or today_in_announcement_zone()
            announced = list(dict.fromkeys(e.id for e in announcement.entries if e.announce_type in ANNOUNCED_TYPES))
            replaced = [e.id for e in announcement.entries if e.announce_type in REPLACED_TYPES]
            replaced = [p.id for p in store.get_papers(list(dict.fromkeys(replaced))) if p.id not in announced]
            announced_set = set(announced)
            for batch in chunks(announced + replaced, batch_size):
                papers: list[Paper] = []
                for record in fetch_metadata(client, settings, batch):
                    if isinstance(record, Skip):
                        live.report.skipped.append(record)
                    elif record.id in announced_set:
                        papers.append(dataclasses.replace(record, listed_on=listed_on, listed_from="arxiv"))
                    else:
                        papers.append(record)
                store.upsert_papers(papers, live.report)
            fetch_library_references(client, settings, store, live, batch_size)
            live.notes.append(
                f"announcement of {listed_on}: {len(announced)} new or cross-listed, "
                f"{len(replaced)} stored papers replaced"
            )
            return live
        finally:
            live.requests = client.requests
