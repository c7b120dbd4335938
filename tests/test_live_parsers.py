"""Property tests: every live-source parser, fed arbitrary bytes or mutated recorded pages, either
returns well-formed records or raises the source's own clear error (SourceError), nothing else."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paperwire.models import Paper, Skip, check_sizes, is_arxiv_id
from paperwire.sources.arxiv import Announcement, parse_announcements, parse_api_page
from paperwire.sources.hf_api import parse_daily_papers
from paperwire.sources.http import SourceError
from paperwire.sources.oai import HarvestPage, parse_oai_page

FIXTURES = Path(__file__).parent / "fixtures"


def records_of(result: object) -> list:
    if isinstance(result, Announcement):
        assert all(is_arxiv_id(entry.id) and entry.announce_type for entry in result.entries)
        return list(result.skipped)
    if isinstance(result, HarvestPage):
        assert result.token is None or result.token.strip() == result.token
        return list(result.records)
    assert isinstance(result, list)
    return result


PARSERS: dict[str, tuple[Callable[[bytes], object], list[str]]] = {
    "announcements": (lambda data: parse_announcements(data, "feed"),
                      ["arxiv_feed_2025-06-10.xml", "arxiv_feed_empty.xml"]),
    "api": (lambda data: parse_api_page(data, "api"), ["arxiv_api_entries.xml", "arxiv_api_error.xml"]),
    "oai": (lambda data: parse_oai_page(data, "oai"),
            ["oai_page1.xml", "oai_page2.xml", "oai_no_records.xml", "oai_bad_token.xml"]),
    "hf": (lambda data: parse_daily_papers(data, "hf", "2025-06-10", "2025-06-10T12:00:00Z"),
           ["hf_api_2025-06-10.json"]),
}  # fmt: skip


def check_parser(name: str, data: bytes) -> None:
    parse = PARSERS[name][0]
    try:
        result = parse(data)
    except SourceError as error:
        assert str(error), "the error says what went wrong"
        return
    for record in records_of(result):
        if isinstance(record, Paper):
            check_sizes(record)
            assert is_arxiv_id(record.id), record.id
            assert record.listed_on is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", record.listed_on)
        else:
            assert isinstance(record, Skip) and record.reason


@st.composite
def mutated_page(draw: st.DrawFn, files: list[str]) -> bytes:
    """A recorded page with a few byte-level and text-level mutations."""
    data = bytearray((FIXTURES / draw(st.sampled_from(files))).read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["truncate", "delete", "insert", "flip", "text", "duplicate"]))
        if kind == "truncate":
            del data[at:]
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 400))]
        else:  # replace the text between two tags (or two JSON quotes) by arbitrary text
            text = data.decode("utf-8", "replace")
            spans = [m.span(1) for m in re.finditer(r">([^<>]{1,80})<|\"([^\"]{1,80})\"", text) if m.group(1)]
            if spans:
                start, end = draw(st.sampled_from(spans))
                replacement = draw(st.text(max_size=30)).replace("<", "&lt;").replace("&", "&amp;")
                data = bytearray((text[:start] + replacement + text[end:]).encode())
    return bytes(data)


FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(PARSERS))
@FAST
@given(data=st.binary(max_size=3000))
def test_arbitrary_bytes(name: str, data: bytes) -> None:
    check_parser(name, data)


@pytest.mark.parametrize("name", sorted(PARSERS))
@FAST
@given(st.data())
@pytest.mark.slow  # Hypothesis: many mutated pages
def test_mutated_recorded_pages(name: str, data: st.DataObject) -> None:
    check_parser(name, data.draw(mutated_page(PARSERS[name][1])))


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_truncated_recorded_pages_raise_the_source_error(name: str) -> None:
    for fixture in PARSERS[name][1]:
        data = (FIXTURES / fixture).read_bytes()
        with pytest.raises(SourceError):
            PARSERS[name][0](data[: len(data) * 2 // 3])


def entity_bomb(levels: int, fan_out: int, seed: str = "lol") -> bytes:
    """A well-formed document whose every entity is declared: &e{levels}; expands to seed × fan_out**levels."""
    declarations = f'<!ENTITY e0 "{seed}">' + "".join(
        f'<!ENTITY e{i} "{f"&e{i - 1};" * fan_out}">' for i in range(1, levels + 1)
    )
    return (
        f'<?xml version="1.0"?><!DOCTYPE feed [{declarations}]>'
        f'<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>&e{levels};</id></entry></feed>'
    ).encode()


@pytest.mark.parametrize(
    "bomb",
    [
        entity_bomb(9, 10),  # "billion laughs": 10**9 × "lol"
        entity_bomb(1, 400, "x" * 10_000),  # quadratic blow-up: 4 MB, under expat's own amplification limit
        entity_bomb(9, 10).decode().encode("utf-16"),
    ],
    ids=["billion-laughs", "quadratic", "utf-16"],
)
def test_entity_bombs_are_refused_before_parsing(bomb: bytes) -> None:
    for name in ("api", "oai"):
        with pytest.raises(SourceError, match="declares a DTD"):
            PARSERS[name][0](bomb)
