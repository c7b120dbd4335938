"""Trending: the score as a pure function of signals and time, its reasons, and the incremental stored ranking."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import orjson
import pytest
import sqlalchemy as sa

from paperwire.models import Paper
from paperwire.storage import Store
from paperwire.storage.schema import trending_scores
from paperwire.trending import (
    HALF_LIFE,
    explain_trending,
    rank_key,
    refresh_trending_scores,
    score_from_rank_key,
    score_trending,
)

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=timezone.utc)


def at(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def signal(hours_ago: float, upvotes: int, stars: int | None = None) -> dict:
    return {"observed_at": at(hours_ago), "upvotes": upvotes, "github_stars": stars}


def test_fast_growing_paper_outranks_an_older_paper_with_more_upvotes() -> None:
    older = [signal(24 * 14, 150), signal(24 * 10, 300), signal(24 * 3, 310)]
    rising = [signal(30, 5), signal(2, 45)]
    assert score_trending(rising, NOW) > score_trending(older, NOW)


def test_growth_counts_not_totals() -> None:
    steady = [signal(24 * 20, 500), signal(1, 500)]  # a big total, no growth for twenty days
    small_but_growing = [signal(48, 0), signal(1, 20)]
    assert score_trending(small_but_growing, NOW) > score_trending(steady, NOW)


def test_score_halves_over_the_half_life() -> None:
    signals = [signal(30, 10, 100), signal(5, 42, 180)]
    now_score = score_trending(signals, NOW)
    assert now_score > 0
    assert score_trending(signals, NOW + HALF_LIFE) == pytest.approx(now_score / 2)
    assert score_trending(signals, NOW + 3 * HALF_LIFE) == pytest.approx(now_score / 8)


def test_score_is_pure_and_ignores_signals_from_the_future() -> None:
    signals = [signal(10, 3), signal(-5, 900)]  # the second observation is after `now`
    assert score_trending(signals, NOW) == score_trending(list(signals), NOW)
    assert score_trending(signals, NOW) == pytest.approx(3 * 2 ** (-10 / HALF_LIFE.total_seconds() * 3600))


def test_stars_count_with_their_weight_and_undo_redo_is_not_counted_twice() -> None:
    with_stars = [signal(1, 0, 0), signal(0, 0, 50)]
    assert score_trending(with_stars, NOW) == pytest.approx(10.0)
    flip_flop = [signal(3, 1), signal(2, 0), signal(1, 1)]  # the vote that stands was cast an hour ago
    assert score_trending(flip_flop, NOW) == pytest.approx(score_trending([signal(1, 1)], NOW))


def test_no_signals_or_no_growth_scores_zero() -> None:
    assert score_trending([], NOW) == 0.0
    assert score_trending([signal(5, 0, 0)], NOW) == 0.0
    assert rank_key([], NOW) is None


def test_reasons_name_the_growth_and_the_window() -> None:
    signals = [signal(24 * 6, 10, 100), signal(3, 44, 220)]
    assert explain_trending(signals, NOW) == ["+34 upvotes today", "+120 stars today"]
    signals = [signal(24 * 6, 10, 100), signal(24 * 3, 44, 220)]
    assert explain_trending(signals, NOW) == ["+44 upvotes this week", "+220 stars this week"]
    assert explain_trending([signal(1, 1)], NOW) == ["+1 upvote today"]


def test_rank_key_is_constant_in_time_and_gives_back_the_score() -> None:
    signals = [signal(24 * 400, 3), signal(30, 10, 100), signal(5, 42, 180)]
    key = rank_key(signals, NOW)
    later = NOW + timedelta(days=3)
    assert rank_key(signals, later) == pytest.approx(key)
    assert score_from_rank_key(key, later) == pytest.approx(score_trending(signals, later))
    assert math.isfinite(rank_key([signal(24 * 365 * 4, 10**6)], NOW))


def test_refresh_rescores_only_papers_whose_signals_changed(store) -> None:
    def paper(paper_id: str, upvotes: int, observed: str) -> Paper:
        return Paper(id=paper_id, title=f"Paper {paper_id}", upvotes=upvotes, observed_at=observed,
                     listed_on=observed[:10], listed_from="hf")  # fmt: skip

    store.upsert_papers(
        [paper("2506.00001", 100, "2025-05-27T00:00:00Z"), paper("2506.00002", 5, "2025-06-09T00:00:00Z")]
    )
    assert refresh_trending_scores(store, NOW) == 2
    ranked, total = store.trending_papers(limit=10)
    assert total == 2 and ranked[0][0].id == "2506.00002"  # 5 votes 1.5 days ago beat 100 votes 14.5 days ago
    first = scored_at(store)
    # nothing changed (the same record again): nothing is rescored, the order stays
    store.upsert_papers([paper("2506.00001", 100, "2025-05-27T00:00:00Z")])
    assert refresh_trending_scores(store, NOW) == 0
    assert scored_at(store) == first
    assert [p.id for p, _ in store.trending_papers(limit=10)[0]] == ["2506.00002", "2506.00001"]
    # the older paper suddenly grows: it alone is rescored, and moves up
    store.upsert_papers([paper("2506.00001", 400, "2025-06-10T00:00:00Z")])
    assert refresh_trending_scores(store, NOW) == 1
    second = scored_at(store)
    assert second["2506.00002"] == first["2506.00002"], "an unchanged paper was rescored"
    assert second["2506.00001"] > first["2506.00001"]
    assert [p.id for p, _ in store.trending_papers(limit=10)[0]] == ["2506.00001", "2506.00002"]


def scored_at(store: Store) -> dict[str, str]:
    """When each paper's trending score was last computed."""
    with store.read() as connection:
        return dict(connection.execute(sa.select(trending_scores.c.paper_id, trending_scores.c.computed_at)).all())


