"""/submit: add a paper by arXiv id. Known papers are confirmed at once (they keep their day); others
become a background fetch whose page (/submit/{id}) follows it until it is done or says why it failed."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from paperwire.models import InvalidRecord, parse_arxiv_id
from paperwire.storage.fetches import FetchQueueFull
from paperwire.submissions import queue_submission
from paperwire.web.security import RateLimiter, require_csrf
from paperwire.web.social import current_user, render, settings_of, store_of

router = APIRouter()

REFRESH_SECONDS = 2  # how often the page of a pending fetch reloads itself


def submit_page(request: Request, value: str = "", *, error: str | None = None, notice: dict | None = None,
                status_code: int = 200) -> HTMLResponse:  # fmt: skip
    return render(request, "submit.html", {"value": value[:300], "error": error, "notice": notice}, status_code)


def day_text(day: str | None) -> str:
    try:
        return date.fromisoformat(day or "").strftime("%-d %B %Y")
    except ValueError:
        return day or "an earlier day"


@router.get("/submit", response_class=HTMLResponse, include_in_schema=False)
def submit_form(request: Request) -> Response:
    prefill = request.query_params.get("paper", "")[:300]  # search offers "Submit arXiv …" for an unknown id
    if current_user(request) is None:
        if not prefill:
            return RedirectResponse("/login?next=/submit", status_code=303)
        back = f"/submit?{urlencode({'paper': prefill})}"
        return RedirectResponse(f"/login?{urlencode({'next': back})}", status_code=303)
    return submit_page(request, prefill)


@router.post("/submit", include_in_schema=False, dependencies=[Depends(require_csrf)])
def submit(request: Request, paper: str = Form("")) -> Response:
    """Add a paper to today's list by arXiv id or URL: `2501.12948`, `hep-th/9901001`, arxiv.org/abs/…"""
    user = current_user(request)
    if user is None:
        return RedirectResponse("/login?next=/submit", status_code=303)
    store, settings = store_of(request), settings_of(request)
    RateLimiter(store, settings, "submit-user", limit=30, window_seconds=86400).enforce(str(user["id"]))
    value = paper.strip()
    try:
        paper_id, version = parse_arxiv_id(value)
    except InvalidRecord:
        return submit_page(request, value, error="That is not an arXiv id or link. Use 2501.12948, hep-th/9901001 "
                                                 "or https://arxiv.org/abs/2501.12948.", status_code=400)  # fmt: skip
    known = store.get_paper(paper_id)
    if known is not None:  # nothing to fetch, nothing to move: it stays on the day it was listed
        notice = {"id": known.id, "title": known.title, "day": known.listed_on, "day_text": day_text(known.listed_on),
                  "submitted_by": known.submitted_by}  # fmt: skip
        return submit_page(request, notice=notice)
    try:
        fetch_id = queue_submission(store, settings, user, paper_id, version)
    except FetchQueueFull as full:
        message = (f"You already have {full.limit} papers being fetched from arXiv. Wait for them, then try again."
                   if full.scope == "reader" else
                   "Too many papers are being fetched from arXiv right now. Please try again in a few minutes.")  # fmt: skip
        response = submit_page(request, value, error=message, status_code=429)
        response.headers["Retry-After"] = "60"
        return response
    return RedirectResponse(f"/submit/{fetch_id}", status_code=303)


@router.get("/submit/{fetch_id}", response_class=HTMLResponse, include_in_schema=False)
def submission_status(request: Request, fetch_id: str) -> Response:
    """Where a fetch stands: pending (the page reloads itself), done (a link to the paper), failed (why)."""
    user = current_user(request)
    if user is None:
        return RedirectResponse(f"/login?next=/submit/{fetch_id}", status_code=303)
    row = None
    if fetch_id.isascii() and fetch_id.isdigit() and len(fetch_id) < 12:
        row = store_of(request).get_arxiv_fetch(int(fetch_id))
    if row is None or row["user_id"] != user["id"]:
        return render(request, "submit_status.html", {"fetch": None}, 404)
    pending = row["status"] in ("queued", "fetching")
    response = render(request, "submit_status.html", {"fetch": row, "pending": pending, "refresh": REFRESH_SECONDS})
    response.headers["Cache-Control"] = "no-store"
    return response
