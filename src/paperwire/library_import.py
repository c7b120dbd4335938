"""A reader's library in and out: BibTeX (Zotero, Mendeley, Google Scholar, JabRef), lists of arXiv ids
or URLs and paperwire JSON lines, matched to the catalogue line by line; collections out as BibTeX.

Matching, in order: the arXiv id (eprint / arxivid / an arXiv URL, DOI 10.48550/arXiv.… or a
"arXiv:…" note or journal), then the DOI where the catalogue knows it (arXiv DOIs), then the
normalised title (only when it names exactly one paper). What does not match is kept as a reference
(the live arXiv source fetches those with an arXiv id); what cannot be a paper is reported and skipped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import bibtexparser
import orjson
from bibtexparser.bibdatabase import BibDatabase
from bibtexparser.bparser import BibTexParser
from bibtexparser.bwriter import BibTexWriter
from pylatexenc.latex2text import LatexNodes2Text

from paperwire.models import InvalidRecord, Paper, normalise_title, parse_arxiv_id
from paperwire.storage import Store

MAX_ENTRIES = 20_000
ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(?P<id>.+)$", re.IGNORECASE)
ARXIV_IN_TEXT = re.compile(
    r"arxiv(?:\.org/(?:abs|pdf)/|:\s*|\s+preprint\s+arxiv:\s*|\s+)(?P<id>\d{4}\.\d{4,5}(?:v\d+)?|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7}(?:v\d+)?)",
    re.IGNORECASE,
)
ENTRY_START = re.compile(r"^\s*@(?P<type>\w+)\s*[{(]\s*(?P<key>[^,\s]*)\s*,", re.MULTILINE)
DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.IGNORECASE)


class LibraryFileError(ValueError):
    """The file is not one of the formats we read (the message says which ones)."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One item of an imported file, as read."""

    line: int
    label: str  # what the person will recognise: a citation key, an id, a title
    arxiv_id: str | None = None
    doi: str | None = None
    title: str = ""
    authors: tuple[str, ...] = ()
    year: str | None = None
    problem: str | None = None  # why it cannot be a paper at all


@dataclass(frozen=True, slots=True)
class ReportLine:
    line: int
    label: str
    outcome: str  # matched | kept | skipped
    paper_id: str | None
    detail: str  # how it matched, or why not


@dataclass
class ImportResult:
    source: str
    format: str
    lines: list[ReportLine] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)

    @property
    def summary(self) -> str:
        return (f"{self.source}: {len(self.lines)} entries ({self.format}): {self.count('matched')} matched, "
                f"{self.count('kept')} kept as references (not in the catalogue), {self.count('skipped')} skipped")  # fmt: skip

    def to_json(self) -> dict:
        return {"source": self.source, "format": self.format, "summary": self.summary,
                "lines": [{"line": r.line, "label": r.label, "outcome": r.outcome, "paper_id": r.paper_id,
                           "detail": r.detail} for r in self.lines]}  # fmt: skip


# ---- reading ---------------------------------------------------------------------------------------


def detect_format(text: str) -> str:
    stripped = text.lstrip("\ufeff \t\r\n")
    if ENTRY_START.search(text):
        return "bibtex"
    if stripped.startswith("{"):
        return "jsonl"
    return "ids"


def arxiv_id_of(*values: str | None) -> str | None:
    for value in values:
        if not value:
            continue
        try:
            return parse_arxiv_id(value.strip())[0]
        except InvalidRecord:
            pass
        found = ARXIV_IN_TEXT.search(value)
        if found:
            return parse_arxiv_id(found.group("id"))[0]
    return None


def plain(value: str) -> str:
    """BibTeX field text without braces and LaTeX accents (`{\\"u}` → ü)."""
    if "\\" in value or "{" in value:
        try:
            value = LatexNodes2Text().latex_to_text(value)
        except Exception:  # a malformed field is read as written
            value = value.replace("{", "").replace("}", "")
    return " ".join(value.split())


def split_authors(value: str) -> tuple[str, ...]:
    names = []
    for part in re.split(r"\s+and\s+", value):
        name = plain(part)
        if "," in name:  # "Vaswani, Ashish" → "Ashish Vaswani"
            last, _, first = name.partition(",")
            name = f"{first.strip()} {last.strip()}".strip()
        if name and name.lower() != "others":
            names.append(name)
    return tuple(names)


