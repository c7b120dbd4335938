"""The "For you" page: the signed-in reader's ranked papers of a day, week or month (page, JSON API, private feed).

One service call (`recommendations`) feeds the page, `GET /api/recommendations` and the private
Atom / JSON feed behind a secret, revocable token. The lists are stored rankings (see
recommend/service.py), so a page view is a few row reads.
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup, escape

from paperwire.periods import InvalidPeriod, Period
from paperwire.recommend.service import recommendations
from paperwire.storage.records import UserRecord
from paperwire.web.api import json_error, json_response, paper_json, period_json
from paperwire.web.feeds import FORMATS, Feed, FeedEntry, feed_response
from paperwire.web.library import PRIVATE, reader_marks
from paperwire.web.listings import default_day, parse_period, period_of_day
from paperwire.web.pages import render_error
from paperwire.web.params import MAX_LIMIT, MAX_OFFSET, MAX_PAGE, parse_int
from paperwire.web.security import hash_token
from paperwire.web.social import current_user, render, store_of

router = APIRouter()
EMPHASIS = re.compile(r"\*([^*]+)\*")

PAGE_SIZE = 20
FEED_SIZE = 30
KINDS = ("day", "week", "month")


def shown_reason(reason: str) -> Markup:
    """A reason as HTML: the model's *Title* (a paper, a topic) in italics, everything escaped."""
    return Markup(EMPHASIS.sub(lambda match: f"<em>{match.group(1)}</em>", str(escape(reason))))


def chosen_period(request: Request, kind: str, day_text: str | None) -> Period:
    """The period of `kind` holding `day_text` (default: the newest day with papers); InvalidPeriod if bad."""
    if kind not in KINDS:
        raise InvalidPeriod(f"period must be day, week or month (got {kind[:20]!r})")
    day = parse_period("day", day_text).first if day_text else default_day(store_of(request))
    return period_of_day(kind, day)


@router.get("/for-you", response_class=HTMLResponse, include_in_schema=False)
def for_you_page(request: Request, period: str = "day", date: str | None = None, page: str | None = None) -> Response:
    user = current_user(request)
    if user is None:
        return RedirectResponse(f"/login?{urlencode({'next': str(request.url.path)})}", status_code=303)
    try:
        chosen = chosen_period(request, period, date)
        number = parse_int("page", page or None, 1, 1, MAX_PAGE)
    except (InvalidPeriod, ValueError) as error:
        return render_error(request, 400, "That is not a period we understand", str(error), hint_url="/for-you",
                            hint_text="Go to today's suggestions")  # fmt: skip
    ranked, total = recommendations(store_of(request), user, chosen, limit=PAGE_SIZE, offset=(number - 1) * PAGE_SIZE)
    marks = reader_marks(request, [item.paper.id for item in ranked])

    def page_url(target: int) -> str:
        query = {"period": chosen.kind, "date": chosen.first.isoformat()}
        if target > 1:
            query["page"] = str(target)
        return f"/for-you?{urlencode(query)}"

    def period_link(kind: str, shifted: Period | None = None) -> str:
        target = shifted or period_of_day(kind, chosen.first)
        return f"/for-you?{urlencode({'period': kind, 'date': target.first.isoformat()})}"

    context = {
        "ranked": ranked, "total": total, "period": chosen, "page": number,
        "pages": min(MAX_PAGE, max(1, math.ceil(total / PAGE_SIZE))), "page_url": page_url,
        "period_links": {kind: period_link(kind) for kind in KINDS},
        "previous_url": period_link(chosen.kind, chosen.previous()), "next_url": period_link(chosen.kind, chosen.next()),
        "saved": marks["saved"], "active_tab": "for-you", "shown_reason": shown_reason,
        "has_library": store_of(request).has_kept_papers(user["id"]),
    }  # fmt: skip
    response = render(request, "for_you.html", context)
    response.headers.update(PRIVATE)
    return response


def ranked_json(request: Request, user: UserRecord, chosen: Period, limit: int, offset: int) -> dict:
    ranked, total = recommendations(store_of(request), user, chosen, limit=limit, offset=offset)
    return {
        "period": period_json(chosen), "total": total, "limit": limit, "offset": offset,
        "papers": [{**paper_json(item.paper), "score": round(item.score, 6), "reason": item.reason} for item in ranked],
    }  # fmt: skip


@router.get(
    "/api/recommendations", tags=["readers"], response_class=Response,
    summary='The signed-in reader\'s "For you" papers of a period, best first, each with its reason',
)  # fmt: skip
def api_recommendations(
    request: Request,
    period: str = Query("day", description="day, week or month"),
    date: str | None = Query(None, description="YYYY-MM-DD inside the period; default: the latest day with papers"),
    limit: int = Query(50, description=f"papers per page, 1 to {MAX_LIMIT}"),
    offset: int = Query(0, description="papers to skip, for paging"),
) -> Response:
    user = current_user(request)
    if user is None:
        return json_error(401, "Sign in first: recommendations are personal (POST /login sends a sign-in link).")
    if not 1 <= limit <= MAX_LIMIT:
        return json_error(422, f"limit must be between 1 and {MAX_LIMIT} (got {limit}); page with offset")
    if not 0 <= offset <= MAX_OFFSET:
        return json_error(422, f"offset must be between 0 and {MAX_OFFSET:,} (got {offset})")
    try:
        chosen = chosen_period(request, period, date)
    except InvalidPeriod as error:
        return json_error(422, f"{error}; date takes a day such as 2025-06-10")
    response = json_response(ranked_json(request, user, chosen, limit, offset))
    response.headers.update(PRIVATE)
    return response


@router.get("/feeds/for-you/{token}.{format_name}", include_in_schema=False)
def private_feed(request: Request, token: str, format_name: str) -> Response:
    """The reader's "For you" of the newest day, behind the secret token (revoked: 404)."""
    user = store_of(request).user_for_feed_token(hash_token(token)) if 20 <= len(token) <= 100 else None
    if user is None or format_name not in FORMATS:
        return json_error(404, "There is no such feed (the address may have been revoked).")
    chosen = period_of_day("day", default_day(store_of(request)))
    ranked, _ = recommendations(store_of(request), user, chosen, limit=FEED_SIZE)
    feed = Feed(
        title=f"{request.app.state.settings.site_name}: for you", subtitle=f"Papers of {chosen.title} picked for you",
        page_path="/for-you", feed_path=f"/feeds/for-you/{token}",
        entries=[FeedEntry(item.paper, item.reason) for item in ranked],
    )  # fmt: skip
    response = feed_response(request, feed, format_name)
    response.headers.update(PRIVATE)
    return response
