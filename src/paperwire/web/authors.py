"""Author pages: /authors/{name} and its JSON twin GET /api/authors/{name} (one service call each)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from paperwire.models import author_key
from paperwire.search.authors import MAX_NAME_CHARS, AuthorPapers, papers_by_author
from paperwire.web.api import json_error, json_response, paper_json
from paperwire.web.search import DEFAULT_LIMIT, MAX_LIMIT, InvalidSearch, parse_int

router = APIRouter()

PAGE_SIZE = 30
MAX_PAGE = 10_000
MAX_OFFSET = 100_000


def check_name(name: str) -> str:
    if len(name) > MAX_NAME_CHARS:
        raise InvalidSearch(f"the author name is {len(name):,} characters long; the limit is {MAX_NAME_CHARS}")
    if not author_key(name):
        raise InvalidSearch("give an author's name, e.g. /authors/Ada Lovelace")
    return name


def author_json(found: AuthorPapers) -> dict:
    return {"name": found.name, "total": found.total, "limit": found.limit, "offset": found.offset,
            "papers": [paper_json(paper) for paper in found.papers]}  # fmt: skip


@router.get("/api/authors/{name:path}", tags=["papers"], summary="An author's papers, newest first")
def api_author(request: Request, name: str) -> Response:
    """Exactly the papers whose author list holds `name` (case and accents folded), newest listed
    first: `limit` 1–200 (default 50), `offset`. An unknown name answers 0 papers."""
    params = request.query_params
    try:
        check_name(name)
        limit = parse_int("limit", params.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = parse_int("offset", params.get("offset"), 0, 0, MAX_OFFSET)
    except InvalidSearch as error:
        return json_error(422, str(error))
    return json_response(author_json(papers_by_author(request.app.state.search, name, limit, offset)))


@router.get("/authors/{name:path}", response_class=HTMLResponse, include_in_schema=False)
def author_page(request: Request, name: str) -> HTMLResponse:
    context: dict = {"active_tab": None, "name": " ".join(name.split())[:MAX_NAME_CHARS], "found": None}
    status = 200
    try:
        check_name(name)
        page = parse_int("page", request.query_params.get("page"), 1, 1, MAX_PAGE)
    except InvalidSearch as error:
        context["error"] = str(error)
        status = 422
    else:
        offset = min((page - 1) * PAGE_SIZE, MAX_OFFSET)
        found = papers_by_author(request.app.state.search, name, PAGE_SIZE, offset)
        pages = max(1, -(-found.total // PAGE_SIZE))
        here = "/authors/" + quote(found.name, safe="")
        context.update(found=found, name=found.name, page=page, pages=pages, past_end=page > pages,
                       page_url=lambda n: f"{here}?page={n}")  # fmt: skip
        status = 200 if found.total else 404
    return request.app.state.templates.TemplateResponse(request, "author.html", context, status_code=status)
