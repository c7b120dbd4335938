"""The Content-Security-Policy as a browser enforces it: the site's own pages, scripts and styles (and
/docs, whose Swagger UI paperwire serves itself) load with no violation. The other browser tests turn the
policy off to drive pages with evaluated helpers; this one keeps it on."""

from __future__ import annotations

import pytest

from paperwire.sample import load_sample

pytestmark = pytest.mark.browser


def test_main_pages_load_under_the_policy_without_violations(store, live_server, chromium) -> None:
    load_sample(store)
    paper = store.papers_listed_between("2000-01-01", "2999-12-31", limit=1).papers[0]
    context = chromium.new_context(viewport={"width": 1280, "height": 900})  # the policy enforced
    page = context.new_page()
    violations: list[str] = []
    page.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    try:
        for path in ("/", "/papers/trending", "/search?q=diffusion", f"/papers/{paper.id}", "/subscribe", "/login"):
            response = page.goto(live_server + path)
            assert response is not None and response.status == 200, path
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"], path
        page.goto(live_server + "/docs")
        page.locator(".swagger-ui .info .title").wait_for(timeout=15_000)  # Swagger UI ran, offline
        assert violations == []
    finally:
        context.close()
