"""Build the small, real-shaped data fixtures the tests read, from the shared data sets (reproducible).

    python scripts/build_test_fixtures.py [--data ../shared/data] [--out tests/fixtures]

What ships, and why it may:
- `hf_daily_2025_sample.jsonl.gz`: Hugging Face daily-papers items (all of ISO week 2025-W24, every
  fourth other June day's item, a few from the days around June). Every HF user is pseudonymised
  (`reader-N`, stable per user id), avatars, media URLs, organisations and authors' linked HF accounts
  are removed; the paper metadata (arXiv's) and the vote/comment counts stay.
- `arxiv_cs_2025-06_sample.jsonl.gz`: arXiv metadata (CC0): the June records of the papers above plus
  every 50th other June record.
- `kaggle_snapshot_sample.jsonl`: CC0 arXiv records rewritten into the Kaggle snapshot's shape (authors
  as one string, space-separated categories, `versions` dated from the listing days, `authors_parsed`).
- `listing_page.txt`: CC0 arXiv titles and abstracts written as a saved papers page (two header lines,
  "Subscribe" glued to the first title, title line / abstract line pairs, no final newline).
No SciFact record ships.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEEK = ("2025-06-09", "2025-06-15")
AROUND = ("2025-05-29", "2025-07-02")
USER_KEYS = ("submittedBy", "submittedOnDailyBy", "githubRepoAddedBy")
DROPPED_KEYS = ("mediaUrls", "organization", "submitterOrganization")
FIXTURE_NAMES = (
    "hf_daily_2025_sample.jsonl.gz",
    "arxiv_cs_2025-06_sample.jsonl.gz",
    "kaggle_snapshot_sample.jsonl",
    "listing_page.txt",
)


def read_gzip_lines(path: Path) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def write_gzip_lines(path: Path, records: list[dict]) -> None:
    text = "".join(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n" for record in records)
    # mtime=0 and no file name: the same input gives the same bytes.
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
        out.write(text.encode("utf-8"))


class Pseudonyms:
    """A stable `reader-N` per HF user id, in order of first appearance."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def user(self, value: object) -> dict | None:
        if not isinstance(value, dict):
            return None
        key = str(value.get("_id") or value.get("name") or value.get("user"))
        name = self.names.setdefault(key, f"reader-{len(self.names) + 1}")
        return {
            "_id": f"{int(name.split('-')[1]):024x}",
            "fullname": name.replace("-", " ").title(),
            "name": name,
            "user": name,
            "type": "user",
        }


def listed_day(record: dict) -> str:
    return (record["item"]["paper"].get("submittedOnDailyAt") or record["date"])[:10]


def scrub_item(record: dict, pseudonyms: Pseudonyms) -> dict:
    item = {k: v for k, v in record["item"].items() if k not in DROPPED_KEYS}
    paper = {k: v for k, v in item["paper"].items() if k not in DROPPED_KEYS}
    paper["authors"] = [
        {k: v for k, v in author.items() if k in ("_id", "name", "hidden")} for author in paper.get("authors", [])
    ]
    for holder in (item, paper):
        for key in USER_KEYS:
            if key in holder:
                holder[key] = pseudonyms.user(holder[key])
    item["paper"] = paper
    return {"date": record["date"], "item": item}


def build_hf(data: Path) -> list[dict]:
    records = list(read_gzip_lines(data / "hf_daily" / "hf_daily_papers_2025.jsonl.gz"))
    chosen, others = [], 0
    for record in records:
        day = listed_day(record)
        if WEEK[0] <= day <= WEEK[1]:
            chosen.append(record)
        elif AROUND[0] <= day <= AROUND[1]:
            others += 1
            if others % (8 if day.startswith("2025-06") else 4) == 0:
                chosen.append(record)
    pseudonyms = Pseudonyms()
    return [scrub_item(record, pseudonyms) for record in chosen]


def build_arxiv(data: Path, hf_ids: set[str]) -> list[dict]:
    chosen = []
    for number, record in enumerate(read_gzip_lines(data / "arxiv_cs" / "arxiv_cs_2025-06.jsonl.gz")):
        if record["id"] in hf_ids or number % 50 == 0:
            chosen.append(record)
    return chosen


def snapshot_date(day: str) -> str:
    return datetime.combine(date.fromisoformat(day), datetime.min.time()).strftime("%a, %d %b %Y %H:%M:%S GMT")


def to_snapshot(record: dict) -> dict:
    """An arXiv record in the shape of the Kaggle snapshot's lines."""
    versions = [{"version": "v1", "created": snapshot_date(record["first_seen"])}]
    if record["last_seen"] != record["first_seen"]:
        versions.append({"version": "v2", "created": snapshot_date(record["last_seen"])})
    parsed = []
    for name in record["authors"]:
        first, _, last = name.rpartition(" ")
        parsed.append([last, first, ""])
    return {
        "id": record["id"],
        "submitter": record["authors"][0] if record["authors"] else None,
        "authors": ", ".join(record["authors"]),
        "title": record["title"],
        "comments": record.get("comment"),
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": " ".join(record["categories"]),
        "license": "http://creativecommons.org/publicdomain/zero/1.0/",
        "abstract": "  " + record["abstract"] + "\n",
        "versions": versions,
        "update_date": record["last_seen"],
        "authors_parsed": parsed,
    }


def build_snapshot(data: Path) -> list[dict]:
    """The first 20 May records, then two with TeX and three categories, two listed on several days."""
    records = [r for r in read_gzip_lines(data / "arxiv_cs" / "arxiv_cs_2025-05.jsonl.gz")]
    chosen = records[:20]
    rest = [r for r in records[20:] if all(re.fullmatch(r"[a-z-]+(\.[A-Za-z-]+)?", c) for c in r["categories"])]
    chosen += [r for r in rest if "$" in r["abstract"] and len(r["categories"]) > 2][:2]
    chosen += [r for r in rest if r["last_seen"] != r["first_seen"] and r not in chosen][:2]
    return [to_snapshot(record) for record in chosen]


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def build_listing(data: Path, count: int = 40) -> str:
    records = list(read_gzip_lines(data / "arxiv_cs" / "arxiv_cs_2025-07.jsonl.gz"))[:count]
    lines = ["Get trending papers in your email inbox once a day!", "Get trending papers in your email inbox!"]
    for number, record in enumerate(records):
        lines.append(("Subscribe" if number == 0 else "") + one_line(record["title"]))
        lines.append(one_line(record["abstract"]))
    return "\n".join(lines)  # the saved page has no final newline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "fixtures")
    args = parser.parse_args()
    hf = build_hf(args.data)
    write_gzip_lines(args.out / "hf_daily_2025_sample.jsonl.gz", hf)
    arxiv = build_arxiv(args.data, {record["item"]["paper"]["id"] for record in hf})
    write_gzip_lines(args.out / "arxiv_cs_2025-06_sample.jsonl.gz", arxiv)
    snapshot = build_snapshot(args.data)
    (args.out / "kaggle_snapshot_sample.jsonl").write_text(
        "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in snapshot), encoding="utf-8"
    )
    (args.out / "listing_page.txt").write_text(build_listing(args.data), encoding="utf-8")
    for name in FIXTURE_NAMES:
        print(f"{name}: {(args.out / name).stat().st_size:,} bytes")
    print(f"{len(hf)} HF items, {len(arxiv)} arXiv records, {len(snapshot)} snapshot records")


if __name__ == "__main__":
    main()
