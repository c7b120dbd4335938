"""Plain data of paperwire (Paper, Skip, ImportReport) and the pure identity rules of papers. No I/O."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from paperwire.periods import InvalidPeriod
from paperwire.periods import parse_day as parse_calendar_day

MAX_TITLE_CHARS = 2_000
MAX_ABSTRACT_CHARS = 100_000
MAX_AUTHORS = 5_000

# Where `listed_on` came from, strongest first: HF's submittedOnDailyAt beats an arXiv announcement
# day, which beats the import day (SPEC section 2).
LISTED_FROM_RANK = {"hf": 3, "arxiv": 2, "import": 1}

# ASCII digits only (`\d` would also take ٢ or ৩, which no arXiv id has).
NEW_STYLE_ID = re.compile(r"^(?P<id>[0-9]{4}\.[0-9]{4,5})(?:v(?P<version>[0-9]{1,4}))?$")
OLD_STYLE_ID = re.compile(r"^(?P<id>[a-z][a-z\-]*(?:\.[A-Z]{2})?/[0-9]{7})(?:v(?P<version>[0-9]{1,4}))?$")
TITLE_ID = re.compile(r"^t-[0-9a-f]{16}$")  # what title_id() makes: the only non-arXiv id a paper may have
CATEGORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-_]{0,39}$")  # cs.AI, hep-th, physics.acc-ph, q-bio.NC
CATEGORY_LINES = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-_]{0,39}(?:\n[A-Za-z0-9][A-Za-z0-9.\-_]{0,39})*")  # all at once
WORDS = re.compile(r"[a-z0-9]+")
ARXIV_URL = re.compile(r"^(?:https?://)?(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/(?P<rest>.+?)(?:\.pdf)?/?$")


class InvalidRecord(ValueError):
    """A record that cannot become a paper; the message says why, for the import report."""


@dataclass(slots=True)
class Paper:
    """One paper, with the fields of SPEC section 2. Lists are tuples so a Paper compares by value."""

    id: str
    title: str
    abstract: str = ""
    version: int | None = None
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    published_at: str | None = None  # ISO 8601 UTC timestamp of the first version
    updated_at: str | None = None  # ISO 8601 UTC timestamp of the current version
    listed_on: str | None = None  # YYYY-MM-DD, the day it entered the feed
    listed_from: str = "import"  # hf | arxiv | import: which rule gave listed_on
    submitted_by: str | None = None
    upvotes: int = 0
    comments: int = 0
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    keywords: tuple[str, ...] = ()
    comment: str | None = None  # the arXiv comments field ("12 pages, 3 figures")
    observed_at: str | None = None  # when upvotes / stars / comments were observed (ISO 8601)

    @property
    def abs_url(self) -> str | None:
        return f"https://arxiv.org/abs/{self.id}" if is_arxiv_id(self.id) else None

    @property
    def pdf_url(self) -> str | None:
        return f"https://arxiv.org/pdf/{self.id}" if is_arxiv_id(self.id) else None

    @property
    def primary_category(self) -> str | None:
        return self.categories[0] if self.categories else None

    def to_record(self) -> dict:
        """paperwire's own JSON-lines record (lossless: read back by the jsonl source)."""
        record = dataclasses.asdict(self)
        for key in ("authors", "categories", "keywords"):
            record[key] = list(record[key])
        return record


