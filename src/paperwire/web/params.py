"""Values from URLs, parsed strictly in one place: whole numbers in ASCII digits within a range, calendar
days the catalogue can hold, and the paging limits every listing shares.

`int("²")`, `int("١٢")` and `int(" 5 ")` all succeed or fail in surprising ways; here a number is
`[0-9]+` (with a leading `-` only where negatives are allowed) and nothing else, so `?limit=²` is a
clear 4xx wherever it is sent, never a 500 or a silently different value.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from paperwire.periods import InvalidPeriod
from paperwire.periods import parse_day as parse_calendar_day

MAX_LIMIT = 200  # papers per page of a JSON listing
MAX_OFFSET = 1_000_000  # papers skipped by a JSON listing
MAX_PAGE = 10_000  # ?page= of an HTML listing
DIGITS = re.compile(r"^-?[0-9]{1,19}$")


class BadParameter(ValueError):
    """A URL value that is not what the route takes; the message names it and says what is expected."""


def parse_int(name: str, text: str | None, default: int, low: int, high: int) -> int:
    """`text` as a whole number from `low` to `high` (`default` when absent); BadParameter otherwise,
    `?limit=` (blank) included: HTML pages that allow a blank pass `text or None`."""
    if text is None:
        return default
    if not DIGITS.match(text) or (text.startswith("-") and low >= 0) or not low <= int(text) <= high:
        raise BadParameter(f"{name} must be a whole number from {low:,} to {high:,} (got {text[:40]!r})")
    return int(text)


def documented_ints(*parameters: tuple[str, int, int, int, str]) -> dict[str, Any]:
    """`openapi_extra` documenting query parameters read with parse_int as the integers they are:
    each (name, low, high, default, description). Declare them `Query(None, include_in_schema=False)`."""
    return {
        "parameters": [
            {"name": name, "in": "query", "required": False, "description": description,
             "schema": {"type": "integer", "minimum": low, "maximum": high, "default": default}}
            for name, low, high, default, description in parameters
        ]
    }  # fmt: skip


def parse_day(name: str, text: str | None) -> date | None:
    """`YYYY-MM-DD` (ASCII digits, a real day the catalogue can hold) → date; None when absent."""
    if text is None or text.strip() == "":
        return None
    try:
        return parse_calendar_day(text.strip())
    except InvalidPeriod as error:
        raise BadParameter(f"{name} must be a day written YYYY-MM-DD ({error})") from error
