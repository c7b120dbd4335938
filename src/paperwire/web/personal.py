"""Personal pages are never kept by browsers or proxies (`Cache-Control: no-store`), so Back after signing
out, or on a shared computer, cannot show a signed-in header or someone's subscription again.

Personal: every answer to a request with a session cookie, and the pages behind mailed links and the
sign-in and subscription forms, whoever opens them.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperwire.web.security import SESSION_COOKIE

PERSONAL_PREFIXES = ("/login", "/logout", "/preferences/", "/unsubscribe/", "/subscribe", "/submit", "/account")


def is_personal(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    if path.startswith(PERSONAL_PREFIXES):
        return True
    for name, value in scope.get("headers", ()):
        if name == b"cookie" and f"{SESSION_COOKIE}=".encode() in value:
            return True
    return False


class NoStoreForPersonalPages:
    """Plain ASGI middleware (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_personal(scope):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_no_store)
