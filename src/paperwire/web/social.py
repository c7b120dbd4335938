"""Signed-in features: passwordless sign-in (/login, emailed one-time links), /logout, upvotes (/submit: submissions.py).

No GET changes anything: the emailed link opens a page whose button (a POST) signs in, so mail
scanners that prefetch links cannot use up the token.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, BackgroundTasks, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from paperwire.models import InvalidRecord, now_utc, parse_arxiv_id
from paperwire.models import utc_iso as iso
from paperwire.settings import Settings
from paperwire.storage import Store
from paperwire.storage.records import UserRecord
from paperwire.trending import rescore_papers
from paperwire.web.api import json_error
from paperwire.web.reader_pages import reader_holes
from paperwire.web.security import (
    RateLimiter,
    clear_session_cookie,
    client_ip,
    current_request,
    hash_token,
    new_token,
    read_session_cookie,
    require_csrf,
    rotate_csrf,
    set_session_cookie,
)  # fmt: skip

router = APIRouter()

LOGIN_LINK_LIFETIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(days=30)
NAME_MAX_CHARS = 40


def clean_display_name(text: str) -> str | None:
    """A display name as a person writes it ("Ada Lovelace", "Zoë O'Brien"): printable characters,
    runs of white space as one space, at most NAME_MAX_CHARS; None when nothing is left."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(printable.split())[:NAME_MAX_CHARS].strip() or None


def store_of(request: Request) -> Store:
    return request.app.state.store


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def render(request: Request, template: str, context: dict, status_code: int = 200) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, template, context, status_code=status_code)


def safe_next(value: str | None, default: str = "/") -> str:
    """Only paths on this site: `next=https://evil.example` or `//evil.example` fall back to `default`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


# ---- who is signed in -------------------------------------------------------------------------


def current_user(request: Request | None = None) -> UserRecord | None:
    """The signed-in user of this request (looked up once per request), or None."""
    request = request or current_request()
    if request is None:
        return None
    state = request.scope.setdefault("state", {})
    if "user" not in state:
        session_id = read_session_cookie(request, settings_of(request))
        state["user"] = store_of(request).session_user(hash_token(session_id), iso(now_utc())) if session_id else None
    return state["user"]


# A reader's upvotes are read once per page, in one query, when there are at most this many (a page of
# 30 cards asked one query per card before); a reader with more is asked about each card.
VOTES_READ_AT_ONCE = 5_000


def has_voted(paper_id: str) -> bool:
    """For templates: whether the signed-in user has upvoted this paper."""
    request = current_request()
    user = current_user(request) if request is not None else None
    if request is None or user is None:
        return False
    state = request.scope.setdefault("state", {})
    if "voted" not in state:
        state["voted"] = store_of(request).all_voted_paper_ids(user["id"], VOTES_READ_AT_ONCE)
    voted = state["voted"]
    if voted is not None:
        return paper_id in voted
    return paper_id in store_of(request).voted_paper_ids(user["id"], [paper_id])


def current_request_path() -> str:
    """Path and query of the page being rendered: where a form sends the browser back to."""
    request = current_request()
    if request is None:
        return "/"
    state = request.scope.setdefault("state", {})
    if "request_path" not in state:  # asked once per form: computed once per request
        query = request.url.query
        state["request_path"] = safe_next(request.url.path + (f"?{query}" if query else ""))
    return state["request_path"]


def card_anchor(paper_id: str) -> str:
    """The HTML id of a paper's card (and of the paper on its page): `paper-2501.12948`, `paper-hep-th-9901001`."""
    return "paper-" + paper_id.replace("/", "-")


def sign_in_to_vote_url(paper_id: str) -> str:
    """/login?next=<this page>#<card>&vote=<id>: a signed-out reader's upvote; the vote travels in the mailed
    link and is cast by the sign-in POST, which then returns to the card."""
    back = f"{current_request_path()}#{card_anchor(paper_id)}"
    return f"/login?{urlencode({'next': back, 'vote': paper_id})}"


def install_template_helpers(application) -> None:  # a FastAPI app
    application.state.templates.env.globals.update(
        current_user=current_user,
        has_voted=has_voted,
        current_request_path=current_request_path,
        sign_in_to_vote_url=sign_in_to_vote_url,
        reader_holes=reader_holes,
    )
    application.state.templates.env.filters["card_anchor"] = card_anchor


