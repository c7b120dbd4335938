"""Web security shared by every form and sign-in: CSRF tokens, database-backed rate limits, session cookies.

CSRF uses a signed double submit: the browser holds a random value in an HttpOnly cookie
(`pw_csrf`); each form carries that value, bound to the browser's session cookie, signed with the
site's secret key (hidden field `csrf_token`), and JavaScript sends the same token in the
`X-CSRF-Token` header (read it from `<meta name="csrf-token">`). A POST passes only when the signed
token matches the cookie and the session it was issued for, so another site can neither read nor
forge it, and a token from before a sign-in (the cookie value is rotated then) is worth nothing after.

Client addresses come from the connection; `X-Forwarded-For` counts only when the connection comes
from one of PAPERWIRE_TRUSTED_PROXIES (default: none), so per-address limits cannot be rotated away.

Rate limits are counters in the database (fixed windows), so they hold across several web nodes.

Usage from other modules:
    install_security(app, settings)             # once, in create_app
    {{ csrf_field(request) }} / csrf_token(request)   # in templates (Jinja globals)
    @router.post(..., dependencies=[Depends(require_csrf)])
    RateLimiter(store, settings, "login-ip", limit=10, window_seconds=3600).hit(client_ip(request))
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from contextvars import ContextVar
from ipaddress import IPv4Network, IPv6Network, ip_address

from fastapi import HTTPException, Request, Response
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer
from markupsafe import Markup, escape
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperwire.settings import Settings

CSRF_COOKIE = "pw_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SESSION_COOKIE = "pw_session"
SESSION_MAX_AGE = 30 * 24 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

# Scope state key of the holes of a page rendered for every signed-in reader (web/reader_pages.py).
READER_HOLES = "reader_holes"

# The request being served, for template helpers called without one (macros imported without context).
_current_request: ContextVar[Request | None] = ContextVar("paperwire_request", default=None)


def current_request() -> Request | None:
    return _current_request.get()


class CSRFError(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            status_code=403,
            detail="This form has expired or did not come from this site. Reload the page and try again.",
        )


def new_token(nbytes: int = 32) -> str:
    """An unguessable token for links and cookies."""
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """What the database keeps of a link token: its SHA-256 (a leaked table signs nobody in)."""
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_hash(settings: Settings, purpose: str, value: str) -> str:
    """A stable, non-reversible key for `value` (an address, an IP) scoped to one purpose."""
    key = f"{settings.effective_secret_key()}:{purpose}".encode()
    return hmac.new(key, value.strip().lower().encode(), hashlib.sha256).hexdigest()


def secure_cookies(settings: Settings) -> bool:
    return settings.base_url.startswith("https://")


# ---- CSRF -----------------------------------------------------------------------------------


def _csrf_signer(settings: Settings) -> Signer:
    return _signer(settings.effective_secret_key())


@functools.lru_cache(maxsize=8)  # built once per key: itsdangerous derives its key in the constructor
def _signer(key: str) -> Signer:
    return Signer(key, salt="paperwire.csrf")


def _csrf_secret(request: Request) -> str:
    """The browser's CSRF cookie value, or a fresh one that the middleware will set."""
    state = request.scope.setdefault("state", {})
    if "csrf_secret" not in state:
        current = request.cookies.get(CSRF_COOKIE, "")
        if 20 <= len(current) <= 100 and current.replace("-", "").replace("_", "").isalnum():
            state["csrf_secret"] = current
        else:
            state["csrf_secret"] = new_token()
            state["csrf_new"] = True
    return state["csrf_secret"]


def _session_binding(request: Request) -> str:
    """What ties a CSRF token to the session it was issued under: a digest of the session cookie ('' without)."""
    raw = request.cookies.get(SESSION_COOKIE, "")
    return hashlib.sha256(raw.encode()).hexdigest()[:32] if raw else ""


def rotate_csrf(request: Request) -> None:
    """A fresh CSRF cookie value for this browser (at sign-in and sign-out): old tokens stop working."""
    state = request.scope.setdefault("state", {})
    state["csrf_secret"] = new_token()
    state["csrf_new"] = True
    for key in ("csrf_token", "csrf_field"):
        state.pop(key, None)


def csrf_token(request: Request | None = None) -> str:
    """The token to put into a form (or the X-CSRF-Token header) for this browser."""
    request = request or _current_request.get()
    if request is None:
        raise RuntimeError("csrf_token() needs the request outside of a request being served")
    state = request.scope.setdefault("state", {})
    holes = state.get(READER_HOLES)
    if holes is not None:  # a page rendered for every signed-in reader: each gets their own token (reader_pages.py)
        return holes.token
    if "csrf_token" not in state:  # signed once per request, however many forms the page has
        settings: Settings = request.app.state.settings
        value = f"{_csrf_secret(request)}.{_session_binding(request)}"
        state["csrf_token"] = _csrf_signer(settings).sign(value).decode()
    return state["csrf_token"]


