"""Trending: the service call behind /papers/trending, GET /api/trending and the trending feeds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from paperwire.models import Paper
from paperwire.ranking import HALF_LIFE, STAR_WEIGHT, explain_trending, score_from_rank_key
from paperwire.storage import Store
from paperwire.trending import refresh_if_due
from paperwire.web.api import json_error, json_response, paper_json
from paperwire.web.pages import render_error
from paperwire.web.params import MAX_LIMIT, MAX_OFFSET, MAX_PAGE, BadParameter, documented_ints, parse_int

router = APIRouter()


@dataclass(slots=True)
class TrendingEntry:
    paper: Paper
    score: float
    reasons: list[str]

    @property
    def reason(self) -> str:
        return " · ".join(self.reasons)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def list_trending(
    store: Store, *, limit: int = 50, offset: int = 0, now: datetime | None = None
) -> tuple[list[TrendingEntry], int]:
    """The top trending papers with their score now and the reasons; and how many papers trend."""
    now = now or now_utc()
    refresh_if_due(store, now)
    ranked, total = store.trending_papers(limit=limit, offset=offset)
    history = store.signals_of([paper.id for paper, _ in ranked])
    entries = [
        TrendingEntry(paper, score_from_rank_key(key, now), explain_trending(history[paper.id], now))
        for paper, key in ranked
    ]
    return entries, total


def trending_entry_json(entry: TrendingEntry) -> dict:
    return {"paper": paper_json(entry.paper), "score": round(entry.score, 6), "reasons": entry.reasons}


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
    try:
        size = parse_int("limit", limit, 50, 1, MAX_LIMIT)
        skip = parse_int("offset", offset, 0, 0, MAX_OFFSET)
    except BadParameter as error:
        return json_error(422, f"{error}; page with offset")
    entries, total = list_trending(request.app.state.store, limit=size, offset=skip)
    return json_response(
        {
            "half_life_hours": HALF_LIFE.total_seconds() / 3600,
            "star_weight": STAR_WEIGHT,
            "total": total,
            "limit": size,
            "offset": skip,
            "papers": [trending_entry_json(entry) for entry in entries],
        }
    )


@router.get("/papers/trending", response_class=HTMLResponse, include_in_schema=False)
def trending_page(request: Request, page: str | None = None) -> HTMLResponse:
    page_size = 30
    try:
        number = parse_int("page", page or None, 1, 1, MAX_PAGE)
    except BadParameter as error:
        return render_error(request, 400, "Bad page number", str(error), hint_url="/papers/trending",
                            hint_text="Go to the first page")  # fmt: skip
    entries, total = list_trending(request.app.state.store, limit=page_size, offset=(number - 1) * page_size)
    context = {
        "entries": entries,
        "total": total,
        "page": number,
        "pages": max(1, -(-total // page_size)),
        "active_tab": "trending",
        "half_life_hours": round(HALF_LIFE.total_seconds() / 3600),
    }
    return request.app.state.templates.TemplateResponse(request, "trending.html", context)
