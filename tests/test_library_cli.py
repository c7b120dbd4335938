"""`paperwire library import|export` and `paperwire recommend --json` as an operator runs them: real
processes on a fresh data directory, after `paperwire ingest` and `paperwire embed` (real MiniLM vectors)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SPLATTING = {"2512.08478", "2512.08930", "2512.08215", "2512.08334"}


def paperwire(home: Path, *args: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PAPERWIRE_")}
    environment.update({"PAPERWIRE_HOME": str(home), "COLUMNS": "200", "HF_HUB_OFFLINE": "1"})
    return subprocess.run(
        [sys.executable, "-m", "paperwire", *args], env=environment, capture_output=True, text=True, timeout=300
    )


@pytest.mark.slow  # a real server or subprocess: in `make test`, not the fast lane
def test_import_then_recommend_on_a_fresh_data_directory(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ingest = paperwire(home, "ingest", str(FIXTURES / "library_papers.jsonl"))
    assert ingest.returncode == 0, ingest.stderr
    embed = paperwire(home, "embed")
    assert embed.returncode == 0, embed.stderr
    imported = paperwire(home, "library", "import", "--user", "New.Reader@Example.org", str(FIXTURES / "zotero_library.bib"),
                         "--collection", "Splatting")  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    lines = imported.stdout.splitlines()
    assert "zotero_library.bib:1: matched jeong_dc4gs_2025 → 2510.26921 (matched by arXiv id 2510.26921)" in lines
    assert any(line.startswith("zotero_library.bib:84: kept    tao_carf_2025") for line in lines)
    assert "zotero_library.bib:112: skipped noauthor_2025 (no title, arXiv id or DOI)" in lines
    assert lines[-1].endswith("6 matched, 2 kept as references (not in the catalogue), 1 skipped")

    result = paperwire(home, "recommend", "--user", "new.reader@example.org", "--period", "day", "--date", "2025-12-10",
                       "--limit", "5", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 5 and all(set(row) == {"id", "title", "score", "reason"} for row in rows)
    listed = {json.loads(line)["id"] for line in (FIXTURES / "library_papers.jsonl").read_text().splitlines()
              if json.loads(line)["listed_on"] == "2025-12-10"}  # fmt: skip
    assert {row["id"] for row in rows} <= listed  # only papers listed in that period
    assert rows[0]["id"] in SPLATTING and "in your library" in rows[0]["reason"]

    month = json.loads(paperwire(home, "recommend", "--user", "new.reader@example.org", "--period", "month",
                                 "--date", "2025-11-15", "--json").stdout)  # fmt: skip
    assert month == []  # November's only papers are the reader's own: never suggested back

    exported = paperwire(home, "library", "export", "--user", "new.reader@example.org", "--collection", "Splatting")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.count("@misc{") == 8  # six papers and the two kept references
    assert "eprint = {2511.03992}" in exported.stdout and "doi = {10.1145/3592433}" in exported.stdout

    unknown = paperwire(home, "recommend", "--user", "nobody@example.org", "--json")
    assert unknown.returncode == 1 and "no account" in unknown.stderr
    bad = paperwire(home, "recommend", "--user", "new.reader@example.org", "--period", "year")
    assert bad.returncode == 2 and "--period" in bad.stderr
