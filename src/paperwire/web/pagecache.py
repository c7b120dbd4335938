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
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperwire.web.security import CSRF_COOKIE

CACHEABLE = re.compile(r"^/(?:papers(?:/(?:week|month)/[^/]+)?|api/papers)?$")
ANONYMOUS_COOKIES = frozenset({CSRF_COOKIE})  # what a signed-out browser may carry and still share a page
MAX_QUERY = 200  # longer query strings are not what the list pages are asked with: not worth a slot


@dataclass(slots=True)
class Entry:
    version: tuple[int, str | None]
    created: float
    headers: list[tuple[bytes, bytes]]
    body: bytes
    route: Any


def anonymous_cookies(header: bytes) -> bool:
    """Whether a Cookie header holds nothing but cookies every signed-out browser has, read exactly as
    the application reads cookies (Starlette's parser: `pw_session =x` is the session cookie there)."""
    names = cookie_parser(header.decode("latin-1")).keys()
    return all(name in ANONYMOUS_COOKIES for name in names)


class PageCacheStats:
    """Counters for /metrics (updated on the event loop: no locks needed)."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0


class PageCache:
    """Plain ASGI middleware (see the module docstring)."""

    def __init__(
        self, app: ASGIApp, *, store: Any, max_age: float, probe_seconds: float = 1.0,  # the Store
        size: int = 512, stats: PageCacheStats | None = None,
    ) -> None:  # fmt: skip
        self.app = app
        self.store = store
        self.max_age = max_age
        self.probe_seconds = min(probe_seconds, max_age)
        self.size = size
        self.stats = stats or PageCacheStats()
        self.entries: OrderedDict[tuple[str, bytes], Entry] = OrderedDict()
        self._database_version: str | None = None
        self._probed_at = float("-inf")
        self._probe_lock: anyio.Lock | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._cacheable(scope):
            await self.app(scope, receive, send)
            return
        version = (self.store.generation, await self._probe())
        key = (scope["path"], scope["query_string"])
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

    def _cacheable(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "GET" or self.max_age <= 0:
            return False
        if not CACHEABLE.match(scope["path"]) or len(scope["query_string"]) > MAX_QUERY:
            return False
        for name, value in scope["headers"]:
            if name == b"cookie" and not anonymous_cookies(value):
                return False  # a signed-in reader (or one the app might read as such): their own page
            if name == b"authorization":
                return False
        return True

    async def _probe(self) -> str | None:
        """max(papers.changed_at), read at most once per probe_seconds by one request at a time."""
        if time.monotonic() - self._probed_at < self.probe_seconds:
            return self._database_version
        if self._probe_lock is None:
            self._probe_lock = anyio.Lock()
        async with self._probe_lock:
            if time.monotonic() - self._probed_at >= self.probe_seconds:
                started = time.monotonic()
                self._database_version = await anyio.to_thread.run_sync(self.store.catalogue_version)
                self._probed_at = started
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