def vote_intent(value: str | None) -> str | None:
    """The paper id a sign-in should upvote, if `value` is a well-formed paper id; else None."""
    if not value or len(value) > 64:
        return None
    if value.startswith("t-"):
        return value if re.fullmatch(r"t-[0-9a-f]{16}", value) else None
    try:
        return parse_arxiv_id(value)[0]
    except InvalidRecord:
        return None


# ---- sign-in ----------------------------------------------------------------------------------


def login_limiters(request: Request) -> tuple[RateLimiter, RateLimiter]:
    store, settings = store_of(request), settings_of(request)
    return (
        RateLimiter(store, settings, "login-ip", limit=30, window_seconds=3600),
        RateLimiter(store, settings, "login-address", limit=5, window_seconds=3600),
    )


def send_login_mail(request: Request, email: str, token: str, next_path: str = "/", vote: str | None = None) -> None:
    """The sign-in link, through the outbox (SMTP, or the Maildir under HOME without SMTP_URL)."""
    from paperwire.mail.outbox import enqueue_transactional
    from paperwire.mail.render import MailRenderer

    settings = settings_of(request)
    link = f"{settings.base_url}/login/{token}"
    query = {key: value for key, value in (("next", next_path), ("vote", vote)) if value and value != "/"}
    if query:
        link += f"?{urlencode(query)}"
    minutes = int(LOGIN_LINK_LIFETIME.total_seconds() // 60)
    text, html = MailRenderer(None, settings).render_named("sign_in", link=link, minutes=minutes, vote=vote)
    enqueue_transactional(store_of(request), settings, email, f"Sign in to {settings.site_name}", text, html,
                          secrets=[token])  # fmt: skip


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, next: str | None = None, vote: str | None = None) -> HTMLResponse:
    context = {"next": safe_next(next), "vote": vote_intent(vote), "email": "", "error": None}
    return render(request, "login.html", context)


@router.post("/login", response_class=HTMLResponse, include_in_schema=False, dependencies=[Depends(require_csrf)])
def login_request(
    request: Request, background: BackgroundTasks, email: str = Form(""), next: str = Form("/"),
    vote: str = Form(""),
) -> HTMLResponse:  # fmt: skip
    """Always the same answer for a well-formed address, whether it belongs to a user or not; the link is
    made and queued after the answer, so its timing tells nothing about the address either."""
    by_ip, by_address = login_limiters(request)
    by_ip.enforce(client_ip(request))
    try:
        address = validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        context = {"next": safe_next(next), "vote": vote_intent(vote), "email": email[:320],
                   "error": "That does not look like an email address."}  # fmt: skip
        return render(request, "login.html", context, 400)
    by_address.enforce(address)
    intent = vote_intent(vote)
    background.add_task(queue_sign_in_link, request, address, safe_next(next), intent)
    return render(request, "login_sent.html", {"email": address, "minutes": 15, "vote": intent})


def queue_sign_in_link(request: Request, address: str, next_path: str, vote: str | None = None) -> None:
    token = new_token()
    store_of(request).create_login_token(hash_token(token), address, iso(now_utc() + LOGIN_LINK_LIFETIME))
    send_login_mail(request, address, token, next_path, vote)


@router.get("/login/{token}", response_class=HTMLResponse, include_in_schema=False)
def login_confirm_form(request: Request, token: str, next: str | None = None, vote: str | None = None) -> HTMLResponse:
    """The page the emailed link opens: a button that signs in (a GET never uses up the token)."""
    store = store_of(request)
    email = store.peek_login_token(hash_token(token), iso(now_utc()))
    if email is None:
        message = "This sign-in link has expired or was already used. Ask for a new one."
        return render(request, "login.html", {"next": safe_next(next), "email": "", "error": message}, 400)
    context = {"token": token, "next": safe_next(next), "vote": vote_intent(vote), "email": email,
               "user": store.get_user_by_email(email), "paper": store.get_paper(vote_intent(vote) or "")}  # fmt: skip
    return render(request, "login_confirm.html", context)


