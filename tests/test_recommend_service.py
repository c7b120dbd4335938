"""The "For you" service: rankings learned from the library, stored per reader and period and remade
only after feedback, incremental refits, the API, the private feed, cold start, and the digest section —
on SQLite and PostgreSQL (the digest through a real SMTP server)."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

from library_support import library_catalogue, library_settings  # noqa: F401 - fixtures `catalogue`, `settings`
from mail_support import SmtpSink
from paperwire.library_import import import_library
from paperwire.mail.compose import run_digest
from paperwire.mail.subscribers import import_subscribers, subscriber_of_address
from paperwire.periods import period_containing
from paperwire.recommend.service import recommendations, refit_changed
from test_social import sign_in

FIXTURES = Path(__file__).parent / "fixtures"
DAY = date(2025, 12, 10)
# The day's papers about 3D reconstruction / Gaussian splatting (the fixture library's subject).
SPLATTING = {"2512.08478", "2512.08930", "2512.08215", "2512.08334"}
# The day's papers about language models: far from a 3D-reconstruction library.
LANGUAGE = {"2512.08082", "2512.08088", "2512.08026", "2512.08057", "2512.08193", "2512.08440", "2512.08261",
            "2512.08480"}  # fmt: skip


def reader_with_library(store, email: str = "reader@example.org") -> dict:
    user = store.ensure_user(email)
    import_library(store, user["id"], "zotero.bib", (FIXTURES / "zotero_library.bib").read_bytes())
    return user


def day_ids(store) -> set[str]:
    return {p.id for p in store.papers_listed_between("2025-12-10", "2025-12-10", limit=100).papers}


def test_the_library_subject_comes_first_with_reasons(store, catalogue) -> None:
    user = reader_with_library(store)
    ranked, total = recommendations(store, user, period_containing("day", DAY), limit=10)
    assert total == len(day_ids(store))  # every paper of the day, ranked; nothing from other days
    assert {item.paper.id for item in ranked} <= day_ids(store)
    assert ranked[0].paper.id in SPLATTING and not {item.paper.id for item in ranked[:5]} & LANGUAGE
    assert all(item.reason for item in ranked)
    assert re.fullmatch(r"close to \*.+\* in your library", ranked[0].reason)


def test_the_ranking_is_stored_and_remade_only_after_feedback(store, catalogue) -> None:
    user = reader_with_library(store)
    period = period_containing("day", DAY)
    first, _ = recommendations(store, user, period, limit=5)
    row = store.get_ranking(user["id"], period.label)
    again, _ = recommendations(store, user, period, limit=5)
    assert [i.paper.id for i in again] == [i.paper.id for i in first]
    assert store.get_ranking(user["id"], period.label)["computed_at"] == row["computed_at"]  # a read, not a refit
    top = first[0].paper.id
    store.set_not_interested(user["id"], top, True)
    after, total = recommendations(store, user, period, limit=5)
    assert top not in {item.paper.id for item in after}
    assert len(after) == 5 and total == len(day_ids(store)) - 1  # the next paper moves up
    assert store.get_ranking(user["id"], period.label)["computed_at"] != row["computed_at"]


def test_only_readers_whose_feedback_changed_are_refitted(store, catalogue) -> None:
    first = reader_with_library(store, "first@example.org")
    reader_with_library(store, "second@example.org")
    assert refit_changed(store) == 2
    assert refit_changed(store) == 0
    store.set_saved(first["id"], "2512.08500", True)
    assert store.readers_to_refit() == [first["id"]]
    assert refit_changed(store) == 1


def test_cold_start_follows_digest_topics_then_trending(store, catalogue) -> None:
    topical = store.ensure_user("robots@example.org")
    import_subscribers(store, io.StringIO("email,cadence,topics\nrobots@example.org,daily,robotic\n"), confirmed=True)
    ranked, _ = recommendations(store, topical, period_containing("day", DAY), limit=3)
    assert ranked[0].reason == "matches your topic *robotic*"
    assert "robot" in (ranked[0].paper.title + ranked[0].paper.abstract).lower()
    blank = store.ensure_user("blank@example.org")
    ranked, _ = recommendations(store, blank, period_containing("day", DAY), limit=5)
    trending = store.papers_listed_between_by_trending("2025-12-10", "2025-12-10", limit=5, offset=0).papers
    assert [item.paper.id for item in ranked] == [paper.id for paper in trending]


def test_a_followed_author_is_the_reason(store, catalogue) -> None:
    user = reader_with_library(store)
    author = store.get_paper("2512.07838").authors[0]  # a paper far from the library's subject
    store.set_following(user["id"], author, True)
    ranked, _ = recommendations(store, user, period_containing("day", DAY), limit=10)
    reasons = {item.paper.id: item.reason for item in ranked}
    assert reasons["2512.07838"] == f"by an author you follow: {author}"
    # The same person whatever the case and accents of the name as it was typed or listed.
    other = reader_with_library(store, "other@example.org")
    store.set_following(other["id"], author.upper(), True)
    ranked, _ = recommendations(store, other, period_containing("day", DAY), limit=10)
    assert {item.paper.id: item.reason for item in ranked}["2512.07838"] == f"by an author you follow: {author}"
    # A name typed without its accent (nobody followed the listed spelling before) is the same author.
    third = reader_with_library(store, "third@example.org")
    store.set_following(third["id"], "janica hackenbuchner", True)
    ranked, _ = recommendations(store, third, period_containing("day", DAY), limit=10)
    reasons = {item.paper.id: item.reason for item in ranked}
    assert reasons["2512.08440"] == "by an author you follow: janica hackenbuchner"


# ---- the API and the private feed ----------------------------------------------------------------------


def test_api_recommendations_are_for_the_signed_in_reader_only(client, settings, store, catalogue) -> None:
    assert client.get("/api/recommendations").status_code == 401
    sign_in(client, settings, "reader@example.org")
    user = store.get_user_by_email("reader@example.org")
    import_library(store, user["id"], "zotero.bib", (FIXTURES / "zotero_library.bib").read_bytes())
    body = client.get("/api/recommendations", params={"period": "day", "date": "2025-12-10", "limit": 4}).json()
    assert body["period"]["label"] == "2025-12-10" and body["total"] == len(day_ids(store))
    assert body["papers"][0]["id"] in SPLATTING and not {paper["id"] for paper in body["papers"]} & LANGUAGE
    assert all(paper["reason"] for paper in body["papers"])
    second = client.get("/api/recommendations", params={"date": "2025-12-10", "limit": 2, "offset": 2}).json()
    assert [p["id"] for p in second["papers"]] == [p["id"] for p in body["papers"][2:4]]
    for bad in ({"period": "year"}, {"date": "2025-13-01"}, {"limit": 0}, {"offset": -1}):
        response = client.get("/api/recommendations", params=bad)
        assert response.status_code == 422, bad
        assert response.json()["detail"]
    # Another reader gets their own list (cold start), not this one.
    client.cookies.clear()
    sign_in(client, settings, "other@example.org")
    other = client.get("/api/recommendations", params={"date": "2025-12-10", "limit": 4}).json()
    assert not any("your library" in paper["reason"] for paper in other["papers"])


def test_the_private_feed_token_is_secret_and_revocable(client, settings, store, catalogue) -> None:
    token = sign_in(client, settings, "feed@example.org")
    user = store.get_user_by_email("feed@example.org")
    import_library(store, user["id"], "zotero.bib", (FIXTURES / "zotero_library.bib").read_bytes())
    page = client.post("/library/feed", data={"csrf_token": token, "action": "new"}).text
    url = re.search(r'<code id="private-feed-url">http://testserver([^<]+)</code>', page).group(1)
    client.cookies.clear()  # a feed reader has no session: the token alone opens it
    feed = client.get(url)
    assert feed.status_code == 200 and "private" in feed.headers["cache-control"]
    assert "in your library" in feed.text and "HybridSplat" in feed.text
    assert client.get(url.replace(".atom", ".json")).json()["items"]
    assert client.get(url[:-10] + "x" * 5 + url[-5:]).status_code == 404  # a guessed token
    token = sign_in(client, settings, "feed@example.org")
    client.post("/library/feed", data={"csrf_token": token, "action": "revoke"})
    assert client.get(url).status_code == 404


# ---- the digest ---------------------------------------------------------------------------------------


def test_digest_has_a_for_you_section_only_for_readers_with_an_account(store, settings, catalogue) -> None:
    sink = SmtpSink().start()
    try:
        mail_settings = settings.model_copy(update={"smtp_url": sink.url})
        reader_with_library(store, "member@example.org")
        csv = "email,cadence,topics\nmember@example.org,daily,\nstranger@example.org,daily,\n"
        import_subscribers(store, io.StringIO(csv), confirmed=True)
        report = run_digest(store, mail_settings, "daily", DAY)
        assert report.compose.composed == 2
        member_mail = sink.wait_for("member@example.org")[0]
        stranger_mail = sink.wait_for("stranger@example.org")[0]
    finally:
        sink.stop()
    member = member_mail.get_body(("plain",)).get_content()
    stranger = stranger_mail.get_body(("plain",)).get_content()
    assert "== For you ==" in member and "in your library" in member
    section = member.split("== For you ==", 1)[1].split("==", 1)[0]
    assert any(title in section for title in ("HybridSplat", "Visionary", "Selfi", "Blur2Sharp"))
    assert "For you" not in stranger and "your library" not in stranger
    html = member_mail.get_body(("html",)).get_content()
    assert "For you" in html and "in your library" in html


def test_the_for_you_page_shows_reasons_and_takes_feedback_without_javascript(
    client, settings, store, catalogue
) -> None:
    assert client.get("/for-you", follow_redirects=False).status_code == 303  # signed out: sign in first
    token = sign_in(client, settings, "page@example.org")
    user = store.get_user_by_email("page@example.org")
    import_library(store, user["id"], "zotero.bib", (FIXTURES / "zotero_library.bib").read_bytes())
    page = client.get("/for-you", params={"period": "day", "date": "2025-12-10"})
    assert page.status_code == 200 and "no-store" in page.headers["cache-control"]
    shown = re.findall(r'<article class="card" data-paper-id="([^"]+)"', page.text)
    assert len(shown) == 20 and shown[0] in SPLATTING
    assert page.text.count('<p class="reason">close to <em>') >= 3
    response = client.post(f"/papers/{shown[0]}/not-interested",
                           data={"csrf_token": token, "next": "/for-you?period=day&date=2025-12-10"},
                           follow_redirects=False)  # fmt: skip
    assert response.status_code == 303 and response.headers["location"] == "/for-you?period=day&date=2025-12-10"
    again = re.findall(r'<article class="card" data-paper-id="([^"]+)"', client.get(response.headers["location"]).text)
    assert shown[0] not in again and len(again) == 20
    client.post(f"/papers/{again[1]}/upvote", data={"csrf_token": token, "action": "up"})
    voted = client.get(response.headers["location"]).text  # an upvote is a kept paper: not suggested back
    assert f'data-paper-id="{again[1]}"' not in voted and 'class="upvote voted"' not in voted
    week = client.get("/for-you", params={"period": "week", "date": "2025-12-10"})
    assert "Week" in week.text and week.status_code == 200
    assert client.get("/for-you", params={"period": "year"}).status_code == 400
    assert client.get("/for-you", params={"date": "2025-02-30"}).status_code == 400


def test_a_signed_in_reader_subscribes_without_retyping_the_address(client, settings, store) -> None:
    assert 'value=""' in client.get("/subscribe").text.split('name="email"', 1)[1][:80]
    sign_in(client, settings, "linked@example.org")
    form = client.get("/subscribe").text
    assert 'name="email"' not in form and "<strong>linked@example.org</strong>" in form  # nothing to retype
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    answer = client.post("/subscribe", data={"cadence": "weekly", "csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    subscriber = subscriber_of_address(store, "linked@example.org")
    assert subscriber is not None and subscriber.status == "confirmed"  # the sign-in proved the address


def test_the_job_ranks_every_reader_for_the_day_week_and_month(store, catalogue) -> None:
    from paperwire.recommend.service import refresh_recommendations

    first = reader_with_library(store, "job1@example.org")
    second = reader_with_library(store, "job2@example.org")
    store.set_not_interested(second["id"], "2512.08334", True)
    summary = refresh_recommendations(store, DAY)
    assert summary == "refitted 2 readers; stored 6 rankings for 2025-12-10"
    for user in (first, second):
        for label in ("2025-12-10", "2025-W50", "2025-12"):
            row = store.get_ranking(user["id"], label)
            assert row["feedback_version"] == store.feedback_version(user["id"]), (user["email"], label)
    ids = [item[0] for item in store.get_ranking(second["id"], "2025-12-10")["items"]]
    assert "2512.08334" not in ids and "2512.08334" in [
        i[0] for i in store.get_ranking(first["id"], "2025-12-10")["items"]
    ]
    assert refresh_recommendations(store, DAY).startswith("refitted 0 readers")  # nothing changed: no refit


def test_a_reason_naming_a_hostile_title_is_escaped(client, settings, store, catalogue) -> None:
    from paperwire.models import Paper

    hostile = "<script>window.x=1</script> Gaussian *Splatting* & reflections"
    store.upsert_papers([Paper(id="2511.09999", title=hostile, abstract=store.get_paper("2512.08334").abstract,
                               listed_on="2025-11-10")])  # fmt: skip
    sign_in(client, settings, "hostile@example.org")
    user = store.get_user_by_email("hostile@example.org")
    store.set_saved(user["id"], "2511.09999", True)
    page = client.get("/for-you", params={"date": "2025-12-10"}).text
    assert "<script>window.x=1</script>" not in page
    assert "&lt;script&gt;window.x=1&lt;/script&gt; Gaussian" in page


def test_two_nodes_serve_the_same_list_and_see_each_others_feedback(store, settings, catalogue) -> None:
    from paperwire.storage import open_store

    other_node = open_store(settings.effective_database_url, upgrade=False)
    try:
        user = reader_with_library(store)
        period = period_containing("day", DAY)
        here, _ = recommendations(store, user, period, limit=10)
        there, _ = recommendations(other_node, user, period, limit=10)
        assert [i.paper.id for i in there] == [i.paper.id for i in here]
        other_node.set_not_interested(user["id"], here[0].paper.id, True)  # feedback given on the other node
        after, _ = recommendations(store, user, period, limit=10)
        assert here[0].paper.id not in [i.paper.id for i in after]
        assert store.get_ranking(user["id"], period.label)["feedback_version"] == other_node.feedback_version(
            user["id"]
        )
    finally:
        other_node.close()


def test_the_model_sees_the_stored_minilm_and_bulk_vectors(store, catalogue) -> None:
    import numpy as np

    from paperwire.recommend.service import features_of

    def row(paper_id: str, vector: list[float]) -> dict:
        blob = np.asarray(vector, dtype="<f2").tobytes()
        return {"paper_id": paper_id, "text_hash": "x", "dimensions": len(vector), "vector": blob,
                "paper_changed_at": "2025-12-10T00:00:00Z"}  # fmt: skip

    store.save_embeddings("all-MiniLM-L6-v2", [row("2512.08334", [3.0, 4.0])])
    store.save_embeddings("static-minilm-v3", [row("2512.08334", [0.0, 2.0]), row("2512.08478", [1.0, 0.0])])
    both, bulk_only, none = features_of(store, store.get_papers(["2512.08334", "2512.08478", "2512.07838"]))
    assert np.allclose(both.vector, [0.6, 0.8]) and np.allclose(both.bulk_vector, [0.0, 1.0])  # unit length
    assert np.allclose(bulk_only.vector, [1.0, 0.0]) and np.allclose(bulk_only.bulk_vector, [1.0, 0.0])
    assert none.vector is None and none.bulk_vector is None


def authored_papers() -> list:
    """Twelve papers by four authors, each writing on their own subject (what the term embedding learns)."""
    from paperwire.models import Paper

    subjects = ["gaussian splatting radiance", "speech recognition audio", "protein folding", "robot grasping"]
    return [
        Paper(id=f"2511.{a}{n:04d}", title=f"{subjects[a]} study {n}", abstract=f"We study {subjects[a]} again.",
              authors=(f"Author {a}",), categories=("cs.LG",), published_at="2025-11-03T00:00:00Z",
              updated_at="2025-11-03T00:00:00Z", listed_on="2025-11-03")
        for a in range(4) for n in range(3)
    ]  # fmt: skip


def test_the_term_embedding_is_trained_stored_and_ranks_on_every_node(store, settings, catalogue, monkeypatch) -> None:
    import pytest

    pytest.importorskip("torch")
    from paperwire.jobs import JOBS
    from paperwire.recommend import service
    from paperwire.recommend.learned import TermEmbedding
    from paperwire.storage import open_store

    assert "train-recommender" in JOBS
    assert service.current_embedding(store) is None
    assert "not trained" in service.train_catalogue_embedding(store, epochs=1)  # too few shared authors
    store.upsert_papers(authored_papers())
    message = service.train_catalogue_embedding(store, epochs=1, min_papers=2)
    assert message.startswith("trained the term embedding on 44 papers (12 sharing an author)")
    stored = service.current_embedding(store)
    assert isinstance(stored, TermEmbedding) and stored.papers == 44
    seen = []
    real = service.prepare_period
    monkeypatch.setattr(service, "prepare_period", lambda *a, **k: seen.append(k["embedding"]) or real(*a, **k))
    other_node = open_store(settings.effective_database_url, upgrade=False)
    try:
        user = reader_with_library(store)
        ranked, _ = recommendations(other_node, user, period_containing("day", DAY), limit=5)
        assert ranked and ranked[0].paper.id in SPLATTING
        assert isinstance(seen[-1], TermEmbedding) and len(seen[-1].vocabulary) == len(stored.vocabulary)
        store.save_catalogue_model(service.TERM_EMBEDDING, b"damaged", 1)  # replaced on one node: all see it
        assert service.current_embedding(other_node) is None
        store.set_saved(user["id"], "2512.08500", True)
        assert recommendations(other_node, user, period_containing("day", DAY), limit=5)[0]
        assert seen[-1] is None  # an unreadable embedding: ranking goes on without it
    finally:
        other_node.close()
