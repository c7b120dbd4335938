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
from paperwire.web import api, feeds, for_you, hf_api, library, pages, search, social, subscriptions, trending
from paperwire.web import metrics as web_metrics
from paperwire.web.pagecache import PageCache, PageCacheStats
from paperwire.web.security import install_security
from paperwire.web.templating import STATIC_DIR, make_templates

# Each concern contributes one router; the table of all routes is the union of these.
ROUTERS = [pages.router, api.router, trending.router, hf_api.router, feeds.router, social.router, subscriptions.router, search.router]
ROUTERS += [library.router, for_you.router]


@contextlib.asynccontextmanager
async def lifespan(application: FastAPI) -> AsyncIterator[None]:
    # Transactional mail (confirmations, sign-in links) leaves from every web process, also under --no-jobs.
    with transactional_sender_running(application.state.store, application.state.settings):
        # Scheduled jobs (live ingest, digests) run in this process unless `serve --no-jobs`.
        with scheduler_running(application.state.settings, application.state.store, enabled=application.state.run_jobs):
            yield


def create_app(settings: Settings, *, store: Store | None = None, run_jobs: bool = False) -> FastAPI:
    settings.ensure_home()
    store = store or open_store(settings.effective_database_url)
    application = FastAPI(
        title=settings.site_name,
        version=__version__,
        description="Daily papers, trending, hybrid search and digests. Also answers the Hugging Face papers API.",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    application.state.settings = settings
    application.state.store = store
    application.state.templates = make_templates(settings)
    application.state.run_jobs = run_jobs
    application.state.search = SearchService(store, settings)  # index syncs and model loads lazily
    if run_jobs:
        application.state.search.start()
    install_security(application, settings)
    # Outside the CSRF middleware, inside the metrics one (which counts hits under their route).
    application.state.page_cache = PageCacheStats()
    application.add_middleware(
        PageCache, store=store, max_age=settings.page_cache_seconds, probe_seconds=settings.page_cache_probe_seconds,
        stats=application.state.page_cache,
    )  # fmt: skip
    social.install_template_helpers(application)
    library.install_library_helpers(application)
    application.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in ROUTERS:
        application.include_router(router)
    web_metrics.install(application)  # last: its middleware times everything inside it
    pages.install_error_pages(application)
    return application