def read_bibtex(text: str) -> list[Entry]:
    lines_of = {match.group("key"): text.count("\n", 0, match.start()) + 1 for match in ENTRY_START.finditer(text)}
    parser = BibTexParser(common_strings=True, ignore_nonstandard_types=False, interpolate_strings=True)
    parser.homogenise_fields = False
    try:
        database = bibtexparser.loads(text, parser=parser)
    except Exception as error:  # the parser's own errors vary by input
        raise LibraryFileError(f"this BibTeX file could not be read: {error}") from error
    entries = []
    for raw in database.entries:
        fields = {name.lower(): value for name, value in raw.items()}
        key = fields.get("id", "")
        doi = DOI_PREFIX.sub("", fields.get("doi", "").strip()) or None
        arxiv_doi = ARXIV_DOI.match(doi or "")
        arxiv_id = arxiv_id_of(
            fields.get("eprint") if fields.get("archiveprefix", "arxiv").lower() == "arxiv" else None,
            fields.get("arxivid"), arxiv_doi.group("id") if arxiv_doi else None, fields.get("url"),
            fields.get("journal"), fields.get("note"), fields.get("number"), fields.get("howpublished"),
        )  # fmt: skip
        title = plain(fields.get("title", ""))
        problem = None if (title or arxiv_id or doi) else "no title, arXiv id or DOI"
        entries.append(
            Entry(line=lines_of.get(key, 0), label=key or title[:80], arxiv_id=arxiv_id, doi=doi, title=title,
                  authors=split_authors(fields.get("author", "")), year=fields.get("year") or None, problem=problem)
        )  # fmt: skip
    return sorted(entries, key=lambda entry: entry.line)


def read_ids(text: str) -> list[Entry]:
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        value = raw.split("#", 1)[0].strip()
        if not value:
            continue
        arxiv_id = arxiv_id_of(value)
        problem = None if arxiv_id else "not an arXiv id or arxiv.org link"
        entries.append(Entry(line=number, label=value[:120], arxiv_id=arxiv_id, problem=problem))
    return entries


def read_jsonl(text: str) -> list[Entry]:
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            entries.append(Entry(line=number, label=raw[:80], problem="not a JSON object"))
            continue
        if not isinstance(record, dict):
            entries.append(Entry(line=number, label=raw[:80], problem="not a JSON object"))
            continue
        title = str(record.get("title") or "").strip()
        arxiv_id = arxiv_id_of(str(record["id"])) if record.get("id") else None
        listed = record.get("authors")
        authors: list = listed if isinstance(listed, list) else []
        problem = None if (title or arxiv_id) else "needs a title or an arXiv id"
        entries.append(
            Entry(line=number, label=str(record.get("id") or title)[:120], arxiv_id=arxiv_id, title=" ".join(title.split()),
                  authors=tuple(str(name) for name in authors), problem=problem)
        )  # fmt: skip
    return entries


