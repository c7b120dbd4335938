"""Periods of the feed (day, ISO week, month): parsing, bounds and neighbours. Pure functions."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

WEEK = re.compile(r"^([0-9]{4})-W([0-9]{2})$")
MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")  # ASCII only: date.fromisoformat would take 20250610 too
KINDS = ("day", "week", "month")
# The days the catalogue knows: far enough from date.min / date.max that every period around them, and
# its neighbours, can be computed (9999-12-31 has no next week). arXiv began in 1991.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)


class InvalidPeriod(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Period:
    kind: str  # day | week | month
    first: date
    last: date

    @property
    def label(self) -> str:
        """`2025-06-10`, `2025-W24` or `2025-06`: the form used in URLs."""
        if self.kind == "day":
            return self.first.isoformat()
        if self.kind == "week":
            year, week, _ = self.first.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.first.year}-{self.first.month:02d}"

    @property
    def title(self) -> str:
        if self.kind == "day":
            return self.first.strftime("%A, %B %-d, %Y")
        if self.kind == "week":
            return f"Week {self.label[-2:]}, {self.first.strftime('%b %-d')} – {self.last.strftime('%b %-d, %Y')}"
        return self.first.strftime("%B %Y")

    def previous(self) -> Period:
        return period_containing(self.kind, self.first - timedelta(days=1))

    def next(self) -> Period:
        return period_containing(self.kind, self.last + timedelta(days=1))

    def contains(self, day: date) -> bool:
        return self.first <= day <= self.last


def period_containing(kind: str, day: date) -> Period:
    if kind == "day":
        return Period("day", day, day)
    if kind == "week":
        first = day - timedelta(days=day.weekday())
        return Period("week", first, first + timedelta(days=6))
    if kind == "month":
        last_day = calendar.monthrange(day.year, day.month)[1]
        return Period("month", day.replace(day=1), day.replace(day=last_day))
    raise InvalidPeriod(f"unknown period {kind!r}; use one of {', '.join(KINDS)}")


def check_day(day: date) -> date:
    """`day` when the catalogue can hold it (FIRST_DAY to LAST_DAY); InvalidPeriod otherwise."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidPeriod(f"{day.isoformat()} is out of range ({FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()})")
    return day


def parse_day(text: str) -> date:
    """`YYYY-MM-DD` in ASCII digits, a real calendar day from FIRST_DAY to LAST_DAY → date."""
    if not DAY.match(text):
        raise InvalidPeriod(f"not a date: {text[:40]!r} (expected YYYY-MM-DD)")
    try:
        day = date.fromisoformat(text)
    except ValueError as error:
        raise InvalidPeriod(f"no such day: {text!r} (expected YYYY-MM-DD, a day of the calendar)") from error
    return check_day(day)


def _in_range(period: Period, text: str) -> Period:
    if period.last < FIRST_DAY or period.first > LAST_DAY:
        raise InvalidPeriod(f"{text!r} is out of range ({FIRST_DAY.year} to {LAST_DAY.year})")
    return period


def parse_week(text: str) -> Period:
    """`YYYY-Www` (ISO week) → Period."""
    match = WEEK.match(text)
    if not match:
        raise InvalidPeriod(f"not a week: {text[:40]!r} (expected YYYY-Www, e.g. 2025-W24)")
    year, week = int(match.group(1)), int(match.group(2))
    if not FIRST_DAY.year <= year <= LAST_DAY.year:
        raise InvalidPeriod(f"{text!r} is out of range ({FIRST_DAY.year} to {LAST_DAY.year})")
    try:
        first = date.fromisocalendar(year, week, 1)
    except ValueError as error:
        raise InvalidPeriod(f"no such week: {text!r}") from error
    return _in_range(period_containing("week", first), text)


def parse_month(text: str) -> Period:
    """`YYYY-MM` → Period."""
    match = MONTH.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InvalidPeriod(f"not a month: {text[:40]!r} (expected YYYY-MM)")
    if not FIRST_DAY.year <= int(match.group(1)) <= LAST_DAY.year:
        raise InvalidPeriod(f"{text!r} is out of range ({FIRST_DAY.year} to {LAST_DAY.year})")
    return _in_range(period_containing("month", date(int(match.group(1)), int(match.group(2)), 1)), text)


def last_complete(kind: str, today: date) -> Period:
    """The latest period of `kind` that ended before `today` (what a digest run covers by default)."""
    return period_containing(kind, today).previous()
