"""The Jinja2 environment (autoescape on) and the filters the templates share."""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

from fastapi.templating import Jinja2Templates
from jinja2 import Environment
from markupsafe import Markup

from paperwire.latex import latex_to_text
from paperwire.models import Paper
from paperwire.settings import Settings

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def make_templates(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATE_DIR))
    templates.env.autoescape = True
    templates.env.auto_reload = False  # templates ship with the package: no stat() per render
    templates.env.globals["site_name"] = settings.site_name
    templates.env.globals["base_url"] = settings.base_url
    templates.env.globals["card_fragment"] = FragmentCache(templates.env)
    templates.env.filters.update(
        compact=compact_number,
        http_url=http_url,
        github_url=github_url,
        github_name=github_name,
        day=format_day,
        plain_text=latex_to_text,
        discussion_url=discussion_url,
        plural=plural,
    )
    return templates


class FragmentCache:
    """Rendered pieces of pages that depend only on a paper's text (and a reason), kept in a bounded
    LRU: a list page renders 30 cards, and the same papers are shown again and again."""

    def __init__(self, environment: Environment, size: int = 4096) -> None:
        self.environment = environment
        self.size = size
        self.pieces: OrderedDict[tuple, Markup] = OrderedDict()
        self.lock = threading.Lock()

    def __call__(self, template: str, paper: Paper, reason: str | None = None) -> Markup:
        key = (
            template, paper.id, paper.title, paper.abstract, paper.authors, paper.categories, paper.submitted_by,
            paper.comments, paper.github_repo, paper.github_stars, reason,
        )  # fmt: skip
        with self.lock:
            piece = self.pieces.get(key)
            if piece is not None:
                self.pieces.move_to_end(key)
                return piece
        piece = Markup(self.environment.get_template(template).render(paper=paper, reason=reason))
        with self.lock:
            self.pieces[key] = piece
            if len(self.pieces) > self.size:
                self.pieces.popitem(last=False)
        return piece


def compact_number(value: int | None) -> str:
    """1234 → 1.2k, 2_500_000 → 2.5M: counts as HF shows them."""
    if value is None:
        return ""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}".rstrip("0").rstrip(".") + suffix
    return str(value)


def http_url(value: str | None) -> str | None:
    """The URL if it is http(s), else None: imported links never become javascript: or data: hrefs."""
    if value and urlsplit(value.strip()).scheme.lower() in ("http", "https"):
        return value.strip()
    return None


def github_url(repo: str | None) -> str | None:
    """`owner/name` or a GitHub URL → the repository's https URL."""
    if not repo:
        return None
    if "://" not in repo and repo.count("/") == 1:
        return f"https://github.com/{repo}"
    return http_url(repo)


def github_name(repo: str | None) -> str:
    """https://github.com/owner/name → owner/name, for display."""
    if not repo:
        return ""
    parts = urlsplit(repo if "://" in repo else f"https://github.com/{repo}")
    return parts.path.strip("/").removesuffix(".git") or repo


def discussion_url(paper: Paper) -> str | None:
    """Where a paper's comments live: the counts come from Hugging Face, so its paper page's discussion."""
    if paper.id.startswith("t-"):
        return None
    return f"https://huggingface.co/papers/{paper.id}#community"


def plural(count: int | None, noun: str, nouns: str | None = None) -> str:
    """`1 upvote`, `2 upvotes`, `0 comments`: a count with its noun in the right number."""
    count = count or 0
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"


def format_day(value: str | None) -> str:
    """An ISO date or timestamp → `Jun 10, 2025`."""
    if not value:
        return ""
    try:
        return date.fromisoformat(value[:10]).strftime("%b %-d, %Y")
    except ValueError:
        return value