def test_refresh_works_through_a_bulk_import_in_bounded_steps(store) -> None:
    batch = [
        Paper(id=f"2506.{n:05d}", title=f"Bulk {n}", upvotes=n, observed_at="2025-06-09T00:00:00Z")
        for n in range(1, 26)
    ]
    batch.append(Paper(id="2506.99999", title="No signals at all"))
    store.upsert_papers(batch)  # one batch: every row has the same changed_at
    steps = [refresh_trending_scores(store, NOW, limit=10) for _ in range(4)]
    assert steps == [10, 10, 5, 0]
    ranked, total = store.trending_papers(limit=3)
    assert total == 25 and [paper.id for paper, _ in ranked] == ["2506.00025", "2506.00024", "2506.00023"]
    # unsettled changes are read again by the next run; settled ones are not
    assert refresh_trending_scores(store, NOW, settled_before="0000") == 0
    store.upsert_papers([Paper(id="2506.00001", title="Bulk 1", upvotes=99, observed_at="2025-06-10T00:00:00Z")])
    unsettled, settled = "0000", "9999-01-01T00:00:00.000000Z"
    assert refresh_trending_scores(store, NOW, settled_before=unsettled) == 1
    assert refresh_trending_scores(store, NOW, settled_before=unsettled) == 1  # read again: not settled yet
    assert refresh_trending_scores(store, NOW, settled_before=settled) == 1
    assert refresh_trending_scores(store, NOW, settled_before=settled) == 0
    assert store.trending_papers(limit=1)[0][0][0].id == "2506.00001"


