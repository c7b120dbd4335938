"""HTML pages of the catalogue: the daily, weekly and monthly lists, the paper page, and the error pages."""

from __future__ import annotations

import math
import re
from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperwire.periods import InvalidPeriod, Period
from paperwire.storage import Store
from paperwire.web.listings import default_day, find_paper, list_period, parse_period, period_of_day
from paperwire.web.params import MAX_PAGE, BadParameter, parse_int

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 30
HEADINGS = {"day": "Daily Papers", "week": "Weekly Papers", "month": "Monthly Papers"}
TABS = {"day": "daily", "week": "weekly", "month": "monthly"}


def period_url(period: Period) -> str:
    """Where a period's page lives: /papers?date=…, /papers/week/YYYY-Www or /papers/month/YYYY-MM."""
    if period.kind == "day":
        return f"/papers?date={period.label}"
    return f"/papers/{period.kind}/{period.label}"


def short_label(period: Period) -> str:
    """`Jun 9`, `Week 23` or `May 2025`: the text of a previous / next button."""
    if period.kind == "day":
        return period.first.strftime("%b %-d")
    if period.kind == "week":
        return f"Week {int(period.label[-2:])}"
    return period.first.strftime("%b %Y")


def tab_links(period: Period, store: Store | None = None) -> dict[str, str]:
    """Point the Daily / Weekly / Monthly tabs at the periods around the one shown: from a week or a month,
    Daily opens its newest day with papers (its first day when it has none)."""
    day = period.first
    if period.kind != "day" and store is not None:
        latest = store.latest_listed_day(period.last.isoformat())
        day = date.fromisoformat(latest) if latest and latest >= period.first.isoformat() else period.first
    return {
        "daily": period_url(period_of_day("day", day)),
        "weekly": period_url(period_of_day("week", period.first)),
        "monthly": period_url(period_of_day("month", period.first)),
    }


EMPHASIS = re.compile(r"\*([^*]+)\*")  # a reason's *words* are quoted on the page
SIMILAR_FIRST = 6  # similar papers on the paper page until the reader asks for more
SIMILAR_PAGE = 12  # ... and per page of "More like this" (up to MAX_SIMILAR in all)


def similar_papers(request: Request, paper_id: str, page: int | None) -> dict:
    """Papers like this one with their reasons: the first few, or page `page` of "More like this"."""
    from paperwire.search.similar import MAX_SIMILAR

    limit, offset = (SIMILAR_FIRST, 0) if page is None else (SIMILAR_PAGE, (page - 1) * SIMILAR_PAGE)
    hits = request.app.state.search.similar(paper_id, limit=limit + 1, offset=offset)
    items = [(hit.paper, EMPHASIS.sub("\u201c\\1\u201d", hit.explanation)) for hit in hits[:limit]]
    more = len(hits) > limit and offset + limit < MAX_SIMILAR
    return {"items": items, "page": page, "next": (page or 0) + 1 if more else None,
            "previous": page - 1 if page and page > 1 else None}  # fmt: skip


# ---- rendering ----------------------------------------------------------------------------------------


def render(request: Request, template: str, context: dict, status_code: int = 200) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)


def render_error(
    request: Request, status_code: int, heading: str, message: str, *, hint_url: str = "/",
    hint_text: str = "Go to today's papers",
) -> HTMLResponse:  # fmt: skip
    context = {"status_code": status_code, "heading": heading, "message": message, "hint_url": hint_url,
               "hint_text": hint_text}  # fmt: skip
    return render(request, "error.html", context, status_code)