def read_library_file(data: bytes) -> tuple[str, list[Entry]]:
    """(format, entries) of an uploaded file; LibraryFileError when it is none of ours."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    kind = detect_format(text)
    entries = {"bibtex": read_bibtex, "jsonl": read_jsonl, "ids": read_ids}[kind](text)
    if not entries:
        raise LibraryFileError("no entries found: expected BibTeX, arXiv ids or links one per line, or JSON lines")
    if len(entries) > MAX_ENTRIES:
        raise LibraryFileError(f"{len(entries):,} entries: at most {MAX_ENTRIES:,} per file")
    if kind == "ids" and all(entry.problem for entry in entries):
        raise LibraryFileError("no entries found: expected BibTeX, arXiv ids or links one per line, or JSON lines")
    return kind, entries


# ---- matching and storing ----------------------------------------------------------------------------


def import_library(
    store: Store, user_id: int, source: str, data: bytes, *, collection: str | None = None
) -> ImportResult:
    """Read a file, match each entry, save the matches (into `collection` when named), keep the rest."""
    kind, entries = read_library_file(data)
    result = ImportResult(source, kind)
    known_ids = store.existing_paper_ids(entry.arxiv_id for entry in entries if entry.arxiv_id)
    by_title = store.paper_ids_by_title_keys([normalise_title(entry.title) for entry in entries if entry.title])
    target = store.create_collection(user_id, collection) if collection else None
    references = []
    for entry in entries:
        if entry.problem:
            result.lines.append(ReportLine(entry.line, entry.label, "skipped", None, entry.problem))
            continue
        paper_id, how = None, ""
        if entry.arxiv_id and entry.arxiv_id in known_ids:
            paper_id, how = entry.arxiv_id, f"arXiv id {entry.arxiv_id}"
        elif entry.title and normalise_title(entry.title) in by_title:
            paper_id, how = by_title[normalise_title(entry.title)], "title"
        if paper_id is not None:
            store.set_saved(user_id, paper_id, True)
            if target is not None:
                store.set_in_collection(target["id"], paper_id, True)
            result.lines.append(ReportLine(entry.line, entry.label, "matched", paper_id, f"matched by {how}"))
            continue
        why = (f"arXiv {entry.arxiv_id} is not in the catalogue yet: kept, fetched from arXiv by the live source"
               if entry.arxiv_id else
               (f"DOI {entry.doi} is not in the catalogue" if entry.doi else "no paper with this title")
               + ": kept as a reference")  # fmt: skip
        result.lines.append(ReportLine(entry.line, entry.label, "kept", None, why))
        references.append({"arxiv_id": entry.arxiv_id, "doi": entry.doi, "title": entry.title, "authors": entry.authors,
                           "year": entry.year, "citation_key": entry.label if kind == "bibtex" else None,
                           "collection_id": target["id"] if target else None})  # fmt: skip
    store.add_references(user_id, references)
    return result


# ---- BibTeX out -----------------------------------------------------------------------------------------


def citation_key(paper: Paper, taken: set[str]) -> str:
    surname = re.sub(r"[^A-Za-z]", "", (paper.authors[0].split()[-1] if paper.authors else "anon")) or "anon"
    year = (paper.published_at or paper.listed_on or "")[:4]
    word = next((w for w in re.findall(r"[A-Za-z]+", paper.title) if len(w) > 3), "paper")
    key = base = f"{surname.lower()}{year}{word.lower()}"
    suffix = ord("a")
    while key in taken:
        key, suffix = f"{base}{chr(suffix)}", suffix + 1
    taken.add(key)
    return key


def escape_bibtex(value: str) -> str:
    """Text as a BibTeX field value: unbalanced braces and LaTeX's special characters escaped."""
    if value.count("{") != value.count("}"):
        value = value.replace("{", "\\{").replace("}", "\\}")
    return re.sub(r"(?<!\\)([&%#])", r"\\\1", value)


def papers_to_bibtex(papers: Sequence[Paper], references: Sequence[dict] = ()) -> str:
    """BibTeX that Zotero, JabRef and friends read back (arXiv papers as @misc with eprint fields)."""
    database, taken = BibDatabase(), set[str]()
    for paper in papers:
        entry = {"ENTRYTYPE": "misc", "ID": citation_key(paper, taken), "title": "{" + escape_bibtex(paper.title) + "}"}
        if paper.authors:
            entry["author"] = " and ".join(escape_bibtex(name) for name in paper.authors)
        year = (paper.published_at or paper.listed_on or "")[:4]
        if year:
            entry["year"] = year
        if paper.abs_url:
            entry.update(eprint=paper.id, archiveprefix="arXiv", url=paper.abs_url, doi=f"10.48550/arXiv.{paper.id}")
            if paper.primary_category:
                entry["primaryclass"] = paper.primary_category
        database.entries.append(entry)
    for reference in references:
        stand_in = Paper(
            id="ref", title=reference.get("title") or "untitled", authors=tuple(reference.get("authors", ()))
        )
        entry = {"ENTRYTYPE": "misc", "ID": reference.get("citation_key") or citation_key(stand_in, taken),
                 "title": "{" + escape_bibtex(stand_in.title) + "}"}  # fmt: skip
        if stand_in.authors:
            entry["author"] = " and ".join(stand_in.authors)
        for name in ("year", "doi"):
            if reference.get(name):
                entry[name] = reference[name]
        if reference.get("arxiv_id"):
            entry.update(eprint=reference["arxiv_id"], archiveprefix="arXiv")
        database.entries.append(entry)
    writer = BibTexWriter()
    writer.order_entries_by = None
    writer.indent = "  "
    return writer.write(database)
