"""Absolute links follow where paperwire answers (issue 14 item 2): `paperwire demo --port N` mails and
pages links to port N, and a digest run beside it (another process, same data directory) agrees."""

from __future__ import annotations

import email
import email.policy
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from paperwire.settings import Settings
from paperwire.storage import open_store

KEY = "test-secret-key-0123456789abcdefghijklmnop"


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    env.update({"PYTHONPATH": os.pathsep.join(sys.path), "PAPERWIRE_HOME": str(home), "PAPERWIRE_SECRET_KEY": KEY,
                "PAPERWIRE_EMBEDDER": "none", "COLUMNS": "250"})  # fmt: skip
    return env


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The real `paperwire demo --port 0` (a free port); yields (the address it reports, HOME)."""
    home = tmp_path / "home"
    process = subprocess.Popen(
        [sys.executable, "-m", "paperwire", "demo", "--port", "0"], env=environment(home),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        address = None
        deadline = time.monotonic() + 120
        while address is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            assert line, f"demo exited: {process.poll()}"
            found = re.search(r"serving \d+ papers at (http://127\.0\.0\.1:(\d+))/", line)
            address = found.group(1) if found else None
        assert address is not None and not address.endswith(":8000")
        for _ in range(200):
            try:
                if httpx.get(f"{address}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield address, home
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stderr is not None:
            process.stderr.close()


def mails_to(home: Path, address: str, count: int = 1, timeout: float = 20) -> list[EmailMessage]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = []
        for path in sorted((home / "maildir" / "new").glob("*")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if message["To"] == address:
                found.append(message)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no mail to {address} within {timeout} s")


def csrf(client: httpx.Client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def links_in(message: EmailMessage) -> list[str]:
    return re.findall(r"https?://[^\s<>\"]+", message.get_body(("plain",)).get_content())


@pytest.mark.slow  # a real server or subprocess: in `make test`, not the fast lane
def test_mailed_and_page_links_point_to_the_port_served(demo: tuple[str, Path]) -> None:
    base, home = demo
    with httpx.Client(base_url=base, timeout=10, follow_redirects=True) as client:
        # Sign-in link.
        client.post("/login", data={"email": "reader@example.org", "csrf_token": csrf(client, "/login")})
        [sign_in] = mails_to(home, "reader@example.org")
        [link] = [url for url in links_in(sign_in) if "/login/" in url]
        assert link.startswith(f"{base}/login/")
        assert client.get(link).status_code == 200

        # Confirmation, then the on-page "Choose your interests" button.
        client.post("/subscribe", data={"email": "sub@example.org", "cadence": "daily",
                                        "csrf_token": csrf(client, "/subscribe")})  # fmt: skip
        [confirmation] = mails_to(home, "sub@example.org")
        [confirm] = [url for url in links_in(confirmation) if "/subscribe/confirm/" in url]
        assert confirm.startswith(f"{base}/subscribe/confirm/")
        assert client.get(confirm).status_code == 200
        confirmed = client.post(confirm, data={"csrf_token": csrf(client, "/subscribe")})
        button = re.search(r'href="([^"]+)">Choose your interests', confirmed.text).group(1)
        # The page's own link is relative (it resolves against where the page was served), never :8000.
        assert button.startswith("/preferences/") and client.get(urljoin(base, button)).status_code == 200

        # Feed entries.
        feed = client.get("/feeds/daily.atom").text
        hrefs = re.findall(r'href="([^"]+)"', feed)
        assert hrefs and all(href.startswith(base) for href in hrefs if "/papers/" in href)

    # A digest run beside the server (its own process) links to where the server answers.
    settings = Settings(home=home, secret_key=KEY)
    store = open_store(settings.effective_database_url)
    day = store.latest_listed_day()
    store.close()
    assert day is not None
    run = subprocess.run([sys.executable, "-m", "paperwire", "digest", "run", "--date", day], env=environment(home),
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stderr
    [_, digest] = mails_to(home, "sub@example.org", 2)
    assert digest["List-Unsubscribe"].strip("<>").startswith(f"{base}/unsubscribe/")
    urls = [url for url in links_in(digest) if "127.0.0.1" in url]
    assert urls and all(url.startswith(base) for url in urls)
    with httpx.Client(timeout=10) as client:
        for url in {u for u in urls if "/preferences/" in u or "/unsubscribe/" in u}:
            assert client.get(url).status_code == 200
