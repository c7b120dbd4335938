"""Sign-in by emailed link, sessions, upvotes and submissions, with the security rules of SPEC section 10."""

from __future__ import annotations

import email
import email.policy
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from paperwire.models import Paper
from paperwire.settings import Settings
from paperwire.web.security import hash_token

FIXTURES = Path(__file__).parent / "fixtures"
PAPER = "2506.00001"


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    database_url = request.getfixturevalue("database_url") if "database_url" in request.fixturenames else ""
    return Settings(home=tmp_path / "home", base_url="http://testserver", secret_key="test-secret-key-0123456789abcdefghijklmnop",
                    database_url=database_url, embedder="none")  # fmt: skip


@pytest.fixture
def papers(store) -> None:
    store.upsert_papers([
        Paper(id=PAPER, title="A paper to vote on", abstract="Votes.", authors=("Ada Lovelace",),
              listed_on="2025-06-10", listed_from="hf", upvotes=7, observed_at="2025-06-10T00:00:00Z"),
        Paper(id="hep-th/9901001", title="Old-style strings", abstract="Strings.", listed_on="2025-06-09"),
        Paper(id="2506.00009", title="Already on the list", submitted_by="someone", listed_on="2025-06-10",
              listed_from="hf"),
    ])  # fmt: skip


# ---- helpers ----------------------------------------------------------------------------------


def csrf(client) -> str:
    page = client.get("/login")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def read_sign_in_link(settings: Settings, address: str, seen: int = 0, timeout: float = 10.0) -> str:
    """The sign-in link in the newest mail to `address` in the Maildir (written by the outbox sender)."""
    folder = settings.home / "maildir" / "new"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = []
        for path in sorted(folder.glob("*")) if folder.exists() else []:
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            if address in message["To"]:
                messages.append(message)
        if len(messages) > seen:
            text = messages[-1].get_body(("plain",)).get_content()
            return re.search(r"http://testserver(/login/\S+)", text).group(1)
        time.sleep(0.05)
    raise AssertionError(f"no sign-in mail for {address} in {folder}")


def sign_in(client, settings: Settings, address: str, name: str = "") -> str:
    token = csrf(client)
    folder = settings.home / "maildir" / "new"
    seen = sum(1 for p in folder.glob("*") if address in p.read_text(errors="replace")) if folder.exists() else 0
    assert client.post("/login", data={"email": address, "csrf_token": token}).status_code == 200
    link = read_sign_in_link(settings, address, seen)
    response = client.post(link, data={"csrf_token": token, "name": name}, follow_redirects=False)
    assert response.status_code == 303
    return csrf(client)  # signing in rotates the CSRF cookie: the token from before is void now


def upvotes(client) -> int:
    return client.get(f"/api/papers/{PAPER}").json()["upvotes"]


# ---- sign-in ----------------------------------------------------------------------------------


def test_sign_in_link_works_once(client, settings) -> None:
    token = csrf(client)
    response = client.post("/login", data={"email": "Reader@Example.org", "csrf_token": token})
    assert response.status_code == 200 and "Check your inbox" in response.text
    link = read_sign_in_link(settings, "reader@example.org")
    assert client.get("/submit", follow_redirects=False).headers["location"] == "/login?next=/submit"
    opened = client.get(link)  # a mail scanner's GET signs nobody in and does not use up the link
    assert opened.status_code == 200 and "pw_session" not in opened.headers.get("set-cookie", "")
    assert "This creates your account for <strong>reader@example.org</strong>" in opened.text
    signed_in = client.post(link, data={"csrf_token": token, "name": "reader", "next": "/submit"},
                            follow_redirects=False)  # fmt: skip
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/submit"
    cookie = signed_in.headers["set-cookie"]
    assert "pw_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert client.get("/submit").status_code == 200
    assert "reader" in client.get("/").text  # the header shows who is signed in

    client.cookies.delete("pw_session")
    again = client.post(link, data={"csrf_token": csrf(client)}, follow_redirects=False)
    assert again.status_code == 400 and "expired or was already used" in again.text
    assert "pw_session" not in again.headers.get("set-cookie", "")
    assert client.get(link).status_code == 400

    client.post("/login", data={"email": "reader@example.org", "csrf_token": csrf(client)})
    second = client.get(read_sign_in_link(settings, "reader@example.org", seen=1))
    assert "as <strong>reader</strong>" in second.text and 'name="name"' not in second.text


