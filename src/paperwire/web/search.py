"""Search surfaces: the /search page, GET /api/search and GET /api/papers/{id}/similar (one service call each)."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from paperwire.search.hybrid import SearchService
from paperwire.search.keyword import Filters
from paperwire.search.query import MAX_QUERY_CHARS, highlight
from paperwire.search.results import SearchHit, SearchResults
from paperwire.web.api import json_error, json_response, paper_json

router = APIRouter()

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_OFFSET = 800
PAGE_SIZE = 20
ABSTRACT_CHARS = 420
MAX_SIMILAR = 100


class InvalidSearch(ValueError):
    """A parameter a person must fix; the message says how."""


def search_service(request: Request) -> SearchService:
    return request.app.state.search


def parse_day(name: str, text: str | None) -> str | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError as error:
        raise InvalidSearch(f"{name} must be a day written YYYY-MM-DD (got {text[:40]!r})") from error


def parse_int(name: str, text: str | None, default: int, low: int, high: int) -> int:
    if text is None or text == "":
        return default
    if not text.strip().isdigit() or not low <= int(text) <= high:
        raise InvalidSearch(f"{name} must be a whole number from {low} to {high} (got {text[:40]!r})")
    return int(text)


def parse_filters(params) -> Filters:  # noqa: ANN001 - request.query_params
    def text(name: str) -> str | None:
        value = (params.get(name) or "").strip()
        if len(value) > MAX_QUERY_CHARS:
            raise InvalidSearch(f"{name} is {len(value):,} characters long; the limit is {MAX_QUERY_CHARS}")
        return value or None

    filters = Filters(
        date_from=parse_day("from", params.get("from")), date_to=parse_day("to", params.get("to")),
        category=text("category"), author=text("author"),
    )  # fmt: skip
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InvalidSearch(f"from ({filters.date_from}) is after to ({filters.date_to})")
    return filters


def parse_q(params, *, required: bool) -> str:  # noqa: ANN001
    q = params.get("q") or ""
    if len(q) > MAX_QUERY_CHARS:
        raise InvalidSearch(f"q is {len(q):,} characters long; the limit is {MAX_QUERY_CHARS}: shorten the query")
    if required and not q.strip():
        raise InvalidSearch("q is empty: give the words, arXiv id, title or author to search for")
    return q


def hit_json(hit: SearchHit) -> dict:
    extra = {"reason": hit.explanation} if hit.explanation else {}
    return {**paper_json(hit.paper), "score": round(hit.score, 6), "match": hit.reason, **extra}


@router.get("/api/search", tags=["search"])
def api_search(request: Request) -> Response:
    """Hybrid search: `q` (≤ 250 characters), `limit` (1–200, default 50), `offset`, `from`/`to`
    (listed_on, YYYY-MM-DD), `category` (e.g. cs.CL), `author`. Best first; `keywords_only` says
    when semantic search was unavailable."""
    params = request.query_params
    try:
        q = parse_q(params, required=True)
        limit = parse_int("limit", params.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = parse_int("offset", params.get("offset"), 0, 0, MAX_OFFSET)
        filters = parse_filters(params)
    except InvalidSearch as error:
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
    except InvalidSearch as error:
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
         "authors": highlight(", ".join(hit.paper.authors[:6]), results.words)}
        for hit in results.hits
    ]  # fmt: skip


REASONS = {"arxiv id": "arXiv id match", "title": "Exact title match", "author": "By this author"}


@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(request: Request) -> HTMLResponse:
    params = request.query_params
    context: dict = {"active_tab": "search", "query": (params.get("q") or "")[:MAX_QUERY_CHARS * 2],
                     "params": {k: params.get(k) or "" for k in ("from", "to", "category", "author")},
                     "results": None, "hits": [], "error": None, "reasons": REASONS}  # fmt: skip
    status = 200
    try:
        q = parse_q(params, required=False)
        page = parse_int("page", params.get("page"), 1, 1, MAX_OFFSET // PAGE_SIZE + 1)
        filters = parse_filters(params)
    except InvalidSearch as error:
        context["error"] = str(error)
        status = 422
    else:
        if q.strip():
            results = search_service(request).search(q, filters, PAGE_SIZE, (page - 1) * PAGE_SIZE)
            context.update(results=results, hits=marked_hits(results), page=page,
                           pages=max(1, -(-results.total // PAGE_SIZE)),
                           page_url=lambda n: _page_url(request, n))  # fmt: skip
    return request.app.state.templates.TemplateResponse(request, "search.html", context, status_code=status)


def _page_url(request: Request, page: int) -> str:
    params = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return "/search?" + urlencode({**params, "page": page})
