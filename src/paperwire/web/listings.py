"""The service calls behind both the listing pages and their JSON twins: which period, its papers, its neighbours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from starlette.convertors import Convertor, register_url_convertor

from paperwire.models import InvalidRecord, Paper, parse_arxiv_id
from paperwire.periods import InvalidPeriod, Period, parse_day, parse_month, parse_week, period_containing
from paperwire.storage import Store

DEFAULT_DAY_WINDOW = timedelta(days=14)
DEFAULT_DAY_SHARE = 4  # the home page's day has at least 1/4 of the papers of the window's busiest day


class PaperIdConvertor(Convertor):
    """`{paper_id:paper_id}` in a route: new-style (2501.12948) and old-style (hep-th/9901001) arXiv ids,
    with an optional version, and title ids (t-…). Fixed paths such as /papers/trending or
    /api/papers/search never match it, whatever order the routers are included in."""

    regex = r"(?:[0-9]{4}\.[0-9]{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/[0-9]{7}|t-[0-9a-f]{16})(?:v[0-9]{1,4})?"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("paper_id", PaperIdConvertor())


@dataclass(slots=True)
class PeriodListing:
    """One page of a period's papers, most upvoted first, with the nearest periods that have papers."""

    period: Period
    papers: list[Paper]
    total: int
    limit: int
    offset: int
    previous: Period | None
    next: Period | None


def today_utc() -> date:
    return datetime.now(timezone.utc).date()


def default_day(store: Store, today: date | None = None) -> date:
    """The day the home page opens on: the newest day up to today (else the newest at all) that has at least
    a quarter of the papers of the busiest day in the two weeks before it — so a lone paper listed early
    this morning, or on a Sunday, does not hide yesterday's full list. Today on an empty catalogue."""
    today = today or today_utc()
    latest = store.latest_listed_day(today.isoformat()) or store.latest_listed_day()
    if latest is None:
        return today
    try:
        newest = parse_day(latest)
    except InvalidPeriod:  # a day beyond the calendar's range, stored before imports checked it
        return today
    counts = store.papers_per_listed_day((newest - DEFAULT_DAY_WINDOW).isoformat(), latest)
    busiest = max(counts.values(), default=0)
    meaningful = [day for day, count in counts.items() if count * DEFAULT_DAY_SHARE >= busiest]
    return date.fromisoformat(max(meaningful, default=latest))


def parse_period(kind: str, text: str) -> Period:
    """`day` + YYYY-MM-DD, `week` + YYYY-Www or `month` + YYYY-MM → Period; InvalidPeriod says what is wrong."""
    try:
        if kind == "day":
            return period_containing("day", parse_day(text))
        if kind == "week":
            return parse_week(text)
        if kind == "month":
            return parse_month(text)
    except OverflowError as error:
        raise InvalidPeriod(f"{text!r} is out of range") from error
    raise InvalidPeriod(f"unknown period {kind!r}; use day, week or month")


def period_of_day(kind: str, day: date) -> Period:
    """The period of `kind` that contains `day` (InvalidPeriod at the edges of the calendar)."""
    try:
        return period_containing(kind, day)
    except OverflowError as error:
        raise InvalidPeriod(f"no {kind} contains {day.isoformat()}") from error


def list_period(store: Store, period: Period, *, limit: int, offset: int = 0) -> PeriodListing:
    """The period's papers (most upvoted first) and the nearest periods before and after it that have papers."""
    first, last = period.first.isoformat(), period.last.isoformat()
    page, before, after = store.period_page(first, last, limit=limit, offset=offset)
    previous, following = neighbour(period.kind, before), neighbour(period.kind, after)
    return PeriodListing(period, page.papers, page.total, limit, offset, previous, following)


def neighbour(kind: str, day: str | None) -> Period | None:
    """The period of `kind` around a listed day; None for a day the calendar cannot page to (a paper
    stored as listed on 9999-12-31 by an older version must not break the pages next to it)."""
    if not day:
        return None
    try:
        return period_of_day(kind, parse_day(day))
    except InvalidPeriod:
        return None


def find_paper(store: Store, paper_id: str) -> tuple[Paper | None, str]:
    """The paper named by `paper_id` (versions such as `v2` are ignored) and its canonical id."""
    canonical = paper_id
    if not paper_id.startswith("t-"):
        try:
            canonical, _ = parse_arxiv_id(paper_id)
        except InvalidRecord:
            return None, paper_id
    return store.get_paper(canonical), canonical
