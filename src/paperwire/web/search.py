"""Search surfaces: the /search page, GET /api/search and GET /api/papers/{id}/similar (one service call each)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperwire.search.hybrid import MAX_WINDOW, SearchService
from paperwire.search.keyword import Filters
from paperwire.search.query import MAX_QUERY_CHARS, highlight
from paperwire.search.results import SearchHit, SearchResults
from paperwire.web.api import json_error, json_response, paper_json
from paperwire.web.params import MAX_LIMIT, BadParameter, parse_day, parse_int

router = APIRouter()

DEFAULT_LIMIT = 50
MAX_OFFSET = 800
MAX_PAGE = 10_000  # pages past the last answer a clear message, never an error
FILTER_CHARS = 250
PAGE_SIZE = 20
ABSTRACT_CHARS = 420
MAX_SIMILAR = 100


class InvalidSearch(BadParameter):
    """A parameter a person must fix; the message says how."""


def search_service(request: Request) -> SearchService:
    return request.app.state.search


def day_text(name: str, text: str | None) -> str | None:
    day = parse_day(name, text)
    return day.isoformat() if day else None


def parse_filters(params) -> Filters:  # request.query_params
    def text(name: str) -> str | None:
        value = (params.get(name) or "").strip()
        if len(value) > FILTER_CHARS:
            raise InvalidSearch(f"{name} is {len(value):,} characters long; the limit is {FILTER_CHARS}")
        return value or None

    filters = Filters(
        date_from=day_text("from", params.get("from")), date_to=day_text("to", params.get("to")),
        category=text("category"), author=text("author"),
    )  # fmt: skip
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InvalidSearch(f"from ({filters.date_from}) is after to ({filters.date_to})")
    return filters


def parse_q(params, *, required: bool) -> str:
    q = params.get("q") or ""
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidSearch(f"q is {len(q):,} characters long; the limit is {MAX_QUERY_CHARS:,}: shorten the query")
    if required and not q.strip():
        raise InvalidSearch("q is empty: give the words, arXiv id, title or author to search for")
    return q


def hit_json(hit: SearchHit) -> dict:
    extra = {"reason": hit.explanation} if hit.explanation else {}
    return {**paper_json(hit.paper), "score": round(hit.score, 6), "match": hit.reason, **extra}


@router.get("/api/search", tags=["search"])
def api_search(request: Request) -> Response:
    """Hybrid search: `q` (≤ 5,000 characters: a question or a pasted abstract), `limit` (1–200,
    default 50), `offset`, `from`/`to` (listed_on, YYYY-MM-DD), `category` (primary category, any
    case, e.g. cs.CL), `author`. Best first; `total` is exactly what paging reaches. An arXiv id
    answers that paper (`opens`); no match answers 0 with `help` (did you mean, nearby categories, an
    unknown id to submit). Filters without `q` list their papers, newest first. `keywords_only` says
    when semantic search was unavailable."""
    params = request.query_params
    try:
        filters = parse_filters(params)
        q = parse_q(params, required=not filters)
        limit = parse_int("limit", params.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = parse_int("offset", params.get("offset"), 0, 0, MAX_OFFSET)
    except BadParameter as error:
        return json_error(422, str(error))
    results = search_service(request).search(q, filters, limit, offset)
    return json_response({**results.to_json(), "hits": [hit_json(hit) for hit in results.hits]})


@router.get("/api/papers/{paper_id:path}/similar", tags=["search"])
def api_similar(request: Request, paper_id: str) -> Response:
    """Papers like this one (never the paper itself), best first, each with its `reason`: from its vectors,
    its words, its authors and categories. `limit` 1–100 (default 10), `offset` (limit + offset ≤ 100)."""
    try:
        limit = parse_int("limit", request.query_params.get("limit"), 10, 1, MAX_SIMILAR)
        offset = parse_int("offset", request.query_params.get("offset"), 0, 0, MAX_SIMILAR - limit)
    except BadParameter as error:
        return json_error(422, str(error))
    if request.app.state.store.get_paper(paper_id) is None:
        return json_error(404, f"no paper with id {paper_id!r}: check the arXiv id (e.g. 2501.12948)")
    service = search_service(request)
    hits = service.similar(paper_id, limit, offset)
    return json_response({"id": paper_id, "limit": limit, "offset": offset, "index": service.index_state(),
                          "similar": [hit_json(hit) for hit in hits]})  # fmt: skip


# ---- the HTML page ---------------------------------------------------------------------------------


def shorten(text: str, limit: int = ABSTRACT_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit] + "…"


def marked_hits(results: SearchResults) -> list[dict]:
    """Per hit: the paper and its title / abstract escaped with the query's words in <mark>."""
    return [
        {"paper": hit.paper, "score": hit.score, "reason": hit.reason,
         "title": highlight(hit.paper.title, results.words),
         "abstract": highlight(shorten(hit.paper.abstract), results.words),
         "author_names": [highlight(name, results.words) for name in hit.paper.authors[:6]]}
        for hit in results.hits
    ]  # fmt: skip


REASONS = {"arxiv id": "arXiv id match", "title": "Exact title match", "author": "By this author"}
FILTER_NAMES = ("from", "to", "category", "author")


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(request: Request) -> Response:
    params = request.query_params
    context: dict = {"active_tab": "search", "query": (params.get("q") or "")[:MAX_QUERY_CHARS],
                     "params": {k: params.get(k) or "" for k in FILTER_NAMES},
                     "results": None, "hits": [], "error": None, "reasons": REASONS}  # fmt: skip
    status = 200
    try:
        q = parse_q(params, required=False)
        page = parse_int("page", params.get("page") or None, 1, 1, MAX_PAGE)
        filters = parse_filters(params)
    except BadParameter as error:
        context["error"] = str(error)
        status = 422
    else:
        if q.strip() or filters:
            offset = min((page - 1) * PAGE_SIZE, MAX_WINDOW - PAGE_SIZE)
            results = search_service(request).search(q, filters, PAGE_SIZE, offset)
            if results.opens:  # an arXiv id of the catalogue: the paper itself
                return RedirectResponse(f"/papers/{results.opens}", status_code=303)
            pages = max(1, -(-results.total // PAGE_SIZE))
            context.update(results=results, hits=marked_hits(results) if page <= pages else [], page=page,
                           pages=pages, page_url=lambda n: _page_url(request, n),
                           past_end=bool(results.total) and page > pages)  # fmt: skip
    return request.app.state.templates.TemplateResponse(request, "search.html", context, status_code=status)


def _page_url(request: Request, page: int) -> str:
    params = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return "/search?" + urlencode({**params, "page": page})
