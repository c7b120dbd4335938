"""Limits checked before any work: request headers (431), request bodies (413) and slow bodies (408).

A body is refused from its declared Content-Length before a byte of it is read; a body sent without
one (chunked) is counted as it arrives and refused when it passes the cap, so neither a 100 MB JSON
document nor a 100 MB form is ever parsed. Each route has the site-wide cap (`max_body_bytes`) unless
it is given its own: `application.state.body_limits["/some/upload"] = 10 * 2**20` (a path prefix).

`paperwire serve` also caps headers in the HTTP parser itself (h11's incomplete-event size), so an
oversized header is refused before it is held in memory; this middleware gives the same answer under
any other server.
"""

from __future__ import annotations

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def refuse(send: Send, status: int, message: str) -> None:
    """A short plain-text answer, sent before the application sees the request."""
    body = message.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """Plain ASGI middleware (see the module docstring)."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_header_bytes: int, body_timeout: float,
        body_limits: dict[str, int] | None = None,
    ) -> None:  # fmt: skip
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.body_timeout = body_timeout
        self.body_limits = body_limits if body_limits is not None else {}

    def cap_for(self, path: str) -> int:
        """The body cap of `path`: the longest registered prefix's, else the site-wide one."""
        matches = [prefix for prefix in self.body_limits if path.startswith(prefix)]
        return self.body_limits[max(matches, key=len)] if matches else self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        size += sum(len(name) + len(value) + 4 for name, value in scope["headers"])
        if size > self.max_header_bytes:
            await refuse(send, 431, f"Request headers too large: at most {self.max_header_bytes:,} bytes.\n")
            return
        if scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        cap = self.cap_for(scope["path"])
        declared = next((value for name, value in scope["headers"] if name == b"content-length"), None)
        if declared is not None:
            if not declared.isdigit() or len(declared) > 18:
                await refuse(send, 400, "Content-Length must be a number of bytes.\n")
                return
            if int(declared) > cap:
                await refuse(send, 413, f"Request body too large: at most {cap:,} bytes.\n")
                return
        await self.app(scope, self._bounded(receive, cap), send)

    def _bounded(self, receive: Receive, cap: int) -> Receive:
        """`receive` that counts body bytes (413 past the cap) and waits at most body_timeout per chunk (408)."""
        received = 0
        finished = False

        async def bounded_receive() -> Message:
            nonlocal received, finished
            if finished:  # after the body, receive() only waits for the client to go away: no deadline
                return await receive()
            try:
                with anyio.fail_after(self.body_timeout):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(408, "The request body arrived too slowly. Please try again.") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise HTTPException(413, f"Request body too large: at most {cap:,} bytes.")
                finished = not message.get("more_body", False)
            else:
                finished = True
            return message

        return bounded_receive
