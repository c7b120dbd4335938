"""Hugging Face daily papers: `/api/daily_papers` items as a JSON array or JSON lines, bare or wrapped
as the `{"date", "item"}` lines of the shared data."""

from __future__ import annotations

from collections.abc import Iterator

import ijson

from paperwire.models import (
    InvalidRecord,
    Paper,
    Skip,
    check_sizes,
    clean_text,
    parse_arxiv_id,
    parse_day,
    parse_timestamp,
)  # fmt: skip
from paperwire.sources.jsonl import optional_int, optional_text, read_objects

NAME = "hf"


def detect(first_record: dict | None) -> bool:
    if first_record is None:
        return False
    item = first_record.get("item", first_record)
    return isinstance(item, dict) and (isinstance(item.get("paper"), dict) or "summary" in item)


def user_name(value: object) -> str | None:
    if isinstance(value, dict):
        return optional_text(value.get("user") or value.get("fullname"), "submitter")
    return None


def to_paper(record: dict, observed_on: str | None = None) -> Paper:
    """One daily-papers item (or a wrapped line, or a bare paper object) → Paper."""
    if "item" in record and isinstance(record["item"], dict):
        observed_on = parse_day(record["date"]) if record.get("date") else observed_on
        record = record["item"]
    paper: dict = record["paper"] if isinstance(record.get("paper"), dict) else record
    title = paper.get("title") or record.get("title")
    if not isinstance(title, str) or not title.strip():
        raise InvalidRecord("missing title")
    if not paper.get("id"):
        raise InvalidRecord("missing paper id")
    paper_id, version = parse_arxiv_id(str(paper["id"]))
    authors = tuple(
        clean_text(author["name"])
        for author in paper.get("authors") or ()
        if isinstance(author, dict) and author.get("name") and not author.get("hidden")
    )
    submitted_day = paper.get("submittedOnDailyAt")
    listed_on = parse_day(submitted_day) if submitted_day else observed_on
    if listed_on is None and record.get("publishedAt"):
        listed_on = parse_day(record["publishedAt"])
    keywords = paper.get("ai_keywords") or ()
    summary = paper.get("summary") or record.get("summary") or ""
    if not isinstance(summary, str):
        raise InvalidRecord("summary must be a string")
    published_at = paper.get("publishedAt")
    return Paper(
        id=paper_id,
        version=version,
        title=clean_text(title),
        abstract=clean_text(summary),
        authors=authors,
        published_at=parse_timestamp(published_at) if published_at else None,
        listed_on=listed_on,
        listed_from="hf" if listed_on else "import",
        submitted_by=user_name(paper.get("submittedOnDailyBy")) or user_name(record.get("submittedBy")),
        upvotes=optional_int(paper.get("upvotes"), "upvotes") or 0,
        comments=optional_int(record.get("numComments"), "numComments") or 0,
        github_repo=optional_text(paper.get("githubRepo"), "githubRepo"),
        github_stars=optional_int(paper.get("githubStars"), "githubStars"),
        project_page=optional_text(paper.get("projectPage"), "projectPage"),
        keywords=tuple(clean_text(k) for k in keywords if isinstance(k, str) and k.strip()),
        observed_at=f"{observed_on}T00:00:00Z" if observed_on else None,
    )


def read(lines: Iterator[tuple[int, bytes]], source: str) -> Iterator[Paper | Skip]:
    lines = iter(lines)
    for number, line in lines:
        if not line.strip():
            continue
        if line.lstrip().startswith(b"["):
            yield from read_array(number, line, lines, source)
        else:
            yield from read_objects(_chain([(number, line)], lines), source, to_paper)
        return


def _chain(first: list, rest: Iterator) -> Iterator:
    yield from first
    yield from rest


class _LinesAsFile:
    """Feeds numbered lines to ijson as a file, keeping the current line number for reports."""

    def __init__(self, lines: Iterator[tuple[int, bytes]]) -> None:
        self.lines = lines
        self.line = 0

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes the type of the stream with read(0)
            return b""
        for number, line in self.lines:
            self.line = number
            return line + b"\n"
        return b""


def read_array(number: int, first: bytes, lines: Iterator[tuple[int, bytes]], source: str) -> Iterator[Paper | Skip]:
    """A JSON array of items, streamed item by item (an API page saved to a file)."""
    feed = _LinesAsFile(_chain([(number, first)], lines))
    try:
        for index, item in enumerate(ijson.items(feed, "item", use_float=True), 1):
            try:
                if not isinstance(item, dict):
                    raise InvalidRecord(f"item {index} is not an object")
                yield check_sizes(to_paper(item))
            except InvalidRecord as error:
                yield Skip(source, feed.line, f"item {index}: {error}")
            except (TypeError, ValueError, KeyError, AttributeError) as error:
                yield Skip(source, feed.line, f"item {index}: unexpected shape ({error})")
    except ijson.JSONError as error:
        yield Skip(source, feed.line, f"invalid JSON array, the rest of the file is unreadable ({error})")
    except UnicodeDecodeError as error:
        yield Skip(source, feed.line, f"invalid UTF-8 at byte {error.start}, the rest is unreadable")
