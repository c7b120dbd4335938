"""Paper embeddings: compute the missing ones incrementally, and ship / load precomputed sample vectors."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from paperwire.search.embedders import Embedder, paper_text
from paperwire.search.vectors import encode_vector
from paperwire.storage import Store

BATCH = 256


@dataclass(slots=True)
class EmbedReport:
    embedded: int = 0
    unchanged: int = 0  # row changed (votes, stars…) but not the text: vector kept


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def embed_missing(
    store: Store, embedder: Embedder, *, progress: Callable[[int], None] | None = None,
    limit: int | None = None, batch_size: int = 32,
) -> EmbedReport:  # fmt: skip
    """Embed papers that have no vector of this model or whose text changed; resumable at any point."""
    report = EmbedReport()
    after = ""
    while limit is None or report.embedded < limit:
        rows = store.texts_to_embed(
            embedder.name, BATCH if limit is None else min(BATCH, limit - report.embedded), after
        )
        if not rows:
            break
        after = rows[-1].paper_id
        texts = {row.paper_id: paper_text(row.title, row.abstract) for row in rows}
        hashes = {paper_id: text_hash(text) for paper_id, text in texts.items()}
        kept = [row for row in rows if row.stored_hash == hashes[row.paper_id]]
        todo = [row for row in rows if row.stored_hash != hashes[row.paper_id]]
        store.mark_embeddings_checked(embedder.name, [(row.paper_id, row.paper_changed_at) for row in kept])
        report.unchanged += len(kept)
        if todo:
            vectors = embedder.embed_documents([texts[row.paper_id] for row in todo], batch_size=batch_size)
            store.save_embeddings(embedder.name, [
                {"paper_id": row.paper_id, "text_hash": hashes[row.paper_id], "dimensions": vectors.shape[1],
                 "vector": encode_vector(vector), "paper_changed_at": row.paper_changed_at}
                for row, vector in zip(todo, vectors, strict=True)
            ])  # fmt: skip
            report.embedded += len(todo)
        if progress is not None:
            progress(len(rows))
    return report


# ---- precomputed vectors shipped with a data set (the demo sample) ------------------------------


def write_vectors_file(store: Store, model: str, paper_ids: list[str], path: Path) -> int:
    """Write the stored vectors of these papers to a compact .npz (float16, ids, text hashes, model)."""
    from paperwire.search.vectors import decode_vector

    ids, hashes, vectors = [], [], []
    texts = {row.paper_id: row for row in _all_texts(store, model)}
    for paper_id in paper_ids:
        blob = store.get_embedding(paper_id, model)
        row = texts.get(paper_id)
        if blob is None or row is None:
            continue
        ids.append(paper_id)
        hashes.append(text_hash(paper_text(row.title, row.abstract)))
        vectors.append(decode_vector(blob))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as stream:
        np.savez_compressed(stream, ids=np.asarray(ids, dtype=str), hashes=np.asarray(hashes, dtype=str),
                            vectors=np.asarray(vectors, dtype=np.float16), model=np.asarray(model))  # fmt: skip
    return len(ids)


def _all_texts(store: Store, model: str):
    from paperwire.storage.search import TextToEmbed

    for paper in store.iter_papers():
        yield TextToEmbed(paper.id, paper.title, paper.abstract, "", None)


def load_vectors_file(store: Store, path: Path) -> int:
    """Store the vectors of a .npz for papers that lack one and whose text is the one embedded."""
    with np.load(path, allow_pickle=False) as data:
        model = str(data["model"])
        shipped = {str(i): (str(h), row) for row, (i, h) in enumerate(zip(data["ids"], data["hashes"], strict=True))}
        vectors = data["vectors"]
    loaded = 0
    after = ""
    while True:
        rows = store.texts_to_embed(model, 1000, after)
        if not rows:
            break
        after = rows[-1].paper_id
        batch = []
        for row in rows:
            entry = shipped.get(row.paper_id)
            digest = text_hash(paper_text(row.title, row.abstract))
            if entry is None or entry[0] != digest or row.stored_hash == digest:
                continue
            batch.append({"paper_id": row.paper_id, "text_hash": digest, "dimensions": vectors.shape[1],
                          "vector": vectors[entry[1]].astype("<f2").tobytes(),
                          "paper_changed_at": row.paper_changed_at})  # fmt: skip
        store.save_embeddings(model, batch)
        loaded += len(batch)
    return loaded


JOB_LIMIT = 2000  # papers per scheduled run: ≈ 2–3 minutes of MiniLM on 2 cores; the next run continues


@dataclass(slots=True)
class EmbedJobResult:
    status: str
    summary: str


def embed_missing_job(settings, store: Store, search=None) -> EmbedJobResult:  # Settings, SearchService
    """The scheduled job (what `paperwire embed --limit 2000` does): embed new or changed papers.

    With the process's search service, its embedder (the configured model, loaded once for the
    process) embeds the papers too; without one (a one-shot run) the model is loaded for this run."""
    from paperwire.search.embedders import NONE, make_embedder

    if settings.embedder.lower() == NONE:
        return EmbedJobResult("empty", "embedder is 'none'")
    embedder = search.embedder if search is not None and search.embedder.name != NONE else None
    embedder = embedder or make_embedder(settings.embedder, threads=1)
    report = embed_missing(store, embedder, limit=JOB_LIMIT)
    if not report.embedded and not report.unchanged:
        return EmbedJobResult("empty", "every paper has a vector")
    left = store.count_texts_to_embed(embedder.name)
    return EmbedJobResult("ok", f"embedded {report.embedded}, unchanged {report.unchanged}, {left} left")
