"""The corpus and readers of bench/recommend.py, and the embedding cache it reads (outside the repository).

A benchmark reader is an arXiv cs author (exact name string) with at least `MIN_LIBRARY` papers announced
2025-03…2025-12 and at least one paper announced in 2026-01 or 2026-02 (the months the method is ranked
on). Readers are sampled with a fixed seed and split in two halves: "dev" (tune on it) and "report".

Run as a script to embed what the benchmark needs and cache it:
    nice -n 19 python bench/recommend_corpus.py --embedder static          # every paper, a few minutes
    nice -n 19 python bench/recommend_corpus.py --embedder all-MiniLM-L6-v2  # sampled readers' libraries
                                                                           # + 2026-01/02 papers (slow)
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DATA = ROOT.parent / "shared" / "data" / "arxiv_cs"
if not DATA.is_dir():
    DATA = Path("/work/shared/data/arxiv_cs")
CACHE = Path("/work/cache/recommend")
LIBRARY_MONTHS = [f"2025-{m:02d}" for m in range(3, 13)]
TARGET_MONTHS = ["2026-01", "2026-02"]
MIN_LIBRARY = 8
SEED = 15


@dataclass(frozen=True)
class Record:
    id: str
    title: str
    abstract: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    month: str
    day: str  # first announced


@dataclass(frozen=True)
class Reader:
    name: str
    library: tuple[str, ...]  # ids, 2025-03…12
    targets: dict[str, tuple[str, ...]]  # month → own ids announced that month
    half: str  # "dev" or "report"


def load_records() -> dict[str, Record]:
    records: dict[str, Record] = {}
    for month in LIBRARY_MONTHS + TARGET_MONTHS:
        with gzip.open(DATA / f"arxiv_cs_{month}.jsonl.gz", "rt", encoding="utf-8") as stream:
            for line in stream:
                row = json.loads(line)
                if row["id"] in records:
                    continue
                records[row["id"]] = Record(
                    row["id"], " ".join(row["title"].split()), " ".join((row.get("abstract") or "").split()),
                    tuple(row.get("authors") or ()), tuple(row.get("categories") or ()), month, row.get("first_seen") or "",
                )  # fmt: skip
    return records


def select_readers(records: dict[str, Record], count: int, seed: int = SEED) -> list[Reader]:
    by_author: dict[str, list[Record]] = defaultdict(list)
    for record in records.values():
        for author in set(record.authors):
            by_author[author].append(record)
    eligible = []
    for name in sorted(by_author):
        papers = by_author[name]
        library = tuple(sorted(p.id for p in papers if p.month in LIBRARY_MONTHS))
        targets = {m: tuple(sorted(p.id for p in papers if p.month == m)) for m in TARGET_MONTHS}
        targets = {m: ids for m, ids in targets.items() if ids}
        if len(library) >= MIN_LIBRARY and targets:
            eligible.append((name, library, targets))
    rng = random.Random(seed)
    rng.shuffle(eligible)
    chosen = eligible[:count]
    return [Reader(n, lib, t, "dev" if i % 2 == 0 else "report") for i, (n, lib, t) in enumerate(chosen)]


def eligible_count(records: dict[str, Record]) -> int:
    return len(select_readers(records, 10**9))


def cache_path(embedder: str) -> Path:
    return CACHE / f"vectors-{embedder.replace('/', '_')}.npz"


def load_vectors(embedder: str) -> dict[str, np.ndarray]:
    """id → unit vector, for what the cache holds (partial caches are fine: MiniLM is slow here)."""
    path = cache_path(embedder)
    if not path.exists():
        return {}
    with np.load(path) as data:
        return dict(zip(data["ids"].tolist(), data["vectors"], strict=True))


def save_vectors(embedder: str, vectors: dict[str, np.ndarray]) -> None:
    path = cache_path(embedder)
    path.parent.mkdir(parents=True, exist_ok=True)
    ids = sorted(vectors)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, ids=np.array(ids), vectors=np.stack([vectors[i] for i in ids]).astype(np.float32))
    tmp.replace(path)


def needed_ids(records: dict[str, Record], readers: list[Reader]) -> list[str]:
    """Candidates first (every 2026-01/02 paper), then the readers' libraries (report half first)."""
    ids = [r.id for r in records.values() if r.month in TARGET_MONTHS]
    for half in ("report", "dev"):
        for reader in readers:
            if reader.half == half:
                ids.extend(reader.library)
    return list(dict.fromkeys(ids))


def embed(embedder_name: str, ids: list[str], records: dict[str, Record], batch: int) -> None:
    from paperwire.search.embedders import make_embedder, paper_text

    embedder = make_embedder(embedder_name, threads=1)
    vectors = load_vectors(embedder_name)
    todo = [i for i in ids if i not in vectors]
    print(f"{embedder_name}: {len(vectors)} cached, {len(todo)} to embed", flush=True)
    started = time.perf_counter()
    for start in range(0, len(todo), batch):
        chunk = todo[start : start + batch]
        out = embedder.embed_documents([paper_text(records[i].title, records[i].abstract) for i in chunk])
        vectors.update(zip(chunk, out.astype(np.float32), strict=True))
        save_vectors(embedder_name, vectors)
        done = start + len(chunk)
        print(f"  {done}/{len(todo)} in {time.perf_counter() - started:.0f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--embedder", default="static")
    parser.add_argument("--readers", type=int, default=300)
    parser.add_argument("--all", action="store_true", help="every paper, not only what the sampled readers need")
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    records = load_records()
    readers = select_readers(records, args.readers)
    ids = list(records) if args.all or args.embedder == "static" else needed_ids(records, readers)
    embed(args.embedder, ids, records, args.batch)


if __name__ == "__main__":
    main()
