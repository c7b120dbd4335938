"""Signed-in features: passwordless sign-in (/login, emailed one-time links), /logout, upvotes, /submit.

No GET changes anything: the emailed link opens a page whose button (a POST) signs in, so mail
scanners that prefetch links cannot use up the token.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode, urlsplit

from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup

from paperwire.models import InvalidRecord, Paper, parse_arxiv_id
from paperwire.settings import Settings
from paperwire.storage import Store
from paperwire.storage.social import AlreadySubmitted
from paperwire.trending import rescore_papers
from paperwire.web.security import (
    RateLimiter,
    clear_session_cookie,
    client_ip,
    current_request,
    hash_token,
    new_token,
    read_session_cookie,
    require_csrf,
    set_session_cookie,
)  # fmt: skip

router = APIRouter()

LOGIN_LINK_LIFETIME = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(days=30)
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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


def current_user(request: Request | None = None) -> dict | None:
    """The signed-in user of this request (looked up once per request), or None."""
    request = request or current_request()
    if request is None:
        return None
    state = request.scope.setdefault("state", {})
    if "user" not in state:
        session_id = read_session_cookie(request, settings_of(request))
        state["user"] = store_of(request).session_user(hash_token(session_id), iso(now_utc())) if session_id else None
    return state["user"]


def has_voted(paper_id: str) -> bool:
    """For templates: whether the signed-in user has upvoted this paper."""
    request = current_request()
    user = current_user(request) if request is not None else None
    if user is None:
        return False
    preloaded = request.scope.get("state", {}).get("voted_ids")  # (asked ids, voted ids): see preload_votes
    if preloaded is not None and paper_id in preloaded[0]:
        return paper_id in preloaded[1]
    return paper_id in store_of(request).voted_paper_ids(user["id"], [paper_id])


def preload_votes(request: Request, paper_ids: list[str]) -> None:
    """Read the signed-in reader's votes on a page's papers in one query (has_voted then asks no more)."""
    user = current_user(request)
    if user is not None:
        voted = store_of(request).voted_paper_ids(user["id"], paper_ids)
        request.scope.setdefault("state", {})["voted_ids"] = (set(paper_ids), voted)


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


def sign_in_url() -> str:
    """/login?next=<this page>: where a signed-out reader's upvote control leads (built once per request)."""
    request = current_request()
    state = request.scope.setdefault("state", {}) if request is not None else {}
    if "sign_in_url" not in state:
        state["sign_in_url"] = f"/login?{urlencode({'next': current_request_path()})}"
    return state["sign_in_url"]


def install_template_helpers(application) -> None:  # noqa: ANN001 - a FastAPI app
    application.state.templates.env.globals.update(
        current_user=current_user, has_voted=has_voted, current_request_path=current_request_path,
        sign_in_url=sign_in_url,
    )


# ---- sign-in ----------------------------------------------------------------------------------


def login_limiters(request: Request) -> tuple[RateLimiter, RateLimiter]:
    store, settings = store_of(request), settings_of(request)
    return (
        RateLimiter(store, settings, "login-ip", limit=30, window_seconds=3600),
        RateLimiter(store, settings, "login-address", limit=5, window_seconds=3600),
    )


def send_login_mail(request: Request, email: str, token: str, next_path: str = "/") -> None:
    """The sign-in link, through the outbox (SMTP, or the Maildir under HOME without SMTP_URL)."""
    from paperwire.mail.outbox import enqueue_transactional

    settings = settings_of(request)
    link = f"{settings.base_url}/login/{token}"
    if next_path != "/":
        link += f"?{urlencode({'next': next_path})}"
    minutes = int(LOGIN_LINK_LIFETIME.total_seconds() // 60)
    text = (
        f"Hello,\n\nto sign in to {settings.site_name}, open this link within {minutes} minutes:\n\n{link}\n\n"
        "The link works once. If you did not ask to sign in, ignore this mail: nothing happens without it.\n"
    )
    html = Markup(
        "<p>Hello,</p><p>to sign in to {site}, open this link within {minutes} minutes:</p>"
        '<p><a href="{link}">Sign in to {site}</a></p><p>The link works once. If you did not ask to sign in, '
        "ignore this mail: nothing happens without it.</p>"
    ).format(site=settings.site_name, minutes=minutes, link=link)
    enqueue_transactional(store_of(request), settings, email, f"Sign in to {settings.site_name}", text, str(html))


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:  # noqa: A002 - the usual name
    return render(request, "login.html", {"next": safe_next(next), "email": "", "error": None})


@router.post("/login", response_class=HTMLResponse, include_in_schema=False, dependencies=[Depends(require_csrf)])
def login_request(request: Request, email: str = Form(""), next: str = Form("/")) -> HTMLResponse:  # noqa: A002
    """Always the same answer for a well-formed address, whether it belongs to a user or not."""
    by_ip, by_address = login_limiters(request)
    by_ip.enforce(client_ip(request))
    try:
        address = validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        context = {"next": safe_next(next), "email": email[:320], "error": "That does not look like an email address."}
        return render(request, "login.html", context, 400)
    by_address.enforce(address)
    token = new_token()
    store_of(request).create_login_token(hash_token(token), address, iso(now_utc() + LOGIN_LINK_LIFETIME))
    send_login_mail(request, address, token, safe_next(next))
    return render(request, "login_sent.html", {"email": address, "minutes": 15})


@router.get("/login/{token}", response_class=HTMLResponse, include_in_schema=False)
def login_confirm_form(request: Request, token: str, next: str | None = None) -> HTMLResponse:  # noqa: A002
    """The page the emailed link opens: a button that signs in (a GET never uses up the token)."""
    store = store_of(request)
    email = store.peek_login_token(hash_token(token), iso(now_utc()))
    if email is None:
        message = "This sign-in link has expired or was already used. Ask for a new one."
        return render(request, "login.html", {"next": safe_next(next), "email": "", "error": message}, 400)
    context = {"token": token, "next": safe_next(next), "user": store.get_user_by_email(email), "email": email}
    return render(request, "login_confirm.html", context)


@router.post("/login/{token}", include_in_schema=False, dependencies=[Depends(require_csrf)])
def login_confirm(request: Request, token: str, next: str = Form("/"), name: str = Form("")) -> Response:  # noqa: A002
    store = store_of(request)
    email = store.consume_login_token(hash_token(token), iso(now_utc()))
    if email is None:
        message = "This sign-in link has expired or was already used. Ask for a new one."
        return render(request, "login.html", {"next": "/", "email": "", "error": message}, 400)
    requested = "".join(ch for ch in name.strip() if ch in NAME_CHARS)[:40] or None
    user = store.ensure_user(email, requested)
    session_id = new_token()
    store.create_session(hash_token(session_id), user["id"], iso(now_utc() + SESSION_LIFETIME))
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, settings_of(request), session_id)
    return response