def render_period(request: Request, period: Period, page_text: str | None) -> HTMLResponse:
    try:
        page = parse_int("page", page_text or None, 1, 1, MAX_PAGE)
    except BadParameter as error:
        return render_error(request, 400, "Bad page number", str(error), hint_url=period_url(period),
                            hint_text="Go to the first page")  # fmt: skip
    listing = list_period(request.app.state.store, period, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    base = period_url(period)

    def page_url(number: int) -> str:
        if number <= 1:
            return base
        return f"{base}{'&' if '?' in base else '?'}{urlencode({'page': number})}"

    context = {
        "listing": listing,
        "heading": HEADINGS[period.kind],
        "active_tab": TABS[period.kind],
        "tab_links": tab_links(period, request.app.state.store),
        "previous_url": period_url(listing.previous) if listing.previous else None,
        "next_url": period_url(listing.next) if listing.next else None,
        "page": page,
        "pages": max(1, math.ceil(listing.total / PAGE_SIZE)),
        "page_url": page_url,
        "short_label": short_label,
    }
    return render(request, "papers.html", context)


PERIOD_EXAMPLES = {"day": "/papers?date=2025-06-10", "week": "/papers/week/2025-W24", "month": "/papers/month/2025-06"}


def render_named_period(request: Request, kind: str, text: str, page_text: str | None) -> HTMLResponse:
    """The list page of the period named by `text` (a day, week or month), or a page saying what is expected."""
    try:
        period = parse_period(kind, text)
    except InvalidPeriod as error:
        return render_bad_period(request, error, PERIOD_EXAMPLES[kind])
    return render_period(request, period, page_text)


def render_bad_period(request: Request, error: InvalidPeriod, example: str) -> HTMLResponse:
    message = str(error)
    return render_error(
        request, 400, "That is not a date we understand", f"{message[:1].upper()}{message[1:]}. For example: {example}."
    )


# ---- routes (fixed paths first; the paper page's converter matches paper ids only) --------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request, page: str | None = None) -> HTMLResponse:
    return render_period(request, period_of_day("day", default_day(request.app.state.store)), page)


@router.get("/papers", response_class=HTMLResponse)
def daily(request: Request, date: str | None = None, page: str | None = None) -> HTMLResponse:
    if not date:
        return home(request, page)
    return render_named_period(request, "day", date, page)


@router.get("/papers/week", response_class=RedirectResponse)
def latest_week(request: Request) -> RedirectResponse:
    return RedirectResponse(period_url(period_of_day("week", default_day(request.app.state.store))), 302)


@router.get("/papers/month", response_class=RedirectResponse)
def latest_month(request: Request) -> RedirectResponse:
    return RedirectResponse(period_url(period_of_day("month", default_day(request.app.state.store))), 302)


@router.get("/papers/week/{week}", response_class=HTMLResponse)
def weekly(request: Request, week: str, page: str | None = None) -> HTMLResponse:
    return render_named_period(request, "week", week, page)


@router.get("/papers/month/{month}", response_class=HTMLResponse)
def monthly(request: Request, month: str, page: str | None = None) -> HTMLResponse:
    return render_named_period(request, "month", month, page)


@router.get("/papers/{paper_id:paper_id}", response_class=HTMLResponse)
def paper_page(request: Request, paper_id: str, similar_page: str | None = None) -> Response:
    """`similar_page=N`: page N of "More like this" (12 similar papers a page) instead of the first 6."""
    from paperwire.search.similar import MAX_SIMILAR

    try:
        page = None if similar_page is None else parse_int("similar_page", similar_page or None, 1, 1, MAX_PAGE)
    except BadParameter as error:
        return render_error(request, 422, "Bad request", str(error))
    if page is not None and (page - 1) * SIMILAR_PAGE >= MAX_SIMILAR:
        last = -(-MAX_SIMILAR // SIMILAR_PAGE)
        return render_error(request, 422, "Bad request", f"similar_page goes up to {last} ({MAX_SIMILAR} papers)")
    paper, canonical = find_paper(request.app.state.store, paper_id)
    if paper is None:
        return render_error(
            request, 404, "Paper not found",
            f"There is no paper {canonical} in this catalogue. Search for it by title or author, "
            "or open it on arXiv.", hint_url=f"/search?{urlencode({'q': canonical})}", hint_text="Search for it",
        )  # fmt: skip
    if canonical != paper_id:
        return RedirectResponse(f"/papers/{canonical}", 301)
    context = {
        "paper": paper,
        "similar": similar_papers(request, paper.id, page),
        "tab_links": tab_links(parse_period("day", paper.listed_on)) if paper.listed_on else {},
    }
    return render(request, "paper.html", context)


# ---- error pages for the whole site ---------------------------------------------------------------------

ERROR_HEADINGS = {404: "Page not found", 405: "Method not allowed", 400: "Bad request", 422: "Bad request"}


def wants_html(request: Request) -> bool:
    """Browsers get error pages; API clients (and anything under /api/) keep FastAPI's JSON errors."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


async def html_http_exception_handler(request: Request, exc: StarletteHTTPException) -> Response:
    if not wants_html(request):
        return await http_exception_handler(request, exc)
    message = (
        exc.detail
        if isinstance(exc.detail, str) and exc.detail != "Not Found"
        else ("Nothing lives at this address. Check the link, or start from today's papers.")
    )
    heading = ERROR_HEADINGS.get(exc.status_code, "Something went wrong")
    response = render_error(request, exc.status_code, heading, message)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def html_validation_exception_handler(request: Request, exc: RequestValidationError) -> Response:
    if not wants_html(request):
        return await request_validation_exception_handler(request, exc)
    problems = "; ".join(
        f"{'.'.join(str(part) for part in error.get('loc', ())[1:]) or 'request'}: {error.get('msg', 'invalid')}"
        for error in exc.errors()
    )
    return render_error(request, 422, "Bad request", f"Please check the address: {problems}.")


def install_error_pages(application: FastAPI) -> None:
    """HTML error pages for browsers, everywhere on the site; JSON errors stay JSON."""
    # Starlette types a handler's exception as Exception; these take the subclass they are registered for.
    application.add_exception_handler(StarletteHTTPException, html_http_exception_handler)  # type: ignore[arg-type]
    application.add_exception_handler(RequestValidationError, html_validation_exception_handler)  # type: ignore[arg-type]
