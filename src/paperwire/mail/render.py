"""Render mail with Jinja2 (autoescape for HTML): digests from cached per-paper pieces, and one-off mails.

A digest is a frame (header, sections, footer) around pieces: each paper is rendered once per
process (head and body, HTML and text) and reused for every subscriber who gets it, so a
personalised digest costs one small frame render.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
from jinja2 import Environment, PackageLoader, TemplateNotFound, select_autoescape
from markupsafe import Markup

from paperwire.mail.message import build_message
from paperwire.models import Paper
from paperwire.settings import Settings
from paperwire.storage import Store

SECTION_TITLES = {"for_you": "For you", "trending": "Trending", "match": "For your interests"}
PIECE_CACHE_LIMIT = 20_000


@dataclass(frozen=True, slots=True)
class PaperPieces:
    html_head: Markup
    html_body: Markup
    text_head: str
    text_body: str


def make_environment(settings: Settings) -> Environment:
    environment = Environment(
        loader=PackageLoader("paperwire.mail", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        trim_blocks=False,
        keep_trailing_newline=False,
    )
    environment.globals.update(base_url=settings.base_url, site_name=settings.site_name)
    return environment


def pack_lines(html: str, width: int = 900) -> str:
    """HTML with its indentation dropped and short lines joined up to `width` characters.

    The same document to a browser (whitespace between tags collapses; there is no <pre>), and
    ~5x fewer lines on the wire: SMTP servers read DATA line by line, so lines cost more than bytes."""
    packed: list[str] = []
    current: list[str] = []
    size = 0
    for line in html.splitlines():
        line = line.strip()
        if not line:
            continue
        if size + len(line) + 1 > width and current:
            packed.append(" ".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        packed.append(" ".join(current))
    return "\n".join(packed) + "\n"


def list_id(settings: Settings, cadence: str) -> str:
    host = urlsplit(settings.base_url).hostname or "localhost"
    return f"{settings.site_name} {cadence} digest <{cadence}.digest.{host}>"


class MailRenderer:
    """Turns outbox rows into message bytes. One per sender; keeps the per-paper pieces it made."""

    def __init__(self, store: Store | None, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.environment = make_environment(settings)
        self._paper_html = self.environment.get_template("paper.html")
        self._paper_text = self.environment.get_template("paper.txt")
        self._digest_html = self.environment.get_template("digest.html")
        self._digest_text = self.environment.get_template("digest.txt")
        self._pieces: dict[str, PaperPieces] = {}
        self._nonces: dict[int, str] = {}

    # ---- pieces ----------------------------------------------------------------------------

    def pieces(self, paper: Paper) -> PaperPieces:
        found = self._pieces.get(paper.id)
        if found is None:
            if len(self._pieces) >= PIECE_CACHE_LIMIT:
                self._pieces.clear()
            found = PaperPieces(
                Markup(self._paper_html.render(paper=paper, part="head")),
                Markup(self._paper_html.render(paper=paper, part="body")),
                self._paper_text.render(paper=paper, part="head"),
                self._paper_text.render(paper=paper, part="body"),
            )
            self._pieces[paper.id] = found
        return found

    def add_papers(self, papers: Sequence[Paper]) -> None:
        for paper in papers:
            self.pieces(paper)

    def prefetch(self, rows: Sequence[dict]) -> None:
        """Load and render the papers a batch of digest rows needs that are not cached yet."""
        if self.store is None:
            return
        wanted: list[str] = []
        for row in rows:
            if row["kind"] == "digest":
                for paper_id, _section, _reason in orjson.loads(row["payload"])["items"]:
                    if paper_id not in self._pieces and paper_id not in wanted:
                        wanted.append(paper_id)
        if wanted:
            self.add_papers(self.store.get_papers(wanted))
        subscribers = [
            row["subscriber_id"] for row in rows if row["kind"] == "digest" and row["subscriber_id"] is not None
        ]
        self._nonces = self.store.subscriber_nonces(subscribers)

    def subscriber_links(self, row: dict, payload: dict) -> dict[str, str] | None:
        """The digest's preferences and unsubscribe links, made now from the subscriber's current nonce
        (the outbox never stores their tokens); None when the subscriber is gone."""
        from paperwire.mail.subscribers import link_for  # subscribers renders with this module

        if "unsubscribe_url" in payload:  # composed before links were made at send time
            return {"preferences_url": payload["preferences_url"], "unsubscribe_url": payload["unsubscribe_url"]}
        subscriber_id = row["subscriber_id"]
        nonce = self._nonces.get(subscriber_id)
        if nonce is None and self.store is not None:
            nonce = self.store.subscriber_nonces([subscriber_id]).get(subscriber_id)
        if nonce is None:
            return None
        return {purpose + "_url": link_for(self.settings, purpose, subscriber_id, nonce)
                for purpose in ("preferences", "unsubscribe")}  # fmt: skip

    # ---- whole mails -----------------------------------------------------------------------

    def render_digest(self, payload: dict, subject: str, links: dict[str, str]) -> tuple[str, str] | None:
        sections: dict[str, dict] = {}
        for paper_id, section, reason in payload["items"]:
            pieces = self._pieces.get(paper_id)
            if pieces is None and self.store is not None:
                self.add_papers(self.store.get_papers([paper_id]))
                pieces = self._pieces.get(paper_id)
            if pieces is None:
                continue  # the paper was removed since composing
            entry = sections.setdefault(
                section, {"title": SECTION_TITLES.get(section, section), "html": [], "text": []}
            )
            entry["html"].append({"head": pieces.html_head, "body": pieces.html_body, "reason": reason})
            entry["text"].append({"head": pieces.text_head, "body": pieces.text_body, "reason": reason})
        if not sections:
            return None
        context = {
            "subject": subject, "cadence": payload["cadence"], "period_title": payload["period_title"], **links,
        }  # fmt: skip
        html = pack_lines(
            self._digest_html.render(
                sections=[{"title": s["title"], "items": s["html"]} for s in sections.values()], **context
            )
        )
        text = self._digest_text.render(
            sections=[{"title": s["title"], "items": s["text"]} for s in sections.values()], **context
        )
        return text, html

    def message_for(self, row: dict, eight_bit: bool = False) -> bytes | None:
        """The bytes to send for an outbox row (None when a digest has nothing left in it)."""
        payload = orjson.loads(row["payload"])
        if row["kind"] == "digest":
            links = self.subscriber_links(row, payload)
            rendered = None if links is None else self.render_digest(payload, row["subject"], links)
            if links is None or rendered is None:
                return None
            text, html = rendered
            headers = {
                "List-Id": list_id(self.settings, payload["cadence"]),
                "List-Unsubscribe": f"<{links['unsubscribe_url']}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                "Precedence": "bulk",
            }
        else:
            text, html = payload["text"], payload.get("html")
            headers = {"Auto-Submitted": "auto-generated"}
        return build_message(
            sender=self.settings.mail_from, recipient=row["recipient"], subject=row["subject"],
            text=text, html=html, message_id=row["message_id"], headers=headers, eight_bit=eight_bit,
        )  # fmt: skip

    def render_named(self, name: str, **context: object) -> tuple[str, str | None]:
        """A one-off mail from `name`.txt (and `name`.html when it exists)."""
        text = self.environment.get_template(f"{name}.txt").render(**context)
        try:
            html = self.environment.get_template(f"{name}.html").render(**context)
        except TemplateNotFound:  # a text-only mail
            html = None
        return text, html
