"""Feeds: Atom and JSON Feed of the daily list, trending and a search, with ETag / Last-Modified and 304s."""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response

from paperwire.models import Paper
from paperwire.trending import list_trending
from paperwire.web.api import json_error as feed_error
from paperwire.web.hf_api import SEARCH_MAX_QUERY, search_papers
from paperwire.web.listings import default_day

router = APIRouter(tags=["feeds"])

FEED_SIZE = 50
ATOM_NS = "http://www.w3.org/2005/Atom"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
NO_DATE = "2000-01-01T00:00:00Z"  # entries without any date get a fixed one: the body (and ETag) stays stable


@dataclass(slots=True)
class FeedEntry:
    paper: Paper
    note: str = ""  # a line shown before the abstract ("+34 upvotes today")


@dataclass(slots=True)
class Feed:
    title: str
    subtitle: str
    page_path: str  # the HTML page this feed mirrors
    feed_path: str  # without the extension
    query: str = ""  # appended to the feed's own URL after the extension ("?q=…")
    entries: list[FeedEntry] = field(default_factory=list)


def entry_updated(paper: Paper) -> str:
    value = paper.updated_at or paper.published_at or (f"{paper.listed_on}T00:00:00Z" if paper.listed_on else None)
    return value or NO_DATE


def feed_updated(feed: Feed) -> str:
    return max((entry_updated(entry.paper) for entry in feed.entries), default=NO_DATE)


def entry_text(entry: FeedEntry) -> str:
    return f"{entry.note}\n\n{entry.paper.abstract}" if entry.note else entry.paper.abstract


def render_atom(feed: Feed, base_url: str) -> bytes:
    """RFC 4287 Atom; every entry has id, title, authors, summary (the abstract), link and updated."""
    ET.register_namespace("", ATOM_NS)

    def add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
        # XML 1.0 cannot carry these, even escaped: dropped from text and attributes, whatever the data holds
        clean = {name: XML_INVALID.sub("", value) for name, value in attributes.items()}
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", clean)
        if text is not None:
            element.text = XML_INVALID.sub("", text)
        return element

    root = ET.Element(f"{{{ATOM_NS}}}feed")
    add(root, "id", f"{base_url}{feed.feed_path}.atom{feed.query}")
    add(root, "title", feed.title)
    add(root, "subtitle", feed.subtitle)
    add(root, "updated", feed_updated(feed))
    add(root, "link", rel="self", type="application/atom+xml", href=f"{base_url}{feed.feed_path}.atom{feed.query}")
    add(root, "link", rel="alternate", type="text/html", href=f"{base_url}{feed.page_path}")
    add(root, "generator", "paperwire")
    for item in feed.entries:
        paper = item.paper
        entry = add(root, "entry")
        add(entry, "id", f"{base_url}/papers/{paper.id}")
        add(entry, "title", paper.title, type="text")
        add(entry, "updated", entry_updated(paper))
        if paper.published_at:
            add(entry, "published", paper.published_at)
        for name in paper.authors or ("Unknown",):
            add(add(entry, "author"), "name", name)
        add(entry, "link", rel="alternate", type="text/html", href=f"{base_url}/papers/{paper.id}")
        if paper.abs_url:
            add(entry, "link", rel="related", type="text/html", href=paper.abs_url, title="arXiv")
        for category in paper.categories:
            add(entry, "category", term=category)
        add(entry, "summary", entry_text(item), type="text")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="utf-8", xml_declaration=False)


def render_json_feed(feed: Feed, base_url: str) -> bytes:
    """JSON Feed 1.1, the twin of the Atom feed."""
    items = []
    for item in feed.entries:
        paper = item.paper
        entry = {
            "id": f"{base_url}/papers/{paper.id}",
            "url": f"{base_url}/papers/{paper.id}",
            "title": paper.title,
            "content_text": entry_text(item),
            "summary": paper.abstract,
            "date_modified": entry_updated(paper),
            "authors": [{"name": name} for name in paper.authors],
            "tags": list(paper.categories),
        }
        if paper.published_at:
            entry["date_published"] = paper.published_at
        if paper.abs_url:
            entry["external_url"] = paper.abs_url
        items.append(entry)
    body = {
        "version": JSON_FEED_VERSION,
        "title": feed.title,
        "description": feed.subtitle,
        "home_page_url": f"{base_url}{feed.page_path}",
        "feed_url": f"{base_url}{feed.feed_path}.json{feed.query}",
        "items": items,
    }
    return orjson.dumps(body)


