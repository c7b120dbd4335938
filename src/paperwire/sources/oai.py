"""arXiv harvest over OAI-PMH (`ListRecords`, `metadataPrefix=arXiv`), resumable from the database.

httpx + ElementTree rather than an OAI client library, so every request goes through the polite
client (spacing, retries, Retry-After). After each page, its papers and the checkpoint (the next
resumption token and the newest datestamp seen) are stored in one transaction: a killed harvest
resumes at the page it was fetching, and a finished one reruns from its newest datestamp.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from xml.etree import ElementTree

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
)
from paperwire.settings import Settings
from paperwire.sources.arxiv import parse_xml
from paperwire.sources.http import LiveReport, ParseError, PoliteClient, SourceError

if TYPE_CHECKING:
    from paperwire.storage import Store

NAME = "oai"
OAI = "{http://www.openarchives.org/OAI/2.0/}"
ARXIV = "{http://arxiv.org/OAI/arXiv/}"
METADATA_PREFIX = "arXiv"


class ResumptionTokenExpired(SourceError):
    """The repository no longer knows our resumption token (it expired): the harvest restarts."""


@dataclass(slots=True)
class HarvestPage:
    records: list[Paper | Skip] = field(default_factory=list)
    token: str | None = None  # None on the last page
    newest_datestamp: str | None = None


# ---- the parser (pure) ----------------------------------------------------------------------


def parse_oai_page(content: bytes, source: str) -> HarvestPage:
    """One ListRecords response; `noRecordsMatch` is an empty last page, other OAI errors raise."""
    root = parse_xml(content, source)
    if root.tag != f"{OAI}OAI-PMH":
        raise ParseError(f"{source}: expected an OAI-PMH response, got <{root.tag}>")
    page = HarvestPage()
    for error in root.findall(f"{OAI}error"):
        code = error.get("code", "")
        if code == "noRecordsMatch":
            return page
        if code == "badResumptionToken":
            raise ResumptionTokenExpired(f"{source}: resumption token expired ({clean_text(error.text or '')})")
        raise SourceError(f"{source}: OAI-PMH error {code}: {clean_text(error.text or '')}")
    listing = root.find(f"{OAI}ListRecords")
    if listing is None:
        raise ParseError(f"{source}: OAI-PMH response without ListRecords")
    for index, record in enumerate(listing.findall(f"{OAI}record"), 1):
        header = record.find(f"{OAI}header")
        datestamp = clean_text(header.findtext(f"{OAI}datestamp") or "") if header is not None else ""
        identifier = clean_text(header.findtext(f"{OAI}identifier") or "") if header is not None else ""
        label = identifier or f"record {index}"
        try:
            if datestamp:
                datestamp = parse_day(datestamp)
                page.newest_datestamp = max(page.newest_datestamp or datestamp, datestamp)
            if header is not None and header.get("status") == "deleted":
                raise InvalidRecord("deleted from the repository")
            page.records.append(check_sizes(oai_record_to_paper(record)))
        except InvalidRecord as error:
            page.records.append(Skip(source, index, f"{label}: {error}"))
        except (TypeError, ValueError, AttributeError) as error:
            page.records.append(Skip(source, index, f"{label}: unexpected shape ({error})"))
    token = listing.find(f"{OAI}resumptionToken")
    if token is not None and token.text and token.text.strip():
        page.token = token.text.strip()
    return page


def _text(element: ElementTree.Element, path: str) -> str:
    return clean_text(element.findtext(path) or "")


def author_name(author: ElementTree.Element) -> str:
    parts = (_text(author, f"{ARXIV}forenames"), _text(author, f"{ARXIV}keyname"), _text(author, f"{ARXIV}suffix"))
    return " ".join(part for part in parts if part)


def oai_record_to_paper(record: ElementTree.Element) -> Paper:
    metadata = record.find(f"{OAI}metadata/{ARXIV}arXiv")
    if metadata is None:
        raise InvalidRecord(f"no {METADATA_PREFIX} metadata")
    paper_id, version = parse_arxiv_id(_text(metadata, f"{ARXIV}id"))
    created = _text(metadata, f"{ARXIV}created")
    updated = _text(metadata, f"{ARXIV}updated")
    published_at = parse_timestamp(created) if created else None
    return Paper(
        id=paper_id,
        version=version,
        title=_text(metadata, f"{ARXIV}title"),
        abstract=_text(metadata, f"{ARXIV}abstract"),
        authors=tuple(name for a in metadata.findall(f"{ARXIV}authors/{ARXIV}author") if (name := author_name(a))),
        categories=tuple(dict.fromkeys(_text(metadata, f"{ARXIV}categories").split())),
        published_at=published_at,
        updated_at=parse_timestamp(updated) if updated else published_at,
        listed_on=published_at[:10] if published_at else None,
        listed_from="arxiv" if published_at else "import",
        comment=_text(metadata, f"{ARXIV}comments") or None,
    )


# ---- the resumable harvest ------------------------------------------------------------------


def checkpoint_name(set_spec: str | None) -> str:
    return f"oai:{set_spec or '*'}"


def load_checkpoint(value: str | None) -> dict:
    if not value:
        return {}
    try:
        state = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}
    return state if isinstance(state, dict) else {}


def first_request(set_spec: str | None, start: str | None, until: str | None) -> dict[str, str]:
    params = {"verb": "ListRecords", "metadataPrefix": METADATA_PREFIX}
    if set_spec:
        params["set"] = set_spec
    if start:
        params["from"] = start
    if until:
        params["until"] = until
    return params


def harvest_oai(
    settings: Settings, store: Store, *, set_spec: str | None = None, from_day: str | None = None,
    until: str | None = None, restart: bool = False,
) -> LiveReport:  # fmt: skip
    """`paperwire ingest oai`: harvest `set_spec` from `from_day`, continuing from the checkpoint.

    An interrupted harvest resumes with its stored resumption token; a finished one continues
    from its newest datestamp (or `from_day`, when later). `restart` ignores the checkpoint."""
    from_day = parse_day(from_day) if from_day else None
    until = parse_day(until) if until else None
    name = checkpoint_name(set_spec)
    state = {} if restart else load_checkpoint(store.get_checkpoint(name))
    live = LiveReport(NAME)
    newest = state.get("datestamp")
    if state.get("token"):
        harvest_from = state.get("from")
        params: dict[str, str] = {"verb": "ListRecords", "resumptionToken": state["token"]}
        live.notes.append(f"resumed an interrupted harvest from {harvest_from or 'the start'}")
    else:
        harvest_from = max(filter(None, (from_day, newest)), default=None)
        if newest and from_day and newest > from_day:
            live.notes.append(f"continuing from the checkpoint {newest} (--restart harvests from {from_day})")
        params = first_request(set_spec, harvest_from, until)
    pages = 0
    restarted = False
    with PoliteClient(settings) as client:
        try:
            while True:
                response = client.get(settings.arxiv_oai_url, params=params)
                source = str(response.request.url)
                try:
                    page = parse_oai_page(response.content, source)
                except ResumptionTokenExpired:
                    if restarted or "resumptionToken" not in params:
                        raise
                    restarted = True
                    live.notes.append(f"resumption token expired: harvesting again from {harvest_from}")
                    params = first_request(set_spec, harvest_from, until)
                    continue
                pages += 1
                if page.newest_datestamp:
                    newest = max(newest or page.newest_datestamp, page.newest_datestamp)
                checkpoint = {"from": harvest_from, "token": page.token, "datestamp": newest or harvest_from,
                              "set": set_spec, "until": until}  # fmt: skip
                papers = [record for record in page.records if isinstance(record, Paper)]
                live.report.skipped += [record for record in page.records if isinstance(record, Skip)]
                store.upsert_papers(papers, live.report, checkpoint=(name, orjson.dumps(checkpoint).decode()))
                if not page.token:
                    break
                params = {"verb": "ListRecords", "resumptionToken": page.token}
        finally:
            live.requests = client.requests
    if live.report.seen == 0:
        live.status = "empty"
        live.notes.append(f"nothing new since {harvest_from or 'the start'}")
    live.notes.append(f"{pages} page{'s' if pages != 1 else ''}; checkpoint {newest or harvest_from or '-'}")
    return live
