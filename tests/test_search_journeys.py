"""Search journeys as a reader makes them, through the API and the page: no match (with help), an
unknown and a known arXiv id, a pasted abstract, paging to the end with one count, category filters,
author pages. Storage-backed tests run on SQLite and PostgreSQL; the meaning tests load MiniLM once."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from paperwire.app import create_app
from paperwire.ingest import ingest_files
from paperwire.models import Paper
from paperwire.search.embedding import embed_missing
from paperwire.search.hybrid import CANDIDATES, SearchService
from paperwire.settings import Settings

FIXTURE = Path(__file__).parent / "fixtures" / "search_papers.jsonl"
FIXTURE_PAPERS = [orjson.loads(line) for line in FIXTURE.read_bytes().splitlines()]
TOM_ID = "2511.22275"
TOPIC = "quasicrystal"  # a word only the paging papers below hold
PAGING = 230  # more than the 200 keyword candidates a search ranks, and than many pages of 20


def paging_papers(count: int = PAGING) -> list[Paper]:
    """`count` short papers on one topic, one a day, three of them by Zoë Quasi (and one by a namesake)."""
    papers = []
    for n in range(count):
        authors = ["Zoë Quasi", "Ben Other"] if n in (3, 20, 40) else ["Ben Other"]
        if n == 41:
            authors = ["Zoe Quasimodo"]
        papers.append(
            Paper(
                id=f"2401.{n + 1:05d}",
                title=f"Growing {TOPIC} grains, study {n + 1}",
                abstract=f"We grow {TOPIC} grains of size {n + 1} and measure their order.",
                authors=tuple(authors),
                categories=("cond-mat.mtrl-sci",),
                listed_on=f"2024-{1 + n // 28:02d}-{1 + n % 28:02d}",
            )  # fmt: skip
        )
    return papers


@pytest.fixture
def client(settings: Settings, store):  # keywords only, on each backend
    ingest_files(store, [FIXTURE], "jsonl")
    store.upsert_papers(paging_papers())
    with TestClient(create_app(settings.model_copy(update={"embedder": "none"}), store=store)) as test_client:
        yield test_client


@pytest.fixture
def meaning_client(tmp_path: Path, minilm):  # MiniLM, SQLite (the model is under test)
    from paperwire.storage import open_store

    settings = Settings(
        home=tmp_path / "home", base_url="http://testserver", secret_key="test-secret-key-long-enough-for-paperwire"
    )
    store = open_store(settings.effective_database_url)
    ingest_files(store, [FIXTURE], "jsonl")
    assert embed_missing(store, minilm).embedded == len(FIXTURE_PAPERS)
    application = create_app(settings, store=store)
    application.state.search = SearchService(store, settings, embedder=minilm)
    with TestClient(application) as test_client:
        yield test_client
    store.close()


def search(client: TestClient, **params: object) -> dict:
    response = client.get("/api/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()


# ---- no match, with help ---------------------------------------------------------------------------


def test_nonsense_answers_zero_results_with_nearby_topics_and_real_questions_still_match(meaning_client) -> None:
    body = search(meaning_client, q="xyzzyqwertyplugh")
    assert body["keywords_only"] is False  # the meaning half ran, and found nothing close
    assert body["total"] == 0 and body["hits"] == []
    assert body["help"]["nearby_categories"]  # the categories of the nearest papers, even if not close
    page = meaning_client.get("/search", params={"q": "xyzzyqwertyplugh"})
    assert page.status_code == 200
    assert "No results for “xyzzyqwertyplugh”" in page.text and "Nearby topics" in page.text
    assert 'class="search-results"' not in page.text
    # the floor keeps what is close in meaning
    asked = search(meaning_client, q="can chatbots infer what people believe?")
    assert asked["hits"][0]["id"] == TOM_ID and asked["total"] < len(FIXTURE_PAPERS)
    assert search(meaning_client, q="theroy of mnid")["did_you_mean"] == "theory of mind"  # found or not


def test_a_typo_gets_a_spelling_from_the_catalogue(client: TestClient) -> None:
    body = search(client, q="theroy of mnid")
    assert body["total"] == 0 and body["help"]["did_you_mean"] == "theory of mind"
    page = client.get("/search", params={"q": "theroy of mnid"})
    link = re.search(r'<a class="did-you-mean" href="([^"]+)">theory of mind</a>', page.text)
    assert link is not None
    followed = client.get(link.group(1).replace("&amp;", "&"))
    assert f'data-paper-id="{TOM_ID}"' in followed.text
    # a misspelt word among known ones: results, and the spelling offered above them
    partly = search(client, q="machine theroy of mind")
    assert partly["total"] > 0 and partly["did_you_mean"] == "machine theory of mind"
    assert "Did you mean" in client.get("/search", params={"q": "machine theroy of mind"}).text
    assert search(client, q="machine theory of mind")["did_you_mean"] is None


def test_an_unknown_arxiv_id_answers_nothing_and_offers_to_submit_it(client: TestClient) -> None:
    for text in ("2512.01234", "arXiv:2512.01234v2", "https://arxiv.org/abs/2512.01234"):
        body = search(client, q=text)
        assert body["total"] == 0 and body["hits"] == [], text
        assert body["help"]["submit_arxiv_id"] == "2512.01234"
    page = client.get("/search", params={"q": "2512.01234"})
    assert page.status_code == 200 and 'href="/submit?paper=2512.01234"' in page.text


def test_a_known_arxiv_id_in_any_form_opens_the_paper(client: TestClient) -> None:
    forms = [TOM_ID, f"arXiv:{TOM_ID}v2", f"https://arxiv.org/abs/{TOM_ID}", f"http://arxiv.org/pdf/{TOM_ID}v1",
             f" [{TOM_ID}] "]  # fmt: skip
    for text in forms:
        body = search(client, q=text)
        assert body["opens"] == TOM_ID and [hit["id"] for hit in body["hits"]] == [TOM_ID], text
        assert body["total"] == 1 and body["hits"][0]["match"] == "arxiv id"
        page = client.get("/search", params={"q": text}, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"] == f"/papers/{TOM_ID}", text


# ---- long questions ---------------------------------------------------------------------------------


def test_a_pasted_abstract_finds_its_paper_on_the_api_and_the_page(client: TestClient) -> None:
    paper = next(p for p in FIXTURE_PAPERS if p["id"] == TOM_ID)
    text = paper["title"] + ". " + paper["abstract"] + " " + paper["abstract"]
    assert 2_000 < len(text) <= 5_000
    body = search(client, q=text, limit=5)
    assert body["hits"][0]["id"] == TOM_ID
    page = client.get("/search", params={"q": text})
    assert page.status_code == 200 and f'data-paper-id="{TOM_ID}"' in page.text
    too_long = client.get("/api/search", params={"q": "word " * 1_001})
    assert too_long.status_code == 422 and "the limit is 5,000" in too_long.json()["detail"]
    # the Hugging Face-compatible path keeps Hugging Face's limit
    assert client.get("/api/papers/search", params={"q": text}).status_code in (400, 422)


def test_the_cli_takes_a_pasted_abstract_too(tmp_path: Path) -> None:
    from paperwire.cli import app, register_commands
    from paperwire.storage import open_store

    register_commands()
    home = tmp_path / "home"
    store = open_store(Settings(home=home).effective_database_url)
    ingest_files(store, [FIXTURE], "jsonl")
    store.close()
    paper = next(p for p in FIXTURE_PAPERS if p["id"] == TOM_ID)
    text = paper["title"] + ". " + paper["abstract"] + " " + paper["abstract"]
    runner, env = CliRunner(), {"PAPERWIRE_EMBEDDER": "none"}
    result = runner.invoke(app, ["--home", str(home), "search", text, "--json", "--limit", "3"], env=env)
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.stdout.strip().splitlines()[-1])[0]["id"] == TOM_ID
    refused = runner.invoke(app, ["--home", str(home), "search", "word " * 1_001, "--json"], env=env)
    assert refused.exit_code == 2 and "the limit is 5,000" in refused.output


# ---- counts and paging ------------------------------------------------------------------------------


def test_the_count_is_what_paging_reaches_on_every_page(client: TestClient) -> None:
    first = search(client, q=TOPIC, limit=50)
    total = first["total"]
    assert total == CANDIDATES  # keyword candidates (no meaning half here): the 30 weakest are not ranked
    seen, offset = [], 0
    while True:
        body = search(client, q=TOPIC, limit=50, offset=offset)
        assert body["total"] == total  # the same count on every page, the last and past it included
        if not body["hits"]:
            break
        seen += [hit["id"] for hit in body["hits"]]
        offset += 50
    assert len(seen) == len(set(seen)) == total


def test_the_page_shows_one_count_and_a_clear_message_past_the_end(client: TestClient) -> None:
    pages = -(-CANDIDATES // 20)
    for number in range(1, pages + 1):
        page = client.get("/search", params={"q": TOPIC, "page": number})
        assert page.status_code == 200
        assert f"{CANDIDATES} results for “{TOPIC}”" in page.text
        assert f'aria-current="page">{number}<span class="visually-hidden"> of {pages}</span>' in page.text
        assert page.text.count('<article class="card"') == (20 if number < pages else CANDIDATES - 20 * (pages - 1))
    for beyond in (pages + 1, 99, 10_000):
        page = client.get("/search", params={"q": TOPIC, "page": beyond})
        assert page.status_code == 200
        assert f"There is no page {beyond}" in page.text and 'aria-current="page"' not in page.text
        assert f"page={pages}" in page.text  # a way back to the last page


# ---- filters, cards ---------------------------------------------------------------------------------


def test_category_filters_match_the_primary_category_in_any_case_even_without_words(client: TestClient) -> None:
    primary_ai = {p["id"] for p in FIXTURE_PAPERS if p["categories"][0] == "cs.AI"}
    secondary_ai = {p["id"] for p in FIXTURE_PAPERS if "cs.AI" in p["categories"][1:]}
    assert primary_ai and secondary_ai
    browse = search(client, category="CS.ai", limit=50)
    assert {hit["id"] for hit in browse["hits"]} == primary_ai and browse["total"] == len(primary_ai)
    days = [hit["listed_on"] for hit in browse["hits"]]
    assert days == sorted(days, reverse=True)  # newest first
    worded = search(client, q="language models", category="cs.ai", limit=50)
    assert worded["hits"] and {hit["id"] for hit in worded["hits"]} <= primary_ai
    page = client.get("/search", params={"category": "cs.ai"})
    assert page.text.count('<article class="card"') == len(primary_ai)
    assert client.get("/api/search").status_code == 422  # neither words nor filters


def test_search_cards_look_like_list_cards(client: TestClient) -> None:
    page = client.get("/search", params={"q": "theory of mind"})
    card = page.text[page.text.index(f'data-paper-id="{TOM_ID}"') :]
    card = card[: card.index("</article>")]
    assert 'class="votes"' in card and "upvotes" in card  # the upvote control of list cards
    assert "Dec 2, 2025" in card and ">2025-12-02<" not in card  # a human date
    assert 'href="/authors/Mengfan%20Li"' in card


# ---- author pages -----------------------------------------------------------------------------------


def test_an_author_page_lists_exactly_their_papers_newest_first(client: TestClient) -> None:
    body = client.get("/api/authors/Yu Li").json()
    assert body["name"] == "Yu Li" and [p["id"] for p in body["papers"]] == ["2511.22103"]  # not "Shen Li" etc.
    folded = client.get("/api/authors/jonito AERTS arguelles").json()
    assert folded["name"] == "Jonito Aerts Arguëlles" and [p["id"] for p in folded["papers"]] == ["2511.21731"]
    zoe = client.get("/api/authors/zoe quasi").json()
    assert [p["id"] for p in zoe["papers"]] == ["2401.00041", "2401.00021", "2401.00004"]  # not Zoe Quasimodo
    assert zoe["total"] == 3
    paged = client.get("/api/authors/Ben Other", params={"limit": 20, "offset": 40}).json()
    assert paged["total"] == PAGING - 1 and len(paged["papers"]) == 20
    unknown = client.get("/api/authors/Nobody Atall")
    assert unknown.status_code == 200 and unknown.json()["papers"] == []
    page = client.get("/authors/Zo%C3%AB%20Quasi")
    assert page.status_code == 200 and page.text.count('<article class="card"') == 3
    assert "3 papers with Zoë Quasi among the authors" in page.text
    missing = client.get("/authors/Nobody%20Atall")
    assert missing.status_code == 404 and "No paper in this catalogue lists Nobody Atall" in missing.text
    assert client.get("/api/authors/" + "x" * 300).status_code == 422


def test_author_links_on_cards_and_paper_pages_open_the_author_page(client: TestClient) -> None:
    paper_page = client.get(f"/papers/{TOM_ID}")
    assert 'href="/authors/Mengfan%20Li"' in paper_page.text and "/search?q=Mengfan" not in paper_page.text
    day = client.get("/papers", params={"date": "2025-12-02"})
    assert 'href="/authors/Mengfan%20Li"' in day.text
    assert [p["id"] for p in client.get("/api/authors/Mengfan%20Li").json()["papers"]] == [TOM_ID]


def test_no_list_ever_shows_a_page_past_its_last(client: TestClient, store) -> None:
    store.upsert_papers([Paper(id=f"2303.{n:05d}", title=f"Busy day {n}", listed_on="2023-03-03") for n in range(45)])
    day = client.get("/papers", params={"date": "2023-03-03", "page": 99})
    assert "past the end" in day.text and "Page 99 of" not in day.text
    author = client.get("/authors/Ben Other", params={"page": 99})
    assert "There is no page 99" in author.text and "Page 99 of" not in author.text
