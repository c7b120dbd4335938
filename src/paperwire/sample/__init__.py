"""The bundled demo sample (see NOTICE.md here for its origin and license) and how to load it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from paperwire.ingest import ingest_files
from paperwire.models import ImportReport
from paperwire.storage import Store


def sample_path() -> Path:
    return Path(str(resources.files("paperwire.sample") / "papers.jsonl.gz"))


def load_sample(store: Store) -> ImportReport:
    """Import the sample papers (idempotent: loading twice changes nothing)."""
    return ingest_files(store, [sample_path()], "jsonl")
