"""paperwire's own JSON lines (SPEC section 2 field names; also the shared arXiv listing files)."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from paperwire.models import (
    InvalidRecord,
    Paper,
    Skip,
    check_sizes,
    clean_text,
    parse_arxiv_id,
    parse_day,
    parse_timestamp,
    title_id,
)  # fmt: skip

NAME = "jsonl"
MAX_LINE_BYTES = 4 * 1024 * 1024


def detect(first_record: dict | None) -> bool:
    return first_record is not None and "title" in first_record


def decode_object(line: bytes) -> dict:
    """One JSON object from one line, or InvalidRecord saying what is wrong with it."""
    if len(line) > MAX_LINE_BYTES:
        raise InvalidRecord(f"line longer than {MAX_LINE_BYTES:,} bytes: rejected")
    try:
        value = orjson.loads(line)  # (which checks the UTF-8 itself)
    except orjson.JSONDecodeError as error:
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as bad_byte:
            raise InvalidRecord(f"invalid UTF-8 at byte {bad_byte.start}") from bad_byte
        raise InvalidRecord(f"invalid JSON ({error.msg} at column {error.colno})") from error
    if not isinstance(value, dict):
        raise InvalidRecord(f"expected a JSON object, got {type(value).__name__}")
    return value


def read_objects(lines: Iterator[tuple[int, bytes]], source: str, convert) -> Iterator[Paper | Skip]:
    """The shared loop of JSON-lines sources: decode, convert, or name the line and the reason."""
    for number, line in lines:
        if not line or line.isspace():  # (isspace stops at the first other byte; strip would copy the line)
            continue
        try:
            yield check_sizes(convert(decode_object(line)))
        except InvalidRecord as error:
            yield Skip(source, number, str(error))
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            yield Skip(source, number, f"unexpected record shape ({type(error).__name__}: {error})")


def text_list(value: object, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part for part in value.split() if part)
    if not isinstance(value, list):
        raise InvalidRecord(f"{field} must be a list of strings")
    try:  # one scan instead of one call per name: most lists need no cleaning
        joined = "\n".join(value)
    except TypeError:  # an item that is not a string
        raise InvalidRecord(f"{field} must be a list of strings") from None
    if joined.count("\n") == len(value) - 1 and "" not in value and is_clean_list(joined):
        return tuple(value)
    return tuple(clean_text(item) for item in value if item.strip())


def is_clean_list(joined: str) -> bool:
    """Whether clean_text leaves each item of a "\n"-joined list of non-empty items as it is: no white space but
    one space between words (a printable text's only white space is " "), none padded. (Substring scans: a
    regular expression of the same was 10 µs for a list of 16 names, half the time to read a paper.)"""
    if "  " in joined or " \n" in joined or "\n " in joined or joined[:1] == " " or joined[-1:] == " ":
        return False
    return joined.replace("\n", "").isprintable()


def optional_int(value: object, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidRecord(f"{field} must be a number")
    try:
        return int(value)
    except ValueError as error:
        raise InvalidRecord(f"{field} must be a number, got {value!r}") from error


def optional_text(value: object, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRecord(f"{field} must be a string")
    return value.strip() or None


def paper_identity(raw_id: object, title: str) -> tuple[str, int | None]:
    if raw_id is None or raw_id == "":
        return title_id(title), None
    if not isinstance(raw_id, str):
        raise InvalidRecord("id must be a string")
    if raw_id.startswith("t-"):
        return raw_id, None
    return parse_arxiv_id(raw_id)


def to_paper(record: dict) -> Paper:
    get = record.get
    title = get("title")
    if not isinstance(title, str) or not title.strip():
        raise InvalidRecord("missing title")
    title = clean_text(title)
    paper_id, id_version = paper_identity(get("id"), title)
    version = optional_int(get("version"), "version") or id_version
    listed_on = get("listed_on") or get("first_seen")
    listed_from = get("listed_from") or ("arxiv" if get("first_seen") else "import")
    if listed_from not in ("hf", "arxiv", "import"):
        raise InvalidRecord(f"unknown listed_from {listed_from!r}")
    abstract = get("abstract") or ""
    if not isinstance(abstract, str):
        raise InvalidRecord("abstract must be a string")
    paper = Paper(
        id=paper_id,
        title=title,
        abstract=clean_text(abstract),
        version=version,
        authors=text_list(get("authors"), "authors"),
        categories=text_list(get("categories"), "categories"),
        listed_on=parse_day(listed_on) if listed_on else None,
        listed_from=listed_from if listed_on else "import",
        comment=optional_text(get("comment"), "comment"),
    )
    if not OPTIONAL_FIELDS.isdisjoint(record):  # (an arXiv listing record has none of them)
        add_optional_fields(paper, get)
    return paper


# The fields of a record that most sources leave out: read only when a record has one.
OPTIONAL_FIELDS = frozenset((
    "published_at", "updated_at", "observed_at", "submitted_by", "upvotes", "comments", "github_repo",
    "github_stars", "project_page", "keywords",
))  # fmt: skip


def add_optional_fields(paper: Paper, get) -> None:
    published_at, updated_at, observed_at = get("published_at"), get("updated_at"), get("observed_at")
    paper.published_at = parse_timestamp(published_at) if published_at else None
    paper.updated_at = parse_timestamp(updated_at) if updated_at else None
    paper.observed_at = parse_timestamp(observed_at) if observed_at else None
    paper.submitted_by = optional_text(get("submitted_by"), "submitted_by")
    paper.upvotes = optional_int(get("upvotes"), "upvotes") or 0
    paper.comments = optional_int(get("comments"), "comments") or 0
    paper.github_repo = optional_text(get("github_repo"), "github_repo")
    paper.github_stars = optional_int(get("github_stars"), "github_stars")
    paper.project_page = optional_text(get("project_page"), "project_page")
    keywords = get("keywords")
    paper.keywords = text_list(keywords, "keywords") if isinstance(keywords, list) else ()


def read(lines: Iterator[tuple[int, bytes]], source: str) -> Iterator[Paper | Skip]:
    return read_objects(lines, source, to_paper)
