"""The Kaggle arXiv snapshot (`arxiv-metadata-oai-snapshot.json`): JSON lines, authors as one string."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import parsedate_to_datetime

from paperwire.models import InvalidRecord, Paper, Skip, clean_text, parse_arxiv_id
from paperwire.sources.jsonl import optional_text, read_objects

NAME = "kaggle"


def detect(first_record: dict | None) -> bool:
    return first_record is not None and ("authors_parsed" in first_record or "versions" in first_record)


def version_time(entry: object) -> str | None:
    if not isinstance(entry, dict) or not entry.get("created"):
        return None
    try:
        moment = parsedate_to_datetime(entry["created"])
    except (TypeError, ValueError) as error:
        raise InvalidRecord(f"impossible date {entry['created']!r}") from error
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def author_names(record: dict) -> tuple[str, ...]:
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for parts in parsed:
            last, first, suffix = (list(parts) + ["", "", ""])[:3]
            names.append(clean_text(" ".join(p for p in (first, last, suffix) if p)))
        return tuple(name for name in names if name)
    authors = record.get("authors") or ""
    return tuple(clean_text(a) for a in authors.replace(" and ", ", ").split(",") if a.strip())


def to_paper(record: dict) -> Paper:
    title = record.get("title")
    if not isinstance(title, str) or not title.strip():
        raise InvalidRecord("missing title")
    if not record.get("id"):
        raise InvalidRecord("missing id")
    paper_id, _ = parse_arxiv_id(str(record["id"]))
    versions = record.get("versions") or []
    first_version = version_time(versions[0]) if versions else None
    return Paper(
        id=paper_id,
        version=len(versions) or None,
        title=clean_text(title),
        abstract=clean_text(record.get("abstract") or ""),
        authors=author_names(record),
        categories=tuple((record.get("categories") or "").split()),
        published_at=first_version,
        updated_at=version_time(versions[-1]) if versions else None,
        listed_on=first_version[:10] if first_version else None,
        listed_from="arxiv" if first_version else "import",
        comment=optional_text(record.get("comments"), "comments"),
    )


def read(lines: Iterator[tuple[int, bytes]], source: str) -> Iterator[Paper | Skip]:
    return read_objects(lines, source, to_paper)
