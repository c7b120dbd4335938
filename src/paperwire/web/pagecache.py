"""Anonymous list pages from memory: the daily/weekly/monthly lists and /api/papers, served without
rendering while the catalogue has not changed.

What a signed-out reader sees on these pages is the same for everyone (no per-browser token: the
upvote control is a sign-in link), so a rendered answer can be replayed byte for byte. An entry is
valid while

- the catalogue version it was rendered at is still current: this process's own writes bump a
  counter at once (`Store.generation`), and the database's `max(papers.changed_at)` — which every
  write to a paper moves, votes included — is read at most once per `probe_seconds`, so a change
  made through another node shows within that delay;
- it is younger than `max_age` seconds (a bound for writers that commit out of timestamp order, and
  for `/`, whose day moves at midnight).

Only anonymous requests are served from or stored into memory, decided with the very cookie parser the
application reads sessions with (so `pw_session =…`, which the app reads as a session, is never
anonymous here): a request carrying any cookie other than the CSRF one, or an Authorization header,
goes to the application. As a second lock, an answer rendered while a signed-in reader was looked up
(or that carries a CSRF token) is never stored. Other methods, other paths and answers that are not a
plain 200 (errors, redirects, anything setting a cookie) always go to the application too. Hits skip
routing, the thread pool, the database and Jinja, which is most of what a list page costs.

Signed-in readers' list pages (HTML only) are kept too, as one rendering for all of them with holes
where a reader's own things go (web/reader_pages.py): per request, their session and their votes on
the page's papers are read in one database round (a valid session is required: otherwise the app
answers), and the holes are filled — the same bytes the templates would render for them, with the
same validity rules as above.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperwire.models import now_utc, utc_iso
from paperwire.web.reader_pages import ReaderHoles, ReaderPage
from paperwire.web.security import (
    CSRF_COOKIE,
    READER_HOLES,
    SESSION_COOKIE,
    add_csrf_cookie,
    csrf_token,
    hash_token,
    read_session_cookie,
    secure_cookies,
)  # fmt: skip

T = TypeVar("T")

CACHEABLE = re.compile(r"^/(?:papers(?:/(?:week|month)/[^/]+)?|api/papers)?$")
READER_CACHEABLE = re.compile(r"^/(?:papers(?:/(?:week|month)/[^/]+)?)?$")  # HTML list pages
ANONYMOUS_COOKIES = frozenset({CSRF_COOKIE})  # what a signed-out browser may carry and still share a page
READER_COOKIES = frozenset({CSRF_COOKIE, SESSION_COOKIE})
MAX_QUERY = 200  # longer query strings are not what the list pages are asked with: not worth a slot


@dataclass(slots=True)
class Entry:
    version: tuple[int, str | None]
    created: float
    headers: list[tuple[bytes, bytes]]
    body: bytes
    route: Any


@dataclass(slots=True)
class ReaderEntry:
    version: tuple[int, str | None]
    created: float
    headers: list[tuple[bytes, bytes]]  # without content-length: each reader's page has its own
    page: ReaderPage
    route: Any


def anonymous_cookies(header: bytes) -> bool:
    """Whether a Cookie header holds nothing but cookies every signed-out browser has, read exactly as
    the application reads cookies (Starlette's parser: `pw_session =x` is the session cookie there)."""
    names = cookie_parser(header.decode("latin-1")).keys()
    return all(name in ANONYMOUS_COOKIES for name in names)


def reader_cookies(header: bytes) -> bool:
    """Whether a Cookie header holds a session cookie and nothing but the cookies the app reads."""
    names = cookie_parser(header.decode("latin-1")).keys()
    return SESSION_COOKIE in names and all(name in READER_COOKIES for name in names)


class PageCacheStats:
    """Counters for /metrics (updated on the event loop: no locks needed)."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self.reader_hits = 0
        self.reader_misses = 0


class PageCache:
    """Plain ASGI middleware (see the module docstring)."""

    def __init__(
        self, app: ASGIApp, *, store: Any, max_age: float, probe_seconds: float = 1.0,  # the Store
        size: int = 512, stats: PageCacheStats | None = None, settings: Any = None,  # Settings: readers' pages too
    ) -> None:  # fmt: skip
        self.app = app
        self.store = store
        self.settings = settings
        self.reader_entries: OrderedDict[tuple[str, bytes], ReaderEntry] = OrderedDict()
        self.rendering: dict[tuple[str, bytes], anyio.Event] = {}  # pages being rendered for readers now
        self._inline_reads = getattr(store, "dialect", None) == "sqlite"  # (see _read)
        self.max_age = max_age
        self.probe_seconds = min(probe_seconds, max_age)
        self.size = size
        self.stats = stats or PageCacheStats()
        self.entries: OrderedDict[tuple[str, bytes], Entry] = OrderedDict()
        self._database_version: str | None = None
        self._probed_at = float("-inf")
        self._probing: anyio.Event | None = None  # set when the read in progress is done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = self._cacheable(scope)
        if kind is None:
            await self.app(scope, receive, send)
            return
        version = (self.store.generation, await self._probe())
        key = (scope["path"], scope["query_string"])
        if kind == "reader":
            await self._serve_reader(scope, receive, send, key, version)
            return
        entry = self.entries.get(key)
        now = time.monotonic()
        if entry is not None and entry.version == version and now - entry.created < self.max_age:
            self.entries.move_to_end(key)
            self.stats.hits += 1
            if entry.route is not None:
                scope["route"] = entry.route  # so /metrics counts the hit under its route
            await send({"type": "http.response.start", "status": 200, "headers": entry.headers})
            await send({"type": "http.response.body", "body": entry.body})
            return
        self.stats.misses += 1
        await self._fill(scope, receive, send, key, version, now)

    def _cacheable(self, scope: Scope) -> str | None:
        """ "anonymous", "reader" (a signed-in reader's list page) or None (the app answers)."""
        if scope["type"] != "http" or scope["method"] != "GET" or self.max_age <= 0:
            return None
        if not CACHEABLE.match(scope["path"]) or len(scope["query_string"]) > MAX_QUERY:
            return None
        cookies = [value for name, value in scope["headers"] if name == b"cookie"]
        if any(name == b"authorization" for name, _ in scope["headers"]):
            return None
        if all(anonymous_cookies(value) for value in cookies):
            return "anonymous"
        if (
            self.settings is not None and len(cookies) == 1 and reader_cookies(cookies[0])
            and READER_CACHEABLE.match(scope["path"])
        ):  # fmt: skip
            return "reader"
        return None  # a signed-in reader's other pages, or cookies the app might read: their own answer

    async def _probe(self) -> str | None:
        """max(papers.changed_at), read at most once per probe_seconds, by one request; the requests that come
        meanwhile wait for that read and are all woken together (a lock would hand over to them one loop
        iteration at a time: a second of waiting for the last of 50 on a busy node)."""
        if time.monotonic() - self._probed_at < self.probe_seconds:
            return self._database_version
        if self._probing is not None:
            await self._probing.wait()
            return self._database_version
        self._probing = probing = anyio.Event()
        try:
            started = time.monotonic()
            self._database_version = await anyio.to_thread.run_sync(self.store.catalogue_version)
            self._probed_at = started
        finally:
            self._probing = None
            probing.set()
        return self._database_version

    async def _fill(self, scope: Scope, receive: Receive, send: Send, key: tuple[str, bytes],
                    version: tuple[int, str | None], started: float) -> None:  # fmt: skip
        start: Message | None = None
        chunks: list[bytes] = []
        keep = True

        async def capture(message: Message) -> None:
            nonlocal start, keep
            if message["type"] == "http.response.start":
                start = message
                state = scope.get("state") or {}
                keep = (
                    message["status"] == 200
                    and state.get("user") is None  # never a page rendered for a signed-in reader
                    and "csrf_token" not in state  # nor one holding this browser's CSRF token
                    and not any(name.lower() == b"set-cookie" for name, _ in message.get("headers", ()))
                )
            elif message["type"] == "http.response.body" and keep:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and start is not None:
                    self._store(key, Entry(version, started, list(start.get("headers", ())), b"".join(chunks),
                                           scope.get("route")))  # fmt: skip
            await send(message)

        await self.app(scope, receive, capture)

    def _store(self, key: tuple[str, bytes], entry: Entry) -> None:
        self.entries[key] = entry
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    # ---- signed-in readers ----------------------------------------------------------------------

    async def _read(self, function: Callable[..., T], *arguments: Any) -> T:
        """A short read for a signed-in reader's page: on SQLite on the event loop itself (an indexed lookup in a
        local file, shorter than handing it to a thread, whose wait for the interpreter lock after the query
        is what made the slowest answers slow), on a thread for a database across the network."""
        if self._inline_reads:
            return function(*arguments)
        return await anyio.to_thread.run_sync(function, *arguments)

    def _reader_entry(self, key: tuple[str, bytes], version: tuple[int, str | None]) -> ReaderEntry | None:
        """The page's rendering if it is of the current catalogue version and younger than max_age — or
        older, up to twice that, while another request renders its successor (no change has been seen:
        max_age only bounds what a probe could miss, so nobody waits for a mere age-out)."""
        entry = self.reader_entries.get(key)
        if entry is None or entry.version != version:
            return None
        age = time.monotonic() - entry.created
        if age < self.max_age or (age < 2 * self.max_age and key in self.rendering):
            return entry
        return None

    async def _serve_reader(self, scope: Scope, receive: Receive, send: Send, key: tuple[str, bytes],
                            version: tuple[int, str | None]) -> None:  # fmt: skip
        session_id = read_session_cookie(Request(scope), self.settings)
        if session_id is None:
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        entry = self._reader_entry(key, version)
        user, voted = await self._read(  # voted: among the page's papers; all the reader's votes (or None) without
            self.store.session_reader, hash_token(session_id), utc_iso(now_utc()), entry.page.paper_ids if entry else None
        )  # fmt: skip
        if user is None:  # expired or signed out: the app answers as for anyone without a session
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["user"] = user
        if entry is None and (rendering := self.rendering.get(key)) is not None:
            await rendering.wait()  # one request renders a page at a time; the others fill in its rendering
            entry = self._reader_entry(key, version)
            if entry is None:  # the catalogue moved meanwhile (a vote does): the app answers at once — waiting for
                # yet another rendering queued readers one behind the other (30 s for 20 voters on a busy node)
                self.stats.reader_misses += 1
                await self.app(scope, receive, send)
                return
        if entry is None:
            self.stats.reader_misses += 1
            self.rendering[key] = rendering = anyio.Event()
            try:
                await self._render_reader(scope, receive, send, key, version, started, user, voted)
            finally:
                del self.rendering[key]
                rendering.set()
            return
        self.reader_entries.move_to_end(key)
        self.stats.reader_hits += 1
        if entry.route is not None:
            scope["route"] = entry.route
        await self._send_reader_page(scope, send, 200, entry.headers, entry.page, voted, user)

    async def _render_reader(self, scope: Scope, receive: Receive, send: Send, key: tuple[str, bytes],
                             version: tuple[int, str | None], started: float, user: Any, voted: set[str] | None) -> None:  # fmt: skip
        """Render the page with holes through the app, keep it when it is a plain 200, and fill it for this reader."""
        holes = ReaderHoles()
        state = scope.setdefault("state", {})
        state[READER_HOLES] = holes
        state["user"] = {**user, "name": holes.name}
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, receive, capture)
        finally:
            for name in (READER_HOLES, "csrf_field"):  # the field was built with the token's hole
                state.pop(name, None)
            state["user"] = user
        if start is None:
            return
        page = ReaderPage.cut(b"".join(chunks).decode("utf-8"), holes)
        headers = [(name, value) for name, value in start.get("headers", ()) if name.lower() != b"content-length"]
        if start["status"] == 200 and not any(name.lower() == b"set-cookie" for name, _ in headers):
            self.reader_entries[key] = ReaderEntry(version, started, headers, page, scope.get("route"))
            self.reader_entries.move_to_end(key)
            while len(self.reader_entries) > self.size:
                self.reader_entries.popitem(last=False)
        await self._send_reader_page(scope, send, start["status"], headers, page, voted, user)

    async def _send_reader_page(self, scope: Scope, send: Send, status: int, headers: list[tuple[bytes, bytes]],
                                page: ReaderPage, voted: set[str] | None, user: Any) -> None:  # fmt: skip
        if voted is None:  # a reader with very many votes: asked about this page's papers
            voted = set(await self._read(self.store.voted_paper_ids, user["id"], page.paper_ids))
        body = page.fill(voted=voted, token=csrf_token(Request(scope)), name=user["name"])
        start: Message = {
            "type": "http.response.start", "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }  # fmt: skip
        add_csrf_cookie(scope, start, secure=secure_cookies(self.settings))
        await send(start)
        await send({"type": "http.response.body", "body": body})