@dataclass(slots=True, frozen=True)
class Skip:
    """A record that was not imported, named by its source and line, with the reason."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass(slots=True)
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skip] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.added + self.updated + self.unchanged + len(self.skipped)


# ---- identity -------------------------------------------------------------------------------


def parse_arxiv_id(text: str) -> tuple[str, int | None]:
    """`2501.12948v2`, `arXiv:hep-th/9901001`, or an arxiv.org URL → (bare id, version or None)."""
    value = text.strip()
    url = ARXIV_URL.match(value)
    if url:
        value = url.group("rest")
    if value.lower().startswith("arxiv:"):
        value = value[6:]
    for pattern in (NEW_STYLE_ID, OLD_STYLE_ID):
        match = pattern.match(value)
        if match:
            version = match.group("version")
            return match.group("id"), int(version) if version else None
    raise InvalidRecord(f"not an arXiv id: {text[:80]!r}")


def is_arxiv_id(text: str) -> bool:
    return bool(NEW_STYLE_ID.match(text) or OLD_STYLE_ID.match(text))


def normalise_title(title: str) -> str:
    """Case-, accent-, space- and punctuation-insensitive form of a title, for matching."""
    folded = title.replace("\u2019", "").replace("'", "")
    if not folded.isascii():  # (ASCII text is its own NFKD form)
        folded = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    return " ".join(WORDS.findall(folded.lower()))


@functools.lru_cache(maxsize=65_536)  # similar papers fold the same names for every request
def author_key(name: str) -> str:
    """An author's identity, the same for author pages, follows and search: the name with case, accents,
    spacing and punctuation folded ("Ana Müller" → "ana muller")."""
    return normalise_title(name)


def title_id(title: str) -> str:
    """Stable id of a paper with no arXiv id: derived from its normalised title."""
    digest = hashlib.sha1(normalise_title(title).encode()).hexdigest()[:16]
    return f"t-{digest}"


def clean_text(text: str) -> str:
    """Collapse the hard line wraps of arXiv metadata; keep the text (LaTeX and all) as written."""
    if "\n" not in text and "  " not in text and "\t" not in text and "\r" not in text:
        return text.strip()
    flat = text.replace("\n", " ")  # hard wraps only (the usual abstract): the same, in two scans instead of a split
    if "  " not in flat and flat.isprintable():  # (the one white space a printable text can hold is " ")
        return flat.strip()
    return " ".join(text.split())


def parse_day(text: str) -> str:
    """YYYY-MM-DD (or a timestamp starting with one) → the validated day; impossible dates, and days
    outside the calendar the site pages through (FIRST_DAY to LAST_DAY), raise."""
    if not isinstance(text, str):
        raise InvalidRecord(f"impossible date {str(text)[:40]!r}: not text")
    return _parse_day(text)


@functools.lru_cache(maxsize=4096)  # an import names the same few hundred days again and again
def _parse_day(text: str) -> str:
    try:
        return parse_calendar_day(text.strip()[:10]).isoformat()
    except InvalidPeriod as error:
        raise InvalidRecord(f"impossible date {text[:40]!r}: {error}") from error


def parse_timestamp(text: str) -> str:
    """An ISO 8601 date or timestamp → `YYYY-MM-DDTHH:MM:SSZ` in UTC; impossible values raise."""
    value = text.strip()
    try:
        if len(value) == 10:
            moment = datetime.combine(date.fromisoformat(value), datetime.min.time(), timezone.utc)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, AttributeError, OverflowError) as error:
        raise InvalidRecord(f"impossible date {str(text)[:40]!r}") from error


def check_sizes(paper: Paper) -> Paper:
    """Reject (never truncate silently) text beyond what a paper can hold, ids the site cannot open, and
    categories that are not category names (control characters would end up in feeds and URLs)."""
    if not (NEW_STYLE_ID.match(paper.id) or OLD_STYLE_ID.match(paper.id) or TITLE_ID.match(paper.id)):
        raise InvalidRecord(f"id {paper.id[:40]!r} is neither an arXiv id nor t- and 16 hex digits: rejected")
    joined = "\n".join(paper.categories)  # one scan for the usual case, every one a category name
    if joined.count("\n") != len(paper.categories) - 1 or not CATEGORY_LINES.fullmatch(joined):
        check_categories(paper)
    if paper.listed_on is not None:
        parse_day(paper.listed_on)
    if not paper.title:
        raise InvalidRecord("missing title")
    if len(paper.title) > MAX_TITLE_CHARS:
        raise InvalidRecord(f"title of {len(paper.title):,} characters (limit {MAX_TITLE_CHARS:,}): rejected")
    if len(paper.abstract) > MAX_ABSTRACT_CHARS:
        raise InvalidRecord(f"abstract of {len(paper.abstract):,} characters (limit {MAX_ABSTRACT_CHARS:,}): rejected")
    if len(paper.authors) > MAX_AUTHORS:
        raise InvalidRecord(f"{len(paper.authors):,} authors (limit {MAX_AUTHORS:,}): rejected")
    return paper


def check_categories(paper: Paper) -> None:
    for category in paper.categories:
        if not category.isprintable():
            raise InvalidRecord(f"category {category[:40]!r} is not a category name (e.g. cs.CL): rejected")
    if not all(CATEGORY.match(category) for category in paper.categories):
        # arXiv's own records list ACM and MSC classes beside the categories ("I.2.7; I.2.6", "68T50, 68T07"):
        # real papers, so those entries are left out rather than the paper.
        paper.categories = tuple(category for category in paper.categories if CATEGORY.match(category))


# ---- update rules ---------------------------------------------------------------------------


def merge_papers(stored: Paper, incoming: Paper) -> Paper:
    """The paper after `incoming` is imported over `stored` (SPEC section 2).

    A newer version replaces the text; an older one never does. Signals (upvotes, comments, stars)
    take the newest observation. Fields the incoming record lacks keep their stored value. The
    strongest `listed_on` rule wins, and among equals the earliest day: re-importing is idempotent.
    """
    merged = dataclasses.replace(stored)
    older = stored.version is not None and incoming.version is not None and incoming.version < stored.version
    if not older:
        for name in ("title", "abstract", "version", "published_at", "updated_at", "comment"):
            value = getattr(incoming, name)
            if value:
                setattr(merged, name, value)
        for name in ("authors", "categories"):
            if getattr(incoming, name):
                setattr(merged, name, getattr(incoming, name))
    if merged.published_at and incoming.published_at:
        merged.published_at = min(merged.published_at, incoming.published_at)
    for name in ("submitted_by", "github_repo", "project_page"):
        if getattr(incoming, name):
            setattr(merged, name, getattr(incoming, name))
    if incoming.keywords:
        merged.keywords = incoming.keywords
    newer_signals = (incoming.observed_at or "") >= (stored.observed_at or "")
    carries_signals = incoming.observed_at is not None or incoming.upvotes or incoming.comments
    if carries_signals and newer_signals:
        merged.upvotes = incoming.upvotes
        merged.comments = incoming.comments
        if incoming.github_stars is not None:
            merged.github_stars = incoming.github_stars
        merged.observed_at = incoming.observed_at or stored.observed_at
    elif stored.github_stars is None and incoming.github_stars is not None:
        merged.github_stars = incoming.github_stars
    if incoming.listed_on:
        stored_rank = LISTED_FROM_RANK.get(stored.listed_from, 0) if stored.listed_on else 0
        incoming_rank = LISTED_FROM_RANK.get(incoming.listed_from, 0)
        if incoming_rank > stored_rank or (
            incoming_rank == stored_rank and incoming.listed_on < (stored.listed_on or "9999")
        ):
            merged.listed_on, merged.listed_from = incoming.listed_on, incoming.listed_from
    return merged


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def utc_iso(moment: datetime) -> str:
    """A moment in the text form the tables store: UTC with microseconds (2025-06-10T12:00:00.000000Z)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_now_iso() -> str:
    """The current UTC time in the text form the tables store."""
    return utc_iso(now_utc())
