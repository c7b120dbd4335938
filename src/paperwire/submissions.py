"""Papers readers submit by arXiv id: known ones are confirmed at once, others are fetched in the background.

No request waits on arXiv: /submit records a fetch (bounded per reader and for the whole site) and
answers with a page that follows it; one fetcher thread per web process works through the queue with
its own client (no lock is shared with requests), spaced by arxiv_request_interval, with a short
timeout and at most one retry (a person is waiting), and gives up on a `Retry-After` longer than
INTERACTIVE_MAX_WAIT. A paper already in the catalogue stays on its own day.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from paperwire.background import WakeableWorker, Wakers
from paperwire.models import InvalidRecord, Paper
from paperwire.models import utc_iso as iso
from paperwire.settings import Settings
from paperwire.storage import Store
from paperwire.storage.records import UserRecord
from paperwire.storage.social import AlreadySubmitted

log = logging.getLogger("paperwire.submissions")

INTERACTIVE_TIMEOUT = 20.0  # seconds before a fetch for a waiting reader gives up
INTERACTIVE_MAX_WAIT = 30.0  # longest Retry-After honoured for a waiting reader
STALE_AFTER = timedelta(minutes=10)  # a fetch `fetching` this long belonged to a process that died


def queue_submission(store: Store, settings: Settings, user: UserRecord, paper_id: str, version: int | None) -> int:
    """Record a fetch of `paper_id` for `user` and wake the fetchers; its id. FetchQueueFull when the
    reader (submit_pending_per_reader) or the site (submit_pending_total) has too many waiting."""
    fetch_id = store.queue_arxiv_fetch(
        user["id"], paper_id, version,
        per_reader=settings.submit_pending_per_reader, total=settings.submit_pending_total,
    )  # fmt: skip
    _wake_fetchers()
    return fetch_id


def interactive_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={
        "http_retries": min(settings.http_retries, 1), "http_timeout": min(settings.http_timeout, INTERACTIVE_TIMEOUT),
        "http_max_wait": min(settings.http_max_wait, INTERACTIVE_MAX_WAIT),
    })  # fmt: skip


def trouble_message(error: Exception) -> str:
    """What a reader is told when arXiv did not answer usefully."""
    text = str(error)
    if "asks to wait" in text:
        return "arXiv is busy and asks everyone to wait. Please try again later."
    if "timed out" in text:
        return "arXiv did not answer in time. Please try again later."
    return "arXiv could not be reached just now. Please try again later."


def fetch_submission(store: Store, settings: Settings, row: dict) -> tuple[str, str]:
    """Fetch one queued submission from arXiv and land it: (status, message) for its page."""
    from paperwire.sources.arxiv import fetch_arxiv_papers
    from paperwire.sources.http import PoliteClient, SourceError
    from paperwire.trending import rescore_papers

    paper_id, version = row["paper_id"], row["version"]
    interactive = interactive_settings(settings)
    try:
        with PoliteClient(interactive, default_interval=settings.arxiv_request_interval) as client:
            papers = fetch_arxiv_papers([f"{paper_id}v{version}" if version else paper_id], interactive, client=client)
    except SourceError as error:
        log.warning("submission %s: %s", paper_id, error)
        return "failed", trouble_message(error)
    except InvalidRecord as error:
        return "failed", str(error)
    found: Paper | None = next((paper for paper in papers if paper.id == paper_id), None)
    if found is None:
        return "failed", f"arXiv has no paper {paper_id}."
    user = store.get_user(row["user_id"])
    if user is None:
        return "failed", "The account that asked for this paper no longer exists."
    if store.get_paper(paper_id) is not None:  # landed meanwhile (another reader, an ingest)
        return "done", f"{paper_id} is already in the catalogue; it stays on its own day."
    try:
        submitted = store.submit_paper(found, user, datetime.now(timezone.utc).date().isoformat())
    except AlreadySubmitted as error:
        return "done", str(error)
    rescore_papers(store, [submitted.id], datetime.now(timezone.utc))
    return "done", f"{paper_id} was added to today's list."


# ---- the background fetcher -------------------------------------------------------------------

FETCHERS = Wakers()  # this process's fetchers: a new submission wakes them at once


def _wake_fetchers() -> None:
    FETCHERS.wake_all()


class SubmissionFetcher(WakeableWorker):
    """A daemon thread that fetches queued submissions one at a time, in every web process."""

    def __init__(self, store: Store, settings: Settings, *, poll_seconds: float = 2.0) -> None:
        # A fetch in flight ends within its timeout; the daemon thread does not hold up shutdown.
        super().__init__(FETCHERS, "paperwire-submissions", poll_seconds=poll_seconds, join_seconds=2)
        self.store = store
        self.settings = settings
        self._last_fetch = 0.0

    def run_pending(self) -> int:
        """Fetch every queued submission now; how many were handled."""
        handled = 0
        while not self._stop.is_set():
            row = self.store.claim_arxiv_fetch()
            if row is None:
                return handled
            wait = self._last_fetch + self.settings.arxiv_request_interval - time.monotonic()
            if wait > 0:
                self._stop.wait(wait)  # arXiv's spacing between our requests
            try:
                status, message = fetch_submission(self.store, self.settings, row)
            except Exception as error:  # one bad fetch must not stop the others
                log.exception("submission %s failed", row["paper_id"])
                status, message = "failed", f"Something went wrong ({type(error).__name__}). Please try again later."
            finally:
                self._last_fetch = time.monotonic()
            self.store.finish_arxiv_fetch(row["id"], status, message)
            handled += 1
        return handled

    def _run(self) -> None:
        stale = iso(datetime.now(timezone.utc) - STALE_AFTER)
        try:
            self.store.fail_stale_arxiv_fetches(stale, "The fetch was interrupted. Please try again.")
        except Exception:
            log.exception("could not clear interrupted submissions")
        while not self._stop.is_set():
            try:
                if self.store.has_queued_arxiv_fetch():
                    self.run_pending()
            except Exception:  # e.g. the database briefly unavailable
                log.exception("submission fetcher pass failed; retrying")
            self._wait(self.poll_seconds)


@contextlib.contextmanager
def submission_fetcher_running(store: Store, settings: Settings) -> Iterator[SubmissionFetcher]:
    fetcher = SubmissionFetcher(store, settings)
    fetcher.start()
    try:
        yield fetcher
    finally:
        fetcher.stop()
