"""File sources behind one protocol: each turns numbered input lines into Papers or named Skips.

A source module has `NAME`, `detect(first_record)` and `read(lines, source)`. `open_lines` reads plain
or gzip input as (line number, bytes) pairs, so every source streams in constant memory.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol

from paperwire.models import Paper, Skip
from paperwire.sources import hf_daily, jsonl, listing, snapshot

MAX_LINE_BYTES = 4 * 1024 * 1024


class Source(Protocol):
    NAME: str

    def detect(self, first_record: dict | None) -> bool: ...

    def read(self, lines: Iterator[tuple[int, bytes]], source: str) -> Iterator[Paper | Skip]: ...


# Order matters for detection: the most specific shape first; listing text takes what is not JSON.
SOURCES: dict[str, Source] = {
    hf_daily.NAME: hf_daily,
    snapshot.NAME: snapshot,
    jsonl.NAME: jsonl,
    listing.NAME: listing,
}


class UnknownFormat(ValueError):
    pass


def open_binary(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """(reader of the content, the raw file for progress by bytes); gzip detected by magic bytes."""
    raw = open(path, "rb")  # the caller closes it
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw), raw  # type: ignore[return-value]
    raw.seek(0)
    return raw, raw


def numbered_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, bytes without the newline); an oversized line comes back truncated
    to MAX_LINE_BYTES + 1 bytes, so sources can reject it without holding it whole."""
    reader = stream
    number = 0
    while True:
        line = reader.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while True:  # drain the rest of the oversized line
                rest = reader.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
            yield number, line
            continue
        yield number, line.rstrip(b"\r\n")


def detect_format(path: Path) -> str:
    """Name of the source whose shape the file's first record has."""
    stream, raw = open_binary(path)
    try:
        first: dict | None = None
        for _number, line in numbered_lines(stream):
            text = line.strip()
            if not text:
                continue
            if text.startswith(b"["):
                return hf_daily.NAME
            if text.startswith(b"{"):
                first = jsonl.decode_object(text[:MAX_LINE_BYTES])
            break
    except (OSError, EOFError) as error:
        raise UnknownFormat(f"{path}: cannot read: {error}") from error
    finally:
        raw.close()
    for source in SOURCES.values():
        if source.detect(first):
            return source.NAME
    raise UnknownFormat(f"{path}: format not recognised; pass --format")
