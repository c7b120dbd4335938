"""The Hugging Face–compatible papers API: GET /api/daily_papers and /api/papers/search, and the HF keys of
/api/papers/{id} — same paths, parameters and camelCase keys as huggingface.co, so that
`huggingface_hub.HfApi(endpoint=…)` and `hf papers …` work against paperwire.

Never exposes avatar URLs or other HF-hosted media: users are shown by name only.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from paperwire.models import Paper
from paperwire.periods import InvalidPeriod, parse_month, parse_week, period_containing
from paperwire.periods import parse_day as parse_period_day
from paperwire.storage import Store
from paperwire.trending import refresh_if_due
from paperwire.web.params import documented_ints, parse_int

router = APIRouter(tags=["Hugging Face compatible"])

DAILY_MAX_LIMIT = 100
DAILY_DEFAULT_LIMIT = 50
SEARCH_MAX_LIMIT = 120
SEARCH_DEFAULT_LIMIT = 50
SEARCH_MAX_QUERY = 250
SORTS = ("publishedAt", "trending")
ALL_DAYS = ("0001-01-01", "9999-12-31")


def hf_time(value: str | None) -> str | None:
    """Our `YYYY-MM-DDTHH:MM:SSZ` (or a day) → HF's `YYYY-MM-DDTHH:MM:SS.000Z`."""
    if not value:
        return None
    if len(value) == 10:
        return f"{value}T00:00:00.000Z"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def hf_user(name: str) -> dict[str, Any]:
    """A submitter as HF shows one, minus the avatar: `user` is what the hub client reads as username."""
    return {"user": name, "name": name, "fullname": name, "type": "user"}


def hf_authors(paper: Paper) -> list[dict[str, Any]]:
    return [{"name": name, "hidden": False} for name in paper.authors]


def hf_paper_json(paper: Paper) -> dict[str, Any]:
    """The paper object of huggingface.co (`GET /api/papers/{id}`, and `paper` in daily items)."""
    body: dict[str, Any] = {
        "id": paper.id,
        "authors": hf_authors(paper),
        "publishedAt": hf_time(paper.published_at),
        "title": paper.title,
        "summary": paper.abstract,
        "upvotes": paper.upvotes,
        "discussionId": paper.id,
        "ai_keywords": list(paper.keywords),
    }
    if paper.listed_on:
        body["submittedOnDailyAt"] = hf_time(paper.listed_on)
    if paper.submitted_by:
        body["submittedOnDailyBy"] = hf_user(paper.submitted_by)
    for key, value in (("githubRepo", paper.github_repo), ("githubStars", paper.github_stars),
                       ("projectPage", paper.project_page)):  # fmt: skip
        if value is not None:
            body[key] = value
    return body


def hf_daily_item(paper: Paper) -> dict[str, Any]:
    """One item of `GET /api/daily_papers` (and of `/api/papers/search`)."""
    item: dict[str, Any] = {
        "paper": hf_paper_json(paper),
        "publishedAt": hf_time(paper.listed_on or paper.published_at),
        "title": paper.title,
        "summary": paper.abstract,
        "numComments": paper.comments,
        "isAuthorParticipating": False,
    }
    if paper.submitted_by:
        item["submittedBy"] = hf_user(paper.submitted_by)
    return item


def is_hub_client(request: Request) -> bool:
    """Whether `huggingface_hub` (or `hf papers`) sent this request, or the caller asked for HF's shape.

    The hub client sends no User-Agent of its own, but its transport adds `X-Amzn-Trace-Id` to every
    request; `?shape=hf` asks for the HF shape explicitly. (Behind a proxy that adds that header to
    all requests, such as an AWS load balancer, every caller gets HF's author objects.)"""
    return (
        request.query_params.get("shape") == "hf"
        or "x-amzn-trace-id" in request.headers
        or "huggingface_hub" in request.headers.get("user-agent", "")
    )


def with_hf_keys(ours: dict[str, Any], paper: Paper, *, hub_client: bool = False) -> dict[str, Any]:
    """The JSON of the one `/api/papers/{id}` route that both our clients and the hub client read.

    Hub clients get exactly HF's paper object: huggingface_hub copies every unknown key onto its
    PaperInfo, so our snake_case keys (`published_at`, `submitted_by`, `authors` as names) would
    overwrite its parsed fields. Everyone else gets our paper JSON with HF's camelCase keys alongside
    (HF's author objects under `paper.authors`, since `authors` holds our names)."""
    hf = hf_paper_json(paper)
    if hub_client:
        return {**hf, "numComments": paper.comments}
    combined = {**{k: v for k, v in hf.items() if k not in ours}, **ours}
    combined["numComments"] = paper.comments
    combined["paper"] = {"id": paper.id, "authors": hf["authors"]}
    return combined


