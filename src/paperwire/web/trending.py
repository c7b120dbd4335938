"""Trending pages: /papers/trending and GET /api/trending (the list and its reasons come from paperwire.trending)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from paperwire.trending import HALF_LIFE, STAR_WEIGHT, TrendingEntry, list_trending
from paperwire.web.api import json_error, json_response, paper_json

router = APIRouter()

MAX_LIMIT = 200
PAGE_SIZE = 30


def trending_entry_json(entry: TrendingEntry) -> dict:
    return {"paper": paper_json(entry.paper), "score": round(entry.score, 6), "reasons": entry.reasons,
            "reason": entry.reason}  # fmt: skip


@router.get("/api/trending", tags=["papers"], summary="Trending papers with the reason for each, best first")
def api_trending(
    request: Request,
    limit: int = Query(50, description=f"papers per page, 1 to {MAX_LIMIT}"),
    offset: int = Query(0, ge=0, le=1_000_000, description="papers to skip, for paging"),
) -> Response:
    """`notice` says so when nothing grew lately (the list then shows the latest growth before that)."""
    if not 1 <= limit <= MAX_LIMIT:
        return json_error(422, f"limit must be between 1 and {MAX_LIMIT} (got {limit}); page with offset")
    trending = list_trending(request.app.state.store, limit=limit, offset=offset)
    return json_response(
        {
            "half_life_hours": HALF_LIFE.total_seconds() / 3600,
            "star_weight": STAR_WEIGHT,
            "total": trending.total,
            "limit": limit,
            "offset": offset,
            "notice": trending.notice,
            "papers": [trending_entry_json(entry) for entry in trending.entries],
        }
    )


@router.get("/papers/trending", response_class=HTMLResponse, include_in_schema=False)
def trending_page(request: Request, page: int = Query(1, ge=1, le=10_000)) -> HTMLResponse:
    trending = list_trending(request.app.state.store, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    pages = max(1, -(-trending.total // PAGE_SIZE))
    context = {
        "entries": trending.entries,
        "notice": trending.notice,
        "total": trending.total,
        "page": page,
        "pages": pages,
        "past_end": page > pages,
        "active_tab": "trending",
        "half_life_hours": round(HALF_LIFE.total_seconds() / 3600),
    }
    return request.app.state.templates.TemplateResponse(request, "trending.html", context)
