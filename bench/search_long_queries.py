"""Long queries (issue 14, 3b): the keyword half of a search for a long question or a pasted abstract.

Candidate: paperwire's keyword query, which keeps the 32 rarest words of the query (KeywordIndex.focus).
Baseline, in the same run on the same index: the same query with every word of the text (what a
5,000-character query would cost without the bound). Also printed: how many of the baseline's top 10
the candidate keeps (the bound should cost little relevance).

Corpus: the real arXiv cs papers of ../shared/data/arxiv_cs (the first --size of them), indexed once
into /work/cache. Queries: the shared research queries longer than 250 characters, and --abstracts
abstracts of papers of the corpus pasted whole (up to 5,000 characters, the limit of /api/search).

Reproduce:  .venv/bin/python bench/search_long_queries.py [--size 20000] [--abstracts 100]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from paperwire.models import Paper  # noqa: E402
from paperwire.search.keyword import KeywordIndex  # noqa: E402
from paperwire.search.query import MAX_QUERY_CHARS, ParsedQuery, parse_query  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
CACHE = Path("/work/cache/bench-long-queries")


class UnboundedIndex(KeywordIndex):
    """The baseline: every word of the query goes into the keyword query."""

    def focus(self, query: ParsedQuery) -> ParsedQuery:
        return query


def load_papers(size: int) -> list[dict]:
    papers: list[dict] = []
    for path in sorted((SHARED / "arxiv_cs").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            for line in stream:
                papers.append(json.loads(line))
                if len(papers) >= size:
                    return papers
    return papers


def build_index(folder: Path, papers: list[dict]) -> KeywordIndex:
    index = KeywordIndex(folder)
    if index.count() != len(papers):
        index.clear()
        index.upsert(
            Paper(id=p["id"], title=p["title"], abstract=" ".join(p["abstract"].split()), authors=tuple(p["authors"]),
                  categories=tuple(p["categories"]), listed_on=p.get("first_seen"))
            for p in papers
        )  # fmt: skip
        index.commit()
    return index


def long_queries(papers: list[dict], abstracts: int, rng: random.Random) -> list[tuple[str, str, str | None]]:
    """(kind, text, the id of the paper the text was pasted from, if any)."""
    queries = []
    for path in sorted((SHARED / "queries").glob("*.json")):
        for entry in json.loads(path.read_text()).values():
            if len(entry["search_query"]) > 250:
                queries.append(("research question > 250 chars", entry["search_query"], None))
    for paper in rng.sample(papers, abstracts):
        text = " ".join((paper["title"] + ". " + paper["abstract"]).split())[:MAX_QUERY_CHARS]
        queries.append(("pasted title + abstract", text, paper["id"]))
    return queries


def timed(index: KeywordIndex, query: ParsedQuery, repeats: int = 3) -> tuple[float, list[str]]:
    best, hits = float("inf"), []
    for _ in range(repeats):
        started = time.perf_counter()
        hits = [paper_id for paper_id, _ in index.search(query, None, 200)]
        best = min(best, time.perf_counter() - started)
    return best * 1000, hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--abstracts", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(14)
    papers = load_papers(args.size)
    folder = CACHE / f"keyword-{len(papers)}"
    index = build_index(folder, papers)
    baseline = UnboundedIndex(folder)
    rows: dict[str, dict[str, list[float]]] = {}
    for kind, text, source in long_queries(papers, args.abstracts, rng):
        query = parse_query(text)
        candidate_ms, candidate_hits = timed(index, query)
        baseline_ms, baseline_hits = timed(baseline, replace(query))
        row = rows.setdefault(kind, {"candidate": [], "baseline": [], "kept": [], "words": [], "first": []})
        if source is not None:  # the paper pasted from is found first (baseline, candidate)
            row["first"].append((baseline_hits[:1] == [source], candidate_hits[:1] == [source]))
        row["candidate"].append(candidate_ms)
        row["baseline"].append(baseline_ms)
        row["words"].append(len(query.terms))
        top = baseline_hits[:10]
        row["kept"].append(len(set(top) & set(candidate_hits[:10])) / max(len(top), 1))
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
          f"load average (1 min) {os.getloadavg()[0]:.1f}; corpus {len(papers):,} arXiv cs papers")  # fmt: skip
    print("| queries | n | words (median) | keyword p50 / p95 ms, every word (baseline) | "
          "32 rarest words (paperwire) | baseline top-10 kept | pasted paper first: baseline / paperwire |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")

    def first(pairs: list[tuple[bool, bool]]) -> str:
        if not pairs:
            return "–"
        return f"{sum(b for b, _ in pairs) / len(pairs):.0%} / {sum(c for _, c in pairs) / len(pairs):.0%}"

    for kind, row in rows.items():

        def p(values: list[float], q: int) -> float:
            return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]

        print(f"| {kind} | {len(row['candidate'])} | {statistics.median(row['words']):.0f} | "
              f"{p(row['baseline'], 50):.1f} / {p(row['baseline'], 95):.1f} | "
              f"{p(row['candidate'], 50):.1f} / {p(row['candidate'], 95):.1f} | "
              f"{statistics.mean(row['kept']):.0%} | {first(row['first'])} |")  # fmt: skip


if __name__ == "__main__":
    main()
