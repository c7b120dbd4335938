"""Browser-test fixtures: a real uvicorn server on a free localhost port, and Debian's chromium via Playwright.

Fixtures (imported into conftest.py, so every test module can use them):
  live_server     (function) — serves create_app(settings, store=store) for the test's `settings` and
                  `store` fixtures; yields the base URL, e.g. "http://127.0.0.1:41234".
  chromium        (session)  — a headless Playwright Browser on /usr/bin/chromium. Skips with a message
                  when chromium is missing, unless the CI environment variable is set (then it fails).
  browser_page    (function) — a fresh Page in its own context (no cookies shared between tests).
For another app, `serve_app(app)` is the context manager behind live_server.
Mark browser tests with @pytest.mark.browser.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync",
]  # fmt: skip
START_TIMEOUT_S = 10


@contextlib.contextmanager
def serve_app(app, **options: Any) -> Iterator[str]:  # an ASGI app
    """Run `app` under uvicorn in a background thread on a free localhost port; yields its base URL.
    `options` go to uvicorn.Config (e.g. what `paperwire serve` passes: cli.catalogue.server_limits)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ws="none", lifespan="on", access_log=False, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"uvicorn did not start on port {port} within {START_TIMEOUT_S} s")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)
        sock.close()


@pytest.fixture
def live_server(settings, store) -> Iterator[str]:  # the conftest fixtures
    from paperwire.app import create_app

    with serve_app(create_app(settings, store=store)) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def chromium():  # playwright.sync_api.Browser
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium):  # a playwright.sync_api.Page
    context = chromium.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        context.close()
