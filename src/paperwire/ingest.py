"""Import papers: read → parse → normalise → dedupe → upsert in batches, returning a report.

Each batch is one transaction, so an interrupted import leaves whole batches only; rerunning it
merges the same records again and ends in the same state (upserts are idempotent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
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
    """Upsert papers in batches; skips go into the report. (Writing a batch on a thread of its own while
    the next is parsed was tried: SQLite's driver takes the interpreter lock back for every row, so the two
    threads took turns instead of overlapping — 7% more CPU, no less time.)"""
    report = report if report is not None else ImportReport()
    for batch in batches(records, report):
        store.upsert_papers(batch, report)
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
