"""create_app(settings): the composition root — wires store, templates, routers and background jobs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from paperwire import __version__
from paperwire.jobs import scheduler_running
from paperwire.mail.outbox import transactional_sender_running
from paperwire.search.hybrid import SearchService
from paperwire.settings import Settings
from paperwire.storage import Store, open_store
from paperwire.submissions import submission_fetcher_running
from paperwire.web import (
    api,
    authors,
    docs,
    feeds,
    for_you,
    hf_api,
    library,
    pages,
    search,
    social,
    submissions,
    subscriptions,
    trending,
)
from paperwire.web import metrics as web_metrics
from paperwire.web.headers import SecureResponses
from paperwire.web.limits import RequestLimits
from paperwire.web.pagecache import PageCache, PageCacheStats
from paperwire.web.personal import NoStoreForPersonalPages
from paperwire.web.security import install_security
from paperwire.web.templating import STATIC_DIR, make_templates

# Each concern contributes one router; the table of all routes is the union of these.
ROUTERS = [
    pages.router,
    api.router,
    trending.router,
    hf_api.router,
    feeds.router,
    social.router,
    subscriptions.router,
    search.router,
    submissions.router,
    authors.router,
    library.router,
    for_you.router,
]


@contextlib.asynccontextmanager
async def lifespan(application: FastAPI) -> AsyncIterator[None]:
    # Every node (`serve --no-jobs` too) catches its search index up in the background from start-up,
    # then follows the database; searches meanwhile answer from what is indexed and say so.
    application.state.search.start(warm_model=application.state.run_jobs)
    try:
        async with _jobs_running(application):
            yield
    finally:
        application.state.search.stop()


@contextlib.asynccontextmanager
async def _jobs_running(application: FastAPI) -> AsyncIterator[None]:
    # Transactional mail (confirmations, sign-in links) leaves from every web process, also under --no-jobs.
    with (
        transactional_sender_running(application.state.store, application.state.settings),
        submission_fetcher_running(application.state.store, application.state.settings),
    ):  # arXiv, off the requests
        # Scheduled jobs (live ingest, digests) run in this process unless `serve --no-jobs`.
        with scheduler_running(
            application.state.settings, application.state.store, enabled=application.state.run_jobs,
            search=application.state.search,
        ):  # fmt: skip
            yield


def create_app(settings: Settings, *, store: Store | None = None, run_jobs: bool = False) -> FastAPI:
    settings.ensure_home()
    settings.check_secret_key()  # an empty or short signing key refuses to start (SettingsError)
    store = store or open_store(settings.effective_database_url)
    application = FastAPI(
        title=settings.site_name,
        version=__version__,
        description="Daily papers, trending, hybrid search and digests. Also answers the Hugging Face papers API.",
        docs_url=None,  # web/docs.py serves /docs with its assets from this package, not a CDN
        redoc_url=None,
        lifespan=lifespan,
    )
    application.state.settings = settings
    application.state.store = store
    application.state.templates = make_templates(settings)
    application.state.run_jobs = run_jobs
    # The process's one search service: pages, the API, digests and the embedding job all use it.
    application.state.search = SearchService(store, settings)
    application.state.search.also_kept = store.also_kept  # similar papers: what readers who kept it also kept
    install_security(application, settings)
    # Outside the CSRF middleware, inside the metrics one (which counts hits under their route).
    application.state.page_cache = PageCacheStats()
    application.add_middleware(
        PageCache, store=store, max_age=settings.page_cache_seconds, probe_seconds=settings.page_cache_probe_seconds,
        stats=application.state.page_cache, settings=settings,
    )  # fmt: skip
    application.add_middleware(NoStoreForPersonalPages)
    social.install_template_helpers(application)
    library.install_library_helpers(application)
    docs.install_docs(application)
    application.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        application.include_router(router, responses=api.ERROR_RESPONSES)
    web_metrics.install(application)  # its middleware times everything inside it
    # Outermost: limits before any work, then the headers every answer carries (HEAD, CSP, no Host in redirects).
    application.state.body_limits = {}  # path prefix → bytes, for a route that takes more than max_body_bytes
    application.add_middleware(
        RequestLimits, max_body_bytes=settings.max_body_bytes, max_header_bytes=settings.max_header_bytes,
        body_timeout=settings.client_timeout, body_limits=application.state.body_limits,
    )  # fmt: skip
    application.add_middleware(SecureResponses)
    pages.install_error_pages(application)
    return application
