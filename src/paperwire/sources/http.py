"""The polite HTTP client of the live sources, their errors, and the report of a live run.

Politeness is the client's job, not each source's: one connection, a descriptive User-Agent with
the operator's contact, at most one request per interval per host (3 s for arXiv, its terms), and
retries with exponential backoff and jitter on 429 / 5xx / timeouts, honouring `Retry-After`.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from paperwire import __version__
from paperwire.models import ImportReport
from paperwire.settings import Settings

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})


class SourceError(Exception):
    """A live source could not be read; the message says which request and why, for the operator."""


class FetchError(SourceError):
    """A request that failed for good: a client error, or a server error / timeout after the retries."""


class ParseError(SourceError):
    """A response that is not what the source documents (truncated XML, invalid JSON, wrong shape)."""


def user_agent(settings: Settings) -> str:
    contact = settings.contact.strip() or "operator contact not configured (PAPERWIRE_CONTACT)"
    return f"paperwire/{__version__} (self-hosted daily papers; {settings.base_url}; {contact})"


def host_of(url: str) -> str:
    return urlsplit(url).netloc.lower()


def intervals_from(settings: Settings) -> dict[str, float]:
    """Seconds between requests per host; a host serving several sources gets the largest interval."""
    intervals: dict[str, float] = {}
    for url, interval in (
        (settings.arxiv_rss_url, settings.arxiv_request_interval),
        (settings.arxiv_api_url, settings.arxiv_request_interval),
        (settings.arxiv_oai_url, settings.arxiv_request_interval),
        (settings.hf_api_url, settings.hf_request_interval),
    ):
        host = host_of(url)
        intervals[host] = max(interval, intervals.get(host, 0.0))
    return intervals


SOURCE_DOMAINS = ("arxiv.org", "huggingface.co")  # a redirect may lead to these and their subdomains


def redirect_allowed(target: httpx.URL, configured_hosts: Mapping[str, float]) -> bool:
    if target.scheme not in ("http", "https"):
        return False
    if target.netloc.decode().lower() in configured_hosts:
        return True
    host = target.host.lower()
    return target.scheme == "https" and any(host == domain or host.endswith(f".{domain}") for domain in SOURCE_DOMAINS)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` as seconds to wait: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - (now or datetime.now(timezone.utc))).total_seconds())


class PoliteClient:
    """GET with per-host spacing and retries over one connection. Use as a context manager."""

    def __init__(
        self, settings: Settings, *, intervals: Mapping[str, float] | None = None,
        default_interval: float = 1.0, sleep: Callable[[float], None] = time.sleep,
    ) -> None:  # fmt: skip
        self.retries = settings.http_retries
        self.backoff = settings.http_backoff
        self.max_wait = settings.http_max_wait
        self.intervals = dict(intervals if intervals is not None else intervals_from(settings))
        self.default_interval = default_interval
        self.sleep = sleep
        self.requests = 0
        self._last_done: dict[str, float] = {}
        self._lock = threading.Lock()
        self.client = httpx.Client(
            headers={"User-Agent": user_agent(settings), "Accept-Encoding": "gzip"},
            timeout=httpx.Timeout(settings.http_timeout),
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
            follow_redirects=True,
            event_hooks={"response": [self._check_redirect]},
        )

    def _check_redirect(self, response: httpx.Response) -> None:
        """Follow redirects only to the sources' own hosts (arXiv's, Hugging Face's, or those configured)."""
        if not response.has_redirect_location:
            return
        target = response.request.url.join(response.headers["Location"])
        if not redirect_allowed(target, self.intervals):
            raise FetchError(
                f"GET {response.request.url} redirects to {target.scheme}://{target.netloc.decode()}, which is not "
                "a host of the configured sources; not followed"
            )

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def _wait_turn(self, host: str) -> None:
        """Sleep until `interval` seconds have passed since the previous request to `host` ended."""
        interval = self.intervals.get(host, self.default_interval)
        last = self._last_done.get(host)
        if last is not None:
            remaining = last + interval - time.monotonic()
            if remaining > 0:
                self.sleep(remaining)

    def get(self, url: str, params: Mapping[str, str] | None = None) -> httpx.Response:
        """The response of a successful GET (2xx/3xx followed), or FetchError after the retries."""
        host = host_of(url)
        with self._lock:  # one request at a time: one connection, and the spacing holds across threads
            for attempt in range(self.retries + 1):
                self._wait_turn(host)
                retry_after = None
                try:
                    self.requests += 1
                    response = self.client.get(url, params=params)
                except httpx.TimeoutException as error:
                    failure = f"timed out ({type(error).__name__})"
                except httpx.TransportError as error:
                    failure = f"connection failed ({type(error).__name__}: {error})"
                else:
                    if response.status_code < 400:
                        return response
                    failure = f"HTTP {response.status_code} {response.reason_phrase}".strip()
                    if response.status_code not in RETRIED_STATUSES:
                        raise FetchError(f"GET {response.request.url} failed: {failure}")
                    retry_after = retry_after_seconds(response.headers.get("Retry-After"))
                finally:
                    self._last_done[host] = time.monotonic()
                where = f"GET {httpx.URL(url, params=params)}"
                if attempt == self.retries:
                    raise FetchError(f"{where} failed after {attempt + 1} attempts: {failure}")
                if retry_after is not None and retry_after > self.max_wait:
                    raise FetchError(
                        f"{where} failed: {failure}, and the server asks to wait {retry_after:.0f} s "
                        f"(more than http_max_wait = {self.max_wait:.0f} s)"
                    )
                self.sleep(max(self.backoff_delay(attempt), retry_after or 0.0))
        raise AssertionError("unreachable")

    def backoff_delay(self, attempt: int) -> float:
        """Exponential backoff with jitter: half fixed, half random, so clients spread out."""
        ceiling = min(self.backoff * (2**attempt), self.max_wait)
        return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass(slots=True)
class LiveReport:
    """What a live run fetched and stored; `status` is "ok" or "empty" (nothing announced)."""

    source: str
    report: ImportReport = field(default_factory=ImportReport)
    requests: int = 0
    status: str = "ok"
    notes: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        report = self.report
        parts = [
            f"added {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
            f"skipped {len(report.skipped)}",
            f"{self.requests} request{'s' if self.requests != 1 else ''}",
            *self.notes,
        ]
        return "; ".join(parts)
