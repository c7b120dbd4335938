"""Import papers: read → parse → normalise → dedupe → upsert in batches, returning a report.

Each batch is one transaction, so an interrupted import leaves whole batches only; rerunning it
merges the same records again and ends in the same state (upserts are idempotent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from paperwire.models import ImportReport, Paper, Skip
from paperwire.sources import SOURCES, detect_format, numbered_lines, open_binary
from paperwire.storage import Store

BATCH_SIZE = 5000
Progress = Callable[[int], None]  # called with the number of input bytes consumed since last call


def read_file(path: Path, format_name: str | None = None, progress: Progress | None = None) -> Iterator[Paper | Skip]:
    """Papers and skips of one file (plain or gzip), streamed."""
    name = format_name or detect_format(path)
    if name not in SOURCES:
        raise ValueError(f"unknown format {name!r}; choose from {', '.join(SOURCES)}")
    stream, raw = open_binary(path)
    try:
        lines = numbered_lines(stream)
        if progress is not None:
            lines = _reporting(lines, raw, progress)
        yield from SOURCES[name].read(lines, str(path))
    finally:
        raw.close()


def _reporting(lines: Iterator[tuple[int, bytes]], raw, progress: Progress) -> Iterator[tuple[int, bytes]]:
    position = 0
    for count, item in enumerate(lines):
        yield item
        if count % 512 == 0:
            now = raw.tell()
            progress(now - position)
            position = now
    progress(raw.tell() - position)


def ingest_records(store: Store, records: Iterable[Paper | Skip], report: ImportReport | None = None) -> ImportReport:
    """Upsert papers in batches; skips go into the report.

    The database writes a batch on a thread of its own while the next one is parsed (the driver lets go
    of the interpreter while SQLite works): at most one batch is in flight, batches land in order, and a
    failed write stops the import at that batch, as before."""
    report = report if report is not None else ImportReport()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="paperwire-import") as writer:
        writing: Future | None = None
        for batch in batches(records, report):
            if writing is not None:
                writing.result()
            writing = writer.submit(store.upsert_papers, batch, report)
        if writing is not None:
            writing.result()
    return report


def batches(records: Iterable[Paper | Skip], report: ImportReport) -> Iterator[list[Paper]]:
    """Lists of up to BATCH_SIZE papers; skips go into the report."""
    batch: list[Paper] = []
    for record in records:
        if isinstance(record, Skip):
            report.skipped.append(record)
            continue
        batch.append(record)
        if len(batch) >= BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def ingest_files(
    store: Store, paths: Iterable[Path], format_name: str | None = None, progress: Progress | None = None
) -> ImportReport:
    report = ImportReport()
    for path in paths:
        ingest_records(store, read_file(Path(path), format_name, progress), report)
    return report
