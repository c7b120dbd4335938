"""Our JSON API for the catalogue: /api/papers, /api/papers/{id}, /healthz. `paper_json` is the one paper → JSON."""

from __future__ import annotations

from typing import Any, Literal

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from paperwire.models import Paper
from paperwire.periods import InvalidPeriod, Period
from paperwire.web.hf_api import is_hub_client, with_hf_keys
from paperwire.web.listings import PeriodListing, default_day, find_paper, list_period, parse_period, period_of_day
from paperwire.web.params import MAX_LIMIT, MAX_OFFSET, BadParameter, documented_ints, parse_int

router = APIRouter()


# ---- the JSON shapes (one function each; reuse them rather than building paper dicts elsewhere) ---------


def paper_json(paper: Paper) -> dict[str, Any]:
    """A paper as our JSON API shows it: the fields of SPEC section 2 and its arXiv links."""
    return {
        "id": paper.id,
        "version": paper.version,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "categories": list(paper.categories),
        "published_at": paper.published_at,
        "updated_at": paper.updated_at,
        "listed_on": paper.listed_on,
        "submitted_by": paper.submitted_by,
        "upvotes": paper.upvotes,
        "comments": paper.comments,
        "github_repo": paper.github_repo,
        "github_stars": paper.github_stars,
        "project_page": paper.project_page,
        "keywords": list(paper.keywords),
        "links": {"abs": paper.abs_url, "pdf": paper.pdf_url},
    }


def period_json(period: Period) -> dict[str, str]:
    return {
        "kind": period.kind,
        "label": period.label,
        "first": period.first.isoformat(),
        "last": period.last.isoformat(),
    }


def listing_json(listing: PeriodListing) -> dict[str, Any]:
    return {
        "period": period_json(listing.period),
        "previous": period_json(listing.previous) if listing.previous else None,
        "next": period_json(listing.next) if listing.next else None,
        "total": listing.total,
        "limit": listing.limit,
        "offset": listing.offset,
        "papers": [paper_json(paper) for paper in listing.papers],
    }


def json_response(content: Any, status_code: int = 200) -> Response:
    """Serialised once by orjson (FastAPI's response-model encoding is several times slower)."""
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")


def json_error(status_code: int, message: str) -> Response:
    """An error a person can act on: `{"detail": message}`, as FastAPI's own errors are shaped."""
    return json_response({"detail": message}, status_code)


# ---- documentation-only models (responses are pre-serialised; these only describe them in OpenAPI) -------


class PaperLinks(BaseModel):
    abs: str | None
    pdf: str | None


class PaperOut(BaseModel):
    id: str
    version: int | None
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    published_at: str | None
    updated_at: str | None
    listed_on: str | None
    submitted_by: str | None
    upvotes: int
    comments: int
    github_repo: str | None
    github_stars: int | None
    project_page: str | None
    keywords: list[str]
    links: PaperLinks


class PeriodOut(BaseModel):
    kind: Literal["day", "week", "month"]
    label: str
    first: str
    last: str


class PaperListOut(BaseModel):
    period: PeriodOut
    previous: PeriodOut | None
    next: PeriodOut | None
    total: int
    limit: int
    offset: int
    papers: list[PaperOut]


class ErrorOut(BaseModel):
    """Every error of the JSON API: `detail` says what to fix (FastAPI's own validation errors list the
    fields instead; the Hugging Face–compatible paths add `error`, as huggingface.co does)."""

    detail: str | list[dict[str, Any]]


# The errors any JSON operation may answer, documented once for all of them (create_app passes this to
# the JSON routers; 413 and 431 come from web/limits.py before any route, as plain text).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in (
        (400, "Bad request: a parameter or body that cannot be read"),
        (401, "Sign-in needed"),
        (403, "CSRF token missing or not valid for this session"),
        (404, "Not found"),
        (409, "Conflict"),
        (422, "A parameter or field out of range or malformed"),
        (429, "Too many requests: wait and retry"),
    )
}


# ---- routes --------------------------------------------------------------------------------------------


@router.get("/healthz", tags=["operations"], summary="Liveness and the number of papers")
def healthz(request: Request) -> dict:
    store = request.app.state.store
    return {"status": "ok", "papers": store.count_papers()}


@router.get(
    "/api/papers",
    tags=["papers"],
    summary="A day's, week's or month's papers, most upvoted first",
    response_class=Response,
    responses={200: {"model": PaperListOut}, 422: {"model": ErrorOut}},
    openapi_extra=documented_ints(
        ("limit", 1, MAX_LIMIT, 50, "papers per page"), ("offset", 0, MAX_OFFSET, 0, "papers to skip, for paging")
    ),
)
def list_papers(
    request: Request,
    period: str = Query(
        "day",
        description="day, week (ISO week, Monday to Sunday) or month",
        json_schema_extra={"enum": ["day", "week", "month"]},
    ),  # fmt: skip
    date: str | None = Query(
        None, description="YYYY-MM-DD, any day inside the period; default: the latest day with papers"
    ),
    limit: str | None = Query(None, include_in_schema=False),  # documented by openapi_extra, read strictly
    offset: str | None = Query(None, include_in_schema=False),
) -> Response:
    store = request.app.state.store
    if period not in ("day", "week", "month"):
        return json_error(422, f"period must be day, week or month (got {period[:40]!r})")
    try:
        size = parse_int("limit", limit, 50, 1, MAX_LIMIT)
        skip = parse_int("offset", offset, 0, 0, MAX_OFFSET)
    except BadParameter as error:
        return json_error(422, f"{error}; page with offset")
    try:
        chosen = parse_period("day", date) if date is not None else None
        chosen = period_of_day(period, chosen.first if chosen else default_day(store))
    except InvalidPeriod as error:
        return json_error(422, f"{error}; date takes a day such as 2025-06-10")
    return json_response(listing_json(list_period(store, chosen, limit=size, offset=skip)))


@router.get(
    "/api/papers/{paper_id:paper_id}",
    tags=["papers"],
    summary="One paper by arXiv id (2501.12948, hep-th/9901001) or title id (t-…)",
    response_class=Response,
    responses={200: {"model": PaperOut}, 404: {"model": ErrorOut}},
)
def get_paper(request: Request, paper_id: str) -> Response:
    paper, canonical = find_paper(request.app.state.store, paper_id)
    if paper is None:
        return json_error(404, f"no paper {canonical!r} in this catalogue; GET /api/papers lists what is here")
    # The same route answers huggingface_hub's paper_info: HF's keys ride along (see hf_api.with_hf_keys).
    return json_response(with_hf_keys(paper_json(paper), paper, hub_client=is_hub_client(request)))
