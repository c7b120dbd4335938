"""Importing real-shaped data (tests/fixtures) and hostile files into a real database."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from conftest import ARXIV_SAMPLE, HF_SAMPLE, KAGGLE_SAMPLE, LISTING_PAGE
from paperwire.ingest import ingest_files, read_file
from paperwire.models import Paper, Skip
from paperwire.sources import detect_format

HF_2025 = HF_SAMPLE
KAGGLE = KAGGLE_SAMPLE
ARXIV_MONTH = ARXIV_SAMPLE
SEED_PAGE = LISTING_PAGE


def test_formats_are_detected_from_content() -> None:
    assert detect_format(SEED_PAGE) == "listing"
    assert detect_format(HF_2025) == "hf"
    assert detect_format(KAGGLE) == "kaggle"
    assert detect_format(ARXIV_MONTH) == "jsonl"


def test_the_saved_page_gives_its_40_papers_once(store) -> None:
    first = ingest_files(store, [SEED_PAGE])
    assert (first.added, first.updated, first.unchanged, first.skipped) == (40, 0, 0, [])
    papers = list(read_file(SEED_PAGE))
    assert papers[0].title.startswith("Cooperation as Black Box: Conceptual Fluctuation")  # "Subscribe" cut off
    assert papers[0].abstract.startswith("Misalignment in multi-agent systems (MAS) is often treated")
    assert papers[-1].abstract  # the last line has no newline and still counts
    again = ingest_files(store, [SEED_PAGE])
    assert (again.added, again.updated, again.unchanged) == (0, 0, 40)
    assert store.count_papers() == 40


def test_hf_items_keep_their_signals_and_listing_day(store) -> None:
    report = ingest_files(store, [HF_2025])
    assert report.skipped == [] and report.added == 144
    paper = store.get_paper("2506.08007")
    assert paper.title == "Reinforcement Pre-Training"
    assert paper.listed_on == "2025-06-10" and paper.listed_from == "hf"
    assert paper.upvotes == 97 and paper.submitted_by == "reader-13"  # pseudonymised in the fixture
    assert "next-token prediction" in paper.keywords
    assert store.signal_history("2506.08007")[0]["upvotes"] == paper.upvotes
    with_repo = [p for p in store.iter_papers() if p.github_repo and p.github_stars is not None]
    assert with_repo, "GitHub repos and stars are kept"
    assert ingest_files(store, [HF_2025]).unchanged == report.added + report.updated + report.unchanged


def test_kaggle_snapshot_records_become_papers(store) -> None:
    report = ingest_files(store, [KAGGLE])
    assert report.added == 24 and not report.skipped
    paper = store.get_paper("2504.21023")
    assert paper.authors == ("Sheng Cao", "Mingrui Wu", "Karthik Prasad", "Yuandong Tian", "Zechun Liu")
    assert paper.categories == ("cs.CL", "cs.AI", "cs.LG")
    assert paper.published_at == "2025-05-01T00:00:00Z" and paper.version == 2
    assert paper.updated_at == "2026-03-04T00:00:00Z"
    assert "$Θ_\\text{post}$" in paper.abstract


def test_arxiv_listing_then_hf_merges_into_one_paper(store) -> None:
    ingest_files(store, [ARXIV_MONTH])
    before = store.get_paper("2506.08007")
    assert before.listed_from == "arxiv" and before.categories == ("cs.CL",)
    ingest_files(store, [HF_2025])
    after = store.get_paper("2506.08007")
    assert after.categories == ("cs.CL",), "HF items carry no categories: the arXiv ones stay"
    assert after.listed_from == "hf" and after.upvotes > 0


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def good_record(n: int) -> bytes:
    return json.dumps({"id": f"2501.{n:05d}", "title": f"Good paper {n}", "abstract": "<b>&</b> $x$"}).encode()


def test_hostile_jsonl_keeps_the_good_records_and_names_each_bad_line(store, tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "mixed.jsonl",
        [
            good_record(1),
            b'{"id": "2501.00002", "title": "Trunc',  # truncated line
            json.dumps({"id": "2501.00003", "abstract": "no title"}).encode(),
            b'{"id": "2501.00004", "title": "bad \xff\xfe utf8"}',
            json.dumps({"id": "2501.00005", "title": "Huge", "abstract": "a" * (10 * 1024 * 1024)}).encode(),
            json.dumps({"id": "2501.00006", "title": "Impossible", "listed_on": "2025-02-30"}).encode(),
            good_record(7),
        ],
    )
    report = ingest_files(store, [path])
    assert report.added == 2
    reasons = {skip.line: skip.reason for skip in report.skipped}
    assert set(reasons) == {2, 3, 4, 5, 6}
    assert "invalid JSON" in reasons[2]
    assert reasons[3] == "missing title"
    assert "invalid UTF-8" in reasons[4]
    assert "rejected" in reasons[5]
    assert "2025-02-30" in reasons[6]
    assert all(skip.source == str(path) for skip in report.skipped)
    assert [p.id for p in store.iter_papers()] == ["2501.00001", "2501.00007"]
    assert store.get_paper("2501.00001").abstract == "<b>&</b> $x$"


def test_gzip_input_is_read_directly_and_format_can_be_forced(store, tmp_path: Path) -> None:
    path = tmp_path / "papers.data.gz"
    with gzip.open(path, "wb") as out:
        out.write(good_record(1) + b"\n" + good_record(2))
    assert ingest_files(store, [path], "jsonl").added == 2


def test_export_then_import_is_lossless(store, tmp_path: Path, settings) -> None:
    from paperwire.storage import open_store

    ingest_files(store, [SEED_PAGE, HF_2025, KAGGLE])
    exported = tmp_path / "export.jsonl"
    with exported.open("wb") as out:
        for paper in store.iter_papers():
            out.write(json.dumps(paper.to_record()).encode() + b"\n")
    copy = open_store(f"sqlite:///{tmp_path / 'copy.db'}")
    report = ingest_files(copy, [exported])
    assert report.skipped == []
    assert list(copy.iter_papers()) == list(store.iter_papers())
    copy.close()


def test_hf_json_array_pages_stream_item_by_item(store, tmp_path: Path) -> None:
    items = [json.loads(line)["item"] for line in gzip.open(HF_2025, "rt").readlines()[:5]]
    items.insert(2, {"paper": {"id": "2501.99999"}})  # no title anywhere
    page = tmp_path / "daily_papers.json"
    page.write_text(json.dumps(items, indent=2))
    records = list(read_file(page))
    assert sum(isinstance(r, Paper) for r in records) == 5
    skips = [r for r in records if isinstance(r, Skip)]
    assert len(skips) == 1 and "item 3" in skips[0].reason and "missing title" in skips[0].reason


@pytest.mark.parametrize("content", [b"", b"\n\n", b"only one line with no pair"])
def test_degenerate_listing_files_import_nothing_without_error(store, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "listing.txt"
    path.write_bytes(content)
    report = ingest_files(store, [path], "listing")
    assert report.added == 0


def test_stored_rows_carry_what_is_derived_from_the_paper_after_insert_and_update(store) -> None:
    import sqlalchemy as sa

    from paperwire.models import normalise_title
    from paperwire.storage.papers import title_hash
    from paperwire.storage.schema import papers

    def stored() -> sa.RowMapping:
        with store.engine.connect() as connection:
            return connection.execute(sa.select(papers).where(papers.c.id == "2501.04242")).mappings().one()

    first = Paper(id="2501.04242", title="Lost in the Middle", categories=("cs.CL", "cs.LG"), version=1)
    store.upsert_papers([first])
    row = stored()
    assert (row["title"], row["primary_category"], row["categories"]) == (
        "Lost in the Middle",
        "cs.CL",
        '["cs.CL","cs.LG"]',
    )
    assert row["title_key"] == "lost in the middle" and row["title_hash"] == title_hash("lost in the middle")
    revised = Paper(id="2501.04242", title="Found in the Middle", categories=("cs.LG",), version=2)
    store.upsert_papers([revised])  # a newer version: the update path
    row = stored()
    assert (row["title"], row["primary_category"], row["version"]) == ("Found in the Middle", "cs.LG", 2)
    assert row["title_hash"] == title_hash(normalise_title("Found in the Middle"))
    assert store.paper_ids_with_title_key("found in the middle") == ["2501.04242"]
    assert store.paper_ids_with_title_key("lost in the middle") == []


def test_an_import_run_inside_another_process_leaves_its_garbage_collector_as_it_was(tmp_path: Path) -> None:
    """The `paperwire` program freezes what its start-up loaded (cli.settle); a caller's process is not frozen."""
    import gc

    from typer.testing import CliRunner

    from paperwire.cli import app, register_commands

    register_commands()
    before = gc.get_freeze_count()
    result = CliRunner().invoke(app, ["--home", str(tmp_path), "ingest", str(SEED_PAGE)])
    assert result.exit_code == 0, result.output
    assert "added 40" in result.output
    assert gc.get_freeze_count() == before
