"""axe-core on every main page, in the light and the dark colour scheme, signed out and signed in:
no violation of impact "serious" or "critical" (contrast, names of controls and landmarks, ARIA).

axe-core 4.10.3 is vendored as tests/vendor/axe.min.js (MPL-2.0, its licence header kept), taken with
`npm pack axe-core@4.10.3`; nothing is fetched at test time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from browser_support import serve_app
from mail_support import SmtpSink
from paperwire.app import create_app
from paperwire.models import Paper
from paperwire.settings import Settings
from paperwire.storage import Store, open_store

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
DAY = "2025-06-10"
SIGNED_OUT = [
    "/", f"/papers?date={DAY}", "/papers/week/2025-W24", "/papers/month/2025-06?page=2", "/papers/trending",
    "/papers/2506.00001", "/papers/2506.00003", "/search", "/search?q=diffusion", "/subscribe", "/login",
    "/papers/9999.99999",
]  # fmt: skip
SIGNED_IN = ["/", "/papers/2506.00001", "/subscribe", "/submit"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Store, SmtpSink]]:
    sink = SmtpSink().start()
    home = tmp_path_factory.mktemp("a11y")
    settings = Settings(home=home / "home", secret_key="test-secret-key-long-enough-for-paperwire", smtp_url=sink.url, embedder="none",
                        mail_rate=0)  # fmt: skip
    store = open_store(settings.effective_database_url)
    many_authors = tuple(f"Author {n}" for n in range(15))
    store.upsert_papers([
        Paper(id="2506.00001", title="C$^2$DLM: \\textit{cheap} diffusion language models", abstract="We study $x<y$. " * 30,
              authors=("Ada Lovelace", "Alan Turing"), categories=("cs.CL", "cs.LG"), listed_on=DAY, upvotes=1,
              comments=3, github_repo="example/repo", github_stars=1200, keywords=("diffusion",), listed_from="hf",
              submitted_by="reader-1"),
        Paper(id="2506.00003", title="A paper with many authors", abstract="Many hands.", authors=many_authors,
              categories=("cs.CV",), listed_on=DAY, upvotes=12),
    ] + [
        Paper(id=f"2506.1{n:04d}", title=f"Diffusion paper {n}", abstract="Diffusion models. " * 10,
              authors=("Grace Hopper",), categories=("cs.LG",), listed_on="2025-06-1" + str(n % 3), upvotes=n)
        for n in range(40)
    ])  # fmt: skip
    try:
        with serve_app(create_app(settings, store=store)) as base_url:
            settings.base_url = base_url
            yield base_url, store, sink
    finally:
        store.close()
        sink.stop()


def serious_violations(page) -> list[str]:  # a playwright Page
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{violation['id']} ({violation['impact']}): {node['target']} {node.get('failureSummary', '')[:160]}"
        for violation in result["violations"]
        if violation["impact"] in ("serious", "critical")
        for node in violation["nodes"]
    ]


def sign_in(page, base_url: str, sink: SmtpSink) -> None:
    seen = len(sink.messages_to("ada@example.org"))
    page.goto(f"{base_url}/login")
    page.fill("input[name=email]", "ada@example.org")
    page.click("form.stacked-form button[type=submit]")
    message = sink.wait_for("ada@example.org", seen + 1)[seen]
    page.goto(re.search(r"http://\S+/login/\S+", message.get_body(("plain",)).get_content()).group(0))
    page.click("form.stacked-form button[type=submit]")
    page.wait_for_url(f"{base_url}/")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_main_pages_have_no_serious_accessibility_violations(chromium, site, scheme: str) -> None:
    base_url, _, sink = site
    context = chromium.new_context(bypass_csp=True, viewport={"width": 1280, "height": 800}, color_scheme=scheme)
    page = context.new_page()
    problems: dict[str, list[str]] = {}
    try:
        for path in SIGNED_OUT:
            page.goto(base_url + path)
            problems[path] = serious_violations(page)
        sign_in(page, base_url, sink)
        for path in SIGNED_IN:
            page.goto(base_url + path)
            problems[f"{path} (signed in)"] = serious_violations(page)
    finally:
        context.close()
    assert {path: found for path, found in problems.items() if found} == {}


def test_headings_go_down_one_level_at_a_time_and_summaries_hold_no_links(chromium, site) -> None:
    base_url, _, _ = site
    context = chromium.new_context(bypass_csp=True)
    page = context.new_page()
    try:
        for path in ("/", "/papers/trending", "/papers/2506.00001", "/papers/2506.00003", "/subscribe"):
            page.goto(base_url + path)
            levels = page.evaluate("[...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1])")
            assert levels[0] == 1 and levels.count(1) == 1, (path, levels)
            assert all(later - earlier <= 1 for earlier, later in zip(levels, levels[1:])), (path, levels)
            assert page.locator("summary a").count() == 0, path
            names = page.evaluate(
                "[...document.querySelectorAll('[role=search]')].map(f => f.getAttribute('aria-label'))"
            )
            assert None not in names and len(set(names)) == len(names), (path, names)
    finally:
        context.close()