@router.post("/logout", include_in_schema=False, dependencies=[Depends(require_csrf)])
def logout(request: Request) -> Response:
    session_id = read_session_cookie(request, settings_of(request))
    if session_id:
        store_of(request).delete_session(hash_token(session_id))
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(response, settings_of(request))
    return response


# ---- upvotes ----------------------------------------------------------------------------------


def cast_vote(request: Request, paper_id: str, user: dict, up: bool) -> tuple[bool, int]:
    store = store_of(request)
    voted, upvotes = store.set_vote(paper_id, user["id"], up)
    store.note_feedback(user["id"])  # an upvote is a "For you" signal: the reader's model is out of date
    rescore_papers(store, [paper_id], now_utc())
    return voted, upvotes


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@router.post("/papers/{paper_id:paper_id}/upvote", include_in_schema=False, dependencies=[Depends(require_csrf)])
def upvote_form(request: Request, paper_id: str, action: str = Form("toggle"), next: str = Form("")) -> Response:  # noqa: A002
    """The upvote button's form: works without JavaScript (redirects back), answers JSON to fetch()."""
    back = safe_next(next, f"/papers/{paper_id}")
    user = current_user(request)
    if user is None:
        if wants_json(request):
            return JSONResponse({"detail": "Sign in to upvote.", "login": f"/login?{urlencode({'next': back})}"}, 401)
        return RedirectResponse(f"/login?{urlencode({'next': back})}", status_code=303)
    store = store_of(request)
    if store.get_paper(paper_id) is None:
        return JSONResponse({"detail": f"no paper {paper_id!r} in this catalogue"}, 404)
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
        return JSONResponse({"detail": "Sign in first: POST /login sends a sign-in link."}, 401)
    if store_of(request).get_paper(paper_id) is None:
        return JSONResponse({"detail": f"no paper {paper_id!r} in this catalogue"}, 404)
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


# ---- submissions ------------------------------------------------------------------------------


_arxiv_client_lock = threading.Lock()


def fetch_from_arxiv(request: Request, paper_id: str, version: int | None) -> Paper | None:
    """The paper's metadata from the arXiv API (None when arXiv does not know the id).

    One polite client per app, so submissions from many users still respect arXiv's request spacing."""
    from paperwire.sources.arxiv import fetch_arxiv_papers
    from paperwire.sources.http import PoliteClient

    settings = settings_of(request)
    with _arxiv_client_lock:
        client = getattr(request.app.state, "arxiv_client", None)
        if client is None:
            # A person is waiting: one retry, not the patient schedule of the background harvests.
            interactive = settings.model_copy(update={"http_retries": min(settings.http_retries, 1)})
            client = request.app.state.arxiv_client = PoliteClient(interactive)
    papers = fetch_arxiv_papers([f"{paper_id}v{version}" if version else paper_id], settings, client=client)
    return next((paper for paper in papers if paper.id == paper_id), None)


def submit_error(request: Request, value: str, message: str, status_code: int = 400) -> HTMLResponse:
    return render(request, "submit.html", {"value": value[:300], "error": message}, status_code)


@router.get("/submit", response_class=HTMLResponse, include_in_schema=False)
def submit_form(request: Request) -> Response:
    if current_user(request) is None:
        return RedirectResponse("/login?next=/submit", status_code=303)
    return render(request, "submit.html", {"value": "", "error": None})


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
        return submit_error(request, value, "That is not an arXiv id or link. Use 2501.12948, hep-th/9901001 "
                                            "or https://arxiv.org/abs/2501.12948.")  # fmt: skip
    found = store.get_paper(paper_id)
    if found is None:
        try:
            found = fetch_from_arxiv(request, paper_id, version)
        except ImportError:
            return submit_error(request, value, f"{paper_id} is not in this catalogue, and this instance cannot "
                                                "fetch from arXiv.", 404)  # fmt: skip
        except Exception:  # noqa: BLE001 - network trouble of any kind: tell the person, keep serving
            return submit_error(request, value, "arXiv could not be reached just now. Please try again later.", 503)
        if found is None:
            return submit_error(request, value, f"arXiv has no paper {paper_id}.", 404)
    today = now_utc().date().isoformat()
    try:
        submitted = store.submit_paper(found, user, today)
    except AlreadySubmitted as error:
        return submit_error(request, value, str(error), 409)
    rescore_papers(store, [submitted.id], now_utc())
    return RedirectResponse(f"/papers/{submitted.id}", status_code=303)
