"""Listing text: a saved papers page as text — header lines, then title line / abstract line pairs.

In the seed page the "Subscribe" button's text runs into the first title; the lines before it are
the page header. Without that marker every line is taken as part of a pair.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from paperwire.models import InvalidRecord, Paper, Skip, check_sizes, clean_text, title_id

NAME = "listing"
BUTTON_TEXT = "Subscribe"


def detect(first_record: dict | None) -> bool:
    return first_record is None


def read(lines: Iterator[tuple[int, bytes]], source: str, today: str | None = None) -> Iterator[Paper | Skip]:
    listed_on = today or date.today().isoformat()
    buffered: list[tuple[int, str]] = []
    started = False
    pending: tuple[int, str] | None = None
    for number, raw in lines:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            yield Skip(source, number, f"invalid UTF-8 at byte {error.start}")
            pending = None
            continue
        if not started:
            # Until the button text is found, hold lines: they may be the page header.
            if text.startswith(BUTTON_TEXT) and len(text) > len(BUTTON_TEXT):
                started, buffered = True, []
                text = text[len(BUTTON_TEXT) :]
            else:
                buffered.append((number, text))
                if len(buffered) <= 10:
                    continue
                started = True  # no marker near the top: the file has no header
                for held in buffered[:-1]:
                    pending = yield from _take(held, pending, source, listed_on)
                buffered = []
        pending = yield from _take((number, text), pending, source, listed_on)
    if not started:
        for held in buffered:
            pending = yield from _take(held, pending, source, listed_on)
    if pending is not None:
        yield Skip(source, pending[0], "title without an abstract line at the end of the file")


def _take(line: tuple[int, str], pending: tuple[int, str] | None, source: str, listed_on: str):
    """Pair a title line with the next line; yields a Paper or a Skip; returns the new pending title."""
    number, text = line
    if not text.strip():
        return pending
    if pending is None:
        return line
    title_number, title = pending
    try:
        title = clean_text(title)
        yield check_sizes(Paper(id=title_id(title), title=title, abstract=clean_text(text), listed_on=listed_on))
    except InvalidRecord as error:
        yield Skip(source, title_number, str(error))
    return None