def hf_json(content: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")


def hf_error(status_code: int, message: str) -> Response:
    """HF's error shape (`error`, which the hub client prints), with our `detail` beside it."""
    return hf_json({"error": message, "detail": message}, status_code)


def daily_range(date: str | None, week: str | None, month: str | None) -> tuple[str, str]:
    chosen = [name for name, value in (("date", date), ("week", week), ("month", month)) if value]
    if len(chosen) > 1:
        raise InvalidPeriod(f"give one of date, week or month (got {' and '.join(chosen)})")
    if date:
        period = period_containing("day", parse_period_day(date))
    elif week:
        period = parse_week(week)
    elif month:
        period = parse_month(month)
    else:
        return ALL_DAYS
    return period.first.isoformat(), period.last.isoformat()


def daily_papers(
    store: Store, *, first_day: str, last_day: str, limit: int, offset: int, submitter: str | None, sort: str
) -> list[Paper]:
    if sort == "trending":
        refresh_if_due(store, datetime.now(timezone.utc))
        page = store.papers_listed_between_by_trending(
            first_day, last_day, limit=limit, offset=offset, submitter=submitter
        )
    else:
        page = store.papers_listed_latest_first(first_day, last_day, limit=limit, offset=offset, submitter=submitter)
    return page.papers


@router.get(
    "/api/daily_papers", summary="Daily papers, as huggingface.co/api/daily_papers",
    openapi_extra=documented_ints(
        ("p", 0, 100_000, 0, "page, from 0"), ("limit", 1, DAILY_MAX_LIMIT, DAILY_DEFAULT_LIMIT, "papers per page")
    ),
)  # fmt: skip
def api_daily_papers(
    request: Request, p: str | None = Query(None, include_in_schema=False),
    limit: str | None = Query(None, include_in_schema=False), date: str | None = None,
    week: str | None = None, month: str | None = None, submitter: str | None = None, sort: str | None = None,
) -> Response:  # fmt: skip
    """Parameters as at huggingface.co: `p` (page from 0), `limit` (≤ 100), one of `date` (YYYY-MM-DD),
    `week` (YYYY-Www) or `month` (YYYY-MM), `submitter` (user name), `sort` (publishedAt | trending)."""
    try:
        page = parse_int("p", p, 0, 0, 100_000)
        size = parse_int("limit", limit, DAILY_DEFAULT_LIMIT, 1, DAILY_MAX_LIMIT)
        first_day, last_day = daily_range(date, week, month)
    except (ValueError, InvalidPeriod) as error:
        return hf_error(400, str(error))
    if sort and sort not in SORTS:
        return hf_error(400, f"sort must be publishedAt or trending (got {sort[:40]!r})")
    papers = daily_papers(
        request.app.state.store, first_day=first_day, last_day=last_day, limit=size, offset=page * size,
        submitter=submitter or None, sort=sort or "publishedAt",
    )  # fmt: skip
    return hf_json([hf_daily_item(paper) for paper in papers])


def search_papers(request: Request, query: str, limit: int) -> list[Paper]:
    """Hybrid search when the search engine is wired in (app.state.search), else a title match."""
    store: Store = request.app.state.store
    engine = getattr(request.app.state, "search", None)
    if engine is not None:
        return [hit.paper for hit in engine.search(query, limit=limit).hits]
    return store.papers_with_title_like(query.strip(), limit=limit)


@router.get(
    "/api/papers/search", summary="Search papers, as huggingface.co/api/papers/search",
    openapi_extra=documented_ints(("limit", 1, SEARCH_MAX_LIMIT, SEARCH_DEFAULT_LIMIT, "papers to return")),
)  # fmt: skip
def api_papers_search(
    request: Request, q: str | None = None, limit: str | None = Query(None, include_in_schema=False)
) -> Response:
    """`q` (≤ 250 characters) and `limit` (≤ 120), as at huggingface.co."""
    try:
        size = parse_int("limit", limit, SEARCH_DEFAULT_LIMIT, 1, SEARCH_MAX_LIMIT)
    except ValueError as error:
        return hf_error(400, str(error))
    query = (q or "").strip()
    if len(query) > SEARCH_MAX_QUERY:
        return hf_error(400, f"q is {len(query)} characters long; the limit is {SEARCH_MAX_QUERY}")
    if not query:
        papers = daily_papers(
            request.app.state.store, first_day=ALL_DAYS[0], last_day=ALL_DAYS[1], limit=size, offset=0,
            submitter=None, sort="publishedAt",
        )  # fmt: skip
    else:
        papers = search_papers(request, query, size)
    return hf_json([hf_daily_item(paper) for paper in papers])
