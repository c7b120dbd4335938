"""The pure parts of a digest: selection, matching and its reasons, relevance, tokens, MIME."""

from __future__ import annotations

import email
import email.policy

import pytest

from paperwire.mail.digest import Candidate, Match, PeriodMatcher, keyword_relevance, select_digest
from paperwire.mail.message import build_message
from paperwire.mail.subscribers import Interests, InvalidSubscription, make_interests, normalise_email
from paperwire.mail.tokens import InvalidToken, make_token, read_token
from paperwire.models import Paper
from paperwire.settings import Settings

PAPERS = [
    Paper(id="p1", title="Theory of Mind in Large Language Models", abstract="We probe false beliefs.",
          authors=("Ada Lovelace",), categories=("cs.CL",), upvotes=50),
    Paper(id="p2", title="Video Diffusion at Scale", abstract="A diffusion model for video generation.",
          authors=("Grace Hopper",), categories=("cs.CV",), upvotes=40),
    Paper(id="p3", title="Graph Neural Networks for Molecules", abstract="Message passing on molecular graphs.",
          authors=("Alan Turing",), categories=("cs.LG",), upvotes=30),
    Paper(id="p4", title="Mind the Gap", abstract="Theory and practice of caching.", categories=("cs.OS",), upvotes=20),
]  # fmt: skip
TRENDING = [Candidate(p, f"▲ {p.upvotes}") for p in PAPERS]


def test_keyword_relevance_prefers_the_whole_phrase() -> None:
    relevance = keyword_relevance(PAPERS)("theory of mind")
    assert relevance["p1"] > relevance.get("p4", 0) > 0
    assert keyword_relevance(PAPERS)("quantum chromodynamics") == {}


def test_matches_carry_the_strongest_reason() -> None:
    matcher = PeriodMatcher(PAPERS)
    found = matcher.matches(Interests(topics=("theory of mind",), categories=("cs.LG",), authors=("grace HOPPER",),
                                      keywords=("molecules",)))  # fmt: skip
    reasons = {match.paper_id: match.reason for match in found}
    assert reasons["p1"] == "matches your topic ‘theory of mind’"
    assert reasons["p2"] == "by Grace Hopper, an author you follow"
    assert reasons["p3"] in ("in your category cs.LG", "mentions your keyword ‘molecules’")
    assert found[0].paper_id in ("p1", "p3")
    assert matcher.matches(Interests()) == []


def test_selection_halves_places_and_never_repeats() -> None:
    matches = [Match("p3", 0.9, "m3"), Match("p4", 0.5, "m4")]
    items = select_digest(TRENDING, matches, set(), 4)
    assert [(i.paper_id, i.section) for i in items] == [("p1", "trending"), ("p2", "trending"), ("p3", "match"),
                                                        ("p4", "match")]  # fmt: skip
    again = select_digest(TRENDING, matches, {"p1", "p3"}, 4)
    assert {i.paper_id for i in again} == {"p2", "p4"}
    assert select_digest(TRENDING, [], {p.id for p in PAPERS}, 10) == []
    only_trending = select_digest(TRENDING, [], set(), 2)
    assert [i.paper_id for i in only_trending] == ["p1", "p2"]


def test_interests_are_cleaned_and_bounded() -> None:
    interests = make_interests("a, b\nA", ["cs.CL", " cs.CL "], None, "x")
    assert interests == Interests(("a", "b"), ("cs.CL",), (), ("x",))
    with pytest.raises(InvalidSubscription):
        make_interests(topics=[str(i) for i in range(25)])
    assert normalise_email("Someone@EXAMPLE.org") == "Someone@example.org"
    with pytest.raises(InvalidSubscription):
        normalise_email("no-at-sign")


def test_tokens_are_scoped_to_one_purpose() -> None:
    settings = Settings(secret_key="test-secret-key-0123456789abcdefghijklmnop")
    token = make_token(settings, "unsubscribe", 7, "nonce")
    assert read_token(settings, "unsubscribe", token) == (7, "nonce")
    with pytest.raises(InvalidToken):
        read_token(settings, "preferences", token)
    with pytest.raises(InvalidToken):
        read_token(Settings(secret_key="other-secret-key-0123456789abcdefghijklmn"), "unsubscribe", token)


@pytest.mark.parametrize("eight_bit", [False, True])
def test_messages_parse_back(eight_bit: bool) -> None:
    text = "Ünïcode line\n.starts with a dot\n" + "x" * 200 + "\n"
    html = "<p>a &amp; b — ünï</p>\n"
    raw = build_message(sender="paperwire <p@localhost>", recipient="a@example.org", subject="Héllo\r\nBcc: x",
                        text=text, html=html, message_id="<1@x>", headers={"List-Id": "l <l.x>"},
                        eight_bit=eight_bit)  # fmt: skip
    assert raw.isascii() != eight_bit
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "Héllo Bcc: x" and message["Bcc"] is None
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert message.get_body(("html",)).get_content().replace("\r\n", "\n") == html