@pytest.mark.slow  # runs `python -m paperwire`
def test_trending_command_rescores_and_lists(tmp_path) -> None:
    import subprocess
    import sys

    from paperwire.storage import open_store

    home = tmp_path / "home"
    store = open_store(f"sqlite:///{home / 'paperwire.db'}")
    today = datetime.now(timezone.utc).strftime("%Y-%m-%dT00:00:00Z")
    store.upsert_papers(
        [
            Paper(id="2506.00001", title="Slow", upvotes=3, observed_at=today),
            Paper(id="2506.00002", title="Fast", upvotes=30, github_stars=100, observed_at=today),
        ]
    )
    store.close()
    result = subprocess.run(
        [sys.executable, "-m", "paperwire", "--home", str(home), "trending", "--json", "--limit", "5"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = orjson.loads(result.stdout)
    assert [row["id"] for row in rows] == ["2506.00002", "2506.00001"]
    assert rows[0]["reasons"] == ["+30 upvotes today", "+100 stars today"]


# ---- issue 14: trending explains itself; withdrawn votes and backfills are not growth ------------------


def test_a_withdrawn_vote_is_not_growth_and_a_recast_counts_once_when_recast() -> None:
    listed = NOW - timedelta(days=80)
    before = [signal(24 * 40, 10)]  # first seen 40 days ago with 10: dated halfway back to the listing
    undone = [*before, signal(2, 11), signal(1, 10)]
    assert score_trending(undone, NOW, listed) == pytest.approx(score_trending(before, NOW, listed))
    assert explain_trending(undone, NOW, listed) == ["+10 upvotes by Apr 11, 2025"]
    recast = [*undone, signal(0.5, 11)]
    assert explain_trending(recast, NOW, listed) == ["+1 upvote today"]


def test_a_vote_then_its_undo_leaves_nothing_trending(store) -> None:
    from paperwire.trending import list_trending, rescore_papers

    store.upsert_papers([Paper(id="2506.00007", title="From the arXiv feed", listed_on="2025-06-03")])
    reader = store.ensure_user("reader@example.org", "Reader")
    store.set_vote("2506.00007", reader["id"], True)
    now = datetime.now(timezone.utc)
    rescore_papers(store, ["2506.00007"], now)
    voted = list_trending(store, now=now)
    assert [entry.reason for entry in voted.entries] == ["+1 upvote today"]
    store.set_vote("2506.00007", reader["id"], False)
    now = datetime.now(timezone.utc)  # the undo is observed now, after the vote
    rescore_papers(store, ["2506.00007"], now)
    assert list_trending(store, now=now).entries == []


def test_a_backfilled_day_never_looks_like_todays_news(store) -> None:
    from paperwire.trending import list_trending

    eight_months_ago = (NOW - timedelta(days=240)).date().isoformat()
    backfill = Paper(id="2410.00001", title="Popular last autumn", upvotes=250, listed_on=eight_months_ago,
                     listed_from="hf", observed_at=at(1))  # fetched an hour ago, for its day  # fmt: skip
    rising = [Paper(id="2506.00002", title="Rising today", upvotes=10, listed_on="2025-06-09", listed_from="hf",
                    observed_at=at(20)),
              Paper(id="2506.00002", title="Rising today", upvotes=210, listed_on="2025-06-09", listed_from="hf",
                    observed_at=at(1))]  # fmt: skip
    store.upsert_papers([backfill])
    for observation in rising:
        store.upsert_papers([observation])
    refresh_trending_scores(store, NOW, full=True)
    trending = list_trending(store, now=NOW)
    assert [entry.paper.id for entry in trending.entries] == ["2506.00002", "2410.00001"]
    reasons = {entry.paper.id: entry.reason for entry in trending.entries}
    assert reasons["2506.00002"] == "+200 upvotes today"  # its first 10 accrued before it was first seen
    assert reasons["2410.00001"] == "+250 upvotes by Feb 10, 2025"  # halfway between its listing and its fetch


def test_when_nothing_grew_lately_the_page_says_so_and_each_card_says_when(client, store) -> None:
    store.upsert_papers([
        Paper(id="2506.00001", title="Old news", upvotes=40, listed_on="2025-06-09", listed_from="hf",
              observed_at="2025-06-09T12:00:00Z"),
        Paper(id="2506.00002", title="Older news", upvotes=90, listed_on="2025-05-01", listed_from="hf",
              observed_at="2025-05-01T12:00:00Z"),
    ])  # fmt: skip
    refresh_trending_scores(store, datetime.now(timezone.utc), full=True)
    page = client.get("/papers/trending")
    assert "No paper has gained upvotes or GitHub stars in the last 7 days" in page.text
    assert "+40 upvotes by Jun 9, 2025" in page.text and "+90 upvotes by May 1, 2025" in page.text
    api = client.get("/api/trending").json()
    assert (
        api["notice"].startswith("No paper has gained") and api["papers"][0]["reason"] == "+40 upvotes by Jun 9, 2025"
    )
    today = datetime.now(timezone.utc)
    store.upsert_papers([Paper(id="2506.00003", title="Fresh", upvotes=2, listed_on=today.date().isoformat(),
                               listed_from="hf", observed_at=today.strftime("%Y-%m-%dT%H:%M:%SZ"))])  # fmt: skip
    refresh_trending_scores(store, today, full=True)
    fresh = client.get("/api/trending").json()
    assert fresh["notice"] is None
    assert client.get("/papers/trending", params={"page": 9}).text.count("There is no page 9") == 1


def test_the_digest_gives_the_reason_the_site_gives(store) -> None:
    from datetime import date

    from paperwire.mail.compose import load_period, period_for
    from paperwire.trending import list_trending

    store.upsert_papers([Paper(id="2506.00005", title="Day paper", upvotes=3, listed_on="2025-06-10",
                               listed_from="hf", observed_at="2025-06-10T06:00:00Z")])  # fmt: skip
    store.upsert_papers([Paper(id="2506.00005", title="Day paper", upvotes=123, listed_on="2025-06-10",
                               listed_from="hf", observed_at="2025-06-10T20:00:00Z")])  # fmt: skip
    end_of_day = datetime(2025, 6, 11, tzinfo=timezone.utc)
    refresh_trending_scores(store, end_of_day, full=True)
    loaded = load_period(store, period_for("daily", date(2025, 6, 10)))
    site = list_trending(store, now=end_of_day).entries[0].reason
    assert site == "+123 upvotes today"
    assert [candidate.reason for candidate in loaded.trending] == [site]
