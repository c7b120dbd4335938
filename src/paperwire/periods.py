"""Periods of the feed (day, ISO week, month): parsing, bounds and neighbours. Pure functions."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
KINDS = ("day", "week", "month")


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


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise InvalidPeriod(f"not a date: {text!r} (expected YYYY-MM-DD)") from error


def parse_week(text: str) -> Period:
    """`YYYY-Www` (ISO week) → Period."""
    match = WEEK.match(text)
    if not match:
        raise InvalidPeriod(f"not a week: {text!r} (expected YYYY-Www, e.g. 2025-W24)")
    try:
        first = date.fromisocalendar(int(match.group(1)), int(match.group(2)), 1)
    except ValueError as error:
        raise InvalidPeriod(f"no such week: {text!r}") from error
    return period_containing("week", first)


def parse_month(text: str) -> Period:
    """`YYYY-MM` → Period."""
    match = MONTH.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InvalidPeriod(f"not a month: {text!r} (expected YYYY-MM)")
    return period_containing("month", date(int(match.group(1)), int(match.group(2)), 1))


def last_complete(kind: str, today: date) -> Period:
    """The latest period of `kind` that ended before `today` (what a digest run covers by default)."""
    return period_containing(kind, today).previous()