FORMATS: dict[str, tuple[Callable[[Feed, str], bytes], str]] = {
    "atom": (render_atom, "application/atom+xml; charset=utf-8"),
    "json": (render_json_feed, "application/feed+json; charset=utf-8"),
}


def not_modified(request: Request, etag: str, last_modified: datetime) -> bool:
    """RFC 9110: If-None-Match decides when present; otherwise If-Modified-Since."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
        return last_modified.replace(microsecond=0) <= since
    return False


def feed_response(request: Request, feed: Feed, format_name: str) -> Response:
    render, media_type = FORMATS[format_name]
    body = render(feed, request.app.state.settings.base_url)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    last_modified = datetime.fromisoformat(feed_updated(feed).replace("Z", "+00:00"))
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(last_modified.astimezone(timezone.utc), usegmt=True),
        "Cache-Control": "public, max-age=300",
    }
    if not_modified(request, etag, last_modified):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


# ---- the feeds --------------------------------------------------------------------------------------


def daily_feed(request: Request) -> Feed:
    store = request.app.state.store
    day = default_day(store).isoformat()
    page = store.papers_listed_between(day, day, limit=FEED_SIZE)
    return Feed(
        title=f"{request.app.state.settings.site_name}: daily papers",
        subtitle=f"Papers of {day}, most upvoted first",
        page_path=f"/papers?date={day}",
        feed_path="/feeds/daily",
        entries=[FeedEntry(paper) for paper in page.papers],
    )


def trending_feed(request: Request) -> Feed:
    entries = list_trending(request.app.state.store, limit=FEED_SIZE).entries
    return Feed(
        title=f"{request.app.state.settings.site_name}: trending papers",
        subtitle="Papers whose upvotes and GitHub stars grow fastest",
        page_path="/papers/trending",
        feed_path="/feeds/trending",
        entries=[FeedEntry(entry.paper, entry.reason) for entry in entries],
    )


def search_feed(request: Request, query: str) -> Feed:
    papers = search_papers(request, query, FEED_SIZE)
    return Feed(
        title=f"{request.app.state.settings.site_name}: search “{query}”",
        subtitle=f"Papers matching “{query}”",
        page_path=f"/search?{urlencode({'q': query})}",
        feed_path="/feeds/search",
        query=f"?{urlencode({'q': query})}",
        entries=[FeedEntry(paper) for paper in papers],
    )


@router.head("/feeds/daily.{format_name}", include_in_schema=False)
@router.get(
    "/feeds/daily.{format_name}",
    summary="The latest day's papers as Atom (.atom) or JSON Feed (.json)",
)
def get_daily_feed(request: Request, format_name: str) -> Response:
    if format_name not in FORMATS:
        return feed_error(404, "feeds come as .atom or .json")
    return feed_response(request, daily_feed(request), format_name)


@router.head("/feeds/trending.{format_name}", include_in_schema=False)
@router.get(
    "/feeds/trending.{format_name}",
    summary="Trending papers as Atom (.atom) or JSON Feed (.json)",
)
def get_trending_feed(request: Request, format_name: str) -> Response:
    if format_name not in FORMATS:
        return feed_error(404, "feeds come as .atom or .json")
    return feed_response(request, trending_feed(request), format_name)


@router.head("/feeds/search.{format_name}", include_in_schema=False)
@router.get(
    "/feeds/search.{format_name}",
    summary="A search as Atom (.atom) or JSON Feed (.json): ?q=…",
)
def get_search_feed(request: Request, format_name: str, q: str = "") -> Response:
    if format_name not in FORMATS:
        return feed_error(404, "feeds come as .atom or .json")
    query = " ".join(q.split())
    if not query:
        return feed_error(400, "add ?q=… with the words to follow, e.g. /feeds/search.atom?q=diffusion")
    if len(query) > SEARCH_MAX_QUERY:
        return feed_error(400, f"q is {len(query)} characters long; the limit is {SEARCH_MAX_QUERY}")
    return feed_response(request, search_feed(request, query), format_name)
