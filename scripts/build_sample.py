"""Build the bundled demo sample: December 2025 of the shared arXiv cs listing (CC0 metadata), with
upvotes, comment counts and GitHub links from the shared HF daily-papers data and submitters
pseudonymised. HF user names and avatars never enter the sample.

    python scripts/build_sample.py [--shared ../shared] [--first 2025-12-01] [--last 2025-12-31]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
from pathlib import Path

import orjson

from paperwire.models import Paper
from paperwire.sources import hf_daily, jsonl, numbered_lines, open_binary

OUT = Path(__file__).resolve().parents[1] / "src" / "paperwire" / "sample" / "papers.jsonl.gz"


def pseudonym(user: str) -> str:
    """A stable made-up reader name: the same HF submitter always maps to the same pseudonym."""
    digest = hashlib.sha256(f"paperwire-sample:{user}".encode()).hexdigest()
    return f"reader-{digest[:6]}"


def hf_signals(shared: Path) -> dict[str, Paper]:
    found: dict[str, Paper] = {}
    for path in sorted((shared / "data" / "hf_daily").glob("*.jsonl.gz")):
        stream, raw = open_binary(path)
        with raw:
            for paper in hf_daily.read(numbered_lines(stream), str(path)):
                if isinstance(paper, Paper):
                    found[paper.id] = paper
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--first", default="2025-12-01")
    parser.add_argument("--last", default="2025-12-31")
    args = parser.parse_args()
    signals = hf_signals(args.shared)
    count = overlaid = 0
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(OUT, "wb", compresslevel=9) as out:
        for path in sorted((args.shared / "data" / "arxiv_cs").glob("*.jsonl.gz")):
            stream, raw = open_binary(path)
            with raw:
                for paper in jsonl.read(numbered_lines(stream), str(path)):
                    if not isinstance(paper, Paper) or not args.first <= (paper.listed_on or "") <= args.last:
                        continue
                    hf = signals.get(paper.id)
                    if hf is not None:
                        overlaid += 1
                        paper.upvotes, paper.comments = hf.upvotes, hf.comments
                        paper.github_repo, paper.github_stars = hf.github_repo, hf.github_stars
                        paper.project_page, paper.observed_at = hf.project_page, hf.observed_at
                        paper.published_at = hf.published_at
                        if hf.listed_on and args.first <= hf.listed_on <= args.last:
                            paper.listed_on, paper.listed_from = hf.listed_on, "hf"
                        paper.submitted_by = pseudonym(hf.submitted_by) if hf.submitted_by else None
                    out.write(orjson.dumps(paper.to_record()) + b"\n")
                    count += 1
    print(f"wrote {count} papers ({overlaid} with HF signals) to {OUT} ({OUT.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
