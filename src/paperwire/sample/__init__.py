"""The bundled demo sample (see NOTICE.md here for its origin and license) and how to load it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from paperwire.ingest import ingest_files
from paperwire.models import ImportReport
from paperwire.storage import Store


def sample_path() -> Path:
    return Path(str(resources.files("paperwire.sample") / "papers.jsonl.gz"))


def sample_vectors_path(model: str = "all-MiniLM-L6-v2") -> Path:
    """Precomputed vectors of the sample (written by `paperwire sample-vectors`)."""
    return Path(str(resources.files("paperwire.sample") / f"vectors-{model}.npz"))


def load_sample(store: Store, *, with_vectors: bool = True) -> ImportReport:
    """Import the sample papers, and their shipped vectors (idempotent: loading twice changes nothing)."""
    report = ingest_files(store, [sample_path()], "jsonl")
    if with_vectors and sample_vectors_path().exists():
        from paperwire.search.embedding import load_vectors_file

        load_vectors_file(store, sample_vectors_path())
    return report
