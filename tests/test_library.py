"""The reader's library: imports with a line-by-line report, saves, 👎, follows, collections (private by
default, public with a page, feed and BibTeX), references resolved when the paper arrives, and the
account's data export and delete — on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

from library_support import library_catalogue, library_settings  # noqa: F401 - fixtures `catalogue`, `settings`
from paperwire.library_import import import_library, papers_to_bibtex, read_library_file
from paperwire.models import Paper
from test_social import sign_in

FIXTURES = Path(__file__).parent / "fixtures"
ZOTERO = FIXTURES / "zotero_library.bib"
LIBRARY_IDS = ["2510.26921", "2510.27133", "2510.27318", "2511.02207", "2511.03099", "2511.02777"]


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def import_zotero(client) -> str:
    token = csrf_of(client.get("/library").text)
    response = client.post(
        "/library/import", data={"csrf_token": token, "collection": ""},
        files={"file": ("My Library.bib", ZOTERO.read_bytes(), "application/x-bibtex")},
    )  # fmt: skip
    assert response.status_code == 200
    return response.text


# ---- import -----------------------------------------------------------------------------------------


def test_zotero_import_reports_every_entry_by_line(client, settings, store, catalogue) -> None:
    sign_in(client, settings, "reader@example.org")
    page = import_zotero(client)
    rows = re.findall(r'<tr class="outcome-(\w+)"><td>(\d+)</td><td>([^<]+)</td>', page)
    assert [(outcome, int(line)) for outcome, line, _ in rows] == [
        ("matched", 1), ("matched", 15), ("matched", 30), ("matched", 45), ("matched", 60), ("matched", 75),
        ("kept", 84), ("kept", 97), ("skipped", 112),
    ]  # fmt: skip
    assert "6 matched, 2 kept as references (not in the catalogue), 1 skipped" in page
    assert "matched by title" in page  # the proceedings entry has no arXiv id
    assert "no title, arXiv id or DOI" in page
    user = store.get_user_by_email("reader@example.org")
    assert store.saved_paper_ids(user["id"]) == set(LIBRARY_IDS)
    kept = {(ref["arxiv_id"], ref["doi"]) for ref in store.references_of(user["id"])}
    assert kept == {("2511.03992", "10.48550/arXiv.2511.03992"), (None, "10.1145/3592433")}


def test_import_reads_id_lists_urls_and_json_lines(store, catalogue) -> None:
    user = store.ensure_user("ids@example.org")
    ids = b"2510.26921\nhttps://arxiv.org/abs/2511.02207v2\n# a comment\narXiv:2511.03992\nnot an id\n"
    result = import_library(store, user["id"], "ids.txt", ids)
    assert result.format == "ids"
    assert [(r.line, r.outcome, r.paper_id) for r in result.lines] == [
        (1, "matched", "2510.26921"), (2, "matched", "2511.02207"), (4, "kept", None), (5, "skipped", None)
    ]  # fmt: skip
    jsonl = b'{"id": "2511.03099", "title": "x"}\n{"title": "PercHead: Perceptual Head Model for Single-Image 3D Head Reconstruction & Editing"}\n[1]\n'
    result = import_library(store, user["id"], "lib.jsonl", jsonl, collection="From JSON")
    assert [(r.outcome, r.paper_id) for r in result.lines] == [
        ("matched", "2511.03099"), ("matched", "2511.02777"), ("skipped", None)
    ]  # fmt: skip
    collection = store.collection_named(user["id"], "From JSON")
    assert {p.id for p in store.collection_papers(collection["id"])} == {"2511.03099", "2511.02777"}


def test_references_become_saves_when_the_paper_arrives(store, catalogue) -> None:
    user = store.ensure_user("later@example.org")
    import_library(store, user["id"], "lib.bib", ZOTERO.read_bytes(), collection="3DGS")
    assert store.wanted_reference_arxiv_ids() == ["2511.03992"]
    store.upsert_papers([Paper(id="2511.03992", title="CaRF: Enhancing Multi-View Consistency in Referring 3D "
                               "Gaussian Splatting Segmentation", listed_on="2025-11-06")])  # fmt: skip
    assert store.resolve_references() == 1
    assert "2511.03992" in store.saved_paper_ids(user["id"])
    collection = store.collection_named(user["id"], "3DGS")
    assert "2511.03992" in {p.id for p in store.collection_papers(collection["id"])}
    assert store.wanted_reference_arxiv_ids() == []


def test_bibtex_export_reads_back_to_the_same_papers(store, catalogue) -> None:
    user = store.ensure_user("bib@example.org")
    import_library(store, user["id"], "lib.bib", ZOTERO.read_bytes(), collection="3DGS")
    collection = store.collection_named(user["id"], "3DGS")
    text = papers_to_bibtex(store.collection_papers(collection["id"]), store.references_of(user["id"]))
    kind, entries = read_library_file(text.encode())
    assert kind == "bibtex"
    assert {entry.arxiv_id for entry in entries if entry.arxiv_id} == {*LIBRARY_IDS, "2511.03992"}
    assert "PercHead: Perceptual Head Model for Single-Image 3D Head Reconstruction \\& Editing" in text
    assert any(entry.doi == "10.1145/3592433" for entry in entries)


# ---- one-click feedback, all undoable ----------------------------------------------------------------


def post(client, path: str, token: str, **data: str):
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def test_save_not_interested_and_follow_are_undoable_and_listed(client, settings, store, catalogue) -> None:
    token = sign_in(client, settings, "one@example.org")
    assert post(client, "/papers/2512.08334/save", token, next="/for-you").status_code == 303
    assert post(client, "/papers/2512.07838/not-interested", token).status_code == 303
    response = client.post("/authors/follow", data={"csrf_token": token, "name": "Paul  Debevec"},
                           headers={"Accept": "application/json"})  # fmt: skip
    assert response.json() == {"name": "Paul Debevec", "on": True}
    page = client.get("/library").text
    assert "HybridSplat: Fast Reflection-baked Gaussian Tracing" in page
    assert "Detection of Cyberbullying in GIF using AI" in page
    assert "Paul Debevec" in page
    assert post(client, "/papers/2512.08334/save", token, action="undo").status_code == 303
    assert post(client, "/papers/2512.07838/not-interested", token, action="undo").status_code == 303
    assert post(client, "/authors/follow", token, name="PAUL DEBEVEC", action="undo").status_code == 303
    user = store.get_user_by_email("one@example.org")
    assert store.saved_paper_ids(user["id"]) == set()
    assert store.not_interested_ids(user["id"]) == set()
    assert store.followed_author_names(user["id"]) == []  # the same author, case folded


def test_feedback_needs_a_post_with_csrf_and_a_known_paper(client, settings, store, catalogue) -> None:
    token = sign_in(client, settings, "two@example.org")
    user = store.get_user_by_email("two@example.org")
    assert client.get("/papers/2512.08334/save").status_code == 405
    assert client.post("/papers/2512.08334/save", data={}).status_code == 403
    assert store.saved_paper_ids(user["id"]) == set()
    assert post(client, "/papers/2599.99999/save", token).status_code == 404
    assert post(client, "/authors/follow", token, name="   ").status_code == 400


def test_collections_are_private_until_made_public(client, settings, store, catalogue) -> None:
    token = sign_in(client, settings, "owner@example.org")
    assert post(client, "/papers/2512.08334/collect", token, new_collection="Splatting").status_code == 303
    owner = store.get_user_by_email("owner@example.org")
    collection = store.collection_named(owner["id"], "Splatting")
    assert not collection["public"]
    assert "2512.08334" in store.saved_paper_ids(owner["id"])  # in a collection means in the library
    path = f"/collections/{collection['id']}"
    assert "HybridSplat" in client.get(path).text
    bib = client.get(f"{path}.bib")
    assert bib.status_code == 200 and "eprint = {2512.08334}" in bib.text
    client.cookies.clear()
    for private_path in (path, f"{path}.bib", f"{path}/feed.atom"):
        assert client.get(private_path).status_code == 404, private_path
    token = sign_in(client, settings, "owner@example.org")
    assert post(client, f"/library{path}", token, action="public").status_code == 303
    client.cookies.clear()
    assert "HybridSplat" in client.get(path).text
    feed = client.get(f"{path}/feed.atom")
    assert feed.status_code == 200 and "HybridSplat" in feed.text
    assert client.get(f"{path}/feed.json").json()["items"][0]["url"] == "http://testserver/papers/2512.08334"


# ---- privacy -------------------------------------------------------------------------------------------


def test_another_reader_never_sees_someone_elses_library(client, settings, store, catalogue) -> None:
    token = sign_in(client, settings, "alice@example.org")
    import_zotero(client)
    post(client, "/papers/2512.07838/not-interested", token)
    post(client, "/papers/2512.08334/collect", token, new_collection="Alice private")
    post(client, "/authors/follow", token, name="Paul Debevec")
    alice = store.get_user_by_email("alice@example.org")
    collection = store.collection_named(alice["id"], "Alice private")
    client.cookies.clear()
    sign_in(client, settings, "bob@example.org")
    library = client.get("/library").text
    for secret in ("DC4GS", "Detection of Cyberbullying", "Alice private", "Paul Debevec", "3592433"):
        assert secret not in library
    assert client.get(f"/collections/{collection['id']}").status_code == 404
    assert client.get(f"/collections/{collection['id']}.bib").status_code == 404
    export = client.get("/account/export.json").json()
    assert export["saved"] == [] and export["not_interested"] == [] and export["collections"] == []
    # Bob cannot change Alice's collection either.
    token = csrf_of(client.get("/library").text)
    assert post(client, f"/library/collections/{collection['id']}", token, action="public").status_code == 404
    assert post(client, "/papers/2512.08478/collect", token, collection_id=str(collection["id"])).status_code == 404
    assert not store.get_collection(collection["id"])["public"]


# ---- the account's data -------------------------------------------------------------------------------


def test_export_holds_everything_and_delete_removes_it(client, settings, store, catalogue) -> None:
    token = sign_in(client, settings, "leaving@example.org")
    import_zotero(client)
    post(client, "/papers/2512.07838/not-interested", token)
    post(client, "/papers/2512.08334/collect", token, new_collection="Mine")
    post(client, "/authors/follow", token, name="Paul Debevec")
    client.post("/papers/2512.08478/upvote", data={"csrf_token": token, "action": "up"})
    post(client, "/library/feed", token)
    data = client.get("/account/export.json").json()
    assert data["account"]["email"] == "leaving@example.org"
    assert {row["paper_id"] for row in data["saved"]} == {*LIBRARY_IDS, "2512.08334"}
    assert [row["paper_id"] for row in data["not_interested"]] == ["2512.07838"]
    assert [row["paper_id"] for row in data["upvotes"]] == ["2512.08478"]
    assert data["collections"][0]["name"] == "Mine" and data["collections"][0]["papers"] == ["2512.08334"]
    assert [row["name"] for row in data["followed_authors"]] == ["Paul Debevec"]
    assert {ref["doi"] for ref in data["references"]} == {"10.48550/arXiv.2511.03992", "10.1145/3592433"}
    assert data["private_feed"] is True
    user = store.get_user_by_email("leaving@example.org")
    assert post(client, "/account/delete", token, confirm="no").status_code == 400
    assert post(client, "/account/delete", token, confirm="DELETE").status_code == 303
    assert store.get_user(user["id"]) is None
    assert store.saved_paper_ids(user["id"]) == set() and store.not_interested_ids(user["id"]) == set()
    assert store.references_of(user["id"], unresolved_only=False) == []
    assert store.collections_of(user["id"]) == [] and store.followed_author_names(user["id"]) == []
    assert store.get_paper("2512.08478").upvotes == 0
    assert client.get("/library", follow_redirects=False).status_code == 303  # signed out


def test_the_live_arxiv_source_fetches_kept_references(settings, store, httpserver) -> None:
    from werkzeug import Response

    from paperwire.sources.arxiv import ingest_arxiv_daily
    from test_live_sources import FEED, FEED_PATH, XML, Recorder, api_answer, live

    user = store.ensure_user("refs@example.org")
    result = import_library(store, user["id"], "ids.txt", b"arXiv:2504.04321\n", collection="Later")
    assert [line.outcome for line in result.lines] == ["kept"]
    api = Recorder(api_answer, api_answer)
    httpserver.expect_request(FEED_PATH).respond_with_handler(Recorder(Response(FEED, content_type=XML)))
    httpserver.expect_request("/api/query").respond_with_handler(api)
    report = ingest_arxiv_daily(live(settings, httpserver), store)
    assert "2504.04321" in api.requests[-1]["id_list"].split(",")  # asked of arXiv with the day's papers done
    assert store.get_paper("2504.04321") is not None
    assert "2504.04321" in store.saved_paper_ids(user["id"])
    collection = store.collection_named(user["id"], "Later")
    assert [p.id for p in store.collection_papers(collection["id"])] == ["2504.04321"]
    assert any("now in readers' libraries" in note for note in report.notes)


def test_bad_imports_get_a_clear_answer_never_a_500(client, settings, store, catalogue) -> None:
    token = sign_in(client, settings, "bad@example.org")

    def upload(content: bytes, **data: str):
        return client.post("/library/import", data={"csrf_token": token, **data},
                           files={"file": ("library.bib", content, "application/octet-stream")})  # fmt: skip

    empty = client.post("/library/import", data={"csrf_token": token})
    assert empty.status_code == 400 and "Choose a file" in empty.text
    garbage = upload(b"\x00\xff\xfe binary \x89PNG")
    assert garbage.status_code == 400 and "no entries found" in garbage.text
    broken = upload(b"@article{x,\n title = {Unclosed\n")
    assert broken.status_code == 400 and "no entries found" in broken.text
    long_name = upload((FIXTURES / "zotero_library.bib").read_bytes(), collection="x" * 500)
    assert long_name.status_code == 200  # the name is cut to 100 characters
    user = store.get_user_by_email("bad@example.org")
    assert [len(c["name"]) for c in store.collections_of(user["id"])] == [100]
    assert post(client, "/library/collections", token, name="   ").status_code == 400