@router.post("/login/{token}", include_in_schema=False, dependencies=[Depends(require_csrf)])
def login_confirm(
    request: Request, token: str, next: str = Form("/"), name: str = Form(""), vote: str = Form("")
) -> Response:
    """Sign in; when the sign-in started from an upvote, cast that vote and go back to its card."""
    store = store_of(request)
    email = store.consume_login_token(hash_token(token), iso(now_utc()))
    if email is None:
        message = "This sign-in link has expired or was already used. Ask for a new one."
        return render(request, "login.html", {"next": "/", "email": "", "error": message}, 400)
    user = store.ensure_user(email, clean_display_name(name))
    paper_id = vote_intent(vote)
    if paper_id is not None and store.get_paper(paper_id) is not None:
        cast_vote(request, paper_id, user, True)
    session_id = new_token()
    store.create_session(hash_token(session_id), user["id"], iso(now_utc() + SESSION_LIFETIME))
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, settings_of(request), session_id)
    rotate_csrf(request)  # tokens issued before the sign-in stop working
    return response


@router.post("/logout", include_in_schema=False, dependencies=[Depends(require_csrf)])
def logout(request: Request) -> Response:
    session_id = read_session_cookie(request, settings_of(request))
    if session_id:
        store_of(request).delete_session(hash_token(session_id))
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(response, settings_of(request))
    rotate_csrf(request)
    return response


# ---- upvotes ----------------------------------------------------------------------------------


def cast_vote(request: Request, paper_id: str, user: UserRecord, up: bool) -> tuple[bool, int]:
    store = store_of(request)
    voted, upvotes = store.set_vote(paper_id, user["id"], up)
    store.note_feedback(user["id"])  # an upvote is a "For you" signal: the reader's model is out of date
    rescore_papers(store, [paper_id], now_utc())
    return voted, upvotes


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@router.post("/papers/{paper_id:paper_id}/upvote", include_in_schema=False, dependencies=[Depends(require_csrf)])
def upvote_form(request: Request, paper_id: str, action: str = Form("toggle"), next: str = Form("")) -> Response:
    """The upvote button's form: works without JavaScript (redirects back), answers JSON to fetch()."""
    back = safe_next(next, f"/papers/{paper_id}")
    user = current_user(request)
    if user is None:  # signed out meanwhile: the sign-in casts this vote and comes back
        intent = {"next": back, "vote": paper_id} if action != "undo" else {"next": back}
        login = f"/login?{urlencode(intent)}"
        if wants_json(request):
            return JSONResponse({"detail": "Sign in to upvote.", "login": login}, 401)
        return RedirectResponse(login, status_code=303)
    store = store_of(request)
    if store.get_paper(paper_id) is None:
        return json_error(404, f"no paper {paper_id!r} in this catalogue")
    if action == "toggle":
        up = paper_id not in store.voted_paper_ids(user["id"], [paper_id])
    else:
        up = action != "undo"
    voted, upvotes = cast_vote(request, paper_id, user, up)
    if wants_json(request):
        return JSONResponse({"id": paper_id, "upvotes": upvotes, "voted": voted})
    return RedirectResponse(back, status_code=303)


def api_vote(request: Request, paper_id: str, up: bool) -> Response:
    user = current_user(request)
    if user is None:
        return json_error(401, "Sign in first: POST /login sends a sign-in link.")
    if store_of(request).get_paper(paper_id) is None:
        return json_error(404, f"no paper {paper_id!r} in this catalogue")
    voted, upvotes = cast_vote(request, paper_id, user, up)
    return JSONResponse({"id": paper_id, "upvotes": upvotes, "voted": voted})


@router.post(
    "/api/papers/{paper_id:paper_id}/upvote", tags=["papers"], dependencies=[Depends(require_csrf)],
    summary="Upvote a paper (signed in; send the CSRF token in X-CSRF-Token)",
)  # fmt: skip
def api_upvote(request: Request, paper_id: str) -> Response:
    return api_vote(request, paper_id, True)


@router.delete(
    "/api/papers/{paper_id:paper_id}/upvote", tags=["papers"], dependencies=[Depends(require_csrf)],
    summary="Withdraw your upvote (signed in; send the CSRF token in X-CSRF-Token)",
)  # fmt: skip
def api_remove_upvote(request: Request, paper_id: str) -> Response:
    return api_vote(request, paper_id, False)
