"""Trending pages: /papers/trending and GET /api/trending (the list and its reasons come from paperwire.trending)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from paperwire.trending import HALF_LIFE, STAR_WEIGHT, TrendingEntry, list_trending
from paperwire.web.api import json_error, json_response, paper_json
from paperwire.web.pages import render_error
from paperwire.web.params import MAX_LIMIT, MAX_OFFSET, MAX_PAGE, BadParameter, documented_ints, parse_int

router = APIRouter()

PAGE_SIZE = 30


def trending_entry_json(entry: TrendingEntry) -> dict:
    return {"paper": paper_json(entry.paper), "score": round(entry.score, 6), "reasons": entry.reasons,
            "reason": entry.reason}  # fmt: skip


@router.get(
    "/api/trending", tags=["papers"], summary="Trending papers with the reason for each, best first",
    openapi_extra=documented_ints(
        ("limit", 1, MAX_LIMIT, 50, "papers per page"), ("offset", 0, MAX_OFFSET, 0, "papers to skip, for paging")
    ),
)  # fmt: skip
def api_trending(
    request: Request,
    limit: str | None = Query(None, include_in_schema=False),  # documented by openapi_extra, read strictly
    offset: str | None = Query(None, include_in_schema=False),
) -> Response:
    """`notice` says so when nothing grew lately (the list then shows the latest growth before that)."""
    try:
        size = parse_int("limit", limit, 50, 1, MAX_LIMIT)
        skip = parse_int("offset", offset, 0, 0, MAX_OFFSET)
    except BadParameter as error:
        return json_error(422, f"{error}; page with offset")
    trending = list_trending(request.app.state.store, limit=size, offset=skip)
    return json_response(
        {
            "half_life_hours": HALF_LIFE.total_seconds() / 3600,
            "star_weight": STAR_WEIGHT,
            "total": trending.total,
            "limit": size,
            "offset": skip,
            "notice": trending.notice,
            "papers": [trending_entry_json(entry) for entry in trending.entries],
        }
    )


@router.get("/papers/trending", response_class=HTMLResponse, include_in_schema=False)
def trending_page(request: Request, page: str | None = None) -> HTMLResponse:
    try:
        number = parse_int("page", page or None, 1, 1, MAX_PAGE)
    except BadParameter as error:
        return render_error(request, 400, "Bad page number", str(error), hint_url="/papers/trending",
                            hint_text="Go to the first page")  # fmt: skip
    trending = list_trending(request.app.state.store, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    pages = max(1, -(-trending.total // PAGE_SIZE))
    context = {
        "entries": trending.entries,
        "notice": trending.notice,
        "total": trending.total,
        "page": number,
        "pages": pages,
        "past_end": number > pages,
        "active_tab": "trending",
        "half_life_hours": round(HALF_LIFE.total_seconds() / 3600),
    }
    return request.app.state.templates.TemplateResponse(request, "trending.html", context)
