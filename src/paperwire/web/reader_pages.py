"""A signed-in reader's list page, made of one rendering shared by all readers plus what is theirs.

What differs between two signed-in readers on the daily / weekly / monthly lists is small and known:
the CSRF token in each form, the name in the header, and the state of each card's upvote form (voted
or not). So the page is rendered once per catalogue version with *holes* there — markers that carry an
unguessable per-rendering nonce, so no paper text can forge one — and the two variants of every upvote
form are kept beside it. Per request only the reader's session and their votes among the page's papers
are read (one connection, two queries: `Store.session_reader`), and the page is filled in: the bytes
are exactly those the templates would render for that reader (tests/test_signed_in_pages.py compares
them with the cache off).

Templates take part through `reader_holes()` (None outside such a rendering): `csrf_token()` answers
the token's hole, the header shows the reader's name through `current_user()` (whose record the page
cache gives the name's hole), and `_upvote.html` hands both variants of a card's form to `vote()`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from markupsafe import Markup, escape

from paperwire.web.security import READER_HOLES, current_request


class ReaderHoles:
    """The holes of one rendering: their markers and each card's two upvote forms."""

    def __init__(self) -> None:
        nonce = secrets.token_hex(12)
        self.token = f"\x00pw-{nonce}-token\x00"
        self.name = f"\x00pw-{nonce}-name\x00"
        self.vote_marker = re.compile(f"\x00pw-{nonce}-vote:([^\x00]+)\x00")
        self._vote_prefix = f"\x00pw-{nonce}-vote:"
        self.votes: dict[str, tuple[str, str]] = {}

    def vote(self, paper_id: str, not_voted: str, voted: str) -> Markup:
        """The hole of a card's upvote form, given the form as it reads before and after the reader's vote."""
        self.votes[paper_id] = (str(not_voted), str(voted))
        return Markup(f"{self._vote_prefix}{paper_id}\x00")


def reader_holes() -> ReaderHoles | None:
    """For templates: the holes of the rendering in progress, or None when rendering for one reader."""
    request = current_request()
    if request is None:
        return None
    state = request.scope.get("state") or {}
    return state.get(READER_HOLES)


@dataclass(slots=True, frozen=True)
class ReaderPage:
    """A rendered page cut at its holes: `texts` are the fixed pieces, with an upvote form between each two."""

    texts: tuple[str, ...]
    forms: tuple[tuple[str, str, str], ...]  # (paper id, form not voted, form voted)
    token: str
    name: str

    @classmethod
    def cut(cls, body: str, holes: ReaderHoles) -> ReaderPage:
        pieces = holes.vote_marker.split(body)  # text, paper id, text, paper id, …, text
        forms = tuple((paper_id, *holes.votes[paper_id]) for paper_id in pieces[1::2])
        return cls(tuple(pieces[0::2]), forms, holes.token, holes.name)

    @property
    def paper_ids(self) -> list[str]:
        return [paper_id for paper_id, _, _ in self.forms]

    def fill(self, *, voted: set[str], token: str, name: str | None) -> bytes:
        """The page for one reader: their votes, CSRF token and name (escaped as the templates escape them)."""
        parts = [self.texts[0]]
        for (paper_id, not_voted, yes), text in zip(self.forms, self.texts[1:], strict=True):
            parts.append(yes if paper_id in voted else not_voted)
            parts.append(text)
        page = "".join(parts).replace(self.token, str(escape(token))).replace(self.name, str(escape(name)))
        return page.encode("utf-8")