def test_expired_sign_in_link_is_refused(client, store) -> None:
    token = csrf(client)
    past = (datetime.now(timezone.utc) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    store.create_login_token(hash_token("expired-link-token"), "late@example.org", past)
    response = client.post("/login/expired-link-token", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 400 and "pw_session" not in response.headers.get("set-cookie", "")
    assert store.get_user_by_email("late@example.org") is None


def test_link_lifetime_is_fifteen_minutes(client, store, settings) -> None:
    from paperwire.storage.schema import login_tokens

    before = datetime.now(timezone.utc)
    client.post("/login", data={"email": "clock@example.org", "csrf_token": csrf(client)})
    with store.read() as connection:
        expires = connection.execute(login_tokens.select()).mappings().one()["expires_at"]
    lifetime = datetime.fromisoformat(expires.replace("Z", "+00:00")) - before
    assert timedelta(minutes=14, seconds=55) < lifetime <= timedelta(minutes=15, seconds=5)


def test_sign_in_answers_identically_for_known_and_unknown_addresses(client, store) -> None:
    store.ensure_user("known@example.org", "known")
    token = csrf(client)
    answers = []
    for address in ("known@example.org", "unknown@example.org"):
        response = client.post("/login", data={"email": address, "csrf_token": token})
        answers.append(
            (response.status_code, sorted(response.headers.keys()), response.text.replace(address, "ADDRESS"))
        )
    assert answers[0] == answers[1]
    assert answers[0][0] == 200


def test_sign_in_is_rate_limited_per_address(client) -> None:
    token = csrf(client)
    codes = [client.post("/login", data={"email": "flood@example.org", "csrf_token": token}).status_code
             for _ in range(6)]  # fmt: skip
    assert codes == [200] * 5 + [429]
    assert client.post("/login", data={"email": "other@example.org", "csrf_token": token}).status_code == 200


def test_sign_in_rejects_a_malformed_address_and_foreign_next(client, settings) -> None:
    token = csrf(client)
    assert client.post("/login", data={"email": "not an address", "csrf_token": token}).status_code == 400
    client.post("/login", data={"email": "next@example.org", "csrf_token": token})
    link = read_sign_in_link(settings, "next@example.org")
    response = client.post(link, data={"csrf_token": token, "next": "//evil.example/x"}, follow_redirects=False)
    assert response.headers["location"] == "/"


def test_logout_needs_a_post_with_csrf(client, settings) -> None:
    token = sign_in(client, settings, "leaving@example.org")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 403
    assert client.get("/submit", follow_redirects=False).status_code == 200
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert client.get("/submit", follow_redirects=False).status_code == 303


# ---- upvotes ----------------------------------------------------------------------------------


def test_a_get_never_changes_a_vote(client, settings, store, papers) -> None:
    sign_in(client, settings, "voter@example.org")
    for path in (f"/papers/{PAPER}/upvote", f"/api/papers/{PAPER}/upvote"):
        assert client.get(path).status_code in (404, 405)
    assert upvotes(client) == 7 and store.count_votes(PAPER) == 0


def test_a_post_without_the_csrf_token_fails(client, settings, store, papers) -> None:
    sign_in(client, settings, "voter@example.org")
    assert client.post(f"/papers/{PAPER}/upvote", data={"action": "up"}).status_code == 403
    assert (
        client.post(f"/papers/{PAPER}/upvote", data={"action": "up", "csrf_token": "forged.token"}).status_code == 403
    )
    assert client.post(f"/api/papers/{PAPER}/upvote").status_code == 403
    assert client.post(f"/api/papers/{PAPER}/upvote", headers={"X-CSRF-Token": "x"}).status_code == 403
    # a validly signed token for another browser's cookie does not pass either
    forged = csrf_for("B" * 43)
    assert client.post(f"/api/papers/{PAPER}/upvote", headers={"X-CSRF-Token": forged}).status_code == 403
    assert upvotes(client) == 7 and store.count_votes(PAPER) == 0


def csrf_for(cookie_value: str) -> str:
    from itsdangerous import Signer

    return Signer("test-secret-key-0123456789abcdefghijklmnop", salt="paperwire.csrf").sign(cookie_value).decode()


def test_one_vote_per_user_with_undo(client, settings, store, papers) -> None:
    token = sign_in(client, settings, "voter@example.org")
    for _ in range(2):
        response = client.post(f"/papers/{PAPER}/upvote", data={"action": "up", "csrf_token": token},
                               headers={"Accept": "application/json"})  # fmt: skip
        assert response.json() == {"id": PAPER, "upvotes": 8, "voted": True}
    assert upvotes(client) == 8 and store.count_votes(PAPER) == 1
    page = client.get(f"/papers/{PAPER}").text
    assert 'class="upvote voted"' in page and 'value="undo"' in page
    undone = client.delete(f"/api/papers/{PAPER}/upvote", headers={"X-CSRF-Token": token})
    assert undone.json() == {"id": PAPER, "upvotes": 7, "voted": False}
    assert client.post(f"/api/papers/{PAPER}/upvote", headers={"X-CSRF-Token": token}).json()["upvotes"] == 8
    assert client.post("/api/papers/2599.99999/upvote", headers={"X-CSRF-Token": token}).status_code == 404


def test_upvote_form_works_without_javascript(client, settings, papers) -> None:
    token = csrf(client)
    anonymous = client.post(f"/papers/{PAPER}/upvote", data={"csrf_token": token, "next": "/papers?date=2025-06-10"},
                            follow_redirects=False)  # fmt: skip
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    assert client.post(f"/api/papers/{PAPER}/upvote", headers={"X-CSRF-Token": token}).status_code == 401
    token = sign_in(client, settings, "plain@example.org")
    voted = client.post(f"/papers/{PAPER}/upvote", data={"csrf_token": token, "action": "up",
                        "next": "/papers?date=2025-06-10"}, follow_redirects=False)  # fmt: skip
    assert voted.status_code == 303 and voted.headers["location"] == "/papers?date=2025-06-10"
    listing = client.get("/papers?date=2025-06-10").text
    assert re.search(rf'action="/papers/{PAPER}/upvote".*?<span class="count">8</span>', listing, re.S)


def test_votes_feed_trending(client, settings, papers) -> None:
    token = sign_in(client, settings, "fan@example.org")
    client.post("/api/papers/hep-th/9901001/upvote", headers={"X-CSRF-Token": token})
    trending = client.get("/api/trending").json()
    assert trending["papers"][0]["paper"]["id"] == "hep-th/9901001"
    assert trending["papers"][0]["reasons"] == ["+1 upvote today"]
    assert "+1 upvote today" in client.get("/papers/trending").text


# ---- submissions ------------------------------------------------------------------------------


def test_submit_validates_ids(client, settings) -> None:
    token = sign_in(client, settings, "strict@example.org")
    for value in ("2501.129", "hep-th/990100", "not an id", "https://example.org/abs/2501.12948",
                  "2501.12948; DROP TABLE papers", ""):  # fmt: skip
        response = client.post("/submit", data={"csrf_token": token, "paper": value})
        assert response.status_code == 400 and "not an arXiv id" in response.text, value


def test_submit_needs_sign_in_and_csrf(client, settings, papers) -> None:
    token = csrf(client)
    response = client.post("/submit", data={"csrf_token": token, "paper": "hep-th/9901001"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    sign_in(client, settings, "careful@example.org")
    assert client.post("/submit", data={"paper": "hep-th/9901001"}).status_code == 403


def test_users_get_unique_display_names(store) -> None:
    first = store.ensure_user("Sam@example.org")
    second = store.ensure_user("sam@example.net")
    assert (first["name"], second["name"]) == ("sam", "sam2")
    assert store.ensure_user("SAM@example.org")["id"] == first["id"]
    assert store.ensure_user("x@example.org", "Sam")["name"] == "Sam3"


def test_rate_limits_are_shared_through_the_database(store, settings) -> None:
    from paperwire.storage import open_store
    from paperwire.web.security import RateLimiter

    clock = [1_000_000.0]
    other_node = open_store(settings.effective_database_url)
    try:
        here = RateLimiter(store, settings, "test", limit=2, window_seconds=60, clock=lambda: clock[0])
        there = RateLimiter(other_node, settings, "test", limit=2, window_seconds=60, clock=lambda: clock[0])
        assert [here.hit("10.0.0.1"), there.hit("10.0.0.1"), here.hit("10.0.0.1")] == [True, True, False]
        assert there.hit("10.0.0.2")  # another key has its own count
        clock[0] += 60  # the next window starts afresh
        assert here.hit("10.0.0.1")
    finally:
        other_node.close()


def test_a_tampered_session_cookie_signs_nobody_in(client, settings) -> None:
    sign_in(client, settings, "real@example.org")
    value = client.cookies.get("pw_session")
    assert client.get("/submit", follow_redirects=False).status_code == 200
    client.cookies.delete("pw_session")
    tampered = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    client.cookies.set("pw_session", tampered, domain="testserver.local")
    assert client.cookies.get("pw_session") == tampered  # one cookie, the tampered one, is sent
    assert client.get("/submit", follow_redirects=False).status_code == 303
    client.cookies.set("pw_session", value, domain="testserver.local")
    assert client.get("/submit", follow_redirects=False).status_code == 200  # the genuine one still works


def test_signed_out_readers_get_a_sign_in_link_instead_of_a_vote_form(client, papers) -> None:
    page = client.get("/papers?date=2025-06-10")
    # each card's link carries its vote and comes back to the card
    links = re.findall(
        r'href="/login\?next=%2Fpapers%3Fdate%3D2025-06-10%23paper-([^"&]+)&amp;vote=([^"&]+)"', page.text
    )
    assert links and all(anchor == paper_id.replace("%2F", "-") for anchor, paper_id in links)
    assert '/upvote"' not in page.text and "csrf_token" not in page.text  # no vote forms
    assert "pw_csrf" not in page.headers.get("set-cookie", "")
