"""Imported references: library entries matched to the catalogue (ids, titles), and those kept while the
catalogue lacks them, until the live arXiv source brings the paper (then they become saves)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import sqlalchemy as sa

from paperwire.models import utc_now_iso
from paperwire.storage.core import StoreCore
from paperwire.storage.papers import titled
from paperwire.storage.schema import collection_papers, library_references, library_saves, papers


class ReferenceQueries(StoreCore):
    """Mixed into Store (with LibraryQueries, whose feedback version every change bumps)."""

    def paper_ids_by_title_keys(self, keys: Sequence[str]) -> dict[str, str]:
        """normalised title → paper id, for the keys that name exactly one paper."""
        found: dict[str, list[str]] = {}
        wanted = sorted(set(keys))
        with self.read() as connection:
            for start in range(0, len(wanted), 500):
                rows = connection.execute(
                    sa.select(papers.c.title_key, papers.c.id).where(titled(wanted[start : start + 500]))
                )
                for key, paper_id in rows:
                    found.setdefault(key, []).append(paper_id)
        return {key: ids[0] for key, ids in found.items() if len(ids) == 1}

    def existing_paper_ids(self, paper_ids: Iterable[str]) -> set[str]:
        wanted = sorted(set(paper_ids))
        found: set[str] = set()
        with self.read() as connection:
            for start in range(0, len(wanted), 500):
                found |= set(
                    connection.execute(
                        sa.select(papers.c.id).where(papers.c.id.in_(wanted[start : start + 500]))
                    ).scalars()
                )
        return found

    def add_references(self, user_id: int, rows: Sequence[dict[str, Any]]) -> int:
        """Keep imported entries that are not in the catalogue (same arXiv id / DOI / title not twice)."""
        if not rows:
            return 0
        with self.write() as connection:
            known = {
                (row.arxiv_id, row.doi, row.title)
                for row in connection.execute(
                    sa.select(
                        library_references.c.arxiv_id, library_references.c.doi, library_references.c.title
                    ).where(library_references.c.user_id == user_id, library_references.c.paper_id.is_(None))
                )
            }
            fresh = []
            for row in rows:
                key = (row.get("arxiv_id"), row.get("doi"), row.get("title", ""))
                if key in known:
                    continue
                known.add(key)
                fresh.append({
                    "user_id": user_id, "collection_id": row.get("collection_id"), "arxiv_id": row.get("arxiv_id"),
                    "doi": row.get("doi"), "title": row.get("title", "")[:2000],
                    "authors": orjson.dumps(list(row.get("authors", ()))[:200]).decode(), "year": row.get("year"),
                    "citation_key": (row.get("citation_key") or "")[:200] or None, "created_at": utc_now_iso(),
                })  # fmt: skip
            if fresh:
                connection.execute(library_references.insert(), fresh)
                self._bump_feedback(connection, user_id)
        return len(fresh)

    def references_of(self, user_id: int, *, unresolved_only: bool = True) -> list[dict[str, Any]]:
        query = sa.select(library_references).where(library_references.c.user_id == user_id)
        if unresolved_only:
            query = query.where(library_references.c.paper_id.is_(None))
        with self.read() as connection:
            rows = [dict(row) for row in connection.execute(query.order_by(library_references.c.id)).mappings()]
        for row in rows:
            row["authors"] = orjson.loads(row["authors"])
        return rows

    def delete_reference(self, user_id: int, reference_id: int) -> bool:
        with self.write() as connection:
            gone = connection.execute(
                library_references.delete()
                .where(library_references.c.id == reference_id, library_references.c.user_id == user_id)
                .returning(library_references.c.id)
            ).first()
        return gone is not None

    def wanted_reference_arxiv_ids(self, limit: int = 200) -> list[str]:
        """arXiv ids of references nobody's catalogue has yet: what the live arXiv source fetches."""
        query = (
            sa.select(library_references.c.arxiv_id)
            .where(library_references.c.paper_id.is_(None), library_references.c.arxiv_id.is_not(None))
            .where(~sa.exists().where(papers.c.id == library_references.c.arxiv_id))
            .group_by(library_references.c.arxiv_id)
            .order_by(library_references.c.arxiv_id)
            .limit(limit)
        )
        with self.read() as connection:
            return list(connection.execute(query).scalars())

    def resolve_references(self) -> int:
        """References whose arXiv id is now in the catalogue become saves (and collection members)."""
        query = sa.select(library_references).where(
            library_references.c.paper_id.is_(None),
            sa.exists().where(papers.c.id == library_references.c.arxiv_id),
        )
        resolved = 0
        with self.write() as connection:
            for row in connection.execute(query).mappings().all():
                now = utc_now_iso()
                connection.execute(
                    self.insert(library_saves)
                    .values(user_id=row["user_id"], paper_id=row["arxiv_id"], created_at=now)
                    .on_conflict_do_nothing()
                )
                if row["collection_id"] is not None:
                    connection.execute(
                        self.insert(collection_papers)
                        .values(collection_id=row["collection_id"], paper_id=row["arxiv_id"], added_at=now)
                        .on_conflict_do_nothing()
                    )
                connection.execute(
                    library_references.update()
                    .where(library_references.c.id == row["id"])
                    .values(paper_id=row["arxiv_id"])
                )
                self._bump_feedback(connection, row["user_id"])
                resolved += 1
        return resolved
