"""What every answer carries, whatever route made it: security headers, `Vary: Cookie` on pages, HEAD
answered wherever GET is, and redirects that never point at the address a request's Host header named.

- Content-Security-Policy: scripts and styles from this site only (inline styles allowed: templates
  use <style> blocks), no plugins, forms post here only, and `frame-ancestors 'none'` so no other
  site can frame a form. /docs (Swagger UI, its assets served by paperwire) also needs the inline script
  that starts it; no page loads anything from another site.
- X-Content-Type-Options: nosniff; Referrer-Policy: same-origin (sign-in and preference links carry
  tokens in their paths: they never leave in a Referer header); X-Frame-Options: DENY for old browsers.
- HTML pages depend on the session cookie (signed-in readers see their votes): `Vary: Cookie`, so no
  shared cache in front of the site can give one reader's page to another.
- HEAD runs the GET route and drops the body (same status and headers, Content-Length included).
- A Location built from the request's own Host (Starlette's trailing-slash redirect does that) is
  made relative: the Host header is whatever the client sent.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/docs/oauth2-redirect")
FIXED_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
)


def relative_location(location: str, host: str | None) -> str:
    """`http://<host>/path?q` → `/path?q` when <host> is the request's own Host header; others unchanged."""
    parts = urlsplit(location)
    if not parts.scheme or host is None or parts.netloc.lower() != host.lower():
        return location
    path = parts.path or "/"
    if path.startswith("//"):  # never turn it into a scheme-relative URL to another host
        path = "/" + path.lstrip("/")
    return path + (f"?{parts.query}" if parts.query else "")


class SecureResponses:
    """Plain ASGI middleware, outermost (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}
        host = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), None)
        csp = DOCS_CSP if scope["path"] in DOCS_PATHS else CSP

        async def secure_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "content-security-policy" not in headers:
                    headers["content-security-policy"] = csp
                for name, value in FIXED_HEADERS:
                    headers[name] = value
                if headers.get("content-type", "").startswith("text/html"):
                    vary = headers.get("vary")
                    if vary is None:
                        headers["vary"] = "Cookie"
                    elif "cookie" not in vary.lower():
                        headers["vary"] = f"{vary}, Cookie"
                location = headers.get("location")
                if location is not None:
                    headers["location"] = relative_location(location, host)
            elif message["type"] == "http.response.body" and head and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, secure_send)
