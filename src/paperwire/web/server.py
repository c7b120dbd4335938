"""How `paperwire serve` runs uvicorn: the limits and timeouts of docs/deploy.md "Security".

- The h11 parser refuses a request line plus headers longer than `max_header_bytes` before holding
  them (httptools, uvicorn's faster default, has no such cap: a 50 MB header would be read whole).
- A client must finish its request line and headers within `client_timeout` seconds of connecting
  (or of the previous answer): uvicorn alone cancels its keep-alive timer at the first byte, so a
  client sending one header byte every few seconds would hold a connection for ever. Bodies have the
  same deadline per chunk (web/limits.py answers 408).
- X-Forwarded-For / -Proto are read only from PAPERWIRE_TRUSTED_PROXIES (uvicorn trusts 127.0.0.1 by
  default, which lets anything on the host rotate per-address limits away).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from paperwire.settings import Settings


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's line and headers (see the module docstring)."""

    header_timeout = 10.0  # set per server by server_options()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_header_deadline()

    def _arm_header_deadline(self) -> None:
        self.loop.call_later(self.header_timeout, self._header_deadline_passed)

    def _header_deadline_passed(self) -> None:
        waiting_for_headers = self.cycle is None or self.cycle.response_complete
        if waiting_for_headers and not self.transport.is_closing():
            self.transport.close()  # a request in progress is left alone: its body has its own deadline


def server_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for uvicorn.run / uvicorn.Config."""
    protocol = type("DeadlineH11Protocol", (DeadlineH11Protocol,), {"header_timeout": settings.client_timeout})
    return {
        "http": protocol,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "timeout_keep_alive": max(1, round(settings.client_timeout)),
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": [str(network) for network in settings.trusted_proxy_networks] or None,
    }