def csrf_field(request: Request | None = None) -> Markup:
    """`<input type="hidden" name="csrf_token" value="…">` for templates (built once per request)."""
    request = request or _current_request.get()
    state = request.scope.setdefault("state", {}) if request is not None else {}
    if "csrf_field" not in state:
        state["csrf_field"] = Markup('<input type="hidden" name="{}" value="{}">').format(
            CSRF_FIELD, escape(csrf_token(request))
        )
    return state["csrf_field"]


def check_csrf_token(request: Request, token: str | None) -> bool:
    settings: Settings = request.app.state.settings
    cookie = request.cookies.get(CSRF_COOKIE)
    if not token or not cookie:
        return False
    try:
        value = _csrf_signer(settings).unsign(token).decode()
    except BadSignature:
        return False
    return hmac.compare_digest(value, f"{cookie}.{_session_binding(request)}")


async def require_csrf(request: Request) -> None:
    """FastAPI dependency for every state-changing route: header or form field must match the cookie."""
    if request.method in SAFE_METHODS:
        return
    token = request.headers.get(CSRF_HEADER)
    if not token:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()  # Starlette caches it: the route can still read its fields
            value = form.get(CSRF_FIELD)
            token = value if isinstance(value, str) else None
    if not check_csrf_token(request, token):
        raise CSRFError()


def add_csrf_cookie(scope: Scope, start: Message, *, secure: bool) -> None:
    """Set the CSRF cookie on a response start message when the request made the browser a fresh token."""
    state = scope.get("state") or {}
    if state.get("csrf_new"):
        cookie = f"{CSRF_COOKIE}={state['csrf_secret']}; Path=/; HttpOnly; SameSite=Lax"
        MutableHeaders(scope=start).append("set-cookie", cookie + ("; Secure" if secure else ""))


class CSRFCookieMiddleware:
    """Sets the CSRF cookie on responses to browsers that got a fresh token during the request."""

    def __init__(self, app: ASGIApp, *, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_csrf_cookie(scope, message, secure=self.secure)
            await send(message)

        token = _current_request.set(Request(scope, receive))
        try:
            await self.app(scope, receive, send_with_cookie)
        finally:
            _current_request.reset(token)


def install_security(application, settings: Settings) -> None:  # a FastAPI app
    """Add the CSRF cookie middleware and expose `csrf_token` / `csrf_field` to templates."""
    application.add_middleware(CSRFCookieMiddleware, secure=secure_cookies(settings))
    templates = getattr(application.state, "templates", None)
    if templates is not None:
        templates.env.globals["csrf_token"] = csrf_token
        templates.env.globals["csrf_field"] = csrf_field


# ---- rate limits ----------------------------------------------------------------------------


def client_ip(request: Request) -> str:
    """The caller's address: the connection's peer, or, when that peer is a trusted proxy, the nearest
    address in X-Forwarded-For that is not one (each trusted proxy appends the address it saw)."""
    peer = request.client.host if request.client else "unknown"
    settings: Settings = request.app.state.settings
    networks = settings.trusted_proxy_networks
    if not networks or not _trusted(peer, networks):
        return peer
    forwarded = [part.strip() for part in ",".join(request.headers.getlist("x-forwarded-for")).split(",")]
    for address in reversed([part for part in forwarded if part]):
        if not _trusted(address, networks):
            try:
                return str(ip_address(address))
            except ValueError:
                return peer  # a forged or garbled entry: count the request against the proxy itself
    return peer


def _trusted(address: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in networks)


class RateLimiter:
    """At most `limit` hits per key per fixed window, counted in the database (shared by all nodes)."""

    def __init__(
        self, store, settings: Settings, name: str, *, limit: int, window_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:  # fmt: skip
        self.store = store
        self.settings = settings
        self.name = name
        self.limit = limit
        self.window_seconds = window_seconds
        self.clock = clock

    def hit(self, key: str) -> bool:
        """Count one attempt for `key`; True while the key is within its limit."""
        now = self.clock()
        window = int(now // self.window_seconds)
        bucket = f"{self.name}:{keyed_hash(self.settings, 'rate', key)}"
        count = self.store.count_rate_hit(bucket, window, expires_at=int((window + 2) * self.window_seconds))
        return count <= self.limit

    def enforce(self, key: str) -> None:
        if not self.hit(key):
            raise HTTPException(status_code=429, detail="Too many attempts. Please wait a while and try again.")


# ---- session cookies ------------------------------------------------------------------------


def _session_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return _serializer(settings.effective_secret_key())


@functools.lru_cache(maxsize=8)
def _serializer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt="paperwire.session")


def set_session_cookie(response: Response, settings: Settings, session_id: str) -> None:
    """Store the (server-side) session id in a signed, HttpOnly, SameSite=Lax cookie."""
    response.set_cookie(
        SESSION_COOKIE,
        _session_serializer(settings).dumps(session_id),
        max_age=SESSION_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(settings),
    )


def read_session_cookie(request: Request, settings: Settings) -> str | None:
    """The session id from a valid, unexpired cookie; None when absent or tampered with."""
    value = request.cookies.get(SESSION_COOKIE)
    if not value:
        return None
    try:
        session_id = _session_serializer(settings).loads(value, max_age=SESSION_MAX_AGE)
    except BadSignature:
        return None
    return session_id if isinstance(session_id, str) else None


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=secure_cookies(settings))
